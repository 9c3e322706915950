"""Shortcuts & blocks: the network overview with solid/dashed shortcuts, one block's internals, the kinds of block,
and the paper's Figure 3 (VGG-19 / plain-34 / ResNet-34). Every diagram is DOT text from resnet_viz.render.dot."""

import pandas as pd
import streamlit as st
import torchvision

from resnet_viz import links, ui
from resnet_viz.architecture.catalogue import EXPANSION, V15_TOP1_GAIN_PCT
from resnet_viz.architecture.trace import smallest_input
from resnet_viz.formatting import fmt_int, fmt_shape
from resnet_viz.render import code_view, dot
from resnet_viz.render.figures_shapes import stage_names_note

t = ui.translator()
s = ui.view()

st.title(t("diagrams.page_title"))
st.markdown(t("diagrams.page_intro"))

try:
    tr = ui.trace_of(s)
except ValueError:
    st.error(t("shapes.bad_input", arch=s.arch, size=s.input_size, smallest=smallest_input(s.arch)))
    st.stop()

HAS_DOT = dot.dot_available()


def export(dot_text: str, stem: str) -> None:
    """Download buttons: DOT always; SVG and PNG (rendered only on click) where graphviz 'dot' is installed."""
    row = st.container(horizontal=True)
    row.download_button(t("diagrams.download_dot"), dot_text, file_name=f"{stem}.dot", mime="text/vnd.graphviz",
                        key=f"dl_dot_{stem}", on_click="ignore")  # fmt: skip
    if HAS_DOT:
        row.download_button(t("diagrams.download_svg"), lambda: dot.render(dot_text, "svg"), file_name=f"{stem}.svg",
                            mime="image/svg+xml", key=f"dl_svg_{stem}", on_click="ignore")  # fmt: skip
        row.download_button(t("diagrams.download_png"), lambda: dot.render(dot_text, "png"), file_name=f"{stem}.png",
                            mime="image/png", key=f"dl_png_{stem}", on_click="ignore")  # fmt: skip
    else:
        ui.dev_caption(t("diagrams.no_dot"))


# --- the whole network
st.subheader(t("diagrams.overview_header", title=ui.arch_title(s.arch, plain=tr.plain)))
counts = dot.count_shortcut_edges(dot.overview_dot(tr, t, collapse=False))
blocks = tr.blocks
if tr.plain:
    residual = ui.cached_trace(s.arch, s.input_size, False, s.stride_in)
    res_params = residual.total_params
    if res_params == tr.total_params:
        st.markdown(t("diagrams.overview_plain_equal", n=len(blocks), params=fmt_int(tr.total_params)))
    else:
        st.markdown(
            t(
                "diagrams.overview_plain",
                n=len(blocks),
                res_params=fmt_int(res_params),
                plain_params=fmt_int(tr.total_params),
                diff=fmt_int(residual.shortcut_params),  # all the residual net has more: its shortcuts
            )
        )
else:
    dashed = [b for b in blocks if b.dashed]
    st.markdown(
        t("diagrams.overview_counts", n=len(blocks), solid=counts["solid"], dashed=counts["dashed"],
          dashed_names=t("common.list_sep").join(
              t("common.paper_and_name", paper=b.paper_name, name=b.name) for b in dashed))
    )  # fmt: skip
if tr.family != "imagenet":  # conv2_x … are the paper's names for its ImageNet networks only
    ui.dev_caption(stage_names_note(t, s.arch))
collapse = st.toggle(
    t("diagrams.collapse"), value=dot.default_collapse(tr), key=f"rv_dia_collapse_{s.arch}",
    help=t("diagrams.collapse_help"),
)  # fmt: skip
selected = ui.selected_step()
# Each node links to this page's address with that step selected: the click reloads the view from the address.
live = dot.overview_dot(
    tr, t, collapse=collapse, highlight=selected,
    node_urls=s.step_links(links.selectable_steps(tr)),
)  # fmt: skip
st.caption(t("links.click_hint") + " " + t("links.selected", name=selected))
ui.diagram(live, tall=True)
overview = dot.overview_dot(tr, t, collapse=collapse)  # the download carries no app links
export(overview, f"{tr.arch}{'_plain' if tr.plain else ''}_overview")

# --- why the first Bottleneck block is dashed
if tr.block == "bottleneck" and not tr.plain:
    b0 = tr.row("layer1.0")
    st.info(
        t("diagrams.why_first_dashed", title=ui.arch_title(s.arch), cin=b0.input_shape[0], cout=b0.output_shape[0],
          h=b0.input_shape[1], shape_in=fmt_shape(b0.input_shape), shape_out=fmt_shape(b0.output_shape),
          expansion=EXPANSION["bottleneck"])
    )  # fmt: skip

