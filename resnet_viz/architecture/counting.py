"""Counting: where the parameters and multiply-adds of a network live, and the arithmetic behind the names.

Everything here is pure arithmetic on a :class:`~resnet_viz.architecture.trace.Trace` (itself checked against torchvision and
torchinfo), so the tables add up to the trace's totals by construction and the tests check that they do:

* :func:`count_table` — parameters and multiply-adds per stage, per block or per layer (conv, BN and fc apart);
* :func:`depth_scaling` — ResNet-18 … 152 side by side: parameters, multiply-adds, parameter and activation memory;
* :func:`layer_count_rule` — which layers the depth in the name counts (seed 001: the weighted layers of the
  *plain* network, so the 1×1 convs of the dashed shortcuts, BN, ReLU and pooling are not counted), and why;
* :func:`basic_block_cost`, :func:`bottleneck_cost`, :func:`projection_cost` — seed 002's hand calculation
  (3×3×256×256 + 3×3×256×256 = 1,179,648 against 1×1×256×64 + 3×3×64×64 + 1×1×64×256 = 69,632) for any width;
* :func:`stride_variant_macs` — v1 (stride in the first 1×1) against v1.5 (stride in the 3×3) multiply-adds;
* :func:`table_to_csv` (the ``params`` sub-command of :mod:`resnet_viz.cli` prints these tables).

Text for people is not made here (the CLI writes its English tables in :mod:`resnet_viz.cli`): functions
return numbers and short codes (``reason``) that the page turns into words in the reader's language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from resnet_viz.architecture.catalogue import CONVS_PER_BLOCK, EXPANSION, IMAGENET_ARCHS, get_spec
from resnet_viz.architecture.trace import Row, Trace, trace

LEVELS: tuple[str, ...] = ("stage", "block", "layer")

#: float32: every parameter and every activation element takes 4 bytes.
BYTES_PER_FLOAT32 = 4

#: Steps whose output is a new tensor in torchvision's forward pass. ReLU (``inplace=True``), the residual
#: addition (``out += identity``), an identity shortcut and ``flatten`` (a view) write no new tensor, and the
#: softmax is not part of torchvision's model; the option-A shortcut (zero-padding) does make one.
MATERIALISING_KINDS: frozenset[str] = frozenset({"conv", "bn", "maxpool", "avgpool", "fc"})


# --------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class CountRow:
    """One line of a count table. ``group`` is the stage it belongs to: ``stem``, ``layer1`` … or ``head``."""

    level: str
    name: str
    paper_name: str
    kind: str
    group: str
    block: str
    params: int
    macs: int


def _group_of(row: Row) -> str:
    if row.name.startswith("layer"):
        return row.name.split(".")[0]
    return "head" if row.kind in ("avgpool", "flatten", "fc", "softmax") else "stem"


def _block_of(row: Row) -> str:
    parts = row.name.split(".")
    return ".".join(parts[:2]) if row.name.startswith("layer") and len(parts) >= 2 else ""


def _paper_of(tr: Trace, row: Row) -> str:
    """The paper's name of the row or of the block or stage around it (conv3_1, conv2_x, conv1, fc)."""
    if row.kind == "fc":
        return "fc"
    if row.paper_name and row.kind != "maxpool":
        return row.paper_name
    block = _block_of(row)
    if block:
        return tr.row(block).paper_name
    return "conv1" if _group_of(row) == "stem" else ""


def _weighted_leaves(tr: Trace) -> list[Row]:
    """Leaves that carry parameters or multiply-adds (conv, BN, fc); the others add zero to every total."""
    return [r for r in tr.leaves if r.params or r.macs]


def count_table(tr: Trace, by: str = "stage") -> list[CountRow]:
    """Parameters and multiply-adds of ``tr`` per ``stage``, ``block`` or ``layer``, in network order.

    ``stage``: the stem (conv1 + bn1), one row per stage (conv2_x …), the head (fc). ``block``: the stem, one
    row per residual block, the head. ``layer``: every conv, BN and fc on its own (a projection shortcut's conv
    and BN included). At every level the rows add up to ``tr.total_params`` and ``tr.total_macs``.
    """
    if by not in LEVELS:
        raise ValueError(f"count by one of {', '.join(LEVELS)}, not {by!r}")
    leaves = _weighted_leaves(tr)
    if by == "layer":
        return [
            CountRow("layer", r.name, _paper_of(tr, r), r.kind, _group_of(r), _block_of(r), r.params, r.macs)
            for r in leaves
        ]
    stem = [r for r in leaves if _group_of(r) == "stem"]
    head = [r for r in leaves if _group_of(r) == "head"]
    out = [
        CountRow(
            by, "stem", "conv1", "stem", "stem", "", sum(r.params for r in stem), sum(r.macs for r in stem)
        )
    ]
    for row in tr.rows:
        if (by == "stage" and row.kind == "stage") or (by == "block" and row.kind == "block"):
            out.append(
                CountRow(
                    by,
                    row.name,
                    row.paper_name,
                    row.kind,
                    _group_of(row),
                    _block_of(row),
                    row.params,
                    row.macs,
                )
            )
    out.append(
        CountRow(by, "fc", "fc", "head", "head", "", sum(r.params for r in head), sum(r.macs for r in head))
    )
    return out


