"""Shape walk: the trace table, the size/channels chart, every down-sampling step with its arithmetic, a playground."""

import streamlit as st

from resnet_viz import links, ui
from resnet_viz.architecture.catalogue import CONVS_PER_BLOCK, get_spec
from resnet_viz.architecture.trace import conv_out, smallest_input
from resnet_viz.formatting import fmt_int, fmt_macs, fmt_shape
from resnet_viz.render.figures_shapes import (
    down_steps,
    shape_walk_figure,
    spatial_walk,
    stage_names_note,
    walk_rows,
)

t = ui.translator()
s = ui.view()

st.title(t("shapes.title"))
st.markdown(t("shapes.intro"))

try:
    tr = ui.trace_of(s)
except ValueError:
    st.error(t("shapes.bad_input", arch=s.arch, size=s.input_size, smallest=smallest_input(s.arch)))
    st.stop()

# --- the walk in one line, and the headline numbers
walk = spatial_walk(tr)
st.markdown(t("shapes.walk", walk=" → ".join(str(n) for n in walk)), help=t("shapes.walk_help"))
c1, c2, c3, c4 = st.columns(4)
c1.metric(t("shapes.metric_input"), f"({tr.input_size[1]}, {tr.input_size[2]}, {tr.input_size[0]})")
c2.metric(t("shapes.metric_output"), fmt_shape(tr.stages[-1].output_shape))
c3.metric(t("shapes.metric_layers"), tr.layer_count, help=tr.layer_count_formula)
c4.metric(t("shapes.metric_params"), fmt_int(tr.total_params))

spec = get_spec(s.arch)
# Option A nets (the paper's CIFAR ones) have no shortcut conv to leave out of the count.
formula_key = "shapes.layers_formula_zero_pad" if spec.shortcut_option == "A" else "shapes.layers_formula"
st.caption(t(formula_key, formula=tr.layer_count_formula, per=CONVS_PER_BLOCK[spec.block]))
first_stage = tr.row(tr.stages[0].name)
stem_steps = [r for r in tr.rows if r.depth == 0 and r.kind in ("conv", "maxpool")]
steps_text = t("common.list_sep").join(f"{r.name} {r.kernel}×{r.kernel}/{r.stride}" for r in stem_steps)
size_in, size_out = tr.input_size[1], first_stage.input_shape[1]
if size_out != size_in:
    factor = f"{size_in / size_out:g}"
    st.markdown(
        t("shapes.before_stages", size_in=size_in, size_out=size_out, factor=factor, steps=steps_text)
    )
else:
    st.markdown(t("shapes.before_stages_same", size_in=size_in, steps=steps_text))

