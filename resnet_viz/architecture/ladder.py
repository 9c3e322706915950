"""From ResNet-50 to ConvNeXt-T, one change at a time: Liu et al. 2022, "A ConvNet for the 2020s", Figure 2, as data.

Every rung of the paper's ladder is a :class:`RungSpec` (a few numbers, like the catalogue's
:class:`~resnet_viz.architecture.catalogue.ArchSpec`), and :func:`rung_trace` turns it into one
:class:`LayerRecord` per step of the forward pass, by arithmetic alone (no torch). The first rung is exactly
torchvision's ``resnet50``, the last exactly torchvision's ``convnext_tiny``; each rung between differs from the
previous one by the one change the paper names (its label in Figure 2). :mod:`resnet_viz.models.ladder` builds
every rung as a real ``nn.Module`` whose qualified module names are the records' ``name``\\ s, and the tests
check every parameter (exactly) and every multiply-add (within 0.1 %) against forward hooks on that module.

**What a multiply-add counts here** (:data:`MAC_CONVENTION`): the weight products of the convolutions and the
linear layers, one per weight per output position: a conv ``C_out × C_in/groups × k × k × H_out × W_out``, a
linear layer ``in × out`` per position it is applied at (ConvNeXt's 1×1 "convs" are ``nn.Linear`` applied at every
pixel). Biases, normalisations (BN, LN), activations, pooling, the layer scale and the residual additions count
zero. That is what torchvision's ``_ops`` figures count (``resnet50`` 4.089, ``convnext_tiny`` 4.456). The shape
walk's :func:`~resnet_viz.architecture.trace.trace` follows torchinfo instead, which adds ``2 × C`` per
BatchNorm and the fc bias: 4,089,238,376 against this module's 4,089,184,256 for ResNet-50 (both 4.089 G);
:func:`macs_explanation` gives the difference as data.

**The paper's numbers are cited, not measured** (:class:`Cited`): Figure 2's top-1 and GFLOPs, one decimal,
for the ResNet-50 / Swin-T regime (the foreground bars), and the same steps in Appendix C's Table 10 (the mean
± standard deviation of three seeds, GFLOPs to two decimals). Figure 2's labels are the rounded Table 10 means.

**Choices the paper leaves open**, made here as the smallest change and written in each rung's ``choices``:
the patchify stem is the 4×4 conv alone (the paper adds "one [LN] after the stem" only at the last step); convs
keep torchvision ResNet's ``bias=False`` until the last rung, where torchvision's ConvNeXt has a bias on every
conv and linear layer; the inverted bottleneck's hidden width is 4 × the block's output channels; the
down-sampling block strides in its depthwise conv (v1.5, as torchvision's Bottleneck does in its 3×3). Layer
Scale is part of the paper's training setting for *every* step, not only the last: §3.1 applies it to ConvNeXt
(initial value 1e-6), and Appendix A.1 says the §2 experiments "also use Table 5's setting for ImageNet-1K, except
EMA is disabled", Table 5 listing "layer scale 1e-6". The paper does not say where γ sits in the intermediate
blocks, so these rungs add it only where torchvision's ``CNBlock`` has it, at the last rung
(:func:`layer_scale_params`: 6,624 factors in ConvNeXt-T); rungs 1–11 have none.

**Which steps are beyond the seeds' noise** (:func:`step_spread`): Table 10's accuracies are means of three seeds
with standard deviations up to 0.18. A step whose change in mean is larger than the two rungs' standard deviations
added is beyond the seeds' spread (unlikely to be seed noise); one that is smaller is within it (the mean ± std
ranges overlap, and three seeds are weak evidence either way); one whose change and spread are equal to within
the table's rounding (:data:`ROUNDING_HUNDREDTHS`) is at the edge, and the page says which. This compares the
spread of single runs, not the error of a three-seed mean: a rule of thumb, not a test.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from resnet_viz.architecture.catalogue import IMAGENET_ARCHS, get_spec
from resnet_viz.architecture.trace import conv_out, normalize_input_size

StemKind = Literal["resnet", "patchify", "convnext"]
BlockKind = Literal["basic", "bottleneck", "inverted", "dw_first", "convnext"]
NormKind = Literal["bn", "ln"]
ActKind = Literal["relu", "gelu"]

#: One sentence for every page and docstring that says what a multiply-add is in the ladder.
MAC_CONVENTION = (
    "multiply-adds of the convolutions and linear layers (one per weight per output position); biases, "
    "normalisation, activations, pooling, layer scale and residual additions count zero, as torchvision's "
    "_ops figures do"
)

PAPER = 'Liu et al. 2022, "A ConvNet for the 2020s" (CVPR 2022, arXiv:2201.03545v2)'
FIGURE = f"{PAPER}, Figure 2 (ResNet-50/Swin-T regime, foreground bars)"
TABLE = f"{PAPER}, Appendix C, Table 10 (mean ± std of three seeds)"


# --------------------------------------------------------------------------------------------- the rungs


@dataclass(frozen=True)
class RungSpec:
    """One network of the ladder, in the few numbers that fix it.

    ``width`` is the stem's output channels and the first stage's base width (64 for ResNet-50, 96 from "width ↑"
    on); stage ``s`` (1…4) has base width ``width × 2^(s-1)``. What a block does with it is its ``block`` kind:

    * ``bottleneck``: torchvision's Bottleneck, 1×1 (in→w) · k×k (w→w, stride) · 1×1 (w→4w), BN and ReLU after
      each, ReLU after the addition; ``depthwise`` makes the k×k a depthwise conv (groups = w).
    * ``inverted``: the same three convs inverted, 1×1 (in→4w) · depthwise k×k (4w, stride) · 1×1 (4w→w).
    * ``dw_first``: the depthwise k×k moved up, k×k (in, stride) · 1×1 (in→4w) · 1×1 (4w→w), with
      ``block_norms`` (3 or 1) norms and ``block_acts`` (3 or 1) activations.
    * ``convnext``: torchvision's ``CNBlock`` (7×7 depthwise, LN, linear ×4, GELU, linear, layer scale),
      separate down-sampling layers (LN + 2×2 conv, stride 2) between the stages.
    * ``basic``: torchvision's BasicBlock (only for the catalogue's ResNet-18/34, in :func:`network_trace`).
    """

    key: str
    label: str  # Figure 2's label for this bar
    group: str  # Figure 2's group: Macro Design, ResNeXt, Inverted Bottleneck, Large Kernel, Micro Design
    change: str  # the change from the previous rung, one English line (pages translate their own)
    layers: tuple[int, ...]
    stem: StemKind
    width: int
    block: BlockKind
    depthwise: bool = False
    kernel: int = 3
    act: ActKind = "relu"
    norm: NormKind = "bn"
    block_acts: int = 3
    block_norms: int = 3
    adopted: bool = True  # False: a kernel size the paper tried and did not keep (kernel 5, 9, 11)
    torchvision: str | None = None  # the torchvision constructor this rung *is*, if any
    choices: tuple[str, ...] = ()  # what the paper leaves open and this rung decides (English)


_R50 = RungSpec(
    key="resnet50", label="ResNet-50", group="", change="torchvision's resnet50 (v1.5): the starting point",
    layers=(3, 4, 6, 3), stem="resnet", width=64, block="bottleneck", torchvision="resnet50",
)  # fmt: skip


def _step(prev: RungSpec, key: str, label: str, group: str, change: str, **kw: Any) -> RungSpec:
    """The next rung: ``prev`` with exactly the fields in ``kw`` changed (the smallest change)."""
    fields = {**asdict(prev), "key": key, "label": label, "group": group, "change": change,
              "torchvision": None, "choices": (), "adopted": True}  # fmt: skip
    fields.update(kw)
    fields["layers"] = tuple(fields["layers"])
    fields["choices"] = tuple(fields["choices"])
    return RungSpec(**fields)


def _ladder() -> tuple[RungSpec, ...]:
    r = [_R50]
    r.append(_step(r[-1], "stage_ratio", "stage ratio", "Macro Design",
                   "blocks per stage (3, 4, 6, 3) → (3, 3, 9, 3)", layers=(3, 3, 9, 3)))  # fmt: skip
    r.append(_step(r[-1], "patchify", "“patchify” stem", "Macro Design",
                   "stem: 7×7 conv stride 2 + BN + ReLU + 3×3 max-pool → one 4×4 conv, stride 4", stem="patchify",
                   choices=("the stem is the 4×4 conv alone: the paper replaces 'the ResNet-style stem cell' "
                            "with it and adds an LN after the stem only with the separate downsampling layers",
                            "no bias, as torchvision's ResNet convs")))  # fmt: skip
    r.append(_step(r[-1], "depth_conv", "depth conv", "ResNeXt",
                   "each block's 3×3 conv becomes depthwise (groups = channels)", depthwise=True))  # fmt: skip
    r.append(_step(r[-1], "width", "width ↑", "ResNeXt",
                   "base width 64 → 96 (Swin-T's): stage widths 96/192/384/768, outputs ×4", width=96))  # fmt: skip
    r.append(_step(r[-1], "inverting", "inverting dims", "Inverted Bottleneck",
                   "inverted bottleneck: 1×1 (C→4C) · depthwise 3×3 (4C) · 1×1 (4C→C)", block="inverted",
                   choices=("the hidden width is 4 × the block's output channels (4 × 192 in the first block "
                            "of stage 2)",)))  # fmt: skip
    r.append(_step(r[-1], "move_up", "move ↑ d. conv", "Large Kernel",
                   "the depthwise conv moves to the top of the block: 3×3 (C) · 1×1 (C→4C) · 1×1 (4C→C)",
                   block="dw_first",
                   choices=("the first block of a stage strides in its depthwise conv, on its input "
                            "channels",)))  # fmt: skip
    r.append(_step(r[-1], "kernel7", "kernel sz. → 7", "Large Kernel",
                   "depthwise kernel 3×3 → 7×7 (padding 3)", kernel=7))  # fmt: skip
    r.append(_step(r[-1], "gelu", "ReLU ➝ GELU", "Micro Design", "every ReLU becomes a GELU", act="gelu"))
    r.append(_step(r[-1], "fewer_acts", "fewer activations", "Micro Design",
                   "one GELU per block, between the two 1×1 convs", block_acts=1))  # fmt: skip
    r.append(_step(r[-1], "fewer_norms", "fewer norms", "Micro Design",
                   "one BN per block, after the depthwise conv (before the 1×1 convs)", block_norms=1,
                   choices=("the 1×1 convs keep bias=False when their BN goes",)))  # fmt: skip
    r.append(_step(r[-1], "bn_ln", "BN ➝ LN", "Micro Design",
                   "every BatchNorm becomes a LayerNorm over the channels (torchvision's LayerNorm2d)",
                   norm="ln"))  # fmt: skip
    r.append(_step(r[-1], "convnext_tiny", "sep. d.s. conv", "Micro Design",
                   "separate downsampling layers (LN + 2×2 conv, stride 2) between the stages, LN after the stem "
                   "and after the global pool: torchvision's convnext_tiny",
                   stem="convnext", block="convnext", torchvision="convnext_tiny",
                   choices=("torchvision's ConvNeXt also brings a bias on every conv and linear layer and "
                            "Layer Scale (γ per channel), and writes the 1×1 convs as nn.Linear on channels-last "
                            "tensors (the same multiply-adds)",
                            "the paper's setting for every step includes Layer Scale (§3.1; Appendix A.1, Table 5, "
                            "also the setting of §2); these rungs add it only here, where torchvision's CNBlock "
                            "has it")))  # fmt: skip
    return tuple(r)


#: The ladder, in order: the first is torchvision's resnet50, the last torchvision's convnext_tiny.
RUNGS: tuple[RungSpec, ...] = _ladder()
RUNG_KEYS: tuple[str, ...] = tuple(r.key for r in RUNGS)
_BY_KEY = {r.key: r for r in RUNGS}

#: The kernel sizes Figure 2 also shows and the paper did not keep (§2.5: "the benefit of larger kernel sizes
#: reaches a saturation point at 7×7"): "move ↑ d. conv" with another depthwise kernel. Buildable like any rung.
VARIANTS: tuple[RungSpec, ...] = tuple(
    _step(_BY_KEY["move_up"], f"kernel{k}", f"kernel sz. → {k}", "Large Kernel",
          f"depthwise kernel 3×3 → {k}×{k} (padding {k // 2}); not adopted", kernel=k, adopted=False)
    for k in (5, 9, 11)
)  # fmt: skip
_BY_KEY.update({v.key: v for v in VARIANTS})


def get_rung(key: str) -> RungSpec:
    """The rung (or kernel variant) called ``key``; a ``ValueError`` naming the valid keys otherwise."""
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown rung {key!r}; choose one of: {', '.join(_BY_KEY)}") from None


# --------------------------------------------------------------------------------------------- cited numbers


@dataclass(frozen=True)
class Cited:
    """The paper's numbers for one rung: cited, never measured here.

    ``figure_top1``/``figure_gflops``: Figure 2's bar label and GFLOPs column (one decimal). ``table_*``: the same
    step in Table 10 (mean ± std of three seeds; GFLOPs to two decimals) under ``table_label``.
    """

    key: str
    figure_label: str
    figure_top1: float
    figure_gflops: float
    table_label: str
    table_top1: float
    table_top1_std: float | None
    table_gflops: float
    figure_source: str = FIGURE
    table_source: str = TABLE
    kind: str = "cited"


def _cite(key: str, label: str, top1: float, gflops: float, table_label: str, t_top1: float,
          t_std: float | None, t_gflops: float) -> Cited:  # fmt: skip
    return Cited(key, label, top1, gflops, table_label, t_top1, t_std, t_gflops)


#: Figure 2 and Table 10, row by row (verified against the arXiv v2 text; see docs/api.md).
CITED: dict[str, Cited] = {
    c.key: c
    for c in (
        _cite("resnet50", "ResNet-50/200", 78.8, 4.1, "ResNet-50 (enhanced recipe)", 78.82, 0.07, 4.09),
        _cite("stage_ratio", "stage ratio", 79.4, 4.5, "stage ratio", 79.36, 0.07, 4.53),
        _cite("patchify", "“patchify” stem", 79.5, 4.4, "“patchify” stem", 79.51, 0.18, 4.42),
        _cite("depth_conv", "depth conv", 78.3, 2.4, "depthwise conv", 78.28, 0.08, 2.35),
        _cite("width", "width ↑", 80.5, 5.3, "increase width", 80.50, 0.02, 5.27),
        _cite("inverting", "inverting dims", 80.6, 4.6, "inverting dimensions", 80.64, 0.03, 4.64),
        _cite("move_up", "move ↑ d. conv", 79.9, 4.1, "move up depthwise conv", 79.92, 0.08, 4.07),
        _cite("kernel5", "kernel sz. → 5", 80.4, 4.1, "kernel size → 5", 80.35, 0.08, 4.10),
        _cite("kernel7", "kernel sz. → 7", 80.6, 4.2, "kernel size → 7", 80.57, 0.14, 4.15),
        _cite("kernel9", "kernel sz. → 9", 80.6, 4.2, "kernel size → 9", 80.57, 0.06, 4.21),
        _cite("kernel11", "kernel sz. → 11", 80.5, 4.3, "kernel size → 11", 80.47, 0.11, 4.29),
        _cite("gelu", "ReLU ➝ GELU", 80.6, 4.2, "ReLU → GELU", 80.62, 0.14, 4.15),
        _cite("fewer_acts", "fewer activations", 81.3, 4.2, "fewer activations", 81.27, 0.06, 4.15),
        _cite("fewer_norms", "fewer norms", 81.4, 4.2, "fewer norms", 81.41, 0.09, 4.15),
        _cite("bn_ln", "BN ➝ LN", 81.5, 4.2, "BN → LN", 81.47, 0.09, 4.46),
        _cite(
            "convnext_tiny", "sep. d.s. conv", 82.0, 4.5, "separate d.s. conv (ConvNeXt-T)", 81.97, 0.06, 4.49
        ),
    )
}

#: The training recipe alone (§2.1: "from 76.1% [1] to 78.8%"; Table 10's first two rows, both 4.09 GFLOPs):
#: the same ResNet-50, trained the old way (torchvision's V1 weights) and with the paper's recipe.
RECIPE_TOP1: tuple[float, float] = (76.13, 78.82)
RECIPE_SOURCE = (
    f"{PAPER}, §2.1 and Table 10 (ResNet-50 (PyTorch [1]) 76.13; ResNet-50 (enhanced recipe) 78.82)"
)
#: Swin-T, the target of the ladder (Figure 2's last bar; Table 10: 81.30 at 4.50 GFLOPs).
SWIN_T = _cite("swin_t", "Swin-T/B", 81.3, 4.5, "Swin-T [45]", 81.30, None, 4.50)
#: ConvNeXt-T in the paper's Table 1 (ImageNet-1K trained, 224²: 29M parameters, 4.5G FLOPs): 82.1 top-1. Table
#: 10's last row gives 81.97 ± 0.06 for the same network, and the two are trained differently: Table 1 with Table
#: 5's setting, EMA 0.9999 included (Appendix A.1: "The settings are used for our main results in Table 1"), the
#: §2 steps of Table 10 with EMA disabled (A.1: "except EMA is disabled, as we find using EMA severely hurts
#: models with BatchNorm layers"), and Table 10 is the mean of three seeds (Appendix C).
CONVNEXT_T_TABLE1_TOP1 = 82.1


#: Table 10 prints means and standard deviations to two decimals, each within ± 0.005 of its value; |delta| −
#: spread is made of four such numbers, so its rounding error is up to 4 × 0.005 = 0.02 points. A step whose
#: |delta| and spread differ by no more than that is at the edge of the seeds' spread: its verdict is not settled
#: at the printed precision (fewer norms: +0.14 against 0.15).
ROUNDING_HUNDREDTHS = 2

StepOutcome = Literal["beyond", "edge", "within"]


def spread_outcome(delta: int, spread: int) -> StepOutcome:
    """The predicate of :func:`step_spread`, on hundredths of a point: ``edge`` when ``|delta|`` and ``spread``
    differ by at most :data:`ROUNDING_HUNDREDTHS`, else ``beyond`` when ``|delta| > spread`` (the two ranges
    mean ± std do not overlap), else ``within``."""
    if abs(abs(delta) - spread) <= ROUNDING_HUNDREDTHS:
        return "edge"
    return "beyond" if abs(delta) > spread else "within"


@dataclass(frozen=True)
class StepSpread:
    """One rung's step in Table 10, against the spread of its three seeds, in hundredths of a point (whole units,
    as the table prints them: no float comparison).

    ``delta``: this rung's mean − the previous rung's; ``spread``: the two standard deviations added;
    ``outcome``: :func:`spread_outcome` of the two.
    """

    key: str
    previous: str
    delta: int
    spread: int
    outcome: StepOutcome

    @property
    def beyond(self) -> bool:
        """Whether the step is beyond the seeds' spread (larger than it by more than the rounding)."""
        return self.outcome == "beyond"


