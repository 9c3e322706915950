"""Why residual, § gradients during training: the init snapshot does not last (measured, shipped + live)."""

from __future__ import annotations

import json
import time
from typing import Any

import streamlit as st

from resnet_viz import experiments as ex
from resnet_viz import paths, ui
from resnet_viz.i18n import Translator
from resnet_viz.render import figures_residual as fr

#: The live run: the shipped settings, seed 0 (so it reproduces the shipped seed 0 on a CPU).
LIVE_SEED = 0


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _num(x: float) -> str:
    """3 significant digits; thousands with separators; below 0.01 as a power of ten (2.2×10⁻⁴)."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.01:
        return f"{x:.3g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def _span(lo_hi: tuple[float, float]) -> str:
    lo, hi = (_num(v) for v in lo_hi)
    return lo if lo == hi else f"{lo}–{hi}"


def _load() -> dict[str, Any] | None:
    try:
        return json.loads((paths.CURVES_DIR / paths.GRADIENT_STEPS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _summary_text(t: Translator, record: dict[str, Any]) -> str:
    s = ex.gradient_steps_summary(record)
    steps = s["steps"]
    one = steps.index(1) if 1 in steps else min(1, len(steps) - 1)
    return t(
        "why_residual_training.result",
        depth=record["settings"]["depth"],
        seeds=", ".join(str(x) for x in s["seeds"]),
        init_ratio=_span(s["init_plain_over_residual"]),
        plain_ff0=_span(s["plain"]["first_last"][0]),
        growth=_span(s["plain"]["conv1_growth"][one]),
        w0=_span(s["plain"]["conv1_weight"][0]),
        w1=_span(s["plain"]["conv1_weight"][one]),
        step_one=steps[one],
        plain_ff1=_span(s["plain"]["first_last"][one]),
        last=steps[-1],
        plain_ff_last=_span(s["plain"]["first_last"][-1]),
        res_ff0=_span(s["residual"]["first_last"][0]),
        res_ff_last=_span(s["residual"]["first_last"][-1]),
    )


def render(t: Translator, settings: Any) -> None:
    """Draw the section: shipped measurement (seeds 0–3), what it means, and a live run of seed 0."""
    st.subheader(t("why_residual_training.header"))
    shipped = _load()
    if shipped is None:
        st.warning(t("why_residual_training.missing"))
        return
    cfg = shipped["settings"]
    st.markdown(
        t(
            "why_residual_training.intro",
            depth=cfg["depth"],
            batch=cfg["batch_size"],
            lr=cfg["lr"],
            momentum=cfg["momentum"],
            steps=", ".join(str(k) for k in cfg["steps"][1:]),
            width=cfg["width"],
        )
    )
    ui.figure(fr.gradient_steps_figure(shipped, t), width="stretch", key="rvw_steps_shipped")
    st.markdown(_summary_text(t, shipped))
    st.markdown(t("why_residual_training.reading"))
    st.caption(
        t(
            "why_residual_training.source",
            seeds=", ".join(str(x) for x in shipped["seeds"]),
            device=shipped.get("device", "?"),
            torch=shipped.get("torch", "?"),
        )
    )

    if st.button(t("why_residual_training.live_run", seed=LIVE_SEED), key="rvw_steps_run"):
        slot = ui.training_slot()
        if not slot.acquire(blocking=False):
            st.info(t("why_residual_training.live_busy"))
        else:
            bar = st.progress(0.0, text=t("why_residual_training.live_progress", done=0, total="…"))

            def _progress(done: int, total: int) -> None:
                bar.progress(
                    done / total, text=t("why_residual_training.live_progress", done=done, total=total)
                )

            start = time.perf_counter()
            try:
                result = ex.gradient_steps(
                    cfg["depth"],
                    width=cfg["width"],
                    steps=tuple(cfg["steps"]),
                    batch_size=cfg["batch_size"],
                    seed=LIVE_SEED,
                    lr=cfg["lr"],
                    momentum=cfg["momentum"],
                    weight_decay=cfg["weight_decay"],
                    dataset=cfg["dataset"],
                    image_size=cfg["image_size"],
                    device=ui.device(),
                    progress=_progress,
                )
                st.session_state["rvw_steps_live"] = (
                    ex.gradient_steps_record([result]),
                    time.perf_counter() - start,
                    str(ui.device()),
                )
            except (RuntimeError, ValueError) as err:
                st.error(t("common.error", message=err))
            finally:
                slot.release()
            bar.empty()
    live = st.session_state.get("rvw_steps_live")
    if live:
        record, seconds, device = live
        ui.figure(fr.gradient_steps_figure(record, t), width="stretch", key="rvw_steps_live_chart")
        st.markdown(_summary_text(t, record))
        ui.dev_caption(t("why_residual_training.live_took", seconds=f"{seconds:.0f}", device=device))
