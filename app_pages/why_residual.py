"""Why residual: the problem (vanishing/exploding gradients, degradation), the idea (F(x) = H(x) − x, identity at
init, measured), gradient flow live, the degradation experiment (shipped curves + a live run) and block deletion."""

from __future__ import annotations

import time

import streamlit as st

from app_pages.sections import landscape, shattered, why_training
from resnet_viz import experiments as ex
from resnet_viz import paths, ui
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import readings, summaries
from resnet_viz.experiments import shipped as shipped_data
from resnet_viz.formatting import fmt_list, fmt_percent, fmt_signed_points
from resnet_viz.i18n import Sentence, say
from resnet_viz.render import figures_residual as fr
from resnet_viz.ui.experiments import IMAGENET_MEASURE_SIZE

t = ui.translator()
s = ui.view()
CURVES = paths.CURVES_DIR
GRAD_ARCHS = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34"]
#: The ImageNet pair runs at a small input so that one backward pass stays a second or two on a CPU.
GRAD_IMAGENET_SIZE = IMAGENET_MEASURE_SIZE
#: The gradient-flow measurement is repeated for these random seeds; the chart shows the first.
GRAD_SEEDS = (0, 1, 2, 3)
GRAD_BATCH = 16
#: The candidate settings' fields that have a column title (why_residual.cand_col_<field>).
CANDIDATE_COLUMNS = ("width", "n_train", "epochs", "strokes", "noise")


def _say(sentence: Sentence) -> str:
    return say(t, sentence, s.lang)


def _candidate_rows(tried: summaries.Candidates) -> list[dict[str, str]]:
    """One row per candidate setting: its settings, the four final training errors, whether it meets the rule."""
    rows = []
    for c in tried.tried:
        row = {t("why_residual.col_candidate"): c.name + (" ✓" if c.name == tried.chosen else "")}
        # a setting without a column title of its own keeps its name in the record
        row |= {
            t(f"why_residual.cand_col_{k}") if k in CANDIDATE_COLUMNS else k: str(v)
            for k, v in sorted(c.settings.items())
        }
        row |= {
            _say(readings.net_name(ExperimentNet.parse(k))): fmt_percent(v) for k, v in c.final_train.items()
        }
        row[t("why_residual.col_meets")] = (
            t("why_residual.yes") if c.meets_conditions else t("why_residual.no")
        )
        rows.append(row)
    return rows


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
st.markdown(_say(readings.remedies()))

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
id_size = ui.identity_input_size(id_arch)
st.markdown(t("why_residual.id_intro", net=ui.arch_title(id_arch), size=id_size, batch=ex.IDENTITY_BATCH))
try:
    rows_zero = ui.cached_identity_at_init(id_arch, id_size, True)
    rows_default = ui.cached_identity_at_init(id_arch, id_size, False)
except (RuntimeError, ValueError) as err:
    st.error(t("common.error", message=err))
else:
    st.markdown(_say(readings.identity_sentence(rows_zero, rows_default)))
    ui.figure(fr.identity_figure(rows_zero, rows_default, t), width="stretch")
    with st.expander(t("why_residual.id_table")):
        st.dataframe(
            [
                {
                    t("why_residual.col_block"): z.name,
                    "‖x‖": round(z.input_norm, 3),
                    t("why_residual.col_f_zero"): z.residual_norm,
                    t("why_residual.col_out_zero"): z.output_minus_shortcut,
                    t("why_residual.col_f_default"): round(d.residual_norm, 3),
                    t("why_residual.col_s_default"): round(d.shortcut_norm, 3),
                }
                for z, d in zip(rows_zero, rows_default)
            ],
            hide_index=True,
        )

# ---------------------------------------------------------------- 3. gradient flow
st.header(t("why_residual.grad_header"))
st.markdown(
    t(
        "why_residual.grad_intro",
        batch=GRAD_BATCH,
        seeds=len(GRAD_SEEDS),
        seed_list=fmt_list(GRAD_SEEDS, t("common.list_sep")),
    )
)
grad_arch = st.selectbox(
    t("why_residual.grad_pick"),
    GRAD_ARCHS,
    index=GRAD_ARCHS.index("resnet56"),
    format_func=lambda a: ui.arch_title(a, s.lang),
    key="rvw_grad_arch",
)
grad_size = GRAD_IMAGENET_SIZE if get_spec(grad_arch).family == "imagenet" else 32
if st.button(t("why_residual.grad_run"), key="rvw_grad_run", type="primary"):
    with st.spinner(t("why_residual.grad_running")):
        st.session_state["rvw_grad_result"] = [
            ui.cached_gradient_flow(grad_arch, grad_size, GRAD_BATCH, seed) for seed in GRAD_SEEDS
        ]
flows = st.session_state.get("rvw_grad_result")
if isinstance(flows, list) and flows and flows[0].arch == grad_arch:
    flow = flows[0]
    ui.figure(fr.gradient_flow_figure(flow, t), width="stretch")
    for sentence in readings.gradient_flow_sentences(flows, ui.arch_title(grad_arch)):
        st.markdown(_say(sentence))
    st.markdown(_say(readings.gradient_flow_reading(flows)))
    ui.dev_caption(_say(readings.gradient_method(flows, ui.arch_title(grad_arch, s.lang))))
else:
    st.info(t("why_residual.grad_hint"))
why_training.render(t, s, GRAD_BATCH, GRAD_SEEDS)

# ---------------------------------------------------------------- 3b. gradients after training steps
# (a separate section with its own i18n file, why_residual_training.toml, is added here by the curves work)

# ---------------------------------------------------------------- 4. degradation
st.header(t("why_residual.deg_header"))
shipped = shipped_data.degradation()
st.markdown(_say(readings.degradation_intro(shipped)))
if shipped is None or not shipped.get("runs"):
    st.warning(t("why_residual.deg_missing"))
