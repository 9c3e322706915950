"""Where a network's weights come from, as typed values: the :class:`ModelSource` a page and its caches key on.

A source is resolved here, in the core, from (network, plain, stride placement, the reader's choice):

* ``pretrained``: torchvision's ImageNet weights. Whether they exist is decided by one rule, the catalogue's
  :func:`~resnet_viz.architecture.catalogue.pretrained_problem` (the model builder and the weights loader ask
  it). The source carries the weights' class names, their accuracy and their own preprocessing
  (``weights.transforms()``'s numbers).
* ``random``: torchvision's initialisation under a fixed seed (:data:`resnet_viz.models.weights.RANDOM_SEED`).
* ``checkpoint``: a user's file, loaded into a fresh model of one session (:class:`CheckpointSlot`).

Preprocessing (resize, crop, mean, std, interpolation) comes from the network and the source
(:meth:`ModelSource.preprocessing`). :class:`OfflineMemory` remembers an unreachable weights server for a few
minutes, so reruns do not wait for the network again.

The values here are frozen and hashable (Streamlit's caches hash them field by field); this module imports no
torch itself: loading goes through :mod:`resnet_viz.models.weights`, imported when a model is needed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from resnet_viz.architecture.catalogue import get_spec, has_pretrained

if TYPE_CHECKING:
    from torch import nn

    from resnet_viz.models.weights import CheckpointInfo, WeightsError

SourceKind = Literal["pretrained", "random", "checkpoint"]
#: The reader's choices, in the order the page offers them.
SOURCE_KINDS: tuple[str, ...] = ("pretrained", "random", "checkpoint")
#: How long an unreachable weights server is remembered (seconds) before the next try.
OFFLINE_RETRY_S = 300
#: The id of the seeded random weights (``resnet_viz.models.weights.RANDOM_SEED`` is 0).
RANDOM_ID = "random:seed0"


# --------------------------------------------------------------------------------------------- preprocessing
@dataclass(frozen=True)
class Preprocessing:
    """The evaluation pipeline's numbers: shorter side resized to ``resize``, centre crop ``crop`` × ``crop``,
    normalised with ``mean``/``std``. ``from_weights``: the pretrained weights' own ``transforms()``, whatever
    the sidebar's input size says."""

    resize: int
    crop: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    from_weights: bool = False

    @classmethod
    def from_transforms(cls, tf: Any) -> Preprocessing:
        """The numbers of torchvision's evaluation transforms (``weights.transforms()``, an
        ``ImageClassification``): its resize, crop, mean, std and interpolation, as the weights expect them."""
        return cls(
            resize=_one_size(tf.resize_size),
            crop=_one_size(tf.crop_size),
            mean=tuple(float(m) for m in tf.mean),
            std=tuple(float(v) for v in tf.std),
            interpolation=str(getattr(tf.interpolation, "value", tf.interpolation)),
            from_weights=True,
        )


def sidebar_preprocessing(arch: str, input_size: int) -> Preprocessing:
    """The pipeline for weights without their own: the sidebar's input size and the data set's statistics
    (the catalogue's :attr:`~resnet_viz.architecture.catalogue.ArchSpec.dataset`).

    ImageNet networks resize the shorter side by 256/224 of the crop (the classic evaluation ratio); the
    CIFAR-sized networks see the whole picture at the input size, without a border to crop.
    """
    crop = int(input_size)
    spec = get_spec(arch)
    stats = spec.dataset
    if spec.family == "imagenet":
        return Preprocessing(max(crop, round(crop * 256 / 224)), crop, stats.mean, stats.std)
    return Preprocessing(crop, crop, stats.mean, stats.std)