CSV_COLUMNS: tuple[str, ...] = ("level", "name", "paper_name", "kind", "group", "block", "params", "macs")


def table_to_csv(rows: Iterable[CountRow]) -> str:
    """The table as CSV text (header row first, no total row, so a spreadsheet's column sum is the total)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([getattr(r, c) for c in CSV_COLUMNS])
    return buf.getvalue()


# --------------------------------------------------------------------------------------------- memory


def parameter_bytes(tr: Trace) -> int:
    """Memory of the weights in float32: parameters × 4 bytes (BN running statistics, buffers, not counted)."""
    return tr.total_params * BYTES_PER_FLOAT32


def activation_elements(tr: Trace) -> int:
    """Output elements of one image's forward pass, summed over the steps that materialise a tensor.

    Those steps are the convs, BNs, pools and the fc (:data:`MATERIALISING_KINDS`) and the option-A zero-padding
    shortcut; ReLU and the residual addition work in place, flatten is a view and the input image is not
    included. It is what a training step keeps for the backward pass, roughly; inference frees most of it early.
    """
    n = 0
    for r in tr.leaves:
        if r.kind in MATERIALISING_KINDS or (r.kind == "shortcut" and r.shortcut == "zero_pad"):
            size = 1
            for d in r.output_shape:
                size *= d
            n += size
    return n


def activation_bytes(tr: Trace, batch_size: int = 1) -> int:
    """Forward activation memory: :func:`activation_elements` × 4 bytes (float32) × ``batch_size``."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    return activation_elements(tr) * BYTES_PER_FLOAT32 * batch_size


@dataclass(frozen=True)
class DepthStats:
    arch: str
    title: str
    depth: int
    block: str
    params: int
    macs: int
    param_bytes: int
    activation_bytes: int


def depth_scaling(
    input_size: int = 224,
    batch_size: int = 1,
    *,
    archs: Sequence[str] = IMAGENET_ARCHS,
    plain: bool = False,
    stride_in: str = "3x3",
) -> list[DepthStats]:
    """One :class:`DepthStats` per network (ResNet-18 … 152 by default) at ``input_size`` and ``batch_size``.

    ``stride_in`` applies to the Bottleneck networks only (a BasicBlock has no choice to make).
    """
    out = []
    for arch in archs:
        spec = get_spec(arch)
        tr = trace(
            arch, input_size, plain=plain, stride_in=stride_in if spec.block == "bottleneck" else "3x3"
        )
        out.append(
            DepthStats(
                arch,
                spec.title,
                spec.depth,
                spec.block,
                tr.total_params,
                tr.total_macs,
                parameter_bytes(tr),
                activation_bytes(tr, batch_size),
            )  # fmt: skip
        )
    return out


# --------------------------------------------------------------------------------------------- layer count


@dataclass(frozen=True)
class LayerItem:
    """One step of the network in the layer-count list.

    ``number`` is its place among the counted layers (1 … depth) or 0; ``reason`` says why it is or is not
    counted: ``stem_conv``, ``block_conv``, ``fc`` (counted) or ``projection``, ``bn``, ``relu``, ``pool``,
    ``add``, ``identity``, ``zero_pad``, ``flatten``, ``softmax`` (not counted).
    """

    name: str
    paper_name: str
    kind: str
    counted: bool
    number: int
    reason: str
    group: str  # stem, layer1 … or head
    block: str
    kernel: int | None
    stride: int | None
    in_channels: int
    out_channels: int
    params: int


_REASONS = {
    "bn": "bn",
    "relu": "relu",
    "maxpool": "pool",
    "avgpool": "pool",
    "add": "add",
    "flatten": "flatten",
    "softmax": "softmax",
    "fc": "fc",
}


def _reason(row: Row) -> str:
    if row.kind == "conv":
        if not row.counted:
            return "projection"
        return "stem_conv" if row.name == "conv1" else "block_conv"
    if row.kind == "shortcut":
        return "zero_pad" if row.shortcut == "zero_pad" else "identity"
    return _REASONS.get(row.kind, row.kind)