def _hundredths(value: float) -> int:
    return int(round_half_up(value, 2).scaleb(2))


def step_spread(key: str) -> StepSpread:
    """Rung ``key``'s change in Table 10's mean top-1 against its seeds' spread.

    **The predicate** (:func:`spread_outcome`): a step is *beyond* the seeds' spread when its change in mean
    exceeds the two rungs' standard deviations added, i.e. when the ranges mean ± std of the two rungs do not
    overlap, and *within* it when it is smaller (Table 10: "Mean and standard deviation are obtained by training
    the network with three different random seeds"); where the two are equal to within the table's rounding
    (:data:`ROUNDING_HUNDREDTHS`) it is at the *edge*. The first rung has no step: ``ValueError``.
    """
    n = RUNG_KEYS.index(key) if key in RUNG_KEYS else -1
    if n < 1:
        raise ValueError(f"{key!r} is not a step of the ladder; choose one of: {', '.join(RUNG_KEYS[1:])}")
    a, b = CITED[RUNG_KEYS[n - 1]], CITED[key]
    assert a.table_top1_std is not None and b.table_top1_std is not None
    delta = _hundredths(b.table_top1) - _hundredths(a.table_top1)
    spread = _hundredths(a.table_top1_std) + _hundredths(b.table_top1_std)
    return StepSpread(key, a.key, delta, spread, spread_outcome(delta, spread))