# --- one block, chosen by the reader
st.subheader(t("diagrams.block_header"))
names = [b.name for b in blocks]
by_name = {b.name: b for b in blocks}
# The one selection: a stem step (conv1, maxpool) shows the first block, a head step (avgpool, fc) the last.
steps = links.selectable_steps(tr)
shown = (
    selected
    if selected in by_name
    else names[0]
    if steps.index(selected) < steps.index(names[0])
    else names[-1]
)
if shown != selected:
    st.caption(t("links.not_a_block", name=selected, shown=shown))
st.session_state["rv_block_pick"] = shown
chosen = st.selectbox(
    t("diagrams.block_pick"), names, key="rv_block_pick", format_func=lambda n: f"{by_name[n].paper_name} · {n}",
    on_change=lambda: ui.select(st.session_state["rv_block_pick"]),
)  # fmt: skip
block = by_name[chosen]
kind = dot.block_kind(tr, block)
st.markdown(t(f"diagrams.explain_{kind}", cin=block.input_shape[0], cout=block.output_shape[0],
              shape_in=fmt_shape(block.input_shape), shape_out=fmt_shape(block.output_shape)))  # fmt: skip
if tr.block == "bottleneck" and block.stride != 1:
    st.caption(t("diagrams.v1_v15", gain=f"{V15_TOP1_GAIN_PCT:g}", area=block.stride**2))
rows = [r for r in tr.rows if r.parent == chosen or (r.parent or "").startswith(chosen + ".")]
# One layer of the block is marked at once in the diagram, the table's selection and the code below.
CODE_KEY = "rv_code_layer"
row_names = {r.name.removeprefix(chosen + ".") for r in rows}
layer_options = [name for name in code_view.LAYERS if name in row_names or f"{name}.0" in row_names]
if st.session_state.get(CODE_KEY) not in layer_options:
    st.session_state[CODE_KEY] = layer_options[0]

# The listings shown below, one tab each: (tab name, table key, source, its style, caption). The style says how
# a layer's lines are found: "python" (named modules), "notes" (the notes' listing) or "zero_pad" (option A).
cls = tr.block_class
torchvision_listing = (
    t("links.code_torchvision", cls=cls), "torchvision", code_view.torchvision_source(tr.block), "python",
    t("links.code_torchvision_caption", version=torchvision.__version__),
)  # fmt: skip
if tr.plain:
    listings = [
        (t("links.code_plain", cls=f"Plain{cls}"), "plain", code_view.plain_source(tr.block), "python",
         t("links.code_plain_caption")),
        torchvision_listing,
    ]  # fmt: skip
elif any(b.shortcut == "zero_pad" for b in tr.blocks):
    # Option A: the notes' listing builds a 1×1 conv shortcut, which this network does not have; show the
    # shortcut it does have.
    listings = [
        torchvision_listing,
        (t("diagrams.code_zero_pad"), "zero_pad", code_view.zero_pad_source(), "zero_pad",
         t("diagrams.code_zero_pad_caption")),
    ]  # fmt: skip
else:
    listings = [
        torchvision_listing,
        (t("links.code_notes"), "notes", code_view.notes_source() if tr.block == "basic" else None, "notes",
         t("links.code_notes_caption", file=code_view.NOTES_FILE)),
    ]  # fmt: skip


def _code_key(kind: str) -> str:
    return f"rv_code_lines_{kind}_{tr.block}"


# A click on a line of a listing (a cell of its table: a click anywhere on the line) selects that line's layer. It is read here,
# before the pills, diagram and table that show the layer are drawn, and only when the selection changed (a line
# stays selected in its table while the pills or the block's table pick another layer).
for _name, kind, source, style, _caption in listings:
    if source is None:
        continue
    selection = (st.session_state.get(_code_key(kind)) or {}).get("selection") or {}
    picked = [int(cell[0]) for cell in selection.get("cells", [])]  # (line, column) of the clicked cell
    seen_key = _code_key(kind) + "_seen"
    if picked != st.session_state.get(seen_key):
        st.session_state[seen_key] = picked
        line_layer = code_view.line_layers(source, notes=style == "notes", zero_pad=style == "zero_pad")
        if picked and picked[0] < len(line_layer) and line_layer[picked[0]] in layer_options:
            st.session_state[CODE_KEY] = line_layer[picked[0]]


def _layer_of(short: str) -> str | None:
    """A table row's layer: conv2 → conv2, bn2 → conv2, downsample.1 → downsample (None for the ReLU)."""
    if short.startswith("downsample"):
        return "downsample"
    name = "conv" + short[2:] if short.startswith("bn") else short
    return name if name in layer_options else None


def _on_row() -> None:
    picked = st.session_state["rv_block_table"].selection.rows
    if picked and (layer := _layer_of(short_names[picked[0]])):
        st.session_state[CODE_KEY] = layer