# --------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class ModelSource:
    """Which weights a network runs with, as a plain value (the cache key of models and captures)."""

    kind: SourceKind
    arch: str
    plain: bool = False
    stride_in: str = "3x3"
    #: The weights' id: ``random:seed0``, ``pretrained:ResNet50_Weights.IMAGENET1K_V2``, ``ckpt:<sha256>``.
    id: str = RANDOM_ID
    #: Class names from the weights' metadata (pretrained only); None where the classes have no names.
    categories: tuple[str, ...] | None = None
    #: The pretrained weights' own preprocessing; None: the sidebar's (:func:`sidebar_preprocessing`).
    transforms: Preprocessing | None = None
    #: Pretrained: torchvision's name of the weights, their ImageNet accuracy (%) and file size (MB).
    weights_name: str | None = None
    top1: float | None = None
    top5: float | None = None
    file_size_mb: float | None = None
    #: Checkpoint: what was loaded, and the file's name as uploaded.
    checkpoint: CheckpointInfo | None = None
    file_name: str | None = None

    @property
    def key(self) -> tuple[str, str, bool, str, str]:
        """What identifies these weights: (kind, network, plain, stride placement, id). Everything else (class
        names, preprocessing, accuracy) follows from it, so caches hash this, not the 1000 class names."""
        return (self.kind, self.arch, self.plain, self.stride_in, self.id)

    def preprocessing(self, input_size: int) -> Preprocessing:
        """The preprocessing this network and these weights need (``input_size``: the sidebar's)."""
        return self.transforms or sidebar_preprocessing(self.arch, input_size)

    @property
    def shared(self) -> bool:
        """Whether every session may share one model of this source (never a user's checkpoint)."""
        return self.kind != "checkpoint"


