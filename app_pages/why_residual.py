"""Why residual: the problem (vanishing/exploding gradients, degradation), the idea (F(x) = H(x) − x, identity at
init, measured), gradient flow live, the degradation experiment (shipped curves + a live run) and block deletion."""

from __future__ import annotations

import json
import time

import streamlit as st

from app_pages.sections import landscape, why_training
from resnet_viz import experiments as ex
from resnet_viz import paths, ui
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.render import figures_residual as fr

t = ui.translator()
s = ui.view()
CURVES = paths.CURVES_DIR
GRAD_ARCHS = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34"]
#: The ImageNet pair runs at a small input so that one backward pass stays a second or two on a CPU.
GRAD_IMAGENET_SIZE = 64
#: The gradient-flow measurement is repeated for these random seeds; the chart shows the first.
GRAD_SEEDS = (0, 1, 2, 3)
GRAD_BATCH = 16


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pp(x: float) -> str:
    return f"{100 * x:.1f}"


def _seed_list(seeds: list[int] | tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in seeds)


def _load_json(name: str) -> dict | None:
    try:
        return json.loads((CURVES / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def removal_reading(summaries: dict[str, dict], depth: int) -> list[str]:
    """The reading of the block-deletion sweep, every count, range and block name taken from ``summaries``."""
    lines = []
    res = next((v for k, v in summaries.items() if not k.startswith("plain")), None)
    plain = next((v for k, v in summaries.items() if k.startswith("plain")), None)
    res_net = t("why_residual.run_resnet", depth=depth)
    plain_net = t("why_residual.run_plain", depth=depth)
    if res is not None:
        if res["worst"]:
            worst = ("、" if s.lang == "zh" else ", ").join(
                f"{name} ({100 * rise:+.1f} pp)"
                for name, rise in zip(res["worst_blocks"], res["worst_rises"])
            )
            lines.append(
                t(
                    "why_residual.rm_res_reading"
                    if 2 * res["small"] >= res["blocks"]
                    else "why_residual.rm_res_reading_hurt",
                    net=res_net,
                    small=res["small"],
                    blocks=res["blocks"],
                    thr=_pp(ex.summaries.SMALL_RISE),
                    worst=worst,
                )
            )
        else:
            lines.append(t("why_residual.rm_res_reading_none", net=res_net, blocks=res["blocks"]))
    if plain is not None:
        text = t(
            "why_residual.rm_plain_reading",
            net=plain_net,
            near=plain["near_chance"],
            blocks=plain["blocks"],
            margin=_pp(ex.summaries.NEAR_CHANCE_MARGIN),
            chance=_pct(plain["chance"]),
            mean=f"{100 * plain['mean_rise']:+.1f}",
        )
        if plain["rest_min"] is not None and plain["near_chance"] > 0:
            text += ("" if s.lang == "zh" else " ") + t(
                "why_residual.rm_plain_rest",
                rest=plain["blocks"] - plain["near_chance"],
                lo=_pct(plain["rest_min"]),
                hi=_pct(plain["rest_max"]),
            )
        lines.append(text)
    if (
        res is not None
        and plain is not None
        and plain["baseline"] - res["baseline"] >= ex.summaries.LEVEL_TOLERANCE
    ):
        lines.append(
            t(
                "why_residual.rm_weaker",
                plain=plain_net,
                plain_base=_pct(plain["baseline"]),
                res_base=_pct(res["baseline"]),
            )
        )
    return lines


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
st.markdown(t("why_residual.id_intro", net=ui.arch_title(id_arch), size=id_size, batch=ex.IDENTITY_BATCH))
try:
    rows_zero = ui.cached_identity_at_init(id_arch, id_size, True)
    rows_default = ui.cached_identity_at_init(id_arch, id_size, False)
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
                }
                for z, d in zip(rows_zero, rows_default)
            ],
            hide_index=True,
        )

