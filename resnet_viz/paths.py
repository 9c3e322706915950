"""Where the shipped data lives: sample photos, the precomputed curves and the trained weights. One place."""

from __future__ import annotations

from pathlib import Path

from resnet_viz.architecture.experiment_net import ExperimentNet

#: The repository's ``assets/`` folder (sample photos and their licence, ``curves/``).
ASSETS_DIR: Path = Path(__file__).resolve().parent.parent / "assets"
#: The precomputed "Why residual" data written by ``scripts/make_curves.py``.
CURVES_DIR: Path = ASSETS_DIR / "curves"
#: The degradation curves (settings, seeds, versions and timing inside).
DEGRADATION_FILE = "degradation.json"
#: The block-deletion results on the trained nets.
REMOVAL_FILE = "removal.json"
#: Gradient norms per layer at init and after 1, 10, 100 SGD steps, plain-56 and ResNet-56, several seeds.
GRADIENT_STEPS_FILE = "gradient_steps.json"
#: The lesson's shattered-gradients measurement: lag-1 autocorrelations of plain-56 and ResNet-56 at init, per seed
#: (``scripts/make_shattered.py``; :func:`resnet_viz.experiments.shattered.recorded_init_lag1`).
SHATTERED_INIT_FILE = "shattered_init.json"


#: The trained CIFAR nets ``scripts/make_curves.py`` may ship, in the command line's order. Here, torch-free,
#: because the CLI lists them without importing torch.
TRAINED_NETS: tuple[ExperimentNet, ...] = (
    ExperimentNet(56, plain=False),
    ExperimentNet(56, plain=True),
    ExperimentNet(20, plain=False),
    ExperimentNet(20, plain=True),
)


def net_weights_path(net: ExperimentNet, folder: str | Path = CURVES_DIR) -> Path:
    """The trained CIFAR net saved by ``scripts/make_curves.py``: ``resnet56.safetensors``, ``plain56…``."""
    return Path(folder) / f"{net.key}.safetensors"


def trained_weights_path(kind: str, depth: int, folder: str | Path = CURVES_DIR) -> Path:
    """:func:`net_weights_path` by kind and depth: ``kind`` is ``"resnet"`` or ``"plain"``."""
    if kind not in ("resnet", "plain"):
        raise ValueError(f"kind must be 'resnet' or 'plain', not {kind!r}")
    return net_weights_path(ExperimentNet(depth, plain=kind == "plain"), folder)


def landscape_path(net: ExperimentNet | str, folder: str | Path = CURVES_DIR) -> Path:
    """The loss surface of ``net`` (``"resnet56"``, ``"plain20"`` …) written by ``scripts/make_landscape.py``."""
    return Path(folder) / f"landscape_{ExperimentNet.parse(net).key}.json"
