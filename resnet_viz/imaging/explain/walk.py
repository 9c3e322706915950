"""The walk to one layer: the model run up to the block (or stem step) that holds it, the block's every term
through the one block walker (:func:`resnet_viz.models.blocks.walk_block`), and :func:`record_layer`, which keeps
that forward pass as float32 numpy for :func:`resnet_viz.imaging.explain.terms.explain_at`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.imaging.explain.records import LayerRecord
from resnet_viz.models.blocks import named_blocks, walk_block


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


def _check_model(model: object) -> None:
    """``ValueError`` unless ``model`` is a ResNet the walk knows: a stem ``conv1``/``bn1`` and stages of blocks."""
    ok = (
        isinstance(model, nn.Module)
        and isinstance(getattr(model, "conv1", None), nn.Conv2d)
        and isinstance(getattr(model, "bn1", None), nn.BatchNorm2d)
        and bool(_blocks(model))
    )
    if not ok:
        raise ValueError(
            "expected a ResNet (torchvision's ResNet or resnet_viz.models.build_model's: a conv1/bn1 stem and "
            f"stages of residual blocks), not {type(model).__name__}"
        )


def _check_image(image: object) -> None:
    """``ValueError`` unless ``image`` is a preprocessed image tensor of shape (1, 3, H, W)."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(
            "expected the image as a torch.Tensor of shape (1, 3, H, W) (preprocessed, e.g. by "
            f"resnet_viz.imaging.preprocessing), not {type(image).__name__}"
        )
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W), not {tuple(image.shape)}")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside; every module's own ``training`` flag as it was after, even on an error.

    An explanation is of the network as it predicts: BatchNorm with its running statistics, which a forward in
    training mode would both ignore and update. A model already in eval mode (every shared model) is not written
    to at all, so sessions sharing it never race on its flags; a caller's model in training mode is switched for
    the call only (a copy would double its memory)."""
    training = [m for m in model.modules() if m.training]
    if not training:
        yield
        return
    model.eval()
    try:
        yield
    finally:
        for m in training:
            m.training = True


def layer_names(model: nn.Module) -> list[str]:
    """Every layer :func:`explain_value` can explain, in network order (torchvision's module names);
    ``ValueError`` for a model that is not a ResNet."""
    _check_model(model)
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
    :func:`explain_at` (everything copied to float32 numpy on the CPU). The model is only called, in eval mode
    (:func:`eval_mode`: a model in training mode is explained as it predicts and left as it was)."""
    _check_image(image)
    _check_layer(model, layer)
    device = next(model.parameters()).device
    with eval_mode(model), torch.inference_mode():
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
