"""Why residual: the problem (vanishing/exploding gradients, degradation), the idea (F(x) = H(x) − x, identity at
init, measured), gradient flow live, the degradation experiment (shipped curves + a live run) and block deletion."""

from __future__ import annotations

import json
import time

import streamlit as st

from app_pages.sections import why_training
from resnet_viz import experiments as ex
from resnet_viz import paths, ui_state
from resnet_viz.architecture.catalogue import CATALOGUE, get_spec
from resnet_viz.render import figures_residual as fr

t = ui_state.translator()
s = ui_state.current()
CURVES = paths.CURVES_DIR
GRAD_ARCHS = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34"]
#: The ImageNet pair runs at a small input so that one backward pass stays a second or two on a CPU.
GRAD_IMAGENET_SIZE = 64


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _load_json(name: str) -> dict | None:
    try:
        return json.loads((CURVES / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


st.title(t("why_residual.title"))
st.markdown(t("why_residual.intro"))

# ---------------------------------------------------------------- 1. the problem
st.header(t("why_residual.problem_header"))
st.markdown(t("why_residual.vanishing"))
st.latex(
    r"\frac{\partial L}{\partial a^{[1]}} = \frac{\partial L}{\partial a^{[L]}}"
    r"\prod_{l=2}^{L}\frac{\partial a^{[l]}}{\partial a^{[l-1]}}"
    r"\qquad 0.9^{55}\approx 0.003,\quad 1.1^{55}\approx 189"
)
st.markdown(t("why_residual.degradation"))
st.markdown(t("why_residual.remedies"))

# ---------------------------------------------------------------- 2. the idea
st.header(t("why_residual.idea_header"))
st.markdown(t("why_residual.block_intro"))
st.latex(
    r"\begin{aligned}"
    r"z^{[l+1]} &= W^{[l+1]} a^{[l]} + b^{[l+1]} & a^{[l+1]} &= g\left(z^{[l+1]}\right)\\"
    r"z^{[l+2]} &= W^{[l+2]} a^{[l+1]} + b^{[l+2]} & a^{[l+2]} &= g\left(z^{[l+2]} + a^{[l]}\right)"
    r"\end{aligned}"
)
st.markdown(t("why_residual.hx_intro"))
st.latex(r"H(x) = F(x) + x \qquad\Longleftrightarrow\qquad F(x) = H(x) - x")
st.markdown(t("why_residual.why_easier"))
st.latex(r"\frac{\partial\,(F(x) + x)}{\partial x} = \frac{\partial F}{\partial x} + I")
st.markdown(t("why_residual.gradient_path"))

st.subheader(t("why_residual.id_header"))
id_arch = s.arch
id_spec = get_spec(id_arch)
id_size = id_spec.default_input if id_spec.family != "imagenet" else GRAD_IMAGENET_SIZE
st.markdown(t("why_residual.id_intro", net=id_spec.title, size=id_size))
try:
    rows_zero = ui_state.cached_identity_at_init(id_arch, id_size, True)
    rows_default = ui_state.cached_identity_at_init(id_arch, id_size, False)
except (RuntimeError, ValueError) as err:
    st.error(t("common.error", message=err))
else:
    worst_f = max(r.residual_norm for r in rows_zero)
    worst_out = max(r.output_minus_shortcut for r in rows_zero)
    typical = sum(r.residual_norm for r in rows_default) / len(rows_default)
    st.markdown(
        t(
            "why_residual.id_result",
            blocks=len(rows_zero),
            max_f=f"{worst_f:.3g}",
            max_out=f"{worst_out:.3g}",
            typical=f"{typical:.3g}",
        )
    )
    st.plotly_chart(fr.identity_figure(rows_zero, rows_default, t), width="stretch")
    with st.expander(t("why_residual.id_table")):
        st.dataframe(
            [
                {
                    t("why_residual.col_block"): z.name,
                    "‖x‖": round(z.input_norm, 3),
                    t("why_residual.col_f_zero"): z.residual_norm,
                    t("why_residual.col_out_zero"): z.output_minus_shortcut,
                    t("why_residual.col_f_default"): round(d.residual_norm, 3),
                }
                for z, d in zip(rows_zero, rows_default)
            ],
            hide_index=True,
        )

# ---------------------------------------------------------------- 3. gradient flow
st.header(t("why_residual.grad_header"))
st.markdown(t("why_residual.grad_intro"))
grad_arch = st.selectbox(
    t("why_residual.grad_pick"),
    GRAD_ARCHS,
    index=GRAD_ARCHS.index("resnet56"),
    format_func=lambda a: CATALOGUE[a].title,
    key="rvw_grad_arch",
)
grad_size = GRAD_IMAGENET_SIZE if get_spec(grad_arch).family == "imagenet" else 32
if st.button(t("why_residual.grad_run"), key="rvw_grad_run", type="primary"):
    with st.spinner(t("why_residual.grad_running")):
        st.session_state["rvw_grad_result"] = ui_state.cached_gradient_flow(grad_arch, grad_size, 16, 0)
flow = st.session_state.get("rvw_grad_result")
if flow is not None and flow.arch == grad_arch:
    st.plotly_chart(fr.gradient_flow_figure(flow, t), width="stretch")
    st.markdown(
        t(
            "why_residual.grad_summary",
            plain_first=f"{flow.plain[0]:.3g}",
            plain_last=f"{flow.plain[-1]:.3g}",
            plain_spread=f"{max(flow.plain) / min(flow.plain):.3g}",
            res_first=f"{flow.residual[0]:.3g}",
            res_last=f"{flow.residual[-1]:.3g}",
            res_spread=f"{max(flow.residual) / min(flow.residual):.3g}",
        )
    )
    st.markdown(t("why_residual.grad_reading"))
    st.caption(t("why_residual.grad_method", batch=flow.batch_size, seed=flow.seed, size=flow.input_size))
else:
    st.info(t("why_residual.grad_hint"))
why_training.render(t, s)

# ---------------------------------------------------------------- 4. degradation
st.header(t("why_residual.deg_header"))
st.markdown(t("why_residual.deg_intro"))
shipped = _load_json(paths.DEGRADATION_FILE)
if shipped is None or not shipped.get("runs"):
    st.warning(t("why_residual.deg_missing"))
else:
    cfg = shipped["settings"]
    st.plotly_chart(fr.degradation_figure(shipped, t), width="stretch")
    st.caption(
        t(
            "why_residual.deg_caption",
            width=cfg["width"],
            w2=2 * cfg["width"],
            w4=4 * cfg["width"],
            n_train=cfg["n_train"],
            n_test=cfg["n_test"],
            epochs=cfg["epochs"],
            seed=cfg["seed"],
            minutes=round(shipped.get("seconds", 0) / 60),
        )
    )
    st.dataframe(
        [
            {
                t("why_residual.col_net"): fr._label(t, run),
                t("why_residual.col_train_final"): _pct(run["train_error"][-1]),
                t("why_residual.col_test_final"): _pct(run["test_error"][-1]),
                t("why_residual.col_train_best"): _pct(min(run["train_error"])),
            }
            for run in shipped["runs"]
            if run["train_error"]
        ],
        hide_index=True,
    )
    for cmp in ex.depth_comparison(shipped):
        kind = "plain" if cmp["plain"] else "resnet"
        diff = cmp["deep_train"] - cmp["shallow_train"]
        # Under half a percentage point is reported as level, not as "0.0 percentage points lower".
        template = "why_residual.deg_compare_level" if abs(diff) < 0.005 else "why_residual.deg_compare"
        direction = "why_residual.higher" if diff > 0 else "why_residual.lower"
        st.markdown(
            t(
                template,
                epoch=cmp["epoch"],
                deep=t(f"why_residual.run_{kind}", depth=cmp["deep"]),
                shallow=t(f"why_residual.run_{kind}", depth=cmp["shallow"]),
                diff=f"{abs(100 * diff):.1f}",
                direction=t(direction),
                deep_train=_pct(cmp["deep_train"]),
                shallow_train=_pct(cmp["shallow_train"]),
                deep_test=_pct(cmp["deep_test"]),
                shallow_test=_pct(cmp["shallow_test"]),
            )
        )
    st.markdown(t("why_residual.deg_reading"))
    with st.expander(t("why_residual.deg_settings")):
        st.markdown(t("why_residual.deg_reproduce"))
        st.json({k: v for k, v in shipped.items() if k != "runs"}, expanded=False)

# The live run is drawn here but executed at the end of the script, so the rest of the page is on screen while
# it trains (Streamlit draws elements in the order the script runs).
live_box = st.container()

# ---------------------------------------------------------------- 5. deleting one block
st.header(t("why_residual.rm_header"))
st.markdown(t("why_residual.rm_intro"))
removal = _load_json(paths.REMOVAL_FILE)
if removal is None or not paths.trained_weights_path("resnet", removal["depth"]).exists():
    st.info(t("why_residual.rm_needs_training"))
else:
    metric = st.radio(
        t("why_residual.rm_metric"),
        ["top1_error", "top5_error"],
        format_func=lambda m: t(f"why_residual.rm_axis_{m}"),
        horizontal=True,
        key="rvw_rm_metric",
    )
    st.plotly_chart(fr.removal_figure(removal, t, metric), width="stretch")
    for label, summary in ex.removal_summary(removal, metric).items():
        kind = "plain" if label.startswith("plain") else "resnet"
        st.markdown(
            t(
                "why_residual.rm_summary",
                net=t(f"why_residual.run_{kind}", depth=removal["depth"]),
                mean=f"{100 * summary['mean_rise']:+.1f}",
                max=f"{100 * summary['max_rise']:+.1f}",
                worst=summary["worst"],
                blocks=summary["blocks"],
                base=_pct(summary["baseline"]),
            )
        )
    st.markdown(t("why_residual.rm_reading"))
    depth = removal["depth"]
    names = list(removal["nets"][f"resnet-{depth}"]["blocks"])
    name = st.selectbox(
        t("why_residual.rm_pick"),
        names,
        index=names.index("layer2.3") if "layer2.3" in names else 0,
        key="rvw_rm_block",
    )
    if st.button(t("why_residual.rm_run"), key="rvw_rm_run"):
        try:
            st.session_state["rvw_rm_result"] = (
                name,
                ui_state.cached_delete_block(str(CURVES), removal["settings"], depth, name),
            )
        except (OSError, RuntimeError, ValueError) as err:
            st.error(t("common.error", message=err))
    done = st.session_state.get("rvw_rm_result")
    if done and done[0] == name:
        cols = st.columns(2)
        for col, (label, res) in zip(cols, done[1].items()):
            kind = "plain" if label.startswith("plain") else "resnet"
            title = t(f"why_residual.run_{kind}", depth=depth)
            if res["deleted"] is None:
                col.metric(title, t("why_residual.rm_impossible"))
                continue
            before, after = res["intact"][metric], res["deleted"][metric]
            col.metric(
                t("why_residual.rm_metric_label", net=title, block=name),
                _pct(after),
                delta=f"{100 * (after - before):+.1f} pp",
                delta_color="inverse",
            )
        st.caption(t("why_residual.rm_live_caption", n_test=removal["settings"]["n_test"]))

# ---------------------------------------------------------------- 4b. the live run (drawn in live_box above)
with live_box:
    st.subheader(t("why_residual.live_header"))
    live_cfg = ex.LIVE_CONFIG
    st.markdown(
        t(
            "why_residual.live_intro",
            width=live_cfg.width,
            n_train=live_cfg.n_train,
            epochs=live_cfg.epochs,
            device=s.device,
        )
    )
    col_go, col_stop = st.columns(2)
    start = col_go.button(t("why_residual.live_start"), key="rvw_live_start", type="primary")
    # "Stop" needs no handler: any click reruns the script, and Streamlit interrupts a running script at its
    # next call (here the progress bar, after every batch). The epochs finished so far were kept by _keep.
    col_stop.button(t("why_residual.live_stop"), key="rvw_live_stop")
    if start:
        slot = ui_state.training_slot()
        if not slot.acquire(blocking=False):
            st.info(t("why_residual.live_busy"))
        else:
            st.session_state["rvw_live"] = None
            st.session_state["rvw_live_done"] = False
            bar = st.progress(0.0, text=t("why_residual.live_preparing"))

            def _progress(done: int, total: int, label: str, epoch: int) -> None:
                kind, depth = label.split("-")
                bar.progress(
                    done / total,
                    text=t(
                        "why_residual.live_progress",
                        net=t(f"why_residual.run_{kind}", depth=depth),
                        epoch=epoch + 1,
                        epochs=live_cfg.epochs,
                        pct=round(100 * done / total),
                    ),
                )

            def _keep(result: ex.DegradationResult) -> None:
                st.session_state["rvw_live"] = result.to_dict()

            started = time.perf_counter()
            try:
                result = ex.train_degradation(
                    live_cfg,
                    device=ui_state.device(),
                    progress=_progress,
                    step_guard=ui_state.forward_gate,
                    on_epoch=_keep,
                )
                st.session_state["rvw_live"] = result.to_dict()
                st.session_state["rvw_live_done"] = True
                st.session_state["rvw_live_seconds"] = (time.perf_counter() - started, result.device)
            except (RuntimeError, ValueError) as err:
                st.error(t("common.error", message=err))
            finally:
                slot.release()
            bar.empty()
    live = st.session_state.get("rvw_live")
    if live and any(run["test_error"] for run in live["runs"]):
        if not st.session_state.get("rvw_live_done"):
            st.warning(t("why_residual.live_stopped"))
        st.plotly_chart(fr.degradation_figure(live, t), width="stretch", key="rvw_live_chart")
        st.caption(t("why_residual.live_caption"))
        took = st.session_state.get("rvw_live_seconds")
        if took and st.session_state.get("rvw_live_done"):
            st.caption(t("why_residual_training.deg_live_took", seconds=f"{took[0]:.0f}", device=took[1]))