@dataclass(frozen=True)
class PaperReading:
    """How the paper itself reads a step whose Table 10 verdict is not settled: its words (§2.6), the accuracy they
    quote (Figure 2's, one decimal), and Appendix C's comparison of the step's gain in the two regimes."""

    key: str
    top1: float  # the accuracy the sentence quotes, in %
    gain_r50: float  # the step's gain in the ResNet-50 regime, points (Appendix C)
    gain_r200: float  # the same step's gain in the ResNet-200 regime, points (Appendix C)
    source: str


#: The paper's own reading of the steps at the edge of the seeds' spread. Fewer norms: §2.6 "This further boosts
#: the performance to 81.4%, already surpassing Swin-T's result"; Appendix C "Using fewer normalization layers
#: also has a bigger gain compared with the ResNet-50 regime (+0.46% vs. +0.14%)".
PAPER_READINGS: dict[str, PaperReading] = {
    "fewer_norms": PaperReading("fewer_norms", 81.4, 0.14, 0.46, f"{PAPER}, §2.6 and Appendix C"),
}

#: Table 11 (the ResNet-200 regime, one seed), GFLOPs of the steps around BN → LN: the same for fewer norms and BN →
#: LN, as swapping a norm changes no convolution, while Table 10 gives 4.15 and 4.46 for the same two steps.
TABLE_11_GFLOPS: dict[str, float] = {"fewer_norms": 14.81, "bn_ln": 14.81}
TABLE_11 = f"{PAPER}, Appendix C, Table 11 (ResNet-200 regime)"

