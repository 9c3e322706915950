"""The settings of a degradation run (recorded beside the shipped curves) and the live run's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from resnet_viz.architecture.experiment_net import ExperimentNet

#: The generated data sets a run can use (``resnet_viz.experiments.data.generate``) and their number of classes.
DATASETS: dict[str, int] = {"shapes": 10, "pairs": 20}

#: The test set's seed is the training seed plus this, so no test image is a training image.
TEST_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a degradation run; recorded beside the shipped curves."""

    depths: tuple[int, ...] = (20, 56)
    #: "shapes" (10 classes, :func:`~resnet_viz.experiments.data.synthetic_shapes`) or "pairs" (20 relational
    #: classes, :func:`~resnet_viz.experiments.data.shape_pairs`: the shipped curves').
    dataset: str = "shapes"
    width: int = 16
    n_train: int = 5000
    n_test: int = 1000
    image_size: int = 32
    noise: float = 0.1
    #: At most this many thin random strokes cross each "pairs" image (clutter and occlusion).
    strokes: int = 2
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    # The learning rate is divided by 10 at these fractions of the run (the paper: at 32k and 48k of 64k steps).
    lr_drops: tuple[float, ...] = (0.5, 0.75)
    # The paper's augmentation: pad 4 pixels with zeros, random 32×32 crop, random horizontal flip.
    augment: bool = True
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    @property
    def num_classes(self) -> int:
        return DATASETS[self.dataset]

    @property
    def runs(self) -> list[tuple[str, int, bool]]:
        """(label, depth, plain) of every network trained, plain ones first."""
        return [(ExperimentNet(d, p).label, d, p) for p in (True, False) for d in self.depths]


#: A live run that fits in about 3 minutes on 2 CPU cores: the easier 10-class "shapes" data set (the 20-class
#: "pairs" set of the shipped curves needs thousands of steps), less data, fewer epochs.
LIVE_CONFIG = TrainConfig(dataset="shapes", width=8, n_train=1200, n_test=300, epochs=5, batch_size=32)

#: The live run's wall time as measured on this project's 2-core CPU machine (torch with 2 threads, no other load):
#: ``train_degradation(LIVE_CONFIG)`` timed once, 2026-11-28 (102.7 s). The page quotes it; a run on the page
#: shows its own time when it ends.
LIVE_RUN_SECONDS_2_CORES = 103
