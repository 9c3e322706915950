"""Architecture as data: every network the app explains, with no torch needed.

Like torchvision's ``models/resnet.py``, a network is a block kind (with its ``expansion``), the number of blocks
per stage and the stage widths; the stem and the shortcut option complete it. Everything else (shapes, parameters,
multiply-adds, receptive fields, layer counts) is derived from these few numbers by :mod:`resnet_viz.architecture.trace`, and
:mod:`resnet_viz.models` builds the same network on torchvision's own classes.

The data a network expects is part of its entry too, as timm keeps mean, std and crop in each model's config:
the data set whose statistics normalise its input (:attr:`ArchSpec.dataset`), and whether torchvision ships
pretrained weights for it (:func:`pretrained_problem`, the one rule the model builder and the weights loader ask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["basic", "bottleneck"]
StrideIn = Literal["3x3", "1x1"]

#: Output channels = planes × expansion: BasicBlock keeps its width, Bottleneck widens 4× (64 → 256).
EXPANSION: dict[str, int] = {"basic": 1, "bottleneck": 4}
#: Weighted layers per block that the paper's depth counts: 3×3+3×3, or 1×1+3×3+1×1.
CONVS_PER_BLOCK: dict[str, int] = {"basic": 2, "bottleneck": 3}
#: The block's name as torchvision's class is called, the label every page and diagram uses for it.
BLOCK_CLASS: dict[str, str] = {"basic": "BasicBlock", "bottleneck": "Bottleneck"}
#: How much more accurate (ImageNet top-1, in percent) a Bottleneck network is with its stride in the 3×3 conv
#: (v1.5, torchvision) than in the first 1×1 conv (v1, the paper's models): "~0.5% top1" in NVIDIA's ResNet50 v1.5
#: model card (DeepLearningExamples, PyTorch), quoted by the notes' post "ResNet结构详解". Text quotes it from here.
V15_TOP1_GAIN_PCT: float = 0.5


@dataclass(frozen=True)
class DatasetStats:
    """A data set's per-channel statistics (RGB, on pixels scaled to [0, 1]): what a network's input is
    normalised with, ``(x - mean) / std``."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


#: ImageNet statistics (torchvision's weights' transforms use exactly these).
IMAGENET = DatasetStats("ImageNet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: CIFAR-10 per-channel statistics of the training set (the per-pixel std; the often-copied 0.2023/0.1994/0.2010
#: is the std of per-image means). Our CIFAR networks have no published weights, so these only set the scale.
CIFAR10 = DatasetStats("CIFAR-10", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
IMAGENET_MEAN, IMAGENET_STD = IMAGENET.mean, IMAGENET.std
#: ImageNet (ILSVRC-2012)'s training images, which torchvision's pretrained weights were trained on (He et al. 2015
#: §4.1: "the 1.28 million training images").
IMAGENET_TRAIN_IMAGES = 1_281_167
CIFAR10_MEAN, CIFAR10_STD = CIFAR10.mean, CIFAR10.std


@dataclass(frozen=True)
class ArchSpec:
    """One network of the catalogue.

    ``shortcut_option`` follows the paper (§3.3): "A" is an identity shortcut that zero-pads the extra channels and
    subsamples by striding (no parameters; the paper's CIFAR nets); "B" uses a 1×1 projection only where the shape
    changes (the ImageNet nets and torchvision).
    """

    name: str
    title: str
    family: Literal["imagenet", "cifar", "seed004"]
    block: BlockKind
    layers: tuple[int, ...]
    widths: tuple[int, ...]  # "planes" per stage: the bottleneck's inner width, the BasicBlock's width
    stem_kernel: int
    stem_stride: int
    stem_padding: int
    stem_width: int
    maxpool: tuple[int, int, int] | None  # (kernel, stride, padding), or None for no max-pool
    num_classes: int
    default_input: int
    shortcut_option: Literal["A", "B"]
    note: str = ""

    @property
    def expansion(self) -> int:
        return EXPANSION[self.block]

    @property
    def dataset(self) -> DatasetStats:
        """The statistics its input is normalised with: ImageNet's for the ImageNet networks, CIFAR-10's for the
        32×32 ones (the paper's CIFAR nets and the notes' ten-class ResNet-34)."""
        return IMAGENET if self.family == "imagenet" else CIFAR10

    @property
    def block_class(self) -> str:
        """'BasicBlock' or 'Bottleneck' (torchvision's class name)."""
        return BLOCK_CLASS[self.block]

    @property
    def depth(self) -> int:
        """The paper's depth: weighted layers on the main path (stem conv + block convs + fc)."""
        return 1 + CONVS_PER_BLOCK[self.block] * sum(self.layers) + 1

    @property
    def layer_count_formula(self) -> str:
        inner = "+".join(str(n) for n in self.layers)
        return f"{self.depth} = 1 + {CONVS_PER_BLOCK[self.block]}×({inner}) + 1"

    @property
    def out_channels(self) -> int:
        return self.widths[-1] * self.expansion

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(f"layer{i + 1}" for i in range(len(self.layers)))

    @property
    def paper_stage_names(self) -> tuple[str, ...]:
        """The paper's Table 1 names: conv2_x … conv5_x (conv1 is the stem)."""
        return tuple(f"conv{i + 2}_x" for i in range(len(self.layers)))


def _imagenet(depth: int, block: BlockKind, layers: tuple[int, ...]) -> ArchSpec:
    return ArchSpec(
        name=f"resnet{depth}",
        title=f"ResNet-{depth}",
        family="imagenet",
        block=block,
        layers=layers,
        widths=(64, 128, 256, 512),
        stem_kernel=7,
        stem_stride=2,
        stem_padding=3,
        stem_width=64,
        maxpool=(3, 2, 1),
        num_classes=1000,
        default_input=224,
        shortcut_option="B",
        note=f"ImageNet network of the paper's Table 1, exactly torchvision's resnet{depth}.",
    )


def _cifar(n: int) -> ArchSpec:
    depth = 6 * n + 2
    return ArchSpec(
        name=f"resnet{depth}",
        title=f"ResNet-{depth} (CIFAR)",
        family="cifar",
        block="basic",
        layers=(n, n, n),
        widths=(16, 32, 64),
        stem_kernel=3,
        stem_stride=1,
        stem_padding=1,
        stem_width=16,
        maxpool=None,
        num_classes=10,
        default_input=32,
        shortcut_option="A",
        note=(
            f"The paper's CIFAR-10 network (§4.2): 6n+2 = {depth} layers with n = {n}, three stages of 16/32/64 "
            "channels on 32×32/16×16/8×8 maps, and option A shortcuts (identity with zero-padding, no parameters)."
        ),
    )


_SEED004 = ArchSpec(
    name="resnet34_cifar",
    title="ResNet-34 for 32×32 (the notes' PyTorch listing)",
    family="seed004",
    block="basic",
    layers=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    stem_kernel=3,
    stem_stride=1,
    stem_padding=1,
    stem_width=64,
    maxpool=(3, 1, 1),
    num_classes=10,
    default_input=32,
    shortcut_option="B",
    note=(
        "The PyTorch listing of the source notes (ResidualNet(resblock, 3, 10)): a 3×3 stem with stride 1, a 3×3 "
        "max-pool with stride 1, layers [3, 4, 6, 3] of 64/128/256/512 channels and 10 classes, so 32×32 maps "
        "shrink only in layer2..layer4 (32 → 16 → 8 → 4) before a 4×4 average pool. The listing's 3×3 convs keep "
        "nn.Conv2d's default bias (7,552 extra weights that the following BatchNorm makes redundant); this app "
        "builds it on torchvision's BasicBlock, whose convs have no bias, as in the paper."
    ),
)

#: Every network, in the order the app lists them.
CATALOGUE: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        _imagenet(18, "basic", (2, 2, 2, 2)),
        _imagenet(34, "basic", (3, 4, 6, 3)),
        _imagenet(50, "bottleneck", (3, 4, 6, 3)),
        _imagenet(101, "bottleneck", (3, 4, 23, 3)),
        _imagenet(152, "bottleneck", (3, 8, 36, 3)),
        *(_cifar(n) for n in (3, 5, 7, 9, 18)),
        _SEED004,
    )
}