#: Layer Scale's initial value in Table 5 (Appendix A.1), the setting of every §2 step, as the paper prints it.
LAYER_SCALE_INIT = "1e-6"


ModuleNaming = Literal["torchvision_resnet", "ladder_block", "torchvision_convnext"]


def module_naming(key: str) -> ModuleNaming:
    """Whose module names rung (or catalogue network) ``key``'s steps carry: torchvision's ResNet and its
    Bottleneck (``layer1.0.bn2``, ``relu``; also the inverted bottleneck, a subclass), this app's hand-written
    depthwise-first block (``layer1.0.norm2``, ``act2``), or torchvision's ConvNeXt (``features.1.0.block.2``).
    Two networks of different namings have steps that differ only in their names (a diff's ``renamed``)."""
    block = get_rung(key).block if key in _BY_KEY else catalogue_spec(key).block
    if block == "dw_first":
        return "ladder_block"
    return "torchvision_convnext" if block == "convnext" else "torchvision_resnet"


def max_seed_std() -> float:
    """The largest standard deviation of three seeds in Table 10 over the ladder's rungs (0.18, the patchify stem)."""
    return max(CITED[k].table_top1_std or 0.0 for k in RUNG_KEYS)


def layer_scale_params(key: str) -> int:
    """How many Layer Scale factors γ rung ``key`` has (one per channel per block; 0 before the last rung)."""
    return sum(r.params for r in rung_trace(key).records if r.kind == "layer_scale")


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LayerRecord:
    """One step of a rung's forward pass.

    ``name`` is the qualified name in the built ``nn.Module`` (torchvision's Bottleneck calls one ``relu``
    module three times, so three records may share a name; ``layer_scale`` names a parameter, not a module);
    ``role`` is unique within a network and the same for the same job on every rung (``stage3.0.conv1``: the
    first conv of stage 3's first block; ``stage2.down.conv``: a separate downsampling conv), so
    :mod:`~resnet_viz.architecture.ladder_diff` can compare ResNet's ``layer3.0.conv1`` with ConvNeXt's
    ``features.5.0.block.0``. Shapes are channels-first ``(C, H, W)`` (``(F,)`` for the classifier), also for
    ConvNeXt's linear layers that torchvision runs on channels-last tensors.
    """

    name: str
    role: str
    kind: str  # conv, linear, bn, ln, relu, gelu, maxpool, avgpool, layer_scale
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int  # side of the theoretical receptive field after this step, in input pixels
    jump: int  # input pixels between neighbouring outputs
    kernel: int | None = None
    stride: int | None = None
    groups: int | None = None
    bias: bool = False

    @property
    def block(self) -> str:
        """The role's block (``stage3.0``) or stage part (``stem``, ``stage2.down``, ``head``)."""
        parts = self.role.split(".")
        return ".".join(parts[:2]) if parts[0].startswith("stage") else parts[0]