short_names = [r.name.removeprefix(chosen + ".") for r in rows]
marked = st.session_state[CODE_KEY]
marked_row = f"{chosen}.{marked}" + (".0" if marked == "downsample" else "") if marked else None
# The diagram keeps its natural size (graphviz text at 10 pt) with the table beside it; in presenter mode it takes
# the page's full width and the table goes below it.
left, right = (st.container(), st.container()) if ui.presenting() else st.columns([3, 2])
with left:
    block_text = dot.block_dot(tr, chosen, t)
    ui.diagram(dot.block_dot(tr, chosen, t, highlight=marked_row))
with right:
    st.dataframe(
        {
            t("shapes.col_name"): [r.name.removeprefix(chosen + ".") for r in rows],
            t("shapes.col_output"): [fmt_shape(r.output_shape) for r in rows],
            "k / s / p": [f"{r.kernel}/{r.stride}/{r.padding}" if r.kernel else "" for r in rows],
            t("shapes.col_params"): [fmt_int(r.params) for r in rows],
            t("links.col_selected"): ["◀" if marked and _layer_of(n) == marked else "" for n in short_names],
        },
        hide_index=True, width="stretch", key="rv_block_table", on_select=_on_row, selection_mode="single-row",
    )  # fmt: skip
export(block_text, f"{tr.arch}_{chosen}")

# --- the code beside the picture
st.markdown("#### " + t("links.code_header", block=f"{block.paper_name} · {chosen}"))
st.pills(t("links.code_layer"), layer_options, key=CODE_KEY, help=t("links.code_layer_help"))
row_px = 30 if ui.presenting() else 24
for tab, (_name, kind, source, style, caption) in zip(st.tabs([x[0] for x in listings]), listings):
    with tab:
        if source is None:
            st.info(t("links.code_notes_bottleneck", block=chosen))
            continue
        lines = (
            code_view.layer_lines(source, marked, notes=style == "notes", zero_pad=style == "zero_pad")
            if marked
            else []
        )
        if marked and not lines:
            st.caption(t("links.code_no_layer", layer=marked))
        table = pd.DataFrame(code_view.code_table(source, lines))
        # The marked lines: a ▶ in the first column and a yellow background (a sign, not colour alone).
        styled = table.style.apply(
            lambda row: ["background-color:#fff3b0;font-weight:600" if row.iloc[0] else ""] * len(row), axis=1
        )
        st.dataframe(
            styled, hide_index=True, width="stretch", key=_code_key(kind), on_select="rerun",
            selection_mode="single-cell", row_height=row_px, height=(len(table) + 1) * row_px + 3,
            column_config={
                "mark": st.column_config.TextColumn(" ", width=32),
                "line": st.column_config.NumberColumn("#", width=48),
                "code": st.column_config.TextColumn(t("links.code_col"), width=2000),
            },
        )  # fmt: skip
        ui.dev_caption(caption)

# --- every kind of block in this network, side by side
st.subheader(t("diagrams.kinds_header", block=tr.block_class))
kinds = dot.representative_blocks(tr)
# The stages whose first block has a dashed shortcut, from the residual trace (the plain one has none).
res_blocks = tr.blocks if not tr.plain else ui.cached_trace(s.arch, s.input_size, False, s.stride_in).blocks
dashed_stages = t("common.list_sep").join(
    b.paper_name.rsplit("_", 1)[0] + "_x" for b in res_blocks if b.dashed
)
if tr.plain:  # one kind only: no solid or dashed line to describe
    st.markdown(t("diagrams.kinds_intro_plain", block=tr.block_class))
elif tr.block == "bottleneck":
    st.markdown(t("diagrams.kinds_intro_bottleneck"))
else:
    family = "cifar" if tr.family == "cifar" else "basic"
    st.markdown(t(f"diagrams.kinds_intro_{family}", dashed_stages=dashed_stages))
tabs = st.tabs([f"{t('diagrams.tab_' + k)} · {by_name[n].paper_name}" for k, n in kinds.items()])
for tab, (kind, name) in zip(tabs, kinds.items()):
    with tab:
        b = by_name[name]
        st.markdown(t(f"diagrams.explain_{kind}", cin=b.input_shape[0], cout=b.output_shape[0],
                      shape_in=fmt_shape(b.input_shape), shape_out=fmt_shape(b.output_shape)))  # fmt: skip
        ui.diagram(dot.block_dot(tr, name, t))

# --- the paper's Figure 3
st.subheader(t("diagrams.compare_header"))
st.markdown(t("diagrams.compare_intro"))
compare = dot.compare_dot(t)
ui.diagram(compare, tall=True)
export(compare, "figure3_vgg19_plain34_resnet34")
