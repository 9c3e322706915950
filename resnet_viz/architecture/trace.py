"""The trace: every step of a network, in order, with shapes, parameters, multiply-adds and receptive fields.

It is pure arithmetic on the catalogue (no weights, no torch), so tracing resnet152 takes about a millisecond;
the tests check every shape against a real forward pass on meta tensors and every count against torchvision's
models and torchinfo. Multiply-adds follow torchinfo's rule so totals compare one to one: a conv counts
``weight.numel() × H_out × W_out``, a BatchNorm ``2 × C`` (its weight and bias), the fc ``in × out + out``;
pooling, ReLU, the residual addition and softmax count zero.

Rows are plain frozen dataclasses with torchvision's qualified module names as ids (``layer2.0.conv1``); rows for
steps that are no module get a name beside their block (``layer1.0.shortcut`` for an identity shortcut,
``layer1.0.add`` for the addition and the ReLU after it). ``parent`` links a row to the row that contains it.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any

from resnet_viz.architecture.catalogue import BLOCK_CLASS, ArchSpec, check_stride_in, get_spec

#: Above this, the pages' images and maps stop making sense; the arithmetic itself would go on.
MAX_INPUT_SIZE = 4096
#: The shortcuts drawn dashed in the paper's Figure 3: they change the shape (the only place this rule is written).
DASHED_SHORTCUTS = frozenset({"projection", "zero_pad"})


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output size of a conv or pool (PyTorch's floor mode): ⌊(in + 2p − k)/s⌋ + 1."""
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class Row:
    """One step of the network."""

    name: str
    kind: str  # conv, bn, relu, maxpool, stage, block, shortcut, add, avgpool, flatten, fc, softmax
    paper_name: str
    depth: int  # 0: top level, 1: block, 2: inside a block, 3: inside a projection shortcut
    parent: str | None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int  # side of the theoretical receptive field, in input pixels
    jump: int  # distance in input pixels between neighbouring outputs (product of strides so far)
    leaf: bool  # leaves add up to the totals; stage, block and projection rows summarise their children
    counted: bool = False  # one of the weighted layers the paper's depth counts
    kernel: int | None = None
    stride: int | None = None
    padding: int | None = None
    detail: str = ""
    shortcut: str | None = None  # blocks: identity, projection, zero_pad (option A), or none (plain)
    shortcut_reason: str | None = (
        None  # blocks with a non-identity shortcut: stride, channels, stride and channels
    )
    shortcut_params: int = 0  # blocks: the shortcut's own parameters, its BN included (a projection's only)

    @property
    def dashed(self) -> bool:
        """A block whose shortcut changes the shape (the paper's dashed line: a projection or option A), and
        that shortcut's own row."""
        return self.shortcut in DASHED_SHORTCUTS


@dataclass(frozen=True)
class StageInfo:
    """timm-style feature_info for one stage: where it is and what comes out of it."""

    name: str
    paper_name: str
    blocks: int
    channels: int
    reduction: int
    output_shape: tuple[int, int, int]


