"""Why residual, § gradients during training: the init snapshot does not last (measured, shipped + live)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import streamlit as st

from resnet_viz import experiments as ex
from resnet_viz import ui
from resnet_viz.experiments import readings
from resnet_viz.experiments import shipped as shipped_data
from resnet_viz.formatting import fmt_list
from resnet_viz.i18n import Translator, say
from resnet_viz.render import figures_residual as fr

#: The live run: the shipped settings, seed 0 (so it reproduces the shipped seed 0 on a CPU).
LIVE_SEED = 0


def render(t: Translator, settings: Any, live_batch: int, live_seeds: Sequence[int]) -> None:
    """Draw the section: shipped measurement (seeds 0–3), what it means, and a live run of seed 0.
    ``live_batch`` and ``live_seeds`` are the settings of the live measurement at initialisation above it, whose
    range this section's differs from (said in words)."""
    st.subheader(t("why_residual_training.header"))
    shipped = shipped_data.gradient_steps()
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
            steps=fmt_list(cfg["steps"][1:], t("common.list_sep")),
            width=cfg["width"],
        )
    )
    ui.figure(fr.gradient_steps_figure(shipped, t), width="stretch", key="rvw_steps_shipped")
    st.markdown(say(t, readings.gradient_steps_sentence(shipped), settings.lang))
    st.markdown(say(t, readings.gradient_sections_differ(shipped, live_batch, live_seeds), settings.lang))
    for sentence in readings.gradient_steps_reading(shipped):
        st.markdown(say(t, sentence, settings.lang))
    st.caption(
        t(
            "why_residual_training.source",
            seeds=fmt_list(shipped["seeds"], t("common.list_sep")),
            device=readings.shipped_device(shipped),
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
        st.markdown(say(t, readings.gradient_steps_sentence(record), settings.lang))
        for sentence in readings.gradient_steps_reading(record)[
            :-1
        ]:  # the data's reading; who argues is above
            st.markdown(say(t, sentence, settings.lang))
        ui.dev_caption(t("why_residual_training.live_took", seconds=f"{seconds:.0f}", device=device))
