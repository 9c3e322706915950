"""Loss landscapes (Li et al. 2018) on the *Why residual* page: the shipped surfaces, their numbers, a live slice.

Widgets and layout only: the surfaces come from ``assets/curves/landscape_<net>.json`` (scripts/make_landscape.py),
the numbers from :mod:`resnet_viz.experiments.landscape`, the figures from :mod:`resnet_viz.render.figures_landscape`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from resnet_viz import ui
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import landscape as ls
from resnet_viz.experiments import readings
from resnet_viz.experiments import shipped as shipped_data
from resnet_viz.formatting import fmt_percent, fmt_sig3
from resnet_viz.i18n import say
from resnet_viz.render import figures_landscape as fl


def _pairs(surfaces: dict[ExperimentNet, dict]) -> dict[int, list[dict]]:
    """Shipped surfaces by depth, plain first: {56: [plain56, resnet56], …}."""
    out: dict[int, list[dict]] = {}
    for net in sorted(surfaces, key=lambda n: (n.depth, not n.plain)):
        out.setdefault(net.depth, []).append(surfaces[net])
    return out


def _numbers_table(t: Callable[..., str], shown: list[dict]) -> None:
    rows = []
    for s in shown:
        summ = ls.LandscapeSummary.from_dict(s["summary"])
        rows.append(
            {
                t("landscape.col_net"): fl.net_title(t, s["net"]),
                t("landscape.col_origin"): fmt_sig3(summ.origin_loss),
                **{
                    t("landscape.col_at", r=r): fmt_sig3(summ.at_distance.get(r))
                    for r in (f"{d:g}" for d in ls.DISTANCES)
                },
                t("landscape.col_nonconvex"): fmt_percent(summ.nonconvex_share),
                t("landscape.col_clearly", ratio=f"{ls.CLEARLY_RATIO:g}"): fmt_percent(
                    summ.clearly_nonconvex_share
                ),
            }
        )
    st.dataframe(rows, hide_index=True)


def _shipped(t: Callable[..., str], lang: str) -> dict[ExperimentNet, dict]:
    surfaces = shipped_data.landscapes()
    if not surfaces:
        st.info(t("landscape.missing"))
        return {}
    pairs = _pairs(surfaces)
    depth = max(pairs)
    if len(pairs) > 1:
        depth = st.radio(
            t("landscape.pick_depth"),
            sorted(pairs, reverse=True),
            format_func=lambda d: t("landscape.depth_option", depth=d),
            horizontal=True,
            key="rvl_depth",
        )
    shown = pairs[depth]
    ui.figure(fl.contour_figure(shown, t), key="rvl_contours")
    first = shown[0]
    n = len(first["coords"])
    ui.dev_caption(
        t(
            "landscape.grid_caption",
            n=n,
            batch=first["batch"],
            seed=first["seed"],
            step=f"{first['coords'][1] - first['coords'][0]:.3g}",
            minutes=round(sum(s.get("seconds", 0) for s in shown) / 60),
            threads=first.get("threads", 1),
            device=first.get("device", "cpu"),
        )
    )
    stale = [
        fl.net_title(t, s["net"])
        for s in shown
        if s.get("weights_sha256") != shipped_data.weights_sha256(s["net"])
    ]
    if stale:
        st.warning(t("landscape.stale", nets=", ".join(stale)))
    if st.toggle(t("landscape.show_3d"), key="rvl_3d"):
        net3d = st.radio(
            t("landscape.pick_3d"),
            [s["net"] for s in shown],
            format_func=lambda net: fl.net_title(t, net),
            horizontal=True,
            key="rvl_3d_net",
        )
        chosen = next((s for s in shown if s["net"] == net3d), shown[0])
        ui.figure(fl.surface_figure(chosen, t, fl.shared_range(shown)), key="rvl_surface")
    st.subheader(t("landscape.numbers_header"))
    _numbers_table(t, shown)
    st.caption(
        t(
            "landscape.numbers_caption",
            n=n,
            tested=first["summary"]["points_tested"],
            step=f"{first['coords'][1] - first['coords'][0]:.3g}",
            ratio=f"{ls.CLEARLY_RATIO:g}",
        )
    )
    for sentence in readings.landscape_sentences(shown):
        st.markdown(say(t, sentence, lang))
    return surfaces


def _live(t: Callable[..., str], surfaces: dict[ExperimentNet, dict]) -> None:
    st.subheader(t("landscape.live_header"))
    nets = [net.key for net in ls.available_nets()]
    if not nets:
        st.info(t("landscape.missing"))
        return
    st.markdown(t("landscape.live_intro", points=ls.LIVE_POINTS, batch=ls.LIVE_BATCH))
    col_net, col_seed = st.columns(2)
    net = col_net.selectbox(
        t("landscape.live_net"), nets, format_func=lambda n: fl.net_title(t, n), key="rvl_live_net"
    )
    seed = int(
        col_seed.number_input(
            t("landscape.live_seed"), min_value=0, max_value=999, value=0, step=1, key="rvl_seed"
        )
    )
    key = (net, seed, ls.LIVE_POINTS, ls.LIVE_BATCH, shipped_data.weights_sha256(net))
    col_go, col_stop = st.columns(2)
    start = col_go.button(t("landscape.live_start"), key="rvl_live_start", type="primary")
    # "Stop" needs no handler: a click reruns the script, and Streamlit stops the running one at its next call
    # (the progress bar, after every point). The points done so far were kept in the session by _progress.
    col_stop.button(t("landscape.live_stop"), key="rvl_live_stop")
    if start:
        done = ui.landscape_result(key)
        if done is not None:
            st.session_state["rvl_live"] = done
        else:
            partial: dict[str, Any] = {"key": key, "net": net, "seed": seed, "losses": [], "stopped": True}
            partial["coords"] = [float(a) for a in ls.coordinates(ls.LIVE_POINTS)]
            st.session_state["rvl_live"] = partial
            bar = st.progress(0.0, text=t("landscape.live_preparing"))
            t0 = time.perf_counter()

            def _progress(k: int, total: int, loss: float) -> None:
                partial["losses"].append(loss)
                bar.progress(k / total, text=t("landscape.live_progress", done=k, total=total))

            try:
                land = ls.shipped_landscape(
                    net,
                    dim=1,
                    device=ui.device(),
                    points=ls.LIVE_POINTS,
                    seed=seed,
                    batch=ls.LIVE_BATCH,
                    progress=_progress,
                    step_guard=ui.forward_gate,
                )
            except (OSError, RuntimeError, ValueError) as err:
                st.error(t("common.error", message=err))
            else:
                result = {
                    "key": key,
                    "net": net,
                    "seed": seed,
                    "coords": land.coords,
                    "losses": land.losses[0],
                    "origin_loss": land.origin_loss,
                    "summary": ls.summarise(land),
                    "seconds": time.perf_counter() - t0,
                    "stopped": False,
                }
                ui.keep_landscape_result(key, result)
                st.session_state["rvl_live"] = result
            bar.empty()
    live = st.session_state.get("rvl_live")
    if not live or live.get("key") != key or not live["losses"]:
        st.info(t("landscape.live_hint"))
        return
    if live["stopped"]:
        st.warning(t("landscape.live_stopped", done=len(live["losses"]), total=len(live["coords"])))
    # With seed 0 the slice's direction is the shipped grid's first direction: its row β = 0 is the same line.
    grid = surfaces.get(ExperimentNet.parse(net), {})
    shipped = grid if grid and seed == grid.get("seed") else None
    ui.figure(fl.slice_figure(live["coords"], live["losses"], net, t, shipped), key="rvl_slice")
    if not live["stopped"]:
        at = live["summary"].at_distance
        st.markdown(
            t(
                "landscape.live_result",
                net=fl.net_title(t, net),
                origin=fmt_sig3(live["origin_loss"]),
                **{f"l{i}": fmt_sig3(at.get(f"{d:g}")) for i, d in enumerate(ls.DISTANCES)},
                **{f"d{i}": f"{d:g}" for i, d in enumerate(ls.DISTANCES)},
                seconds=f"{live['seconds']:.0f}",
            )
        )
    st.caption(t("landscape.live_caption", seed=seed, batch=ls.LIVE_BATCH))


def render(t: Callable[..., str], settings: ui.View) -> None:
    """The loss-landscape section: shipped contour plots (and 3-D on request), their numbers, a live slice."""
    st.header(t("landscape.header"))
    st.markdown(t("landscape.intro"))
    st.latex(r"f(\alpha, \beta) = L(\theta^{*} + \alpha\,\delta + \beta\,\eta),\qquad "
             r"\delta_{i} \leftarrow \frac{\delta_{i}}{\lVert\delta_{i}\rVert}\,\lVert\theta^{*}_{i}\rVert")  # fmt: skip
    st.markdown(t("landscape.method"))
    surfaces = _shipped(t, settings.lang)
    _live(t, surfaces)