@dataclass(frozen=True)
class RungTrace:
    """A rung (or a catalogue ResNet) at one input size: its records and totals."""

    key: str
    label: str
    input_size: tuple[int, int, int]
    records: tuple[LayerRecord, ...]
    total_params: int
    total_macs: int
    receptive_field: int  # of the last feature map before the global pool
    _roles: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._roles.update({r.role: i for i, r in enumerate(self.records)})

    def record(self, role: str) -> LayerRecord:
        return self.records[self._roles[role]]

    def by_block(self) -> dict[str, tuple[LayerRecord, ...]]:
        """The records grouped by :attr:`LayerRecord.block`, in network order: ``stem``, ``stage1.0`` …,
        ``stage2.down`` (ConvNeXt's separate downsampling), …, ``head``. What a block diagram draws as one box."""
        groups: dict[str, list[LayerRecord]] = {}
        for r in self.records:
            groups.setdefault(r.block, []).append(r)
        return {k: tuple(v) for k, v in groups.items()}

    def module_names(self) -> tuple[str, ...]:
        """The distinct module names of the records, in order (the built module has each of them)."""
        return tuple(dict.fromkeys(r.name for r in self.records))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "input_size": list(self.input_size),
            "total_params": self.total_params,
            "total_macs": self.total_macs,
            "receptive_field": self.receptive_field,
            "records": [
                {**asdict(r), "input_shape": list(r.input_shape), "output_shape": list(r.output_shape)}
                for r in self.records
            ],
        }