def random_source(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> ModelSource:
    """The seeded random start of this network."""
    return ModelSource("random", arch, plain, stride_in, RANDOM_ID)


def pretrained_source(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> ModelSource:
    """torchvision's default ImageNet weights of ``arch`` (metadata only: nothing is downloaded here);
    :class:`resnet_viz.models.weights.WeightsError` ``no_pretrained`` where there are none."""
    from resnet_viz.models import weights

    w = weights.pretrained_weights(arch, plain=plain, stride_in=stride_in)
    name = weights.weights_name(arch)
    acc = w.meta.get("_metrics", {}).get("ImageNet-1K", {})
    size = w.meta.get("_file_size")
    return ModelSource(
        "pretrained",
        arch,
        False,
        "3x3",
        f"pretrained:{name}",
        categories=tuple(w.meta["categories"]),
        transforms=Preprocessing.from_transforms(w.transforms()),
        weights_name=name,
        top1=acc.get("acc@1"),
        top5=acc.get("acc@5"),
        file_size_mb=float(size) if size else None,
    )


def checkpoint_source(
    arch: str, info: CheckpointInfo, file_name: str, *, plain: bool = False, stride_in: str = "3x3"
) -> ModelSource:
    """A user's checkpoint of this network (identified by the file's SHA-256)."""
    return ModelSource(
        "checkpoint", arch, plain, stride_in, f"ckpt:{info.sha256}", checkpoint=info, file_name=file_name
    )


def shared_source(arch: str, *, plain: bool = False, stride_in: str = "3x3", choice: str) -> ModelSource:
    """The source every session may share for the reader's ``choice``: pretrained where the weights exist,
    random otherwise (also for ``checkpoint``, whose file is loaded per session by :class:`CheckpointSlot`)."""
    if choice not in SOURCE_KINDS:
        raise ValueError(f"unknown weights source {choice!r}; choose one of {', '.join(SOURCE_KINDS)}")
    if choice == "pretrained" and has_pretrained(arch, plain=plain, stride_in=stride_in):
        return pretrained_source(arch)
    return random_source(arch, plain=plain, stride_in=stride_in)


def load_shared(source: ModelSource) -> nn.Module:
    """A fresh model of a shared source, in eval mode on the CPU (pretrained: downloads once, may raise
    :class:`resnet_viz.models.weights.WeightsError`)."""
    from resnet_viz.models import weights

    if source.kind == "pretrained":
        return weights.load_pretrained(source.arch)
    if source.kind == "random":
        return weights.load_random(source.arch, plain=source.plain, stride_in=source.stride_in)
    raise ValueError("a checkpoint is loaded from its file, per session (CheckpointSlot), never shared")


def _one_size(value: int | Sequence[int]) -> int:
    """A transform's one size (the shorter side, or the square crop's side), given as an int or a 1-sequence."""
    if isinstance(value, int):
        return value
    seq = list(value)
    if len(seq) != 1:
        raise ValueError(f"expected one size (the shorter side), got {seq}")
    return int(seq[0])


# --------------------------------------------------------------------------------------------- session memory
class OfflineMemory:
    """Remembers, per network, that its pretrained weights could not be had because the machine is offline,
    for ``retry_s`` seconds: within that time :meth:`watch` raises the remembered error at once instead of
    waiting for the network again. One per session (the page keeps it in session state)."""

    def __init__(self, retry_s: float = OFFLINE_RETRY_S, clock: Callable[[], float] = time.time) -> None:
        self.retry_s = retry_s
        self._clock = clock
        self._failed: dict[str, tuple[float, WeightsError]] = {}

    def remembered(self, arch: str) -> WeightsError | None:
        """The offline error remembered for ``arch``, if it is recent enough."""
        failed = self._failed.get(arch)
        if failed is not None and self._clock() - failed[0] < self.retry_s:
            return failed[1]
        return None

    @contextmanager
    def watch(self, arch: str) -> Iterator[None]:
        """Around getting ``arch``'s pretrained weights: raises a remembered offline error before the body runs;
        an ``offline`` error from the body is remembered (and raised)."""
        from resnet_viz.models.weights import WeightsError

        known = self.remembered(arch)
        if known is not None:
            raise known.detached()
        try:
            yield
        except WeightsError as err:
            if err.code == "offline":
                self._failed[arch] = (self._clock(), err.detached())  # type: ignore[assignment]
            raise


#: Checkpoint refusals that depend on the network chosen (its keys, its shapes): the same file may fit another
#: network, so its bytes are kept to be tried again. Every other refusal is about the file itself.
NETWORK_DEPENDENT_REFUSALS = frozenset({"keys", "shape"})


class CheckpointSlot:
    """One session's uploaded checkpoint: the last file tried, why it was refused, and the last good model.

    A file is loaded once per (content, network): reruns do not read it again. A refused file leaves the
    previous good checkpoint in use (when it fits the same network). The model is this session's own, so moving
    it to a device changes nothing shared.
    """

    def __init__(self) -> None:
        self._tried: tuple[str, tuple[str, bool, str]] | None = None
        #: (file name, error) of the last file tried, when it was refused.
        self.error: tuple[str, Any] | None = None
        self._kept: tuple[nn.Module, ModelSource] | None = None

    def offer(
        self,
        name: str,
        data: bytes,
        arch: str,
        *,
        plain: bool = False,
        stride_in: str = "3x3",
        device: Any = None,
    ) -> None:
        """Load ``data`` into a fresh ``arch`` unless this very file was already tried for this network."""
        from resnet_viz.models.weights import CheckpointError, load_checkpoint

        tried = (hashlib.sha256(data).hexdigest(), (arch, plain, stride_in))
        if self._tried == tried:
            return
        self._tried = tried
        self.error = None
        try:
            model, info = load_checkpoint(data, arch, plain=plain, stride_in=stride_in)
        except CheckpointError as err:
            self.error = (name, err.detached())
            return
        if device is not None:
            model = model.to(device)
        self._kept = (model, checkpoint_source(arch, info, name, plain=plain, stride_in=stride_in))

    def current(
        self, arch: str, *, plain: bool = False, stride_in: str = "3x3"
    ) -> tuple[nn.Module, ModelSource] | None:
        """The last good checkpoint's model and source, if it was loaded for this network."""
        if self._kept is None:
            return None
        source = self._kept[1]
        return (
            self._kept if (source.arch, source.plain, source.stride_in) == (arch, plain, stride_in) else None
        )
