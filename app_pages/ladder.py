"""ResNet → ConvNeXt: Liu et al. 2022's ladder from torchvision's ResNet-50 to its ConvNeXt-T, one change a rung, with
the paper's cited numbers beside our counts; the diff of any two rungs; recipe vs architecture. Widgets only: the
records come from resnet_viz.architecture.ladder, the diagrams from resnet_viz.render.dot.ladder."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.architecture import ladder
from resnet_viz.architecture.ladder_diff import diff
from resnet_viz.formatting import fmt_code, fmt_int
from resnet_viz.imaging.images import ImageError, sample_images
from resnet_viz.models.weights import WeightsError, recipe_weights
from resnet_viz.render.dot import ladder as dot_ladder
from resnet_viz.render.figures_ladder import (
    delta_arrow,
    diff_table,
    gmacs,
    heat_png,
    ladder_figure,
    ladder_rows,
    part_label,
    part_table,
    record_table,
    renamed_note,
    rung_label,
    signed,
    signed_gmacs,
    signed_si,
    walk_items,
)
from resnet_viz.ui import ladder as ui_ladder

t = ui.translator()
s = ui.view()
ss = st.session_state
SIZE = 224  # the paper's and torchvision's figures are at 224×224; the ladder is shown there whatever the sidebar
KEYS = ladder.RUNG_KEYS
RUNG_KEY, SEEN = "rv_ladder_rung", "rv_ladder_rung_seen"
sep = t("common.list_sep")


def rung_name(key: str) -> str:
    return f"{KEYS.index(key)}. {rung_label(t, key)}"


def points(hundredths: int, *, sign: bool = False) -> str:
    """Hundredths of a point as Table 10 prints them: 15 → '0.15'; with ``sign``, '+0.15' / '−1.23'."""
    text = f"{abs(hundredths) / 100:.2f}"
    return (("+" if hundredths > 0 else "−" if hundredths < 0 else "") + text) if sign else text


# The rung: from the address when it names one this session has not seen yet, else the one shown last.
wanted = str(s.page_param("rung") or ss.get(SEEN) or KEYS[0])
if wanted not in KEYS:  # links.parse lets only rungs through; a session's memory of an older version may not
    wanted = KEYS[0]
if ss.get(SEEN) != wanted and RUNG_KEY in ss:
    ss[RUNG_KEY] = wanted

st.title(t("ladder.title"))
st.markdown(
    t("ladder.intro", first=ladder.RUNGS[0].torchvision, last=ladder.RUNGS[-1].torchvision, n=len(KEYS) - 1)
)
ui.dev_caption(t("ladder.sidebar_note", size=SIZE))

# --- 1. the ladder: Figure 2's numbers (cited) beside ours (computed)
st.subheader(t("ladder.ladder_header"))
first, last = ladder.CITED[KEYS[0]], ladder.CITED[KEYS[-1]]
outcomes = {k: ladder.step_spread(k).outcome for k in KEYS[1:]}
within = [k for k, o in outcomes.items() if o == "within"]
edge = [k for k, o in outcomes.items() if o == "edge"]
text = t("ladder.ladder_text", top1_a=f"{first.figure_top1:.1f}", top1_b=f"{last.figure_top1:.1f}",
         g_a=f"{first.figure_gflops:.1f}", g_b=f"{last.figure_gflops:.1f}",
         g_swin=f"{ladder.SWIN_T.figure_gflops:.1f}", max_std=f"{ladder.max_seed_std():.2f}",
         ls_init=ladder.LAYER_SCALE_INIT, within=sep.join(rung_label(t, k) for k in within))  # fmt: skip
if edge:
    text += " " + t("ladder.ladder_edge", edge=sep.join(rung_label(t, k) for k in edge))
st.markdown(text)
ui.figure(ladder_figure(t, SIZE))


def _on_ladder_row() -> None:
    event = ss.get("rv_ladder_table")
    rows = list(event.selection.rows) if event is not None else []
    if rows:
        ss[RUNG_KEY] = KEYS[rows[0]]


rows = ladder_rows(t, SIZE)
st.dataframe(rows, hide_index=True, width="stretch", key="rv_ladder_table", on_select=_on_ladder_row,
             selection_mode="single-row", height=36 * (len(rows) + 1) + 4)  # fmt: skip
st.caption(t("ladder.cited_caption", paper=t("ladder.paper"), figure=t("ladder.source_figure"),
             table=t("ladder.source_table"), size=SIZE))  # fmt: skip
st.caption(t("ladder.macs_caption"))

# --- 2. one rung
st.subheader(t("ladder.rung_header"))
kw = {} if RUNG_KEY in ss else {"index": KEYS.index(wanted)}
key = st.selectbox(t("ladder.pick_rung"), KEYS, key=RUNG_KEY, format_func=rung_name, **kw)
ss[SEEN] = key
s = ui.set_page_param("rung", key)
spec, tr = ladder.get_rung(key), ladder.rung_trace(key, SIZE)
cited = ladder.CITED[key]
n = KEYS.index(key)
prev = ladder.rung_trace(KEYS[n - 1], SIZE) if n else None
st.markdown(t("ladder.rung_change", rung=rung_label(t, key), change=t(f"ladder.change_{key}"),
              group=t(f"ladder.group_{(spec.group or 'start').lower().replace(' ', '_')}")))  # fmt: skip
if spec.choices:
    st.caption(t(f"ladder.choices_{key}", gamma=fmt_int(ladder.layer_scale_params(key))))
c1, c2, c3, c4 = st.columns(4)
# The deltas keep a true minus sign ("−6,464"); Streamlit reads a string's direction from an ASCII "-", so the
# arrow is given explicitly (delta_arrow), down for a decrease.
d_params = tr.total_params - prev.total_params if prev else 0
d_macs = tr.total_macs - prev.total_macs if prev else 0
d_rf = tr.receptive_field - prev.receptive_field if prev else 0
c1.metric(t("ladder.metric_params"), fmt_int(tr.total_params), delta=signed(d_params) if prev else None,
          delta_color="off", delta_arrow=delta_arrow(d_params))  # fmt: skip
c2.metric(t("ladder.metric_macs"), gmacs(tr.total_macs), delta=signed_gmacs(d_macs) if prev else None,
          delta_color="off", delta_arrow=delta_arrow(d_macs))  # fmt: skip
c3.metric(t("ladder.metric_rf"), tr.receptive_field, delta=signed(d_rf) if prev else None,
          delta_color="off", delta_arrow=delta_arrow(d_rf))  # fmt: skip
c4.metric(t("ladder.metric_top1"), f"{cited.figure_top1:.1f}", help=t("ladder.metric_top1_help"))
if prev is not None:  # the step against the seeds' spread (Table 10), chosen by ladder.step_spread
    step, before = ladder.step_spread(key), ladder.CITED[KEYS[n - 1]]
    st.caption(t(f"ladder.step_{step.outcome}", top1=f"{cited.table_top1:.2f}",
                 std=f"{cited.table_top1_std:.2f}", prev_top1=f"{before.table_top1:.2f}",
                 prev_std=f"{before.table_top1_std:.2f}", delta=points(step.delta, sign=True),
                 spread=points(step.spread)))  # fmt: skip
    if key in ladder.PAPER_READINGS:  # the paper's own reading of a step the seeds leave open
        reading = ladder.PAPER_READINGS[key]
        st.caption(t(f"ladder.reading_{key}", top1=f"{reading.top1:.1f}", gain_r50=f"{reading.gain_r50:.2f}",
                     gain_r200=f"{reading.gain_r200:.2f}"))  # fmt: skip

why = ladder.macs_explanation(key)
# Table 11's GFLOPs of this step and the one before, where the paper's two tables disagree (BN → LN)
r200 = (
    {}
    if why.reason != "paper_inconsistent"
    else {
        "r200": f"{ladder.TABLE_11_GFLOPS[key]:.2f}",
        "r200_before": f"{ladder.TABLE_11_GFLOPS[KEYS[n - 1]]:.2f}",
    }
)
st.markdown(t(f"ladder.reason_{why.reason}", ours=gmacs(why.macs), figure=f"{why.figure_gflops:.1f}",
              table=f"{why.table_gflops:.2f}", norms=fmt_int(why.norm_elements), bias=fmt_int(why.bias_adds),
              acts=fmt_int(why.act_elements), gap_lo=fmt_int(-why.table_gap[1]),
              gap_hi=fmt_int(-why.table_gap[0]), **r200))  # fmt: skip
if why.trace_extra:
    st.caption(t("ladder.trace_extra", extra=fmt_int(why.trace_extra), ours=fmt_int(why.macs),
                 walk=t("nav.architecture")))  # fmt: skip

st.markdown(t("ladder.walk", walk=" → ".join(walk_items(t, tr))))
tab_parts, tab_steps, tab_block = st.tabs(
    [t("ladder.tab_parts"), t("ladder.tab_steps"), t("ladder.tab_block")]
)
with tab_parts:
    st.dataframe(part_table(tr, t), hide_index=True, width="stretch")
    st.caption(t("ladder.totals", params=fmt_int(tr.total_params), macs=fmt_int(tr.total_macs),
                 rf=tr.receptive_field))  # fmt: skip
with tab_steps:
    st.dataframe(record_table(tr, t), hide_index=True, width="stretch", height=420)
    st.caption(t("ladder.steps_caption"))
with tab_block:
    parts = dot_ladder.parts(tr)
    default = "stage2.0" if "stage2.0" in parts else parts[1]
    part = st.selectbox(t("ladder.pick_part"), parts, index=parts.index(default), key=f"rv_ladder_part_{key}",
                        format_func=lambda p: part_label(t, p))  # fmt: skip
    ui.diagram(dot_ladder.part_dot(tr, part, t))
    st.caption(t("ladder.block_caption"))

# --- 3. the diff of two rungs
st.subheader(t("ladder.diff_header"))
st.markdown(t("ladder.diff_intro"))
d1, d2 = st.columns(2)
a_default = KEYS[n - 1] if n else KEYS[0]
b_default = key if n else KEYS[1]
a_key = d1.selectbox(t("ladder.diff_from"), KEYS, index=KEYS.index(a_default), format_func=rung_name,
                     key=f"rv_ladder_a_{key}")  # fmt: skip
b_key = d2.selectbox(t("ladder.diff_to"), KEYS, index=KEYS.index(b_default), format_func=rung_name,
                     key=f"rv_ladder_b_{key}")  # fmt: skip
a_tr, b_tr = ladder.rung_trace(a_key, SIZE), ladder.rung_trace(b_key, SIZE)
d = diff(a_key, b_key, SIZE)
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("ladder.diff_steps"), t("ladder.diff_counts", added=len(d.added), removed=len(d.removed),
                                     changed=len(d.changed)))  # fmt: skip
m2.metric(t("ladder.diff_params"), signed(d.delta_params))
m3.metric(t("ladder.diff_macs"), signed_si(d.delta_macs), help=signed(d.delta_macs))
m4.metric(t("ladder.diff_rf"), signed(d.delta_receptive_field))
if d.identical:
    st.info(t("ladder.diff_identical", a=rung_label(t, a_key), b=rung_label(t, b_key)))
else:
    if d.blocks_added or d.blocks_removed:
        st.markdown(t("ladder.diff_blocks", added=sep.join(d.blocks_added) or "—",
                      removed=sep.join(d.blocks_removed) or "—"))  # fmt: skip
    if d.renamed:
        st.caption(renamed_note(t, d))
    changed = dot_ladder.changed_parts(d)
    if changed:
        part = st.selectbox(t("ladder.diff_part"), changed, key=f"rv_ladder_diff_part_{a_key}_{b_key}",
                            help=t("ladder.diff_part_help", n=len(changed)),
                            format_func=lambda p: part_label(t, p))  # fmt: skip
        ui.diagram(dot_ladder.diff_dot(d, a_tr, b_tr, part, t))
        st.caption(t("ladder.diff_legend"))
    with st.expander(t("ladder.diff_table", n=len(d.added) + len(d.removed) + len(d.changed))):
        st.dataframe(diff_table(d, t, dot_ladder.change_note), hide_index=True, width="stretch")

# --- 4. recipe vs architecture
st.subheader(t("ladder.recipe_header"))
r50 = recipe_weights("resnet50")
v1, v2 = r50[0], r50[-1]
cnx = recipe_weights("convnext_tiny")[-1]
paper_r50, paper_cnx = ladder.CITED[KEYS[0]], ladder.CITED[KEYS[-1]]
st.markdown(t("ladder.recipe_text", v1=f"{v1.acc1:.2f}", v2=f"{v2.acc1:.3f}", gain=f"{v2.acc1 - v1.acc1:.2f}",
              paper_old=f"{ladder.RECIPE_TOP1[0]:.2f}", paper_new=f"{ladder.RECIPE_TOP1[1]:.2f}",
              arch_gain=f"{paper_cnx.table_top1 - paper_r50.table_top1:.2f}",
              paper_r50=f"{paper_r50.table_top1:.2f}", paper_cnx=f"{paper_cnx.table_top1:.2f}"))  # fmt: skip
recipe_rows = {
    t("ladder.col_weights"): [r.weights for r in (v1, v2, cnx)],
    t("ladder.col_acc1"): [f"{r.acc1:.3f}" for r in (v1, v2, cnx)],
    t("ladder.col_acc5"): [f"{r.acc5:.3f}" for r in (v1, v2, cnx)],
    t("ladder.col_cached"): [
        t("ladder.cached_yes") if r.cached else t("ladder.cached_no") for r in (v1, v2, cnx)
    ],
}
st.dataframe(recipe_rows, hide_index=True, width="stretch")
st.caption(t("ladder.recipe_caption", cnx=f"{cnx.acc1:.2f}", v2=f"{v2.acc1:.3f}", v1_resize=v1.resize,
             v2_resize=v2.resize, crop=v1.crop))  # fmt: skip
if not (v1.cached and v2.cached):
    st.caption(
        t(
            "ladder.recipe_download",
            command=fmt_code("python -m resnet_viz download-weights resnet50 --recipes"),
        )
    )
else:  # both weight sets are in the cache: the same photo under each
    st.markdown(t("ladder.photo_intro"))
    samples = sample_images()
    options = [*samples, "upload"]
    pick = st.radio(
        t("ladder.photo_pick"), options, horizontal=True, key="rv_ladder_photo",
        format_func=lambda o: t("ladder.photo_upload") if o == "upload" else t(f"feature_maps.sample_{o}"),
    )  # fmt: skip
    if pick == "upload":
        file = st.file_uploader(t("ladder.photo_upload"), key="rv_ladder_upload")
        data = file.getvalue() if file is not None else None
    else:
        data = samples[pick].read_bytes()
    if data is not None:
        for col, r in zip(st.columns(2), (v1, v2)):
            with col:
                try:
                    reading = ui_ladder.cached_recipe_reading("resnet50", r.name, data)
                except (ImageError, WeightsError) as err:
                    ui.show_error(err, t)
                    break
                st.markdown(t("ladder.photo_title", weights=r.weights, acc=f"{r.acc1:.3f}"))
                st.dataframe(
                    {t("ladder.col_class"): [c for _, c, _ in reading.top5],
                     t("ladder.col_prob"): [f"{p:.1%}" for _, _, p in reading.top5]},
                    hide_index=True, width="stretch",
                )  # fmt: skip
                st.image(
                    heat_png(reading.cropped, reading.cam), width=300,
                    caption=t("ladder.photo_cam", label=reading.top5[0][1]),
                )  # fmt: skip