# ---------------------------------------------------------------- 3. gradient flow
st.header(t("why_residual.grad_header"))
st.markdown(
    t("why_residual.grad_intro", batch=GRAD_BATCH, seeds=len(GRAD_SEEDS), seed_list=_seed_list(GRAD_SEEDS))
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
    st.markdown(
        t(
            "why_residual.grad_summary",
            seed=flow.seed,
            plain_first=f"{flow.plain[0]:.3g}",
            plain_last=f"{flow.plain[-1]:.3g}",
            plain_spread=f"{max(flow.plain) / min(flow.plain):.3g}",
            res_first=f"{flow.residual[0]:.3g}",
            res_last=f"{flow.residual[-1]:.3g}",
            res_spread=f"{max(flow.residual) / min(flow.residual):.3g}",
        )
    )
    g = ex.gradient_summary(flows)
    st.markdown(
        t(
            "why_residual.grad_seeds",
            seeds=g["seeds"],
            arch=ui.arch_title(grad_arch),
            first_ratio=ex.fmt_range(*g["first_ratio"]),
            growth=ex.fmt_range(*g["growth"], digits=3),
            plain_first_last=ex.fmt_range(*g["plain_first_last"]),
            plain_spread=ex.fmt_range(*g["plain_spread"]),
            res_spread=ex.fmt_range(*g["res_spread"]),
        )
    )
    st.markdown(t("why_residual.grad_reading"))
    ui.dev_caption(
        t(
            "why_residual.grad_method",
            batch=flow.batch_size,
            seed_list=_seed_list([f.seed for f in flows]),
            size=flow.input_size,
        )
    )
else:
    st.info(t("why_residual.grad_hint"))
why_training.render(t, s)

# ---------------------------------------------------------------- 3b. gradients after training steps
# (a separate section with its own i18n file, why_residual_training.toml, is added here by the curves work)

# ---------------------------------------------------------------- 4. degradation
st.header(t("why_residual.deg_header"))
shipped = _load_json(paths.DEGRADATION_FILE)
dataset = (shipped or {}).get("settings", {}).get("dataset", "shapes")
dataset = dataset if dataset in ex.DATASETS else "shapes"
st.markdown(
    t(
        "why_residual.deg_intro",
        dataset=t(f"why_residual.deg_data_{dataset}", classes=ex.DATASETS[dataset]),
    )
)
if shipped is None or not shipped.get("runs"):
    st.warning(t("why_residual.deg_missing"))
else:
    cfg = shipped["settings"]
    seeds = ex.shipped_seeds(shipped)
    ui.figure(fr.degradation_figure(shipped, t), width="stretch")
    st.caption(
        t(
            "why_residual.deg_caption",
            width=cfg["width"],
            w2=2 * cfg["width"],
            w4=4 * cfg["width"],
            n_train=cfg["n_train"],
            n_test=cfg["n_test"],
            epochs=cfg["epochs"],
            seed_list=_seed_list(seeds),
            minutes=round(shipped.get("seconds", 0) / 60),
            device=shipped.get("device", "cpu"),
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
            for run in ex.mean_runs(shipped)
        ],
        hide_index=True,
    )
    comparisons = ex.depth_comparison(shipped)
    for cmp in comparisons:
        kind = "plain" if cmp["plain"] else "resnet"
        diff = cmp["deep_train"] - cmp["shallow_train"]
        # Under half a percentage point is reported as level, not as "0.0 percentage points lower".
        template = "why_residual.deg_compare_level" if cmp["order"] == "level" else "why_residual.deg_compare"
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
        st.markdown(t(f"why_residual.deg_meaning_{kind}_{cmp['order']}"))
        if not cmp["plain"]:
            lag = ex.behind_epochs(shipped, plain=False)
            if lag and lag["behind"]:
                st.markdown(
                    t(
                        "why_residual.deg_behind_one"
                        if len(lag["behind"]) == 1
                        else "why_residual.deg_behind"
                        if lag["contiguous"]
                        else "why_residual.deg_behind_scattered",
                        deep=t("why_residual.run_resnet", depth=lag["deep"]),
                        shallow=t("why_residual.run_resnet", depth=lag["shallow"]),
                        first=lag["behind"][0],
                        last=lag["behind"][-1],
                        count=len(lag["behind"]),
                        epochs=lag["epochs"],
                        worst=lag["worst_epoch"],
                        deep_err=_pct(lag["worst_deep"]),
                        shallow_err=_pct(lag["worst_shallow"]),
                    )
                )
    if comparisons and comparisons[0]["seeds"] > 1:
        spread = max(c["spread"] for c in comparisons)
        st.markdown(t("why_residual.deg_spread", seeds=comparisons[0]["seeds"], spread=_pp(spread)))
    elif comparisons:
        st.markdown(t("why_residual.deg_one_seed"))
    st.markdown(t("why_residual.deg_reading", width=cfg["width"], steps=f"{ex.train_steps(cfg):,}"))
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
    ui.figure(fr.removal_figure(removal, t, metric), width="stretch")
    rm_summaries = ex.removal_summary(removal, metric)
    for label, summary in rm_summaries.items():
        kind = "plain" if label.startswith("plain") else "resnet"
        net = t(f"why_residual.run_{kind}", depth=removal["depth"])
        if not summary["worst"]:
            st.markdown(
                t(
                    "why_residual.rm_summary_none",
                    net=net,
                    blocks=summary["blocks"],
                    base=_pct(summary["baseline"]),
                )
            )
            continue
        st.markdown(
            t(
                "why_residual.rm_summary",
                net=net,
                mean=f"{100 * summary['mean_rise']:+.1f}",
                max=f"{100 * summary['max_rise']:+.1f}",
                worst=summary["worst"],
                blocks=summary["blocks"],
                base=_pct(summary["baseline"]),
            )
        )
    for line in removal_reading(rm_summaries, removal["depth"]):
        st.markdown(line)
    means = {
        ("plain" if k.startswith("plain") else "resnet"): v["mean_rise"] for k, v in rm_summaries.items()
    }
    if means.get("resnet", 0.0) < means.get("plain", 0.0):
        st.markdown(t("why_residual.rm_reading"))
    else:
        st.markdown(
            t(
                "why_residual.rm_reading_not",
                res_mean=f"{100 * means.get('resnet', 0.0):+.1f}",
                plain_mean=f"{100 * means.get('plain', 0.0):+.1f}",
            )
        )
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
                ui.cached_delete_block(str(CURVES), removal["settings"], depth, name),
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
        classes = ex.DATASETS.get(removal["settings"].get("dataset", "shapes"), 10)
        ui.dev_caption(
            t(
                "why_residual.rm_live_caption",
                n_test=removal["settings"]["n_test"],
                classes=classes,
                chance5=_pct(ex.chance_error(classes, "top5_error")),
            )
        )

# ---------------------------------------------------------------- 6. loss landscapes (Li et al. 2018)
landscape.render(t, s)

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
            device=str(ui.device()),
            seconds=ex.LIVE_RUN_SECONDS_2_CORES,
        )
    )
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
