"""Receptive fields: the theoretical one of a position (from the trace) and the effective one, |∂y/∂input|
(Luo et al., 2016), by one backward pass w.r.t. the input only, through the blocks with each BN folded into
its conv."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.architecture.trace import Trace
from resnet_viz.imaging.explain.terms import _check_position
from resnet_viz.imaging.explain.walk import (
    _block_terms,
    _blocks,
    _check_image,
    _check_layer,
    _has_maxpool,
    _walk_to,
    eval_mode,
)
from resnet_viz.models.blocks import BlockLayer, walk_block


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


def _shortcut_block(layer: str) -> str | None:
    """The block whose shortcut ``layer`` is in (``layer2.0`` for ``layer2.0.downsample.0``), or None."""
    for part in (".downsample", ".shortcut"):
        if part in layer:
            return layer.split(part)[0]
    return None


def zero_padded_channel(tr: Trace, layer: str, channel: int) -> bool:
    """Whether ``channel`` of ``layer`` is one of the zeros option A's shortcut pads in (a constant 0 whatever
    the input): ``ZeroPadShortcut`` puts ``(out - in) // 2`` zero channels before the input's and the rest after."""
    row = tr.row(layer)
    if row.kind != "shortcut" or row.shortcut != "zero_pad":
        return False
    c_in, c_out = row.input_shape[0], row.output_shape[0]
    first = (c_out - c_in) // 2
    return not first <= channel < first + c_in


def rf_box(tr: Trace, layer: str, row: int, col: int) -> RFBox:
    """The theoretical receptive field of output ``(row, col)`` of ``layer``, from the trace's receptive
    field sizes; its centre and jump follow the kernels, paddings and strides on the way (the main branch, or
    for a layer in a shortcut, the shortcut: option A's subsampling strides without a kernel)."""
    names = [r.name for r in tr.rows]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r} for {tr.arch}")
    target = tr.row(layer)
    # the layer's last row: a block's addition, a projection's BN, or the layer itself
    end = max(i for i, name in enumerate(names) if name == layer or name.startswith(layer + "."))
    in_shortcut = _shortcut_block(layer)
    start, jump = 0.0, 1
    for r in tr.rows[: end + 1]:
        own = _shortcut_block(r.name)
        if own is not None and own != in_shortcut:
            continue  # another block's shortcut, or this block's when the layer is on its main branch
        if in_shortcut and own is None and r.parent == in_shortcut:
            continue  # a shortcut reads the block's input, not its main branch
        if r.kind == "shortcut" and r.shortcut == "zero_pad":
            jump *= tr.row(in_shortcut or r.parent).stride or 1  # x[:, :, ::s, ::s]: no kernel, no padding
            continue
        if r.kind not in ("conv", "maxpool") or r.kernel is None:
            continue
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
#: 94 MB). One is enough for a class on one network; a second network only refolds.
FOLD_CACHE_MODELS = 1
#: The largest folded weights :func:`effective_rf` makes and keeps, in bytes: resnet18's 45 MB, resnet34's 87 MB and
#: resnet50's 94 MB fold; resnet101's 170 MB and resnet152's 230 MB would be a second copy of a large model kept
#: for as long as the server runs (and, made for one request, more than ``$RESNET_VIZ_REQUEST_MB`` allows), so
#: those run each BN as a per-channel scale and shift after the model's own conv weights instead: no copy, the same
#: function, one elementwise pass more per conv.
FOLD_CACHE_BYTES = 128 * 2**20
_fold_lock = threading.RLock()  # re-entrant: a weakref callback may run during a GC inside the lock
_fold_cache: OrderedDict[tuple, tuple[weakref.ref, dict[str, tuple[torch.Tensor, torch.Tensor]]]] = (
    OrderedDict()
)


def folded_weight_bytes(model: nn.Module) -> int:
    """The bytes of the folded conv weights :func:`effective_rf` makes (and keeps) for ``model``: its convs'
    weights in float32, or 0 where they are over :data:`FOLD_CACHE_BYTES` (then nothing is copied)."""
    n = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d)) * 4
    return n if n <= FOLD_CACHE_BYTES else 0


def _fold_key(model: nn.Module) -> tuple:
    # The shared models are never changed after they are built; the version counters still make a model whose
    # weights were changed in place (a test, a user's script) fold anew instead of reading stale weights.
    tensors = [*model.parameters(), *model.buffers()]
    return id(model), tensors[0].device, sum(t._version for t in tensors)


def _scale_shift(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode BN after ``conv`` as a per-channel scale and shift (conv's own bias included): tiny new
    tensors, no gradient; ``BN(conv(x)) = conv(x; W)·s + shift``."""
    with torch.no_grad():
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * s
        if conv.bias is not None:
            shift = shift + conv.bias * s
    return s[:, None, None], shift[:, None, None]


def _unfolded(model: nn.Module) -> dict[str, tuple[torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]]:
    """:func:`_folds` for a model too large to copy: ``{conv name: (None, (scale, shift))}``."""
    pairs = {"conv1": _scale_shift(model.conv1, model.bn1)}
    for name, block in _blocks(model):
        for conv, bn in walk_block(block).conv_bn_pairs:
            pairs[f"{name}.{conv.name}"] = _scale_shift(conv.module, bn.module)
    return {name: (None, pair) for name, pair in pairs.items()}


def _folds(model: nn.Module) -> dict:
    """Every conv of ``model`` with its BN folded in, as ``{conv name: (weight, bias)}``, the weights in
    channels-last order; cached for the last :data:`FOLD_CACHE_MODELS` models (weakly: a freed model frees its
    entry at once). Folding anew on every call cost ~20 ms of resnet50's ~200 ms ERF, and channels-last weights with a
    channels-last input let oneDNN skip the reorders of both passes: 2.1× → 1.8× a plain forward, measured with
    ``python -m benchmarks --only explain``. A model whose folded weights would be over :data:`FOLD_CACHE_BYTES`
    gets ``{conv name: (None, (scale, shift))}`` instead (:func:`_unfolded`), made anew each call (a few KB)."""
    if not folded_weight_bytes(model):
        return _unfolded(model)
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
    if w is None:  # not folded: the model's own weight (detached: autograd keeps nothing for it), then the BN
        scale, shift = b
        h = F.conv2d(x, conv.weight.detach(), None, conv.stride, conv.padding, conv.dilation, conv.groups)
        return h.mul_(scale).add_(shift)  # in place: the conv's output is needed by nothing else
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
    one op per conv instead of two, in channels-last order. The rest runs in eval mode
    (:func:`~resnet_viz.imaging.explain.walk.eval_mode`); the model is left as it was."""
    _check_layer(model, layer)
    _check_image(image)
    with eval_mode(model):
        return _effective_rf(model, image, layer, channel, row, col)


def _effective_rf(
    model: nn.Module, image: torch.Tensor, layer: str, channel: int, row: int, col: int
) -> np.ndarray:
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