@dataclass(frozen=True)
class Trace:
    arch: str
    title: str
    family: str
    block: str
    input_size: tuple[int, int, int]
    plain: bool
    stride_in: str
    layers: tuple[int, ...]
    num_classes: int
    rows: tuple[Row, ...]
    stages: tuple[StageInfo, ...]
    total_params: int
    total_macs: int
    layer_count: int
    layer_count_formula: str
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({r.name: i for i, r in enumerate(self.rows)})

    def row(self, name: str) -> Row:
        return self.rows[self._index[name]]

    def children(self, name: str) -> list[Row]:
        return [r for r in self.rows if r.parent == name]

    @property
    def block_class(self) -> str:
        """'BasicBlock' or 'Bottleneck' (torchvision's class name)."""
        return BLOCK_CLASS[self.block]

    @property
    def blocks(self) -> list[Row]:
        return [r for r in self.rows if r.kind == "block"]

    @property
    def leaves(self) -> list[Row]:
        return [r for r in self.rows if r.leaf]

    @property
    def shortcut_params(self) -> int:
        """The shortcuts' own parameters: each projection's 1×1 conv *and* its BN (γ, β). It is the one number
        the pages quote for the shortcuts, because it is exactly what a residual network has more than its plain
        counterpart (0 with option A, identity shortcuts only, or in a plain network). There is deliberately no
        convs-only total beside it: two totals for the same shortcuts read as a contradiction (issue 21)."""
        return sum(b.shortcut_params for b in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: lists for tuples, one dict per row."""
        return {
            "arch": self.arch,
            "title": self.title,
            "family": self.family,
            "block": self.block,
            "input_size": list(self.input_size),
            "plain": self.plain,
            "stride_in": self.stride_in,
            "layers": list(self.layers),
            "num_classes": self.num_classes,
            "total_params": self.total_params,
            "total_macs": self.total_macs,
            "layer_count": self.layer_count,
            "layer_count_formula": self.layer_count_formula,
            "stages": [{**asdict(s), "output_shape": list(s.output_shape)} for s in self.stages],
            "rows": [
                {
                    **asdict(r),
                    "input_shape": list(r.input_shape),
                    "output_shape": list(r.output_shape),
                    "dashed": r.dashed,
                }
                for r in self.rows
            ],
        }


def normalize_input_size(input_size: Any) -> tuple[int, int, int]:
    """Accept 224, (224, 224) or (3, 224, 224); return (3, H, W) or raise a clear ``ValueError``."""
    if isinstance(input_size, bool):
        raise ValueError(f"input size must be an integer or a (C, H, W) tuple, not {input_size!r}")
    if isinstance(input_size, int):
        dims: tuple[Any, ...] = (3, input_size, input_size)
    elif isinstance(input_size, (tuple, list)) and len(input_size) in (2, 3):
        dims = (3, *input_size) if len(input_size) == 2 else tuple(input_size)
    else:
        raise ValueError(f"input size must be an integer or a (C, H, W) tuple, not {input_size!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise ValueError(f"input size must be made of integers, not {input_size!r}")
    c, h, w = dims
    if c != 3:
        raise ValueError(f"these networks take 3-channel (RGB) images, not {c} channels")
    if max(h, w) > MAX_INPUT_SIZE:
        raise ValueError(
            f"input size {h}×{w} is larger than the {MAX_INPUT_SIZE}×{MAX_INPUT_SIZE} this app supports"
        )
    return (c, h, w)


def _spatial_ok(spec: ArchSpec, size: int) -> bool:
    """Whether every feature map stays at least 1×1 for a ``size``-pixel side."""
    s = conv_out(size, spec.stem_kernel, spec.stem_stride, spec.stem_padding)
    if s < 1:
        return False
    if spec.maxpool is not None:
        s = conv_out(s, *spec.maxpool)
        if s < 1:
            return False
    for _ in range(1, len(spec.layers)):
        s = conv_out(s, 3, 2, 1)
        if s < 1:
            return False
    return True


def smallest_input(arch: str) -> int:
    spec = get_spec(arch)
    return next(s for s in range(1, MAX_INPUT_SIZE + 1) if _spatial_ok(spec, s))


class _Walker:
    """Accumulates rows while walking the catalogue entry, carrying shape and receptive-field state."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, **kw: Any) -> Row:
        row = Row(**kw)
        self.rows.append(row)
        return row


def _conv_row(
    w: _Walker,
    name: str,
    parent: str | None,
    depth: int,
    shape: tuple[int, int, int],
    rf: int,
    jump: int,
    out_ch: int,
    k: int,
    s: int,
    p: int,
    *,
    paper_name: str = "",
    counted: bool = True,
    detail: str = "",
) -> tuple[tuple[int, int, int], int, int]:
    c, h, wd = shape
    out = (out_ch, conv_out(h, k, s, p), conv_out(wd, k, s, p))
    params = k * k * c * out_ch
    rf_out = rf + (k - 1) * jump
    w.add(
        name=name, kind="conv", paper_name=paper_name, depth=depth, parent=parent, input_shape=shape,
        output_shape=out, params=params, macs=params * out[1] * out[2], receptive_field=rf_out, jump=jump * s,
        leaf=True, counted=counted, kernel=k, stride=s, padding=p,
        detail=detail or f"{k}×{k} conv, {c}→{out_ch}, stride {s}, padding {p}",
    )  # fmt: skip
    return out, rf_out, jump * s


def _bn_row(w: _Walker, name: str, parent: str | None, depth: int, shape: tuple[int, int, int], rf: int, jump: int,
            detail: str = "") -> None:  # fmt: skip
    c = shape[0]
    w.add(
        name=name, kind="bn", paper_name="", depth=depth, parent=parent, input_shape=shape, output_shape=shape,
        params=2 * c, macs=2 * c, receptive_field=rf, jump=jump, leaf=True,
        detail=detail or f"BatchNorm over {c} channels (γ and β: {2 * c} parameters)",
    )  # fmt: skip


def _block(
    w: _Walker, spec: ArchSpec, name: str, paper_name: str, shape: tuple[int, int, int], rf: int, jump: int,
    planes: int, stride: int, plain: bool, stride_in: str,
) -> tuple[tuple[int, int, int], int, int]:  # fmt: skip
    """Rows of one block: the block summary first, then its main branch, shortcut and addition."""
    in_ch = shape[0]
    out_ch = planes * spec.expansion
    first = len(w.rows)
    w.rows.append(None)  # type: ignore[arg-type]  # placeholder for the block's own row, filled in below
    x, r, j = shape, rf, jump
    if spec.block == "basic":
        x, r, j = _conv_row(w, f"{name}.conv1", name, 2, x, r, j, planes, 3, stride, 1)
        _bn_row(w, f"{name}.bn1", name, 2, x, r, j, f"BatchNorm over {planes} channels, then ReLU")
        x, r, j = _conv_row(w, f"{name}.conv2", name, 2, x, r, j, planes, 3, 1, 1)
        _bn_row(w, f"{name}.bn2", name, 2, x, r, j)
    else:
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        reduce = f"1×1 conv, {in_ch}→{planes}: reduces the channels" + (", stride 2 (v1)" if s1 != 1 else "")
        x, r, j = _conv_row(w, f"{name}.conv1", name, 2, x, r, j, planes, 1, s1, 0, detail=reduce)
        _bn_row(w, f"{name}.bn1", name, 2, x, r, j, f"BatchNorm over {planes} channels, then ReLU")
        mid = f"3×3 conv, {planes}→{planes}, stride {s3}, padding 1" + (
            " (v1.5 strides here)" if s3 != 1 else ""
        )
        x, r, j = _conv_row(w, f"{name}.conv2", name, 2, x, r, j, planes, 3, s3, 1, detail=mid)
        _bn_row(w, f"{name}.bn2", name, 2, x, r, j, f"BatchNorm over {planes} channels, then ReLU")
        expand = f"1×1 conv, {planes}→{out_ch}: restores the channels"
        x, r, j = _conv_row(w, f"{name}.conv3", name, 2, x, r, j, out_ch, 1, 1, 0, detail=expand)
        _bn_row(w, f"{name}.bn3", name, 2, x, r, j)
    params = sum(row.params for row in w.rows[first + 1 :])
    macs = sum(row.macs for row in w.rows[first + 1 :])

    needs_change = stride != 1 or in_ch != out_ch
    sp = 0  # the shortcut's own parameters (a projection's conv and BN)
    reason = None
    if needs_change:
        reason = " and ".join(p for p, on in (("stride", stride != 1), ("channels", in_ch != out_ch)) if on)
    if plain:
        kind = "none"
    elif not needs_change:
        kind = "identity"
        w.add(
            name=f"{name}.shortcut", kind="shortcut", paper_name="", depth=2, parent=name, input_shape=shape,
            output_shape=shape, params=0, macs=0, receptive_field=rf, jump=jump, leaf=True,
            detail="identity: x passes unchanged (solid line)", shortcut="identity",
        )  # fmt: skip
    elif spec.shortcut_option == "A":
        kind = "zero_pad"
        w.add(
            name=f"{name}.downsample", kind="shortcut", paper_name="", depth=2, parent=name, input_shape=shape,
            output_shape=x, params=0, macs=0, receptive_field=rf, jump=jump * stride, leaf=True,
            detail=f"option A: take every {stride}nd pixel and zero-pad {in_ch}→{out_ch} channels (no parameters)",
            shortcut="zero_pad", shortcut_reason=reason,
        )  # fmt: skip
    else:
        kind = "projection"
        ds = len(w.rows)
        w.rows.append(None)  # type: ignore[arg-type]
        sx, sr, sj = _conv_row(
            w, f"{name}.downsample.0", f"{name}.downsample", 3, shape, rf, jump, out_ch, 1, stride, 0,
            counted=False, detail=f"1×1 projection conv, {in_ch}→{out_ch}, stride {stride} (dashed line)",
        )  # fmt: skip
        _bn_row(w, f"{name}.downsample.1", f"{name}.downsample", 3, sx, sr, sj)
        sp = w.rows[ds + 1].params + w.rows[ds + 2].params
        sm = w.rows[ds + 1].macs + w.rows[ds + 2].macs
        w.rows[ds] = Row(
            name=f"{name}.downsample", kind="shortcut", paper_name="", depth=2, parent=name, input_shape=shape,
            output_shape=sx, params=sp, macs=sm, receptive_field=sr, jump=sj, leaf=False,
            detail=f"projection: 1×1 conv + BN because the {reason} change", shortcut="projection",
            shortcut_reason=reason,
        )  # fmt: skip
        params, macs = params + sp, macs + sm
    w.add(
        name=f"{name}.add", kind="add", paper_name="", depth=2, parent=name, input_shape=x, output_shape=x,
        params=0, macs=0, receptive_field=r, jump=j, leaf=True,
        detail="no addition in the plain network: ReLU only" if plain else "F(x) + shortcut(x), then ReLU",
    )  # fmt: skip
    w.rows[first] = Row(
        name=name, kind="block", paper_name=paper_name, depth=1, parent=name.rsplit(".", 1)[0], input_shape=shape,
        output_shape=x, params=params, macs=macs, receptive_field=r, jump=j, leaf=False, stride=stride,
        detail=f"{'plain ' if plain else ''}{spec.block_class}, {in_ch}→{out_ch}, stride {stride}",
        shortcut=kind, shortcut_reason=reason, shortcut_params=sp,
    )  # fmt: skip
    return x, r, j


@functools.lru_cache(maxsize=256)
def _trace(arch: str, input_size: tuple[int, int, int], plain: bool, stride_in: str) -> Trace:
    spec = get_spec(arch)
    _, h, wd = input_size
    if not (_spatial_ok(spec, h) and _spatial_ok(spec, wd)):
        raise ValueError(
            f"{arch} cannot take a {h}×{wd} input: a feature map would shrink below 1×1; "
            f"the smallest size that works is {smallest_input(arch)}×{smallest_input(arch)}"
        )
    w = _Walker()
    x, r, j = _conv_row(
        w, "conv1", None, 0, input_size, 1, 1, spec.stem_width, spec.stem_kernel, spec.stem_stride,
        spec.stem_padding, paper_name="conv1",
    )  # fmt: skip
    _bn_row(w, "bn1", None, 0, x, r, j)
    w.add(name="relu", kind="relu", paper_name="", depth=0, parent=None, input_shape=x, output_shape=x, params=0,
          macs=0, receptive_field=r, jump=j, leaf=True, detail="ReLU")  # fmt: skip
    if spec.maxpool is not None:
        k, s, p = spec.maxpool
        out = (x[0], conv_out(x[1], k, s, p), conv_out(x[2], k, s, p))
        r = r + (k - 1) * j
        w.add(
            name="maxpool", kind="maxpool", paper_name="conv2_x (pool)", depth=0, parent=None, input_shape=x,
            output_shape=out, params=0, macs=0, receptive_field=r, jump=j * s, leaf=True, kernel=k, stride=s,
            padding=p, detail=f"{k}×{k} max pool, stride {s}, padding {p}",
        )  # fmt: skip
        x, j = out, j * s

    stages = []
    for i, (blocks, planes) in enumerate(zip(spec.layers, spec.widths)):
        stage, paper_stage = spec.stage_names[i], spec.paper_stage_names[i]
        first = len(w.rows)
        w.rows.append(None)  # type: ignore[arg-type]
        stage_in = x
        for b in range(blocks):
            stride = 2 if (i > 0 and b == 0) else 1
            x, r, j = _block(
                w, spec, f"{stage}.{b}", f"conv{i + 2}_{b + 1}", x, r, j, planes, stride, plain, stride_in
            )
        inner = [row for row in w.rows[first + 1 :] if row.depth == 1]
        w.rows[first] = Row(
            name=stage, kind="stage", paper_name=paper_stage, depth=0, parent=None, input_shape=stage_in,
            output_shape=x, params=sum(b.params for b in inner), macs=sum(b.macs for b in inner),
            receptive_field=r, jump=j, leaf=False, detail=f"{blocks} × {inner[0].detail.split(',')[0]}",
        )  # fmt: skip
        stages.append(StageInfo(stage, paper_stage, blocks, x[0], j, x))  # type: ignore[arg-type]

    # Global average pool: its window is the whole map, so the receptive field grows by (H − 1) jumps.
    r_pool = r + (max(x[1], x[2]) - 1) * j
    w.add(name="avgpool", kind="avgpool", paper_name="average pool", depth=0, parent=None, input_shape=x,
          output_shape=(x[0], 1, 1), params=0, macs=0, receptive_field=r_pool, jump=j, leaf=True,
          detail=f"global average pool: {x[1]}×{x[2]} → 1×1 per channel")  # fmt: skip
    w.add(name="flatten", kind="flatten", paper_name="", depth=0, parent=None, input_shape=(x[0], 1, 1),
          output_shape=(x[0],), params=0, macs=0, receptive_field=r_pool, jump=j, leaf=True,
          detail=f"flatten to a {x[0]}-vector")  # fmt: skip
    fc_params = x[0] * spec.num_classes + spec.num_classes
    w.add(name="fc", kind="fc", paper_name=f"{spec.num_classes}-d fc", depth=0, parent=None, input_shape=(x[0],),
          output_shape=(spec.num_classes,), params=fc_params, macs=fc_params, receptive_field=r_pool, jump=j,
          leaf=True, counted=True, detail=f"fully connected, {x[0]}→{spec.num_classes}")  # fmt: skip
    w.add(name="softmax", kind="softmax", paper_name="softmax", depth=0, parent=None,
          input_shape=(spec.num_classes,), output_shape=(spec.num_classes,), params=0, macs=0,
          receptive_field=r_pool, jump=j, leaf=True,
          detail="softmax: scores → probabilities that sum to 1")  # fmt: skip

    rows = tuple(w.rows)
    leaves = [row for row in rows if row.leaf]
    return Trace(
        arch=arch, title=("Plain " if plain else "") + spec.title, family=spec.family, block=spec.block,
        input_size=input_size, plain=plain, stride_in=stride_in, layers=spec.layers, num_classes=spec.num_classes,
        rows=rows, stages=tuple(stages), total_params=sum(r.params for r in leaves),
        total_macs=sum(r.macs for r in leaves), layer_count=sum(r.counted for r in rows),
        layer_count_formula=spec.layer_count_formula,
    )  # fmt: skip


def trace(
    arch: str, input_size: Any = (3, 224, 224), *, plain: bool = False, stride_in: str = "3x3"
) -> Trace:
    """Trace ``arch`` at ``input_size`` (an int side, (H, W) or (3, H, W)).

    Raises ``ValueError`` for an unknown network, a bad option, or an input too small (naming the smallest size
    that works) or too large.
    """
    get_spec(arch)
    check_stride_in(stride_in)
    return _trace(arch, normalize_input_size(input_size), bool(plain), stride_in)