@dataclass(frozen=True)
class LayerCountRule:
    arch: str
    depth: int
    convs_per_block: int
    layers: tuple[int, ...]
    formula: str  # "34 = 1 + 2×(3+4+6+3) + 1"
    cifar_n: int | None  # n of the paper's 6n+2 CIFAR networks, else None
    items: tuple[LayerItem, ...]

    @property
    def counted(self) -> list[LayerItem]:
        return [i for i in self.items if i.counted]

    @property
    def not_counted(self) -> list[LayerItem]:
        return [i for i in self.items if not i.counted]


def layer_count_rule(arch: str) -> LayerCountRule:
    """The depth in the name, rebuilt from the network's own block counts, with every step marked counted or not.

    The depth counts the weighted layers of the plain network: the stem conv, the convs of every block and the
    fc (seed 001: 34 = 1 + 2×(3+4+6+3) + 1). Traced on the residual network so that the 1×1 projection convs of
    the dashed shortcuts are listed too, as not counted.
    """
    spec = get_spec(arch)
    tr = trace(arch, spec.default_input)
    # The trace has no row for the ReLU inside a block (torchvision reuses one nn.ReLU module): it follows every
    # main-branch BN but the last, whose ReLU comes after the addition (the "add" item). Listed here so that
    # every step of the network is shown as counted or not.
    relu_after = {f"bn{i}" for i in range(1, CONVS_PER_BLOCK[spec.block])}
    items = []
    number = 0
    for r in tr.leaves:
        if r.counted:
            number += 1
        item = LayerItem(
            name=r.name,
            paper_name=_paper_of(tr, r),
            kind=r.kind,
            counted=r.counted,
            number=number if r.counted else 0,
            reason=_reason(r),
            group=_group_of(r),
            block=_block_of(r),
            kernel=r.kernel,
            stride=r.stride,
            in_channels=r.input_shape[0],
            out_channels=r.output_shape[0],
            params=r.params,
        )
        items.append(item)
        if r.kind == "bn" and r.depth == 2 and r.name.rsplit(".", 1)[1] in relu_after:
            items.append(
                replace(item, name=f"{item.block}.relu", kind="relu", reason="relu", kernel=None, stride=None,
                        params=0)
            )  # fmt: skip
    cifar_n = spec.layers[0] if spec.family == "cifar" else None
    return LayerCountRule(
        arch,
        spec.depth,
        CONVS_PER_BLOCK[spec.block],
        spec.layers,
        spec.layer_count_formula,
        cifar_n,
        tuple(items),
    )


def cifar_formula(n: int) -> str:
    """The paper's CIFAR rule (§4.2): three stages of n BasicBlocks, 6n+2 = 1 + 2×(n+n+n) + 1."""
    return f"6n+2 = 6×{n}+2 = {6 * n + 2}"


# --------------------------------------------------------------------------------------------- calculator


@dataclass(frozen=True)
class ConvTerm:
    """One conv's weights written as seed 002 writes them: k×k×C_in×C_out."""

    kernel: int
    c_in: int
    c_out: int

    @property
    def weights(self) -> int:
        return self.kernel * self.kernel * self.c_in * self.c_out

    @property
    def bn_params(self) -> int:
        return 2 * self.c_out  # γ and β of the BatchNorm after it

    def expression(self) -> str:
        return f"{self.kernel}×{self.kernel}×{self.c_in}×{self.c_out}"


@dataclass(frozen=True)
class BlockCost:
    kind: str  # "basic" or "bottleneck"
    channels: int  # input and output channels of the block
    terms: tuple[ConvTerm, ...]
    include_bn: bool

    @property
    def conv_weights(self) -> int:
        return sum(c.weights for c in self.terms)

    @property
    def bn_params(self) -> int:
        return sum(c.bn_params for c in self.terms)

    @property
    def total(self) -> int:
        return self.conv_weights + (self.bn_params if self.include_bn else 0)

    def expression(self) -> str:
        """'3×3×256×256 + 3×3×256×256' (+ '2×256 + 2×256' BN terms when they are included)."""
        text = " + ".join(c.expression() for c in self.terms)
        if self.include_bn:
            text += " + " + " + ".join(f"2×{c.c_out}" for c in self.terms)
        return text


def _check_channels(channels: int, multiple: int = 1) -> None:
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < multiple:
        raise ValueError(f"channels must be a positive integer, not {channels!r}")
    if channels % multiple:
        raise ValueError(f"channels must be a multiple of {multiple} for a Bottleneck, not {channels}")


def basic_block_cost(channels: int, *, include_bn: bool = False) -> BlockCost:
    """A BasicBlock from ``channels`` to ``channels``: two 3×3 convs (seed 002's left-hand block)."""
    _check_channels(channels)
    term = ConvTerm(3, channels, channels)
    return BlockCost("basic", channels, (term, term), include_bn)