class _Walk:
    """Shape, receptive field and jump carried through the network while records are appended."""

    def __init__(self, size: tuple[int, int, int]) -> None:
        self.records: list[LayerRecord] = []
        self.shape: tuple[int, ...] = size
        self.rf, self.jump = 1, 1

    def conv(self, name: str, role: str, out: int, k: int, s: int, p: int, *, groups: int = 1, bias: bool = False,
             at: tuple[tuple[int, ...], int, int] | None = None) -> None:  # fmt: skip
        shape, rf, jump = at if at is not None else (self.shape, self.rf, self.jump)
        c, h, w = shape
        o = (out, conv_out(h, k, s, p), conv_out(w, k, s, p))
        weights = out * (c // groups) * k * k
        rf, jump = rf + (k - 1) * jump, jump * s
        self.records.append(LayerRecord(name, role, "conv", shape, o, weights + (out if bias else 0),
                                        weights * o[1] * o[2], rf, jump, k, s, groups, bias))  # fmt: skip
        if at is None:
            self.shape, self.rf, self.jump = o, rf, jump

    def linear(self, name: str, role: str, out: int, *, bias: bool = True) -> None:
        c, *hw = self.shape
        positions = hw[0] * hw[1] if hw else 1
        o = (out, *hw)
        self.records.append(LayerRecord(name, role, "linear", self.shape, o, c * out + (out if bias else 0),
                                        c * out * positions, self.rf, self.jump, bias=bias))  # fmt: skip
        self.shape = o

    def norm(self, name: str, role: str, kind: NormKind, shape: tuple[int, ...] | None = None) -> None:
        shape = shape or self.shape
        self.records.append(LayerRecord(name, role, kind, shape, shape, 2 * shape[0], 0, self.rf, self.jump))

    def act(self, name: str, role: str, kind: ActKind) -> None:
        self.records.append(LayerRecord(name, role, kind, self.shape, self.shape, 0, 0, self.rf, self.jump))

    def pool(self, name: str, role: str, k: int, s: int, p: int) -> None:
        c, h, w = self.shape
        o = (c, conv_out(h, k, s, p), conv_out(w, k, s, p))
        self.rf, self.jump = self.rf + (k - 1) * self.jump, self.jump * s
        self.records.append(LayerRecord(name, role, "maxpool", self.shape, o, 0, 0, self.rf, self.jump, k, s))
        self.shape = o


def _block(w: _Walk, spec: RungSpec, name: str, role: str, planes: int, stride: int) -> None:
    """Records of one residual block (ResNet container: ``layerS.B``)."""
    cin = w.shape[0]
    x_shape, x_rf, x_jump = w.shape, w.rf, w.jump
    k, pad, n = spec.kernel, spec.kernel // 2, spec.norm
    # torchvision's blocks call one shared `relu` module after the addition too; the hand-written one has act3.
    torchvision_block = spec.block in ("basic", "bottleneck", "inverted")
    if spec.block == "basic":
        out = planes
        w.conv(f"{name}.conv1", f"{role}.conv1", planes, 3, stride, 1)
        w.norm(f"{name}.bn1", f"{role}.norm1", n)
        w.act(f"{name}.relu", f"{role}.act1", spec.act)
        w.conv(f"{name}.conv2", f"{role}.conv2", planes, 3, 1, 1)
        w.norm(f"{name}.bn2", f"{role}.norm2", n)
    elif spec.block in ("bottleneck", "inverted"):
        if spec.block == "bottleneck":
            mid, out = planes, planes * 4
        else:
            mid, out = planes * 4, planes
        groups = mid if (spec.depthwise or spec.block == "inverted") else 1
        w.conv(f"{name}.conv1", f"{role}.conv1", mid, 1, 1, 0)
        w.norm(f"{name}.bn1", f"{role}.norm1", n)
        w.act(f"{name}.relu", f"{role}.act1", spec.act)
        w.conv(f"{name}.conv2", f"{role}.conv2", mid, k, stride, pad, groups=groups)
        w.norm(f"{name}.bn2", f"{role}.norm2", n)
        w.act(f"{name}.relu", f"{role}.act2", spec.act)
        w.conv(f"{name}.conv3", f"{role}.conv3", out, 1, 1, 0)
        w.norm(f"{name}.bn3", f"{role}.norm3", n)
    else:  # dw_first: hand-written block, one module per activation
        out = planes
        three = spec.block_norms == 3
        w.conv(f"{name}.conv1", f"{role}.conv1", cin, k, stride, pad, groups=cin)
        w.norm(f"{name}.norm1", f"{role}.norm1", n)
        if spec.block_acts == 3:
            w.act(f"{name}.act1", f"{role}.act1", spec.act)
        w.conv(f"{name}.conv2", f"{role}.conv2", 4 * planes, 1, 1, 0)
        if three:
            w.norm(f"{name}.norm2", f"{role}.norm2", n)
        w.act(f"{name}.act2", f"{role}.act2", spec.act)
        w.conv(f"{name}.conv3", f"{role}.conv3", out, 1, 1, 0)
        if three:
            w.norm(f"{name}.norm3", f"{role}.norm3", n)
    if stride != 1 or cin != out:
        at = (x_shape, x_rf, x_jump)
        w.conv(f"{name}.downsample.0", f"{role}.shortcut.conv", out, 1, stride, 0, at=at)
        proj = w.records[-1]
        w.records.append(LayerRecord(f"{name}.downsample.1", f"{role}.shortcut.norm", n, proj.output_shape,
                                     proj.output_shape, 2 * out, 0, proj.receptive_field, proj.jump))  # fmt: skip
    if torchvision_block:
        w.act(f"{name}.relu", f"{role}.act{3 if spec.block != 'basic' else 2}", spec.act)
    elif spec.block_acts == 3:
        w.act(f"{name}.act3", f"{role}.act3", spec.act)


def _resnet_container(w: _Walk, spec: RungSpec, num_classes: int) -> None:
    if spec.stem == "resnet":
        w.conv("conv1", "stem.conv", spec.width, 7, 2, 3)
        w.norm("bn1", "stem.norm", spec.norm)
        w.act("relu", "stem.act", spec.act)
        w.pool("maxpool", "stem.pool", 3, 2, 1)
    else:  # patchify: the 4×4 conv alone
        w.conv("conv1", "stem.conv", spec.width, 4, 4, 0)
    for i, blocks in enumerate(spec.layers):
        planes = spec.width * 2**i
        for b in range(blocks):
            stride = 2 if (i > 0 and b == 0) else 1
            _block(w, spec, f"layer{i + 1}.{b}", f"stage{i + 1}.{b}", planes, stride)
    _head(w, "avgpool", None, "fc", num_classes)


def _convnext_container(w: _Walk, spec: RungSpec, num_classes: int) -> None:
    w.conv("features.0.0", "stem.conv", spec.width, 4, 4, 0, bias=True)
    w.norm("features.0.1", "stem.norm", "ln")
    for i, blocks in enumerate(spec.layers):
        dim = spec.width * 2**i
        if i > 0:
            ds = f"features.{2 * i}"
            w.norm(f"{ds}.0", f"stage{i + 1}.down.norm", "ln")
            w.conv(f"{ds}.1", f"stage{i + 1}.down.conv", dim, 2, 2, 0, bias=True)
        stage = f"features.{2 * i + 1}"
        for b in range(blocks):
            name, role = f"{stage}.{b}", f"stage{i + 1}.{b}"
            w.conv(f"{name}.block.0", f"{role}.conv1", dim, 7, 1, 3, groups=dim, bias=True)
            w.norm(f"{name}.block.2", f"{role}.norm1", "ln")
            w.linear(f"{name}.block.3", f"{role}.conv2", 4 * dim)
            w.act(f"{name}.block.4", f"{role}.act2", "gelu")
            w.linear(f"{name}.block.5", f"{role}.conv3", dim)
            c = w.shape
            w.records.append(LayerRecord(f"{name}.layer_scale", f"{role}.layer_scale", "layer_scale", c, c, dim, 0,
                                         w.rf, w.jump))  # fmt: skip
    _head(w, "avgpool", "classifier.0", "classifier.2", num_classes)


def _head(w: _Walk, pool: str, norm: str | None, fc: str, num_classes: int) -> None:
    c, h, wd = w.shape
    rf = w.rf + (max(h, wd) - 1) * w.jump  # a global pool's window is the whole map
    w.records.append(LayerRecord(pool, "head.pool", "avgpool", w.shape, (c, 1, 1), 0, 0, rf, w.jump))
    w.shape, w.rf = (c, 1, 1), rf
    if norm is not None:
        w.norm(norm, "head.norm", "ln")
    w.shape = (c,)
    w.linear(fc, "head.fc", num_classes)


@functools.lru_cache(maxsize=128)
def _rung_trace(spec: RungSpec, size: tuple[int, int, int], num_classes: int) -> RungTrace:
    w = _Walk(size)
    if spec.block == "convnext":
        _convnext_container(w, spec, num_classes)
    else:
        _resnet_container(w, spec, num_classes)
    pool = next(i for i, r in enumerate(w.records) if r.kind == "avgpool")
    if min(d for r in w.records[:pool] for d in r.output_shape[1:]) < 1:
        raise ValueError(
            f"{spec.key} cannot take a {size[1]}×{size[2]} input: a feature map shrinks below 1×1"
        )
    rf = max(r.receptive_field for r in w.records[:pool])
    return RungTrace(spec.key, spec.label, size, tuple(w.records), sum(r.params for r in w.records),
                     sum(r.macs for r in w.records), rf)  # fmt: skip


def rung_trace(key: str, input_size: Any = 224, *, num_classes: int = 1000) -> RungTrace:
    """The records of rung (or kernel variant) ``key`` at ``input_size`` (224, (H, W) or (3, H, W))."""
    return _rung_trace(get_rung(key), normalize_input_size(input_size), num_classes)


def ladder(input_size: Any = 224) -> tuple[RungTrace, ...]:
    """Every rung of :data:`RUNGS`, in order, at ``input_size``."""
    return tuple(rung_trace(r.key, input_size) for r in RUNGS)


#: The catalogue's ImageNet ResNets as specs of the same walker, so that any two can be diffed by role.
def catalogue_spec(arch: str) -> RungSpec:
    """A catalogue ImageNet ResNet (v1.5) as a :class:`RungSpec` (ValueError for the CIFAR networks)."""
    spec = get_spec(arch)
    if arch not in IMAGENET_ARCHS:
        raise ValueError(
            f"{arch} is not an ImageNet ResNet; diff takes the ladder's rungs and {', '.join(IMAGENET_ARCHS)}"
        )
    return RungSpec(key=arch, label=spec.title, group="", change=spec.note, layers=spec.layers, stem="resnet",
                    width=64, block=spec.block, torchvision=arch)  # fmt: skip


#: Every name :func:`network_trace` accepts: the rungs, the kernel variants, the catalogue's ImageNet ResNets.
NETWORKS: tuple[str, ...] = tuple(dict.fromkeys([*RUNG_KEYS, *(v.key for v in VARIANTS), *IMAGENET_ARCHS]))


def network_trace(name: str, input_size: Any = 224) -> RungTrace:
    """A rung, a kernel variant, or a catalogue ImageNet ResNet (``resnet18`` … ``resnet152``) as records."""
    if name in _BY_KEY:
        return rung_trace(name, input_size)
    if name in IMAGENET_ARCHS:
        return _rung_trace(catalogue_spec(name), normalize_input_size(input_size), 1000)
    raise ValueError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}")