#: The names accepted by :func:`resnet_viz.build_model` and :func:`resnet_viz.architecture.trace`.
ARCHS: tuple[str, ...] = tuple(CATALOGUE)
IMAGENET_ARCHS: tuple[str, ...] = tuple(n for n, s in CATALOGUE.items() if s.family == "imagenet")
CIFAR_ARCHS: tuple[str, ...] = tuple(n for n, s in CATALOGUE.items() if s.family == "cifar")


#: VGG-19 (Simonyan & Zisserman 2015, Table 1 configuration E; torchvision's ``vgg19``), the left column of the
#: ResNet paper's Figure 3, as (kind, kernel, channels or features): 16 3×3 convs in five groups, each group
#: followed by a 2×2 max-pool, then three fully connected layers. tests/test_dot.py checks it against
#: ``torchvision.models.vgg19`` built on the meta device.
VGG19_LAYERS: tuple[tuple[Literal["conv", "pool", "fc"], int, int], ...] = (
    *(("conv", 3, 64),) * 2,
    ("pool", 2, 0),
    *(("conv", 3, 128),) * 2,
    ("pool", 2, 0),
    *(("conv", 3, 256),) * 4,
    ("pool", 2, 0),
    *(("conv", 3, 512),) * 4,
    ("pool", 2, 0),
    *(("conv", 3, 512),) * 4,
    ("pool", 2, 0),
    ("fc", 0, 4096),
    ("fc", 0, 4096),
    ("fc", 0, 1000),
)


def get_spec(arch: str) -> ArchSpec:
    """The catalogue entry for ``arch``; a ``ValueError`` listing the valid names otherwise."""
    try:
        return CATALOGUE[arch]
    except (KeyError, TypeError):
        raise ValueError(f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHS)}") from None


def pretrained_problem(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> str | None:
    """Why torchvision has no pretrained weights for this network (English), or None when it has them.

    Only the residual v1.5 ImageNet ResNets (18-152) have them: torchvision trained exactly those layouts.
    """
    spec = get_spec(arch)
    if spec.family != "imagenet":
        return f"{arch} has no pretrained weights in torchvision; only the ImageNet ResNets (18-152) do"
    if plain or (stride_in != "3x3" and spec.block == "bottleneck"):
        return f"pretrained weights exist only for the residual v1.5 {arch} torchvision ships"
    return None


def has_pretrained(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> bool:
    """Whether torchvision ships pretrained weights for this network (see :func:`pretrained_problem`)."""
    return pretrained_problem(arch, plain=plain, stride_in=stride_in) is None


def check_stride_in(stride_in: str) -> StrideIn:
    if stride_in not in ("3x3", "1x1"):
        raise ValueError(
            f"stride_in must be '3x3' (v1.5, torchvision) or '1x1' (v1, the paper), not {stride_in!r}"
        )
    return stride_in  # type: ignore[return-value]