def bottleneck_cost(channels: int, *, include_bn: bool = False) -> BlockCost:
    """A Bottleneck from ``channels`` to ``channels``: 1×1 down to C/4, 3×3 at C/4, 1×1 back up (expansion 4)."""
    expansion = EXPANSION["bottleneck"]
    _check_channels(channels, expansion)
    width = channels // expansion
    terms = (ConvTerm(1, channels, width), ConvTerm(3, width, width), ConvTerm(1, width, channels))
    return BlockCost("bottleneck", channels, terms, include_bn)


def projection_cost(c_in: int, c_out: int, *, include_bn: bool = False) -> int:
    """The dashed shortcut's own weights: a 1×1×C_in×C_out conv (+ its BN's 2×C_out)."""
    _check_channels(c_in)
    _check_channels(c_out)
    return c_in * c_out + (2 * c_out if include_bn else 0)


@dataclass(frozen=True)
class Projection:
    """One dashed shortcut: its 1×1 conv (C_in×C_out weights) and the BN after it (2×C_out)."""

    block: str
    paper_name: str
    c_in: int
    c_out: int
    stride: int
    conv_params: int
    bn_params: int

    def expression(self) -> str:
        return f"1×1×{self.c_in}×{self.c_out}"


def projections(tr: Trace) -> list[Projection]:
    """The projection shortcuts of ``tr`` in order (none in a plain or option-A network)."""
    out = []
    for b in tr.blocks:
        if b.shortcut != "projection":
            continue
        conv, bn = tr.row(f"{b.name}.downsample.0"), tr.row(f"{b.name}.downsample.1")
        out.append(
            Projection(
                b.name,
                b.paper_name,
                conv.input_shape[0],
                conv.output_shape[0],
                conv.stride or 1,
                conv.params,
                bn.params,
            )  # fmt: skip
        )
    return out


@dataclass(frozen=True)
class StrideVariantMacs:
    arch: str
    v1_macs: int  # stride in the first 1×1 conv (the paper)
    v15_macs: int  # stride in the 3×3 conv (torchvision)
    per_block: tuple[tuple[str, str, int, int], ...]  # (block, paper name, v1, v1.5) where they differ


def stride_variant_macs(arch: str, input_size: int = 224) -> StrideVariantMacs:
    """Multiply-adds of a Bottleneck network with the stride in the 1×1 (v1) and in the 3×3 (v1.5).

    Only the first block of conv3_x … conv5_x differs: in v1.5 its first 1×1 conv runs on the un-strided map,
    four times as many positions.
    """
    if get_spec(arch).block != "bottleneck":
        raise ValueError(f"{arch} has BasicBlocks: only Bottleneck networks have a v1 / v1.5 choice")
    v1 = trace(arch, input_size, stride_in="1x1")
    v15 = trace(arch, input_size, stride_in="3x3")
    diff = tuple(
        (b1.name, b1.paper_name, b1.macs, b15.macs)
        for b1, b15 in zip(v1.blocks, v15.blocks)
        if b1.macs != b15.macs
    )
    return StrideVariantMacs(arch, v1.total_macs, v15.total_macs, diff)


def stage_param_growth(tr: Trace) -> list[float]:
    """Each stage's parameters ÷ the previous stage's (conv2_x → conv3_x, …): the per-stage growth that the
    "4× per block" rule of thumb does not give, because the number of blocks changes too."""
    stages = [r for r in count_table(tr, "stage") if r.kind == "stage"]
    return [b.params / a.params for a, b in zip(stages, stages[1:]) if a.params]


def bn_elementwise(tr: Trace) -> tuple[Row, int] | None:
    """The first BatchNorm row and the multiply-adds it really does on its output: one per element (C×H×W, scale
    and shift folded), against the 2×C of torchinfo's convention that the totals follow. None without BN."""
    for row in tr.rows:
        if row.kind == "bn" and row.leaf:
            elements = 1
            for d in row.output_shape:
                elements *= d
            return row, elements
    return None


def listing_conv_biases(tr: Trace) -> tuple[int, int]:
    """The notes' PyTorch listing (seed 004) keeps nn.Conv2d's default bias in the 3×3 convs of its blocks (its stem
    and 1×1 shortcut convs are built with bias=False): how many such convs ``tr`` has, and their bias count
    (one per output channel). Added to ``tr.total_params`` it gives the listing's parameter count."""
    convs = [r for r in tr.rows if r.kind == "conv" and r.kernel == 3 and r.name.startswith("layer")]
    return len(convs), sum(r.output_shape[0] for r in convs)