# --- the facts of the source notes, for ResNet-34 at 224 (computed, not typed in)
ref = ui.cached_trace("resnet34", 224)
ref_c, ref_h, ref_w = ref.input_size
with st.expander(t("shapes.seed_header", size=ref_h), expanded=s.arch == "resnet34"):
    conv1, pool, b = ref.row("conv1"), ref.row("maxpool"), ref.row("layer2.0")
    st.markdown("- " + t("shapes.seed_input", h=ref_h, w=ref_w, c=ref_c))
    st.markdown(
        "- " + t("shapes.seed_reduce", size=ref_h, after_conv1=conv1.output_shape[1],
                 after_pool=pool.output_shape[1], factor=ref_h // pool.output_shape[1])
    )  # fmt: skip
    ci, hi, wi = b.input_shape
    co, ho, wo = b.output_shape
    st.markdown("- " + t("shapes.seed_conv3_1", h_in=hi, w_in=wi, c_in=ci, h_out=ho, w_out=wo, c_out=co))
    c2x, c1 = ref.row("layer1").output_shape, conv1.output_shape
    # The note's slip: it took conv1's output for conv2_x's.
    st.info(t("shapes.seed_note", h2=c2x[1], w2=c2x[2], c2=c2x[0], h1=c1[1], w1=c1[2], c1=c1[0]))

# --- every down-sampling step, with the formula filled in from the trace
st.subheader(t("shapes.down_header"))
st.markdown(t("shapes.down_formula"))
lines = []
for d in down_steps(tr):
    # The block's paper name opens the bracket after the layer's name: "(in conv3_1, 3×3 conv, …" / "（位于 conv3_1，…".
    paper = t("shapes.paper_prefix", paper=d.paper_name) if d.paper_name and d.paper_name != d.name else ""
    key = {
        "conv": "down_conv",
        "maxpool": "down_maxpool",
        "projection": "down_projection",
        "zero_pad": "down_zero_pad",
    }
    lines.append(
        "- " + t(f"shapes.{key[d.kind]}", name=d.name, paper=paper, k=d.kernel, s=d.stride, p=d.padding,
                 cin=d.channels_in, cout=d.channels_out, size_in=d.size_in, num=d.size_in + 2 * d.padding - d.kernel,
                 size_out=d.size_out)
    )  # fmt: skip
st.markdown("\n".join(lines))
# Padding is not only for stride 1 (the notes' summary says it is): every strided step that is padded, and the
# first strided 3×3 conv worked out with and without its padding.
padded = [d for d in down_steps(tr) if d.stride > 1 and d.padding > 0]  # every network has some (tests check)
example = next((d for d in padded if d.kind == "conv" and d.kernel == 3), padded[0])
st.caption(
    t("shapes.keep_size", n=tr.stages[0].output_shape[1], padded=t("common.list_sep").join(d.name for d in padded),
      example=example.name, m=example.size_in, half=example.size_out,
      unpadded=conv_out(example.size_in, example.kernel, example.stride, 0))
)  # fmt: skip

# --- chart
st.subheader(t("shapes.chart_header"))
every_layer = st.toggle(t("shapes.table_every_layer"), key="rv_shapes_every_layer",
                        help=t("shapes.table_every_layer_help"))  # fmt: skip
ui.figure(shape_walk_figure(tr, t, every_layer=every_layer, highlight=ui.selected_step()), width="stretch")

# --- the trace table
st.subheader(t("shapes.table_header"))
cols = ("paper", "name", "kind", "input", "output", "params", "macs", "rf")
# The paper names only the ImageNet networks' stages (Table 1); elsewhere the names are in its style.
col_label = {c: t(f"shapes.col_{c}") for c in cols}
if spec.family != "imagenet":
    col_label["paper"] = t("shapes.col_paper_style")
rows = (
    walk_rows(tr, every_layer=every_layer) if not every_layer else [r for r in tr.rows if r.kind != "stage"]
)
selected = ui.selected_step()
table: dict[str, list] = {col_label[c]: [] for c in cols}
for r in rows:
    indent = "\u2003" * (r.depth if every_layer else 0)
    values = (r.paper_name, indent + r.name, r.kind, fmt_shape(r.input_shape), fmt_shape(r.output_shape),
              fmt_int(r.params), fmt_macs(r.macs) if r.macs else "0", r.receptive_field)  # fmt: skip
    for c, v in zip(cols, values):
        table[col_label[c]].append(v)
# The selected step's rows carry a mark (not colour alone); clicking a row selects its step on every page.
table[t("links.col_selected")] = ["◀" if links.row_holds(r.name, selected) else "" for r in rows]
st.dataframe(
    table, hide_index=True, width="stretch", height=min(36 * (len(rows) + 1), 600), key="rv_shapes_table",
    on_select=ui.on_row_select("rv_shapes_table", [r.name for r in rows]), selection_mode="single-row",
)  # fmt: skip
st.caption(t("links.click_hint") + " " + t("links.selected", name=selected))
if spec.family != "imagenet":
    st.caption(stage_names_note(t, s.arch))
max_rf = max(r.receptive_field for r in tr.rows)
st.caption(t("shapes.table_caption", max_rf=max_rf, size=s.input_size) + " "
           + t("shapes.totals", params=fmt_int(tr.total_params), macs=fmt_macs(tr.total_macs)))  # fmt: skip

# --- playground
st.subheader(t("shapes.play_header"))
st.markdown(t("shapes.play_intro"))
p1, p2, p3, p4 = st.columns(4)
size = p1.number_input(t("shapes.play_in"), min_value=1, max_value=4096, value=224, step=1, key="rv_play_in")
k = p2.number_input(t("shapes.play_k"), min_value=1, max_value=15, value=7, step=1, key="rv_play_k")
stride = p3.number_input(t("shapes.play_s"), min_value=1, max_value=8, value=2, step=1, key="rv_play_s")
pad = p4.number_input(t("shapes.play_p"), min_value=0, max_value=10, value=3, step=1, key="rv_play_p")
size, k, stride, pad = int(size), int(k), int(stride), int(pad)
num = size + 2 * pad - k
if num < 0:
    st.warning(t("shapes.play_impossible", k=k, size_in=size, p=pad, padded=size + 2 * pad))
else:
    out = conv_out(size, k, stride, pad)
    st.success(t("shapes.play_result", size_in=size, p=pad, k=k, s=stride, num=num, out=out))
    if num % stride:
        st.caption(t("shapes.play_dropped", rest=num % stride))
    if out == size:
        st.caption(t("shapes.play_same"))
    if pad > k // 2:
        st.caption(t("shapes.play_big_pad", half=k // 2))