else:
    cfg = shipped["settings"]
    ui.figure(fr.degradation_figure(shipped, t), width="stretch")
    st.caption(_say(readings.degradation_caption(shipped)))
    st.dataframe(
        [
            {
                t("why_residual.col_net"): _say(readings.net_name(run.net)),
                t("why_residual.col_train_final"): fmt_percent(run.train_error[-1]),
                t("why_residual.col_test_final"): fmt_percent(run.test_error[-1]),
                t("why_residual.col_train_best"): fmt_percent(min(run.train_error)),
            }
            for run in ex.mean_runs(shipped)
        ],
        hide_index=True,
    )
    for sentence in readings.degradation_sentences(shipped):
        st.markdown(_say(sentence))
    st.markdown(_say(readings.degradation_reading(cfg)))
    for sentence in readings.candidate_sentences(shipped):
        st.markdown(_say(sentence))
    with st.expander(t("why_residual.deg_settings")):
        st.markdown(_say(readings.reproduce_sentence(shipped)))
        tried = summaries.candidates(shipped)
        if tried is not None:
            st.dataframe(_candidate_rows(tried), hide_index=True)
        # The record as stored, less the curves and the candidates (shown in words and in the table above).
        st.json({k: v for k, v in shipped.items() if k not in ("runs", "candidates")}, expanded=False)

# The live run is drawn here but executed at the end of the script, so the rest of the page is on screen while
# it trains (Streamlit draws elements in the order the script runs).
live_box = st.container()

# ---------------------------------------------------------------- 4c. shattered gradients (Balduzzi et al. 2017)
# after the degradation curves, which its reading refers back to
shattered.render(t, s)

# ---------------------------------------------------------------- 5. deleting one block
st.header(t("why_residual.rm_header"))
st.markdown(t("why_residual.rm_intro"))
removal = shipped_data.removal()
if removal is None or not paths.net_weights_path(ExperimentNet(removal["depth"], plain=False)).exists():
    st.info(t("why_residual.rm_needs_training"))
else:
    metric = st.radio(
        t("why_residual.rm_metric"),
        ["top1_error", "top5_error"],
        format_func=lambda m: t(f"why_residual.rm_axis_{m}"),
        horizontal=True,
        key="rvw_rm_metric",
    )
    ui.figure(fr.removal_figure(removal, t, metric), width="stretch")
    seed_note = readings.removal_seed_sentence(shipped, removal)
    if seed_note is not None:
        st.markdown(_say(seed_note))
    for sentence in readings.removal_sentences(ex.removal_summary(removal, metric), removal):
        st.markdown(_say(sentence))
    depth = removal["depth"]
    names = list(removal["nets"][ExperimentNet(depth, plain=False).label]["blocks"])
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
                ui.cached_delete_block(str(CURVES), removal["settings"], depth, name),
            )
        except (OSError, RuntimeError, ValueError) as err:
            st.error(t("common.error", message=err))
    done = st.session_state.get("rvw_rm_result")
    if done and done[0] == name:
        cols = st.columns(2)
        for col, res in zip(cols, done[1]):
            title = _say(readings.net_name(res.net))
            if res.deleted is None:
                col.metric(title, t("why_residual.rm_impossible"))
                continue
            before, after = res.intact[metric], res.deleted[metric]
            change = fmt_signed_points(after - before, ascii_minus=True)
            col.metric(  # a change that rounds to 0.0 has no direction: Streamlit would draw it as a rise
                t("why_residual.rm_metric_label", net=title, block=name),
                fmt_percent(after),
                delta=f"{change} pp",
                delta_color="off" if change == "0.0" else "inverse",
                delta_arrow="off" if change == "0.0" else "auto",
            )
        ui.dev_caption(_say(readings.deletion_caption(removal)))

# ---------------------------------------------------------------- 6. loss landscapes (Li et al. 2018)
landscape.render(t, s)

# ---------------------------------------------------------------- 4b. the live run (drawn in live_box above)
with live_box:
    st.subheader(t("why_residual.live_header"))
    live_cfg = ex.LIVE_CONFIG
    st.markdown(_say(readings.live_intro(live_cfg, shipped, str(ui.device()), ex.LIVE_RUN_SECONDS_2_CORES)))
    col_go, col_stop = st.columns(2)
    start = col_go.button(t("why_residual.live_start"), key="rvw_live_start", type="primary")
    # "Stop" needs no handler: any click reruns the script, and Streamlit interrupts a running script at its
    # next call (here the progress bar, after every batch). The epochs finished so far were kept by _keep.
    col_stop.button(t("why_residual.live_stop"), key="rvw_live_stop")
    if start:
        slot = ui.training_slot()
        if not slot.acquire(blocking=False):
            st.info(t("why_residual.live_busy"))
        else:
            st.session_state["rvw_live"] = None
            st.session_state["rvw_live_done"] = False
            bar = st.progress(0.0, text=t("why_residual.live_preparing"))

            def _progress(done: int, total: int, label: str, epoch: int) -> None:
                bar.progress(
                    done / total,
                    text=t(
                        "why_residual.live_progress",
                        net=_say(readings.net_name(ExperimentNet.parse(label))),
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
                    device=ui.device(),
                    progress=_progress,
                    step_guard=ui.forward_gate,
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
        ui.figure(fr.degradation_figure(live, t), width="stretch", key="rvw_live_chart")
        st.caption(t("why_residual.live_caption"))
        took = st.session_state.get("rvw_live_seconds")
        if took and st.session_state.get("rvw_live_done"):
            ui.dev_caption(t("why_residual_training.deg_live_took", seconds=f"{took[0]:.0f}", device=took[1]))
