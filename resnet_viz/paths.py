"""Where the shipped data lives: sample photos, the precomputed curves and the trained weights. One place."""

from __future__ import annotations

from pathlib import Path

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


#: The trained CIFAR nets ``scripts/make_curves.py`` may ship, by short name: (depth, plain). Here, torch-free,
#: because the CLI lists them without importing torch.
TRAINED_NETS: dict[str, tuple[int, bool]] = {
    "resnet56": (56, False),
    "plain56": (56, True),
    "resnet20": (20, False),
    "plain20": (20, True),
}


def trained_weights_path(kind: str, depth: int, folder: str | Path = CURVES_DIR) -> Path:
    """The trained CIFAR net saved by ``scripts/make_curves.py``: ``kind`` is ``"resnet"`` or ``"plain"``."""
    if kind not in ("resnet", "plain"):
        raise ValueError(f"kind must be 'resnet' or 'plain', not {kind!r}")
    return Path(folder) / f"{kind}{depth}.safetensors"


def landscape_path(net: str, folder: str | Path = CURVES_DIR) -> Path:
    """The loss surface of ``net`` (``"resnet56"``, ``"plain20"`` …) written by ``scripts/make_landscape.py``."""
    return Path(folder) / f"landscape_{net}.json"