# --------------------------------------------------------------------------------------------- explanation


@dataclass(frozen=True)
class MacsExplanation:
    """Our multiply-adds beside the paper's GFLOPs for one rung, and what accounts for the difference.

    Figure 2 prints one decimal, Table 10 two; Figure 2's GFLOPs are Table 10's rounded again (4.15 → 4.2, 2.35 →
    2.4), so ``figure_matches`` accepts our count rounded once or twice. ``table_gap`` is the range of ours −
    Table 10's that the table's rounding (± 0.005 G) leaves, in multiply-adds. The remaining fields are what a
    different counting convention would add, counted here: ``norm_elements`` (every element a BN or LN
    normalises), ``bias_adds`` (one add per output element of a layer with a bias), ``act_elements`` (every
    element a ReLU or GELU sees), ``trace_extra`` (what the shape walk's torchinfo convention adds: 2 × C per
    BatchNorm and the fc bias, where the network has BatchNorm).

    ``reason``: ``rounding`` (both cited numbers are ours, rounded); ``paper_inconsistent`` (Table 10 disagrees
    with Figure 2 for the same step, and Figure 2 is ours rounded); ``convention`` (the paper's count is above
    ours beyond rounding: its counter counted more than convolutions and linear layers; the paper does not say
    what, and the candidate terms above give the sizes).
    """

    key: str
    macs: int
    figure_gflops: float
    table_gflops: float
    figure_matches: bool
    table_matches: bool
    table_gap: tuple[int, int]
    norm_elements: int
    bias_adds: int
    act_elements: int
    trace_extra: int
    reason: str


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def round_half_up(value: float | Decimal, places: int) -> Decimal:
    """``value`` rounded as printed tables round (4.15 → 4.2), on its decimal text, not its binary float."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def macs_explanation(key: str) -> MacsExplanation:
    """How our multiply-adds at 224 compare with the paper's cited GFLOPs for rung ``key``."""
    cited = CITED.get(key)
    if cited is None:
        raise ValueError(f"the paper cites no GFLOPs for {key!r}")
    tr = rung_trace(key, 224)
    g = Decimal(tr.total_macs) / Decimal(10**9)
    fig = Decimal(str(cited.figure_gflops))
    table = Decimal(str(cited.table_gflops))
    fig_ok = fig in (round_half_up(g, 1), round_half_up(round_half_up(g, 2), 1))
    tab_ok = round_half_up(g, 2) == table
    fig_is_table = round_half_up(table, 1) == fig
    gap = (tr.total_macs - int((table + Decimal("0.005")) * 10**9),
           tr.total_macs - int((table - Decimal("0.005")) * 10**9))  # fmt: skip
    norms = sum(_numel(r.output_shape) for r in tr.records if r.kind in ("bn", "ln"))
    bias = sum(_numel(r.output_shape) for r in tr.records if r.bias)
    acts = sum(_numel(r.output_shape) for r in tr.records if r.kind in ("relu", "gelu"))
    has_bn = any(r.kind == "bn" for r in tr.records)
    trace_extra = sum(r.params for r in tr.records if r.kind == "bn") + (
        tr.record("head.fc").output_shape[0] if has_bn else 0
    )
    if tab_ok and fig_ok:
        reason = "rounding"
    elif fig_ok and not fig_is_table:
        reason = "paper_inconsistent"
    else:
        reason = "convention"
    return MacsExplanation(key, tr.total_macs, cited.figure_gflops, cited.table_gflops, fig_ok, tab_ok, gap,
                           norms, bias, acts, trace_extra, reason)  # fmt: skip


def explanations() -> tuple[MacsExplanation, ...]:
    """:func:`macs_explanation` for every rung and variant the paper cites, in ladder order."""
    return tuple(macs_explanation(k) for k in CITED)
