"""Feature maps → "Look inside one value": pick a layer, a channel and a position (click the map or type it) and
see how that one number was computed, where on the photo it looks, and where the network looks at every stage.

Thin: widgets and layout. The arithmetic is :mod:`resnet_viz.imaging.explain`, the pictures
:mod:`resnet_viz.render.figures_explain`, the caching :mod:`resnet_viz.ui.inspector`. A new position runs no network:
it reads the layer's cached record (one forward up to the layer, made when the layer is chosen).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image

from resnet_viz import ui
from resnet_viz.architecture.catalogue import get_spec, has_pretrained
from resnet_viz.architecture.trace import Trace
from resnet_viz.experiments import shipped as shipped_data
from resnet_viz.experiments.config import TrainConfig
from resnet_viz.formatting import fmt_bytes_short, fmt_int, fmt_value
from resnet_viz.i18n import Translator
from resnet_viz.i18n import arch_title as i18n_arch_title
from resnet_viz.imaging.explain import (
    BN_INITIAL_MEAN,
    BN_INITIAL_VAR,
    SANITY_SEED,
    SIMILAR_RHO,
    Explanation,
    explain_at,
    folded_weight_bytes,
    initial_statistics,
    layer_names,
    rf_box,
    sanity_reading,
    shown_rho,
    stage_outputs,
    trained_statistics,
    zero_padded_channel,
)
from resnet_viz.render import figures_explain as fx

ss = st.session_state
KEYS = ("ix_layer", "ix_channel", "ix_row", "ix_col", "ix_step", "ix_rf", "ix_cam", "ix_stage")


def _on_pick() -> None:
    """A click on the enlarged map: its cell becomes the position (runs before the rerun draws the inputs)."""
    points = [
        p for p in (ss.get("ix_map") or {}).get("selection", {}).get("points", []) if "x" in p and "y" in p
    ]
    if points:
        ss["ix_row"], ss["ix_col"] = int(round(points[0]["y"])), int(round(points[0]["x"]))


def render(*, model: torch.nn.Module, steps: ui.PreparedImage, key: ui.CaptureKey, settings: ui.View,
           t: Translator) -> None:  # fmt: skip
    """The tab: ``steps`` is the page's preprocessing (its ``tensor`` and ``cropped`` photo), ``key`` the
    capture's key (what the cached records depend on)."""
    tensor: np.ndarray = steps.tensor
    cropped: Image.Image = steps.cropped
    capture_key = key
    arch, plain, stride_in = settings.arch, settings.plain, settings.stride_in
    tr = ui.cached_trace(arch, steps.settings.crop, plain, stride_in)
    st.markdown(t("inspector.intro"))
    names = layer_names(model)
    if ss.get("ix_layer") not in names:
        ss["ix_layer"] = names[0]
    c1, c2 = st.columns([2, 1])
    with c1:
        layer = st.selectbox(
            t("inspector.layer_label"),
            names,
            key="ix_layer",
            help=fx.layer_help(tr, t),
        )
    size = int(tensor.shape[-1])
    if not _within_budget(
        ui.record_fit(capture_key, layer, size), "inspector.budget_record", t, capture_key, layer=layer
    ):
        return
    record = ui.cached_record(capture_key, layer, model, tensor)
    n_ch, h, w = record.shape
    if ss.get("ix_shape_of") != (layer, record.shape):  # a new layer: keep the position inside its map
        ss["ix_shape_of"] = (layer, record.shape)
        ss["ix_channel"] = min(max(int(ss.get("ix_channel", 0)), 0), n_ch - 1)
        ss["ix_row"] = min(max(int(ss.get("ix_row", h // 2)), 0), h - 1)
        ss["ix_col"] = min(max(int(ss.get("ix_col", w // 2)), 0), w - 1)
    with c2:
        channel = st.number_input(
            t("inspector.channel_label", last=n_ch - 1), min_value=0, step=1, key="ix_channel"
        )
    row, col = int(ss["ix_row"]), int(ss["ix_col"])
    in_range = 0 <= channel < n_ch and 0 <= row < h and 0 <= col < w

    left, right = st.columns([3, 2])
    with left:
        shown_channel = min(int(channel), n_ch - 1)
        fig = fx.position_figure(
            record.arrays["out"][shown_channel], min(row, h - 1), min(col, w - 1),
            title=t("inspector.map_title", layer=layer, ch=shown_channel, h=h, w=w), t=t,
        )  # fmt: skip
        ui.figure(
            fig, key="ix_map", on_select=_on_pick, selection_mode="points", config={"displayModeBar": False}
        )
        st.caption(t("inspector.map_hint"))
    with right:
        st.number_input(t("inspector.row_label", last=h - 1), min_value=0, step=1, key="ix_row")
        st.number_input(t("inspector.col_label", last=w - 1), min_value=0, step=1, key="ix_col")
    if not in_range:
        st.error(t("inspector.bad_position", layer=layer, c=n_ch - 1, h=h - 1, w=w - 1))
        return
    e = explain_at(record, int(channel), row, col)
    with right:
        st.metric(t("inspector.value_label"), fmt_value(e.value))
        st.caption(
            t(
                "inspector.value_caption",
                rebuilt=fmt_value(e.reconstructed),
                diff=f"{abs(e.value - e.reconstructed):.1e}",
            )
        )

    if e.kind in ("conv", "bn", "relu"):
        _conv(e, record, t)
    elif e.kind == "maxpool":
        _maxpool(e, t)
    else:
        _addition(e, t)

    _receptive_field(model, tensor, cropped, capture_key, tr, e, t)
    _grad_cam(model, tensor, cropped, capture_key, arch, plain, stride_in, t)


def budget_text(fit: ui.Fit, key: str, t: Translator, *, from_weights: bool, **names: object) -> str:
    """Why a request does not fit ``$RESNET_VIZ_REQUEST_MB`` (``key``), then where it would: at a smaller input
    size, or, where the size is the pretrained weights' own (``from_weights``), not without other weights."""
    numbers = dict(size=fit.requested, need=fmt_bytes_short(fit.need), budget=fmt_bytes_short(fit.budget))
    if from_weights:
        then = t("inspector.budget_fixed_size")
    elif fit.refused:
        then = t("inspector.budget_none")
    else:
        then = t("inspector.budget_smaller", fit=fit.size)
    return fx.join_sentences(t(key, **names, **numbers), then)


def _within_budget(fit: ui.Fit, key: str, t: Translator, capture_key: ui.CaptureKey, **names: object) -> bool:
    """True when the request fits ``$RESNET_VIZ_REQUEST_MB``; else say why (``key``) and the largest input size
    at which it would run, and return False (nothing runs)."""
    if fit.size == fit.requested:
        return True
    st.warning(budget_text(fit, key, t, from_weights=capture_key.preprocessing.from_weights, **names))
    return False


def _table(e: Explanation, t: Translator) -> None:
    rows = fx.terms_rows(e, t)
    st.dataframe(
        pd.DataFrame(
            {
                t("inspector.col_term"): [r["term"] for r in rows],
                t("inspector.col_value"): [r["value"] for r in rows],
                t("inspector.col_then"): [t("inspector.then_yes") if r["then"] else "" for r in rows],
            }
        ),
        hide_index=True,
        column_config={t("inspector.col_value"): st.column_config.NumberColumn(format="%.4f")},
    )


def _latex_number(v: float) -> str:
    """1e-05 as 10^{-5} (LaTeX would set "1e-05" as a product and a difference)."""
    mantissa, exponent = f"{v:.0e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa}\cdot {power}"


def _bn_latex(numbers: dict, value: float) -> str:
    n = numbers
    eps = _latex_number(float(n["eps"]))
    return (
        r"\frac{z-\mu}{\sqrt{\sigma^2+\epsilon}}\,\gamma+\beta"
        rf"=\frac{{{n['z']:.4f}-({n['mean']:.4f})}}{{\sqrt{{{n['var']:.4f}+{eps}}}}}\cdot{n['gamma']:.4f}"
        rf"+({n['beta']:.4f})={value:.4f}"
    )


def _conv(e: Explanation, record, t: Translator) -> None:
    win = e.window
    assert win is not None and win.partial is not None
    conv = next(s for s in e.steps if s.key == "conv")
    st.markdown(t("inspector.conv_title", layer=record.params["conv_name"], k=win.kernel, c_in=win.values.shape[0],
                  source=win.source, stride=win.stride, pad=win.padding, top=win.top, left=win.left))  # fmt: skip
    top = int(np.argmax(np.abs(win.partial)))
    k2 = win.kernel**2
    if ss.get("ix_step") is None or ss["ix_step"] > k2 - 1:
        ss["ix_step"] = k2 - 1
    if k2 > 1:
        step = st.slider(
            t("inspector.step_label", n=k2), 0, k2 - 1, key="ix_step", help=t("inspector.step_help")
        )
    else:
        step = 0
    a, b = st.columns([1, 2])
    with a:
        src = record.arrays["in"][top]
        ui.figure(fx.source_figure(src, e, t, channel=top), key="ix_source", config={"displayModeBar": False})
    with b:
        ui.figure(fx.window_figure(e, step, t), key="ix_window", config={"displayModeBar": False})
    st.caption(t("inspector.window_caption", ch=top, k=win.kernel, n=win.values.shape[0]))
    st.markdown(t("inspector.terms_title", n=min(8, win.values.shape[0])))
    _table(e, t)
    st.markdown(t("inspector.conv_total", total=fmt_value(conv.value)))
    for term in (*e.steps, *e.then):
        if term.key == "bn":
            # Which statistics: the ones training stored, or the initial ones of weights never trained.
            if initial_statistics(record.params["bn_mean"], record.params["bn_var"]):
                st.markdown(t("inspector.bn_title_initial", name=record.params["bn_name"],
                              mean=f"{BN_INITIAL_MEAN:g}", var=f"{BN_INITIAL_VAR:g}"))  # fmt: skip
            else:
                st.markdown(t("inspector.bn_title", name=record.params["bn_name"]))
            st.latex(_bn_latex(term.numbers, term.value))
        elif term.key == "relu":
            st.markdown(t("inspector.relu_line", x=fmt_value(term.numbers["input"]), y=fmt_value(term.value)))
    if e.then:
        st.caption(t("inspector.then_caption", layer=e.layer))


def _maxpool(e: Explanation, t: Translator) -> None:
    win = e.window
    assert win is not None
    st.markdown(t("inspector.pool_title", k=win.kernel, stride=win.stride, source=win.source))
    cells = [s for s in e.steps if s.key == "pool_cell"]
    best = e.steps[-1]
    st.dataframe(
        pd.DataFrame(
            {
                t("inspector.col_row"): [int(c.numbers["row"]) for c in cells],
                t("inspector.col_col"): [int(c.numbers["col"]) for c in cells],
                t("inspector.col_value"): [round(c.value, 4) for c in cells],
            }
        ),
        hide_index=True,
    )
    st.markdown(
        t("inspector.pool_max", value=fmt_value(best.value), row=best.numbers["row"], col=best.numbers["col"])
    )


def _addition(e: Explanation, t: Translator) -> None:
    get = {s.key: s for s in e.steps}
    if e.kind == "zero_pad":
        _shortcut_detail(e, t)
        return
    main, total, out = get["main"], get["sum"], get["out"]
    if e.shortcut == "none":
        st.markdown(
            t(
                "inspector.plain_line",
                main=fmt_value(main.value),
                y=fmt_value(out.value),
                last=main.numbers["layer"],
            )
        )
        return
    sc = total.numbers["shortcut"]
    stride = get["sample"].numbers["stride"] if "sample" in get else None  # the block's own stride (1 or 2)
    st.markdown(t(f"inspector.shortcut_{e.shortcut}", stride=stride))
    st.markdown(
        t("inspector.addition_line", main=fmt_value(main.value), shortcut=fmt_value(float(sc)), total=fmt_value(total.value),
          y=fmt_value(out.value), last=main.numbers["layer"])
    )  # fmt: skip
    _shortcut_detail(e, t)


def _shortcut_detail(e: Explanation, t: Translator) -> None:
    get = {s.key: s for s in e.steps}
    if "zero_pad" in get:
        n = get["zero_pad"].numbers
        st.info(
            t("inspector.zero_pad_line", ch=n["channel"], first=n["first"], last=n["last"], c_in=n["c_in"])
        )
    elif "sample" in get and "projection" not in get:
        n = get["sample"].numbers
        st.markdown(t("inspector.sample_line", ch=n["channel"], row=n["row"], col=n["col"], stride=n["stride"],
                      value=fmt_value(get["sample"].value)))  # fmt: skip
    elif "identity" in get:
        n = get["identity"].numbers
        st.markdown(t("inspector.identity_line", ch=n["channel"], row=n["row"], col=n["col"],
                      value=fmt_value(get["identity"].value)))  # fmt: skip
    if "projection" in get:
        sample, proj = get["sample"].numbers, get["projection"].numbers
        st.markdown(t("inspector.projection_line", row=sample["row"], col=sample["col"], stride=sample["stride"],
                      c_in=proj["c_in"], c_out=proj["c_out"], ch=e.channel))  # fmt: skip
        mix = [s for s in e.steps if s.key in ("mix_channel", "mix_rest")]
        st.dataframe(
            pd.DataFrame(
                {
                    t("inspector.col_term"): [fx.term_label(s, t) for s in mix],
                    t("inspector.col_value"): [round(s.value, 6) for s in mix],
                }
            ),
            hide_index=True,
        )
        st.markdown(t("inspector.projection_total", z=fmt_value(get["projection"].value)))
        st.latex(_bn_latex(get["shortcut_bn"].numbers, get["shortcut_bn"].value))


def _rf_caption(box, size: int, t) -> str:
    key = "inspector.rf_box_caption_one" if box.jump == 1 else "inspector.rf_box_caption"  # 1 pixel, 2 pixels
    return t(key, size=box.size, jump=box.jump, input=size)


def _receptive_field(model, tensor, cropped, capture_key, tr: Trace, e: Explanation, t) -> None:
    st.markdown(t("inspector.rf_title"))
    box = rf_box(tr, e.layer, e.row, e.col)
    on = st.toggle(t("inspector.rf_toggle"), key="ix_rf", help=t("inspector.rf_help"))
    size = tensor.shape[-1]
    photo = cropped.convert("RGB").resize((tensor.shape[-1], tensor.shape[-2]))
    # A zero-padded channel is a constant 0: no field, so no box beside "no field" either.
    if zero_padded_channel(tr, e.layer, e.channel):
        if on:
            st.info(t("inspector.erf_padded"))
        return
    if not on:
        st.image(fx.rf_overlay(photo, box), width=360, caption=_rf_caption(box, size, t))
        return
    folded = folded_weight_bytes(model)  # the BN-folded copy of every conv weight the backward pass makes
    erf_key, copy = (
        ("inspector.budget_erf_folded", fmt_bytes_short(folded)) if folded else ("inspector.budget_erf", "")
    )
    if not _within_budget(
        ui.erf_fit(capture_key, e.layer, size, model), erf_key, t, capture_key, layer=e.layer, weights=copy
    ):
        st.image(fx.rf_overlay(photo, box), width=360, caption=_rf_caption(box, size, t))
        return
    erf = ui.cached_erf(capture_key, e.layer, e.channel, e.row, e.col, model, tensor)
    heat, erf_caption = fx.erf_view(erf, box, t)
    a, b = st.columns(2)
    with a:
        st.image(fx.rf_overlay(photo, box), width=320, caption=_rf_caption(box, size, t))
    with b:
        if heat is None:  # no pixel moves this value: no field to draw, no extent to state
            st.info(erf_caption)
        else:
            st.image(fx.rf_overlay(photo, box, heat), width=320, caption=erf_caption)
    if heat is not None:  # the lesson reads a field: none to read where the gradient is zero
        st.caption(t("inspector.rf_lesson"))


def untrained_text(t: Translator, arch: str, plain: bool, stride_in: str) -> str:
    """Why the sanity check is not read with untrained weights, and what would make it readable: pretrained weights
    where torchvision ships them for this network, else only a trained checkpoint (none ship for it)."""
    if has_pretrained(arch, plain=plain, stride_in=stride_in):
        return t("inspector.sanity_untrained")
    spec = get_spec(arch)
    net = dict(
        net=i18n_arch_title(t, arch, plain=plain), width=spec.stem_width, classes=fmt_int(spec.num_classes)
    )
    # Trained nets do ship (the Why residual page's), but at the width and classes of the shipped run's settings:
    # name those, read from the file beside the weights, so "no trained weights" is not read as "none at all".
    recorded = shipped_data.degradation()
    settings = recorded.get("settings") if isinstance(recorded, dict) else None
    if not isinstance(settings, dict):
        return t("inspector.sanity_untrained_none_no_curves", **net)
    config = TrainConfig.from_dict(settings)
    return t(
        "inspector.sanity_untrained_none",
        **net,
        w_shipped=config.width,
        c_shipped=fmt_int(config.num_classes),
    )


def _grad_cam(model, tensor, cropped, capture_key, arch, plain, stride_in, t) -> None:
    st.markdown(t("inspector.cam_title"))
    if not st.toggle(t("inspector.cam_toggle"), key="ix_cam", help=t("inspector.cam_help")):
        return
    stages = list(stage_outputs(model))
    if ss.get("ix_stage") not in stages:
        ss["ix_stage"] = stages[-1]
    stage = st.radio(t("inspector.stage_label"), stages, key="ix_stage", horizontal=True)
    fit = ui.sanity_fit(capture_key, stage, int(tensor.shape[-1]))
    if not _within_budget(fit, "inspector.budget_cam", t, capture_key, stage=stage):
        return
    device = str(next(model.parameters()).device)
    rand = ui.randomized_model(arch, plain, stride_in, int(model.fc.out_features), device)
    check = ui.cached_sanity_check(capture_key, stage, model, rand, tensor)
    photo = cropped.convert("RGB")
    a, b = st.columns(2)
    cam_h, cam_w = check.trained.cam.shape
    with a:
        st.image(np.asarray(fx.heat_overlay(photo, check.trained.heat)), width=320,
                 caption=t("inspector.cam_trained", stage=stage, cls=check.trained.target, h=cam_h, w=cam_w))  # fmt: skip
    with b:
        st.image(np.asarray(fx.heat_overlay(photo, check.randomized.heat)), width=320,
                 caption=t("inspector.cam_random", stage=stage))  # fmt: skip
    rho = check.rho
    reading = sanity_reading(check, trained_statistics(model))
    st.markdown(t("inspector.sanity_line", rho=shown_rho(rho), seed=SANITY_SEED))
    if reading == "untrained":  # two untrained networks compared: no reading at all
        st.info(untrained_text(t, arch, plain, stride_in))
    else:
        key = {"alike": "sanity_high", "different": "sanity_low", "undefined": "sanity_undefined"}[reading]
        st.markdown(t(f"inspector.{key}", threshold=SIMILAR_RHO))
    st.caption(t("inspector.cam_caption"))
