"""The shipped experiment data, read in one place: the files ``scripts/make_curves.py`` and
``scripts/make_landscape.py`` write to ``assets/curves/`` (see :mod:`resnet_viz.paths`).

Each reader returns the record as the file holds it (a dict, the file's own spellings of the networks kept), or
``None`` where the file is absent or unreadable, so a page can say what is missing; the readers of the training
settings raise instead, for the commands that cannot go on without them. No torch, no caching: the pages cache
what they need through ``resnet_viz.ui``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments.config import TrainConfig

Folder = str | Path


def _read(path: Path) -> Any:
    """The JSON at ``path``, or None where it is absent or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def degradation(folder: Folder = paths.CURVES_DIR) -> dict[str, Any] | None:
    """``degradation.json``: the settings, seeds, software and every network's error curves."""
    return _read(Path(folder) / paths.DEGRADATION_FILE)


def removal(folder: Folder = paths.CURVES_DIR) -> dict[str, Any] | None:
    """``removal.json``: the errors of the trained nets with each block deleted, by network label."""
    return _read(Path(folder) / paths.REMOVAL_FILE)


def gradient_steps(folder: Folder = paths.CURVES_DIR) -> dict[str, Any] | None:
    """``gradient_steps.json``: gradient norms per conv at init and after some SGD steps, per seed."""
    return _read(Path(folder) / paths.GRADIENT_STEPS_FILE)


def shattered_init(folder: Folder = paths.CURVES_DIR) -> dict[str, Any] | None:
    """``shattered_init.json``: the lag-1 autocorrelations along the default image path of plain-56 and ResNet-56
    at initialisation, every seed, with the settings and the command that wrote them."""
    return _read(Path(folder) / paths.SHATTERED_INIT_FILE)


def training_config(folder: Folder = paths.CURVES_DIR) -> TrainConfig:
    """The training settings recorded beside the shipped weights (``degradation.json``); raises without it."""
    data = json.loads((Path(folder) / paths.DEGRADATION_FILE).read_text(encoding="utf-8"))
    return TrainConfig.from_dict(data["settings"])


def trained_nets(folder: Folder = paths.CURVES_DIR) -> list[ExperimentNet]:
    """The networks of :data:`paths.TRAINED_NETS` whose trained weights are in ``folder``."""
    return [net for net in paths.TRAINED_NETS if paths.net_weights_path(net, folder).exists()]


def weights_sha256(net: ExperimentNet | str, folder: Folder = paths.CURVES_DIR) -> str | None:
    """The SHA-256 of ``net``'s shipped weights (a surface records the one it was computed on), None without."""
    try:
        return hashlib.sha256(
            paths.net_weights_path(ExperimentNet.parse(net), folder).read_bytes()
        ).hexdigest()
    except OSError:
        return None


def landscape(net: ExperimentNet | str, folder: Folder = paths.CURVES_DIR) -> dict[str, Any] | None:
    """The shipped surface of ``net`` (``landscape_<net>.json``), or None if absent/unreadable."""
    try:
        path = paths.landscape_path(net, folder)
    except ValueError:
        return None
    data = _read(path)
    return data if isinstance(data, dict) and "losses" in data else None


def landscapes(folder: Folder = paths.CURVES_DIR) -> dict[ExperimentNet, dict[str, Any]]:
    """Every shipped surface of :data:`paths.TRAINED_NETS`, by network."""
    return {net: s for net in paths.TRAINED_NETS if (s := landscape(net, folder)) is not None}
