"""Loss landscapes (Li et al. 2018) on the *Why residual* page: the shipped surfaces, their numbers, a live slice.

Widgets and layout only: the surfaces come from ``assets/curves/landscape_<net>.json`` (scripts/make_landscape.py),
the numbers from :mod:`resnet_viz.experiments.landscape`, the figures from :mod:`resnet_viz.render.figures_landscape`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from resnet_viz import paths, ui
from resnet_viz.experiments import landscape as ls
from resnet_viz.render import figures_landscape as fl

#: Percentage points within which two non-convex shares count as level.
_LEVEL_PP = 5.0


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _weights_sha(net: str) -> str | None:
    depth, plain = ls.LANDSCAPE_NETS[net]
    path = paths.trained_weights_path("plain" if plain else "resnet", depth)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _pairs(surfaces: dict[str, dict]) -> dict[int, list[dict]]:
    """Shipped surfaces by depth, plain first: {56: [plain56, resnet56], …}."""
    out: dict[int, list[dict]] = {}
    for net, (depth, _plain) in sorted(ls.LANDSCAPE_NETS.items(), key=lambda kv: (kv[1][0], not kv[1][1])):
        if net in surfaces:
            out.setdefault(depth, []).append(surfaces[net])
    return out


def _numbers_table(t: Callable[..., str], shown: list[dict]) -> None:
    rows = []
    for s in shown:
        summ = s["summary"]
        rows.append(
            {
                t("landscape.col_net"): fl.net_title(t, s["net"]),
                t("landscape.col_origin"): _num(summ["origin_loss"]),
                **{
                    t("landscape.col_at", r=r): _num(summ["at_distance"].get(r))
                    for r in (f"{d:g}" for d in ls.DISTANCES)
                },
                t("landscape.col_nonconvex"): _pct(summ["nonconvex_share"]),
                t("landscape.col_clearly", ratio=f"{ls.CLEARLY_RATIO:g}"): _pct(
                    summ["clearly_nonconvex_share"]
                ),
            }
        )
    st.dataframe(rows, hide_index=True)


def _reading(t: Callable[..., str], shown: list[dict]) -> None:
    """What the numbers show for our pair, worded by comparing them (never a claim typed into a translation)."""
    by_kind = {("plain" if s["net"].startswith("plain") else "resnet"): s for s in shown}
    if set(by_kind) != {"plain", "resnet"}:
        return
    plain, res = by_kind["plain"], by_kind["resnet"]
    p, r = plain["summary"], res["summary"]
    names = {"plain": fl.net_title(t, plain["net"]), "resnet": fl.net_title(t, res["net"])}
    d = f"{ls.DISTANCES[1]:g}"
    p_at, r_at = p["at_distance"].get(d), r["at_distance"].get(d)
    if p_at is not None and r_at is not None:
        steeper = "plain" if p_at > r_at else "resnet"
        flatter = "resnet" if steeper == "plain" else "plain"
        st.markdown(
            t(
                "landscape.read_rise",
                r=d,
                steeper=names[steeper],
                flatter=names[flatter],
                steep_loss=_num(max(p_at, r_at)),
                flat_loss=_num(min(p_at, r_at)),
                ratio=f"{max(p_at, r_at) / min(p_at, r_at):.2g}",
                p_origin=_num(p["origin_loss"]),
                r_origin=_num(r["origin_loss"]),
            )
        )
    st.markdown(
        t(
            "landscape.read_convex",
            plain=names["plain"],
            resnet=names["resnet"],
            p_share=_pct(p["nonconvex_share"]),
            r_share=_pct(r["nonconvex_share"]),
            p_clear=_pct(p["clearly_nonconvex_share"]),
            r_clear=_pct(r["clearly_nonconvex_share"]),
        )
    )
    depth = ls.LANDSCAPE_NETS[plain["net"]][0]
    if depth < ls.PAPER_CHAOTIC_DEPTH:
        st.markdown(t("landscape.paper_shallow", depth=depth))
    else:
        diff = 100 * (p["nonconvex_share"] - r["nonconvex_share"])
        key = "as" if diff > _LEVEL_PP else "level" if diff >= -_LEVEL_PP else "unlike"
        st.markdown(t(f"landscape.paper_deep_{key}", diff=f"{abs(diff):.1f}", level=f"{_LEVEL_PP:g}"))
    st.markdown(
        t("landscape.read_caveats", width=plain["settings"]["training"]["width"], paper_width=ls.PAPER_WIDTH)
    )


def _shipped(t: Callable[..., str]) -> dict[str, dict]:
    surfaces = {net: s for net in ls.LANDSCAPE_NETS if (s := ls.load_landscape(net)) is not None}
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
    stale = [fl.net_title(t, s["net"]) for s in shown if s.get("weights_sha256") != _weights_sha(s["net"])]
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
    _reading(t, shown)
    return surfaces


def _live(t: Callable[..., str], surfaces: dict[str, dict]) -> None:
    st.subheader(t("landscape.live_header"))
    nets = ls.available_nets()
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
    key = (net, seed, ls.LIVE_POINTS, ls.LIVE_BATCH, _weights_sha(net))
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
    shipped = surfaces.get(net) if seed == surfaces.get(net, {}).get("seed") else None
    ui.figure(fl.slice_figure(live["coords"], live["losses"], net, t, shipped), key="rvl_slice")
    if not live["stopped"]:
        at = live["summary"]["at_distance"]
        st.markdown(
            t(
                "landscape.live_result",
                net=fl.net_title(t, net),
                origin=_num(live["origin_loss"]),
                **{f"l{i}": _num(at.get(f"{d:g}")) for i, d in enumerate(ls.DISTANCES)},
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
    surfaces = _shipped(t)
    _live(t, surfaces)
