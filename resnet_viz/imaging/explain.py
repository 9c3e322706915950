"""Look inside one number: how one activation of a real ResNet was computed, where on the photo it looks, and
where the network looks at every stage.

* :func:`explain_value` rebuilds one activation from the terms a student can read: a conv's input window and
  kernel, its dot product split into the 8 input channels that contribute most (and the rest), the bias, the
  BatchNorm arithmetic and the ReLU; a block's output as F(x) + shortcut(x) → ReLU, with the projection's 1×1
  channel mix or option A's zero-padded channels; a max pool's window. It is split in two so the page can pick a
  new position without a new forward pass: :func:`record_layer` (one forward up to the layer, kept as float32
  numpy) and :func:`explain_at` (numpy arithmetic on that record).
* :func:`rf_box` is the theoretical receptive field of a position (from the trace), :func:`effective_rf` the
  effective one, |∂y/∂input| of one activation (Luo et al., 2016), by one backward pass w.r.t. the input only.
* :func:`grad_cam` is Grad-CAM (Selvaraju et al., 2017) at any stage's output, and :func:`sanity_check` the
  model-randomisation test of Adebayo et al. (2018): the same map from a randomly initialised network and the
  Spearman rank correlation between the two.

Like :mod:`resnet_viz.imaging.capture`, this walks the model's own submodules in the order torchvision's
``forward`` calls them (no hooks: the model is shared between sessions). Nothing is registered on the model, no
parameter's ``requires_grad`` is changed and no ``.grad`` is written (``torch.autograd.grad`` w.r.t. the input or
a feature map only); the walk re-implements only the ReLUs and the residual addition, which
``tests/test_explain.py`` checks against the blocks' own forward.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.architecture.trace import Trace
from resnet_viz.models.blocks import BlockLayer, named_blocks, walk_block
from resnet_viz.models.seeding import seeded_build

#: How many input channels a conv's dot product is broken into (the rest are summed into one term).
TOP_CHANNELS = 8
#: Seed of the randomly re-initialised network of the sanity check (not the "random weights" seed 0).
SANITY_SEED = 1
#: The tolerance of a rebuilt value: |value − reconstructed| ≤ TOLERANCE · max(1, |value|) (float32 forward).
TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Term:
    """One named term of an explanation. ``key`` says what it is (the page words it in each language):

    ``channel`` (one input channel's partial sum), ``rest`` (the other channels together), ``bias``, ``conv``
    (the dot product's total), ``bn``, ``relu``, ``pool_cell`` / ``max`` (a max pool), ``main`` (F(x)),
    ``identity`` / ``sample`` (the shortcut's input pixel), ``mix_channel`` / ``mix_rest`` / ``projection``
    (a projection's 1×1 conv), ``zero_pad`` (an option-A padded channel), ``no_shortcut`` (plain block),
    ``sum`` and ``out``. ``numbers`` holds the figures its formula shows (plain floats, ints and strings).
    """

    key: str
    value: float
    numbers: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """What a conv (or pool) reads for one output position: its input window and kernel, as numpy."""

    source: str  # the layer whose output is read ("image" for conv1)
    top: int  # row of the window's first cell in the source (negative inside the zero padding)
    left: int
    kernel: int
    stride: int
    padding: int
    source_shape: tuple[int, int, int]  # (C_in, H_in, W_in)
    values: np.ndarray  # (C_in, k, k) float32: the input values, 0 where the window is in the padding
    weights: np.ndarray | None  # (C_in, k, k) float32 kernel of the chosen output channel (None for a pool)
    partial: np.ndarray | None  # (C_in,) float64: each input channel's share of the dot product


@dataclass(frozen=True)
class Explanation:
    """How one activation came about. ``value`` is the named module's output in a normal forward pass,
    ``reconstructed`` the same number rebuilt from ``steps``; ``then`` continues a conv's chain the way the
    network does (BN, then ReLU where it applies one), each term's ``numbers["forward"]`` the forward's value."""

    layer: str
    kind: str  # conv | bn | relu | maxpool | block | projection | zero_pad
    channel: int
    row: int
    col: int
    shape: tuple[int, int, int]  # (C, H, W) of the layer's output
    value: float
    reconstructed: float
    steps: tuple[Term, ...]
    then: tuple[Term, ...] = ()
    window: Window | None = None
    shortcut: str | None = None  # blocks: identity | projection | zero_pad | none


@dataclass(frozen=True)
class LayerRecord:
    """One forward pass up to a layer, kept for explaining any position of it (float32 numpy, no tensors)."""

    layer: str
    kind: str
    arrays: dict[str, np.ndarray]  # (C, H, W) maps: "in" (the input read), "out" and the chain/block terms
    params: dict[
        str, np.ndarray | float | int | str
    ]  # kernels, BN statistics, strides: copies of the weights

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.arrays["out"].shape)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- the walk
def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return named_blocks(model)


def _has_maxpool(model: nn.Module) -> bool:
    return isinstance(getattr(model, "maxpool", None), nn.Module)


def _block_terms(block: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every intermediate of one block on ``x``, nothing in place (names relative to the block: conv1, bn1,
    relu1, …, main, the shortcut's layers, shortcut, sum, out)."""
    layout = walk_block(block)
    terms: dict[str, torch.Tensor] = {}
    h = x
    for layer in layout.branch:
        terms[layer.step] = h = F.relu(h) if layer.kind == "relu" else layer.module(h)
    terms["main"] = h
    if layout.shortcut == "none":
        total = h
    else:
        s = x
        for layer in layout.shortcut_layers:
            terms[layer.step] = s = layer.module(s)
        if layout.shortcut_layers:
            terms["downsample"] = s
        terms["shortcut"] = s
        total = h + s
    terms["sum"] = total
    terms["out"] = F.relu(total)
    return terms


def layer_names(model: nn.Module) -> list[str]:
    """Every layer :func:`explain_value` can explain, in network order (torchvision's module names)."""
    names = ["conv1", "bn1", "relu"] + (["maxpool"] if _has_maxpool(model) else [])
    for name, block in _blocks(model):
        layout = walk_block(block)
        for conv, bn in layout.convs:
            names += [f"{name}.{conv.name}", f"{name}.{bn.name}"]
        names += [f"{name}.{layer.name}" for layer in layout.shortcut_layers]
        names.append(name)
    return names


def _check_layer(model: nn.Module, layer: str) -> list[str]:
    names = layer_names(model)
    if layer not in names:
        raise ValueError(
            f"unknown layer {layer!r}; the layers of this network are {names[0]}, {names[1]}, … {names[-1]} "
            f"({len(names)} in all, see resnet_viz.imaging.explain.layer_names)"
        )
    return names


def _walk_to(model: nn.Module, image: torch.Tensor, layer: str) -> tuple[str, torch.Tensor, dict]:
    """Run the model on ``image`` up to the block (or stem) holding ``layer``: (owner, owner's input, terms)."""
    x = image
    stem: dict[str, torch.Tensor] = {"image": x}
    stem["conv1"] = z = model.conv1(x)
    stem["bn1"] = b = model.bn1(z)
    stem["relu"] = x = F.relu(b)
    if _has_maxpool(model):
        stem["maxpool"] = x = model.maxpool(x)
    if layer in stem:
        return "", image, stem
    for name, block in _blocks(model):
        if layer == name or layer.startswith(name + "."):
            return name, x, _block_terms(block, x)
        x = block(x)  # the blocks before: their own forward, unchanged
    raise ValueError(f"unknown layer {layer!r}")  # unreachable after _check_layer


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().to("cpu", torch.float32, copy=True).numpy()


def _bn_params(bn: nn.BatchNorm2d) -> dict[str, np.ndarray | float]:
    def arr(t: torch.Tensor | None, fill: float) -> np.ndarray:
        if t is None:
            return np.full(bn.num_features, fill, np.float32)
        return t.detach().to("cpu", torch.float32, copy=True).numpy()

    return {
        "bn_mean": arr(bn.running_mean, 0.0),
        "bn_var": arr(bn.running_var, 1.0),
        "bn_gamma": arr(bn.weight, 1.0),
        "bn_beta": arr(bn.bias, 0.0),
        "bn_eps": float(bn.eps),
    }


def _conv_params(conv: nn.Conv2d) -> dict[str, np.ndarray | int | None]:
    if conv.groups != 1 or conv.dilation != (1, 1) or conv.kernel_size[0] != conv.kernel_size[1]:
        raise ValueError(
            "only square, ungrouped, undilated convolutions are explained (as in every ResNet here)"
        )
    return {
        "weight": conv.weight.detach().to("cpu", torch.float32, copy=True).numpy(),
        "bias": None if conv.bias is None else conv.bias.detach().to("cpu", torch.float32, copy=True).numpy(),
        "kernel": int(conv.kernel_size[0]),
        "stride": int(conv.stride[0]),
        "padding": int(conv.padding[0]),
    }


def record_layer(model: nn.Module, image: torch.Tensor, layer: str) -> LayerRecord:
    """One forward pass of ``model`` on ``image`` (1, 3, H, W) up to ``layer``'s block, kept for
    :func:`explain_at` (everything copied to float32 numpy on the CPU; the model is only called)."""
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W), not {tuple(image.shape)}")
    _check_layer(model, layer)
    device = next(model.parameters()).device
    with torch.inference_mode():
        owner, x, terms = _walk_to(model, image.to(device, torch.float32), layer)
        module = model.get_submodule(layer)
        short = layer[len(owner) + 1 :] if owner else layer
        parent = model.get_submodule(owner) if owner else model
        arrays: dict[str, np.ndarray] = {}
        params: dict = {}
        layout = walk_block(parent) if owner else None
        if layout is not None and short == "":  # a whole block
            kind = "block"
            for key in ("main", "shortcut", "out"):
                if key in terms:
                    arrays[key] = _np(terms[key])
            arrays["in"] = _np(x)
            arrays["out"] = _np(terms["out"])
            params["shortcut"] = layout.shortcut
            params["last_bn"] = f"{layer}.{layout.convs[-1][1].name}"
            if layout.shortcut == "projection":
                conv, bn = layout.shortcut_layers
                params.update(_conv_params(conv.module))
                params.update(_bn_params(bn.module))
                arrays[conv.name] = _np(terms[conv.step])
            elif layout.shortcut == "zero_pad":
                params.update(_zero_pad_params(layout.shortcut_module))
        elif short == "maxpool":
            kind = "maxpool"
            k, s, p = (module.kernel_size, module.stride, module.padding)
            k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
            if module.dilation not in (1, (1, 1)):
                raise ValueError("a dilated max pool is not explained")
            params.update(kernel=int(k), stride=int(s), padding=int(p), source="relu")
            arrays["in"], arrays["out"] = _np(terms["relu"]), _np(terms["maxpool"])
        elif layout is not None and short == "downsample" and layout.shortcut == "zero_pad":
            kind = "zero_pad"
            params.update(_zero_pad_params(module))
            params["source"] = _input_name(model, owner)
            arrays["in"], arrays["out"] = _np(x), _np(terms["downsample"])
        else:  # a conv chain: conv → BN (→ ReLU)
            conv_name, bn_name, relu_name, source = _chain(model, owner, short)
            conv = model.get_submodule(_full(owner, conv_name))
            bn = model.get_submodule(_full(owner, bn_name))
            params.update(_conv_params(conv))
            params.update(_bn_params(bn))
            kind = "conv" if short == conv_name else "bn" if short == bn_name else "relu"
            params.update(
                conv_name=_full(owner, conv_name), bn_name=_full(owner, bn_name), relu=relu_name or ""
            )
            params["source"] = source
            if not owner:
                src = terms["image"]
            elif conv_name in ("conv1", "downsample.0"):
                src = x
            else:  # conv2/conv3 of a block read the ReLU of the BN before them
                src = terms[f"relu{int(conv_name[-1]) - 1}"]
            arrays["in"] = _np(src)
            arrays["conv"] = _np(terms[conv_name])
            arrays["bn"] = _np(terms[bn_name])
            if relu_name:
                arrays["relu"] = _np(terms[relu_name])
            arrays["out"] = arrays[kind]
    return LayerRecord(layer=layer, kind=kind, arrays=arrays, params=params)


def _zero_pad_params(ds: nn.Module) -> dict[str, int]:
    """Option A's stride and how many zero channels come before the input's."""
    return {"stride": int(ds.stride), "pad_front": (ds.out_channels - ds.in_channels) // 2}


def _full(owner: str, short: str) -> str:
    return f"{owner}.{short}" if owner else short


def _input_name(model: nn.Module, owner: str) -> str:
    """The layer whose output is ``owner``'s input (the previous block, or the stem's last step)."""
    names = [n for n, _ in _blocks(model)]
    i = names.index(owner)
    if i > 0:
        return names[i - 1]
    return "maxpool" if _has_maxpool(model) else "relu"


def _chain(model: nn.Module, owner: str, short: str) -> tuple[str, str, str | None, str]:
    """(conv, bn, relu or None, source) of the conv chain holding ``short`` (names relative to ``owner``)."""
    if not owner:
        return "conv1", "bn1", "relu", "image"
    if short.startswith("downsample"):
        return "downsample.0", "downsample.1", None, _input_name(model, owner)
    n = len(walk_block(model.get_submodule(owner)).convs)
    i = int(short[-1])
    relu = f"relu{i}" if i < n else None
    # conv2/conv3 read the ReLU of the BN before them (no module of its own: torchvision reuses one ReLU)
    source = _input_name(model, owner) if i == 1 else f"{owner}.bn{i - 1}"
    return f"conv{i}", f"bn{i}", relu, source


# --------------------------------------------------------------------------------------------- explaining
def _check_position(shape: tuple[int, int, int], channel: int, row: int, col: int, layer: str) -> None:
    c, h, w = shape
    for what, v, n in (("channel", channel, c), ("row", row, h), ("col", col, w)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < n:
            raise ValueError(
                f"{what} {v!r} is out of range for {layer}: it must be an integer from 0 to {n - 1}"
            )


def _window(source: np.ndarray, top: int, left: int, k: int, fill: float = 0.0) -> np.ndarray:
    """``source[:, top:top+k, left:left+k]`` with ``fill`` outside (the conv's zero padding)."""
    c, h, w = source.shape
    out = np.full((c, k, k), fill, np.float32)
    r0, r1 = max(top, 0), min(top + k, h)
    c0, c1 = max(left, 0), min(left + k, w)
    if r0 < r1 and c0 < c1:
        out[:, r0 - top : r1 - top, c0 - left : c1 - left] = source[:, r0:r1, c0:c1]
    return out


def _dot_terms(
    win: np.ndarray, weights: np.ndarray, bias: float | None
) -> tuple[list[Term], np.ndarray, float]:
    """The dot product of a window and a kernel as terms: the top channels, the rest, the bias, the total."""
    partial = np.einsum("cuv,cuv->c", win.astype(np.float64), weights.astype(np.float64))
    order = np.argsort(-np.abs(partial), kind="stable")
    top = order[:TOP_CHANNELS]
    terms = [Term("channel", float(partial[c]), {"channel": int(c)}) for c in top]
    rest_idx = order[TOP_CHANNELS:]
    if len(rest_idx):
        terms.append(Term("rest", float(partial[rest_idx].sum()), {"n": len(rest_idx)}))
    total = float(partial.sum())
    if bias is not None:
        terms.append(Term("bias", float(bias)))
        total += float(bias)
    terms.append(Term("conv", total, {"n_in": int(win.shape[0]), "k": int(win.shape[1])}))
    return terms, partial, total


def _bn_term(z: float, p: dict, c: int, forward: float | None = None) -> Term:
    mean, var = float(p["bn_mean"][c]), float(p["bn_var"][c])
    gamma, beta, eps = float(p["bn_gamma"][c]), float(p["bn_beta"][c]), float(p["bn_eps"])
    value = (z - mean) / np.sqrt(var + eps) * gamma + beta
    numbers: dict = {"z": z, "mean": mean, "var": var, "eps": eps, "gamma": gamma, "beta": beta}
    if forward is not None:
        numbers["forward"] = forward
    return Term("bn", float(value), numbers)


def _relu_term(v: float, forward: float | None = None) -> Term:
    numbers: dict = {"input": v}
    if forward is not None:
        numbers["forward"] = forward
    return Term("relu", max(v, 0.0), numbers)


def explain_at(record: LayerRecord, channel: int, row: int, col: int) -> Explanation:
    """Explain one position of a recorded layer: numpy arithmetic only, no forward pass."""
    _check_position(record.shape, channel, row, col, record.layer)
    c, i, j = int(channel), int(row), int(col)
    a, p = record.arrays, record.params
    value = float(a["out"][c, i, j])
    if record.kind in ("conv", "bn", "relu"):
        k, s, pad = int(p["kernel"]), int(p["stride"]), int(p["padding"])
        top, left = i * s - pad, j * s - pad
        weights = p["weight"][c]
        win = _window(a["in"], top, left, k)
        bias = None if p["bias"] is None else float(p["bias"][c])
        terms, partial, z = _dot_terms(win, weights, bias)
        # The chain as the network runs it: conv, BN, ReLU (where it applies one). Up to the named layer the
        # links are steps (the value is rebuilt from them); after it they are "then", checked by the forward.
        links = [_bn_term(z, p, c, float(a["bn"][c, i, j]))]
        if p["relu"]:
            links.append(_relu_term(links[0].value, float(a["relu"][c, i, j])))
        upto = {"conv": 0, "bn": 1, "relu": 2}[record.kind]
        steps = terms + links[:upto]
        then = links[upto:]
        reconstructed = steps[-1].value
        window = Window(
            source=str(p["source"]), top=top, left=left, kernel=k, stride=s, padding=pad,
            source_shape=tuple(a["in"].shape), values=win, weights=weights.copy(), partial=partial,
        )  # fmt: skip
        return Explanation(record.layer, record.kind, c, i, j, record.shape, value, float(reconstructed),
                           tuple(steps), tuple(then), window)  # fmt: skip
    if record.kind == "maxpool":
        k, s, pad = int(p["kernel"]), int(p["stride"]), int(p["padding"])
        top, left = i * s - pad, j * s - pad
        win = _window(a["in"], top, left, k, fill=-np.inf)[c]
        steps = [
            Term("pool_cell", float(win[u, v]), {"row": top + u, "col": left + v})
            for u in range(k)
            for v in range(k)
            if np.isfinite(win[u, v])
        ]
        best = max(steps, key=lambda t: t.value)
        steps.append(Term("max", best.value, {"row": best.numbers["row"], "col": best.numbers["col"]}))
        window = Window(
            source=str(p["source"]), top=top, left=left, kernel=k, stride=s, padding=pad,
            source_shape=tuple(a["in"].shape), values=_window(a["in"], top, left, k), weights=None, partial=None,
        )  # fmt: skip
        return Explanation(record.layer, "maxpool", c, i, j, record.shape, value, best.value, tuple(steps),
                           window=window)  # fmt: skip
    if record.kind == "zero_pad":
        shortcut = _zero_pad_terms(a["in"], p, c, i, j)
        return Explanation(record.layer, "zero_pad", c, i, j, record.shape, value, shortcut[-1].value,
                           tuple(shortcut), shortcut="zero_pad")  # fmt: skip
    # a block: F(x) + shortcut(x) → ReLU
    kind = str(p["shortcut"])
    main = float(a["main"][c, i, j])
    steps = [Term("main", main, {"layer": str(p["last_bn"])})]
    if kind == "none":
        steps.append(Term("no_shortcut", 0.0))
        total = main
    else:
        if kind == "identity":
            sc = [Term("identity", float(a["in"][c, i, j]), {"channel": c, "row": i, "col": j})]
        elif kind == "zero_pad":
            sc = _zero_pad_terms(a["in"], p, c, i, j)
        else:
            sc = _projection_terms(a["in"], p, c, i, j, float(a["shortcut"][c, i, j]))
        steps += sc
        total = main + sc[-1].value
    steps.append(Term("sum", total, {"main": main, "shortcut": total - main}))
    steps.append(Term("out", max(total, 0.0), {"input": total}))
    return Explanation(record.layer, "block", c, i, j, record.shape, value, max(total, 0.0), tuple(steps),
                       shortcut=kind)  # fmt: skip


def _zero_pad_terms(x: np.ndarray, p: dict, c: int, i: int, j: int) -> list[Term]:
    s, front = int(p["stride"]), int(p["pad_front"])
    c_in = x.shape[0]
    if c < front or c >= front + c_in:
        return [Term("zero_pad", 0.0, {"channel": c, "first": front, "last": front + c_in - 1, "c_in": c_in})]
    return [Term("sample", float(x[c - front, i * s, j * s]),
                 {"channel": c - front, "row": i * s, "col": j * s, "stride": s})]  # fmt: skip


def _projection_terms(x: np.ndarray, p: dict, c: int, i: int, j: int, forward: float) -> list[Term]:
    s = int(p["stride"])
    pixel = x[:, i * s, j * s].astype(np.float64)  # the 1×1 conv reads one pixel, every channel
    w = p["weight"][c, :, 0, 0].astype(np.float64)
    products = pixel * w
    order = np.argsort(-np.abs(products), kind="stable")
    terms = [
        Term("sample", float(pixel[order[0]]), {"row": i * s, "col": j * s, "stride": s, "c_in": len(w)})
    ]
    for k in order[:TOP_CHANNELS]:
        terms.append(Term("mix_channel", float(products[k]), {"channel": int(k), "x": float(pixel[k]),
                                                                "w": float(w[k])}))  # fmt: skip
    rest = order[TOP_CHANNELS:]
    if len(rest):
        terms.append(Term("mix_rest", float(products[rest].sum()), {"n": len(rest)}))
    z = float(products.sum()) + (0.0 if p["bias"] is None else float(p["bias"][c]))
    terms.append(Term("projection", z, {"c_in": len(w), "c_out": int(p["weight"].shape[0])}))
    bn = _bn_term(z, p, c, forward)
    terms.append(Term("shortcut_bn", bn.value, bn.numbers))
    return terms


def explain_value(
    model: nn.Module, image: torch.Tensor, layer: str, channel: int, row: int, col: int
) -> Explanation:
    """How activation ``[channel, row, col]`` of ``layer`` (a torchvision module name: ``conv1``,
    ``layer1.0.conv2``, ``layer3.1``, …) came about for ``image`` (a preprocessed (1, 3, H, W) tensor).

    Raises ``ValueError`` naming the valid range for an unknown layer or a channel, row or column out of range.
    The model is only called (eval mode expected, as a shared model always is)."""
    _check_layer(model, layer)
    return explain_at(record_layer(model, image, layer), channel, row, col)


# --------------------------------------------------------------------------------------------- receptive fields
@dataclass(frozen=True)
class RFBox:
    """The theoretical receptive field of one position, in input pixels (``top``/``left`` inclusive,
    ``bottom``/``right`` exclusive, clipped to the image), and its full side before clipping."""

    size: int
    jump: int
    center_row: float
    center_col: float
    top: int
    left: int
    bottom: int
    right: int


def rf_box(tr: Trace, layer: str, row: int, col: int) -> RFBox:
    """The theoretical receptive field of output ``(row, col)`` of ``layer``, from the trace's receptive
    field sizes and jumps; its centre follows the kernels and paddings on the way (the main branch)."""
    names = [r.name for r in tr.rows]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r} for {tr.arch}")
    target = tr.row(layer)
    end = names.index(f"{layer}.add") if target.kind == "block" else names.index(layer)
    block_of_ds = layer.split(".downsample")[0] if ".downsample" in layer else None
    start, jump = 0.0, 1
    for r in tr.rows[: end + 1]:
        if r.kind not in ("conv", "maxpool") or r.kernel is None:
            continue
        in_ds = ".downsample" in r.name
        if in_ds and r.name != layer and not (block_of_ds and r.name.startswith(block_of_ds + ".downsample")):
            continue
        if block_of_ds and not in_ds and r.parent == block_of_ds:
            continue  # a downsample reads the block's input, not its main branch
        start += ((r.kernel - 1) / 2 - (r.padding or 0)) * jump
        jump *= r.stride or 1
    size = target.receptive_field
    cr, cc = start + row * jump, start + col * jump
    _, h, w = tr.input_size
    half = (size - 1) / 2
    return RFBox(
        size=size, jump=jump, center_row=cr, center_col=cc,
        top=max(0, int(np.floor(cr - half))), left=max(0, int(np.floor(cc - half))),
        bottom=min(h, int(np.floor(cr + half)) + 1), right=min(w, int(np.floor(cc + half)) + 1),
    )  # fmt: skip


def _forward_value(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    owner, _, terms = _walk_to(model, x, layer)
    short = layer[len(owner) + 1 :] if owner else layer
    if owner and short == "":
        return terms["out"]
    return terms[short]


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The conv's weight and bias with the eval-mode BN after it folded in (new tensors, no gradient):
    BN(conv(x)) = conv(x; W·s) + (β − μ·s) + s·b, with s = γ/√(σ² + ε)."""
    with torch.no_grad():
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w = conv.weight * s[:, None, None, None]
        b = bn.bias - bn.running_mean * s
        if conv.bias is not None:
            b = b + conv.bias * s
    return w, b


#: How many models' folded weights :func:`effective_rf` keeps (one copy of a model's conv weights each: resnet50
#: 94 MB, resnet152 230 MB). One is enough for a class on one network; a second network only refolds.
FOLD_CACHE_MODELS = 1
_fold_lock = threading.RLock()  # re-entrant: a weakref callback may run during a GC inside the lock
_fold_cache: OrderedDict[tuple, tuple[weakref.ref, dict[str, tuple[torch.Tensor, torch.Tensor]]]] = (
    OrderedDict()
)


def _fold_key(model: nn.Module) -> tuple:
    # The shared models are never changed after they are built; the version counters still make a model whose
    # weights were changed in place (a test, a user's script) fold anew instead of reading stale weights.
    tensors = [*model.parameters(), *model.buffers()]
    return id(model), tensors[0].device, sum(t._version for t in tensors)


def _folds(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every conv of ``model`` with its BN folded in, as ``{conv name: (weight, bias)}``, the weights in
    channels-last order; cached for the last :data:`FOLD_CACHE_MODELS` models (weakly: a freed model frees its
    entry at once). Folding anew on every call cost ~20 ms of resnet50's ~200 ms ERF, and channels-last weights with a
    channels-last input let oneDNN skip the reorders of both passes: 2.1× → 1.8× a plain forward, measured with
    ``python -m benchmarks --only explain``."""
    key = _fold_key(model)
    with _fold_lock:
        hit = _fold_cache.get(key)
        if hit is not None and hit[0]() is model:
            _fold_cache.move_to_end(key)
            return hit[1]
    folds: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def add(name: str, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        w, b = _folded(conv, bn)
        folds[name] = (w.contiguous(memory_format=torch.channels_last), b)

    add("conv1", model.conv1, model.bn1)
    for name, block in _blocks(model):
        for conv, bn in walk_block(block).conv_bn_pairs:  # the main branch's, then a projection's
            add(f"{name}.{conv.name}", conv.module, bn.module)

    def forget(_ref: weakref.ref, key: tuple = key) -> None:
        with _fold_lock:
            _fold_cache.pop(key, None)

    with _fold_lock:
        _fold_cache[key] = (weakref.ref(model, forget), folds)
        while len(_fold_cache) > FOLD_CACHE_MODELS:
            _fold_cache.popitem(last=False)
    return folds


def _conv_bn(folds: dict, name: str, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    w, b = folds[name]
    return F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups)


def _folded_layers(folds: dict, name: str, layers: tuple[BlockLayer, ...], x: torch.Tensor) -> torch.Tensor:
    """Run a block's layers in order with each BN folded into the conv before it (so the BN itself is skipped)."""
    h = x
    for layer in layers:
        if layer.kind == "conv":
            h = _conv_bn(folds, f"{name}.{layer.name}", layer.module, h)
        elif layer.kind == "relu":
            h = F.relu(h)
        elif layer.kind != "bn":
            h = layer.module(h)
    return h


def _folded_block(folds: dict, name: str, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The block's output with every conv+BN pair folded into one conv (the same function in eval mode)."""
    layout = walk_block(block)
    h = _folded_layers(folds, name, layout.branch, x)
    if layout.shortcut == "none":
        return F.relu(h)
    return F.relu(h + _folded_layers(folds, name, layout.shortcut_layers, x))


def _foldable(model: nn.Module) -> bool:
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    return all(m.track_running_stats and m.affine and m.running_var is not None for m in bns)


def effective_rf(
    model: nn.Module, image: torch.Tensor, layer: str, channel: int, row: int, col: int
) -> np.ndarray:
    """|∂y/∂input| of activation ``[channel, row, col]`` of ``layer``, summed over the colour channels: (H, W).

    One forward pass up to the layer and one backward pass w.r.t. the *input* only (``torch.autograd.grad``):
    the model's parameters are not touched and no ``.grad`` is written. The blocks before the layer's own block
    run with each eval-mode BN folded into its conv (the same function; see :func:`_folds`), which leaves autograd
    one op per conv instead of two, in channels-last order."""
    _check_layer(model, layer)
    device = next(model.parameters()).device
    x = image.detach().to(device, torch.float32).contiguous(memory_format=torch.channels_last)
    x = x.clone(memory_format=torch.channels_last).requires_grad_(True)
    fold = _foldable(model)
    with torch.enable_grad():
        owner = next((n for n, _ in _blocks(model) if layer == n or layer.startswith(n + ".")), "")
        if not owner or not fold:
            out = _forward_value(model, x, layer)
        else:
            folds = _folds(model)
            h = F.relu(_conv_bn(folds, "conv1", model.conv1, x))
            if _has_maxpool(model):
                h = model.maxpool(h)
            for name, block in _blocks(model):
                if name == owner:
                    break
                h = _folded_block(folds, name, block, h)
            short = layer[len(owner) + 1 :]
            if short == "":  # a block's output: its own block folded too
                out = _folded_block(folds, owner, model.get_submodule(owner), h)
            else:
                out = _block_terms(model.get_submodule(owner), h)[short]
        _check_position(tuple(out.shape[1:]), channel, row, col, layer)
        (grad,) = torch.autograd.grad(out[0, int(channel), int(row), int(col)], x)
    return grad[0].abs().sum(dim=0).to("cpu", torch.float32).numpy().copy()


# --------------------------------------------------------------------------------------------- Grad-CAM
@dataclass(frozen=True)
class GradCam:
    """Grad-CAM at one stage: ReLU(Σ_c α_c A_c) with α_c the mean of ∂logit/∂A_c over the map."""

    stage: str
    target: int  # the class explained
    cam: np.ndarray  # (h, w) float32, after the ReLU, not scaled
    weights: np.ndarray  # (C,) float32: α_c
    raw: np.ndarray  # (h, w) float32: Σ_c α_c A_c before the ReLU
    logit: float

    @property
    def heat(self) -> np.ndarray:
        """The map scaled to 0..1 (all zeros where nothing is positive)."""
        peak = float(self.cam.max())
        return self.cam / peak if peak > 0 else self.cam


def stage_outputs(model: nn.Module) -> dict[str, str]:
    """Stage name → the name of its last block (the stage's output): ``{"layer1": "layer1.2", …}``."""
    out = {}
    for name, _ in _blocks(model):
        out[name.split(".")[0]] = name
    return out


def grad_cam(model: nn.Module, image: torch.Tensor, stage: str, target: int | None = None) -> GradCam:
    """Grad-CAM (Selvaraju et al., 2017) of class ``target`` (default: the top class) at ``stage``'s output
    (a stage ``layer2`` or any block ``layer2.1``). The forward up to that output runs without gradients; only
    the feature map A requires one, so the backward runs through the later layers only and w.r.t. A only."""
    stages = stage_outputs(model)
    blocks = [n for n, _ in _blocks(model)]
    name = stages.get(stage, stage)
    if name not in blocks:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join([*stages, *blocks])}")
    device = next(model.parameters()).device
    x = image.to(device, torch.float32)
    with torch.no_grad():
        owner, h, terms = _walk_to(model, x, name)
        a = terms["out"]
    a = a.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        h = a
        after = False
        for bname, block in _blocks(model):
            if after:
                h = block(h)
            after = after or bname == name
        logits = model.fc(torch.flatten(model.avgpool(h), 1))[0]
        if target is None:
            target = int(torch.argmax(logits))
        if not 0 <= int(target) < logits.shape[0]:
            raise ValueError(f"class {target} is out of range: it must be from 0 to {logits.shape[0] - 1}")
        (grad,) = torch.autograd.grad(logits[int(target)], a)
    alpha = grad[0].mean(dim=(1, 2))
    raw = torch.einsum("c,chw->hw", alpha, a[0].detach())
    cam = F.relu(raw)
    return GradCam(
        stage=stage, target=int(target), cam=cam.to("cpu", torch.float32).numpy().copy(),
        raw=raw.to("cpu", torch.float32).numpy().copy(),
        weights=alpha.to("cpu", torch.float32).numpy().copy(), logit=float(logits[int(target)].detach()),
    )  # fmt: skip


def randomized_like(build: callable, seed: int) -> nn.Module:  # type: ignore[valid-type]
    """A freshly initialised network from ``build()`` under :func:`resnet_viz.models.seeding.seeded_build`
    (the same ``seed`` gives the same weights in every process), in eval mode."""
    return seeded_build(seed, build).eval()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two same-shaped arrays (ties get their average rank); NaN if either
    is constant. (scipy is not a dependency for one formula.)"""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (first + (counts - 1) / 2.0)[inverse]


@dataclass(frozen=True)
class SanityCheck:
    """Adebayo et al. (2018): the trained map, the same map from a randomly initialised network, and their
    Spearman rank correlation (near 1: the map does not depend on what the network learned). ρ compares the maps
    before Grad-CAM's final ReLU: after it, a random network's map is often all zeros, which has no ranking."""

    trained: GradCam
    randomized: GradCam
    rho: float


def sanity_check(
    model: nn.Module, random_model: nn.Module, image: torch.Tensor, stage: str, target: int | None = None
) -> SanityCheck:
    """Grad-CAM of ``model`` and of ``random_model`` (same architecture, random weights) for the same class."""
    trained = grad_cam(model, image, stage, target)
    randomized = grad_cam(random_model, image, stage, trained.target)
    return SanityCheck(trained, randomized, spearman(trained.raw, randomized.raw))
