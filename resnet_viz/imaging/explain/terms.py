"""The per-layer terms: one position of a recorded layer rebuilt from what a student can read (a conv's window
and kernel split into its top channels, the bias, BatchNorm, ReLU; a max pool's window; a block's F(x) +
shortcut(x) → ReLU with a projection's channel mix or option A's padding). Numpy arithmetic only."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from resnet_viz.imaging.explain.records import TOP_CHANNELS, Explanation, LayerRecord, Term, Window
from resnet_viz.imaging.explain.walk import _check_layer, record_layer


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

    Raises ``ValueError`` naming what was expected for a model that is not a ResNet, an image that is not a
    (1, 3, H, W) tensor (a numpy array, say), an unknown layer, or a channel, row or column out of range. The model
    is only called, in eval mode; a model in training mode is explained as it predicts (BatchNorm with its running
    statistics) and left exactly as it was, flags and statistics."""
    _check_layer(model, layer)
    return explain_at(record_layer(model, image, layer), channel, row, col)
