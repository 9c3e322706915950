"""Parameters: where every weight and multiply-add lives, the layer-count rule, BasicBlock vs Bottleneck worked out.

Widgets and layout only: the numbers come from resnet_viz.architecture.counting (arithmetic on the trace), the charts from
resnet_viz.render.figures_params, the words from the `parameters` i18n section.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from resnet_viz import links, ui
from resnet_viz.architecture import counting
from resnet_viz.architecture.catalogue import (
    CATALOGUE,
    CONVS_PER_BLOCK,
    EXPANSION,
    V15_TOP1_GAIN_PCT,
    get_spec,
    has_pretrained,
)
from resnet_viz.architecture.trace import Row
from resnet_viz.formatting import fmt_bytes, fmt_int, fmt_macs, fmt_params
from resnet_viz.render import figures_params, figures_shapes

t = ui.translator()
s = ui.view()
spec = get_spec(s.arch)
# In the browser a radio whose option labels change with the language can come back empty for a rerun (seen
# after switching English → 中文); fall back to the default rather than refuse to count.
stride_in = s.stride_in if s.stride_in in ("3x3", "1x1") else "3x3"
PLOTLY_CONFIG = {"displaylogo": False}
#: Every stage after the first halves the map: a stride of 2, so 2² = 4× fewer positions (or 4× more in v1.5).
STAGE_STRIDE = 2

st.title(t("parameters.title"))
st.markdown(t("parameters.intro"))

try:
    tr = ui.cached_trace(s.arch, s.input_size, s.plain, stride_in)
except ValueError:
    st.error(t("parameters.bad_input", arch=ui.arch_title(s.arch, plain=s.plain), size=s.input_size))
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric(t("parameters.total_params"), fmt_int(tr.total_params))
m2.metric(t("parameters.total_macs", size=f"{s.input_size}×{s.input_size}"), fmt_macs(tr.total_macs))
m3.metric(t("parameters.param_memory"), fmt_bytes(counting.parameter_bytes(tr)))
m4.metric(t("parameters.layer_count"), str(spec.depth))
# "The same as torchvision's" only where torchvision ships exactly this layout (not the CIFAR nets, the notes'
# listing, a plain net or a v1 Bottleneck).
if has_pretrained(s.arch, plain=s.plain, stride_in=stride_in):
    ui.dev_caption(t("parameters.source_torchvision", arch=s.arch, params=fmt_int(tr.total_params)))
else:
    ui.dev_caption(t("parameters.source_built"))
# The paper names only the ImageNet networks' stages (Table 1): elsewhere the names follow its style.
paper_column = t("parameters.col_paper" if spec.family == "imagenet" else "parameters.col_paper_style")

tab_where, tab_depth, tab_rule, tab_calc = st.tabs(
    [t("parameters.tab_where"), t("parameters.tab_depth"), t("parameters.tab_rule"), t("parameters.tab_calc")]
)

# ------------------------------------------------------------------ where the parameters are
with tab_where:
    st.subheader(t("parameters.where_heading", title=ui.arch_title(s.arch, plain=s.plain)))
    st.markdown(t("parameters.where_intro"))
    # One widget per language: Chromium showed the radio empty after a language switch (its option labels, and so
    # its identity, change); a fresh widget in the new language starts on the default instead.
    by = st.radio(
        t("parameters.by_label"), counting.LEVELS, key=f"params_by_{s.lang}", horizontal=True,
        format_func=lambda level: t(f"parameters.by_{level}"),
    )  # fmt: skip
    level = by if by in counting.LEVELS else "stage"
    rows = counting.count_table(tr, level)
    selected = ui.selected_step()
    frame = pd.DataFrame(
        {
            paper_column: [r.paper_name for r in rows],
            t("parameters.col_name"): [r.name for r in rows],
            t("parameters.col_kind"): [t(f"parameters.kind_{r.kind}") for r in rows],
            t("parameters.col_params"): [r.params for r in rows],
            t("parameters.col_share"): [r.params / tr.total_params for r in rows],
            t("parameters.col_macs"): [r.macs for r in rows],
            t("links.col_selected"): ["◀" if links.row_holds(r.name, selected) else "" for r in rows],
        }
    )
    st.dataframe(
        frame, hide_index=True, width="stretch", height=min(36 * (len(rows) + 1) + 4, 460),
        key=f"rv_params_table_{level}", selection_mode="single-row",
        on_select=ui.on_row_select(f"rv_params_table_{level}", [r.name for r in rows]),
        column_config={
            t("parameters.col_params"): st.column_config.NumberColumn(format="localized"),
            t("parameters.col_share"): st.column_config.NumberColumn(format="percent"),
            t("parameters.col_macs"): st.column_config.NumberColumn(format="localized"),
        },
    )  # fmt: skip
    st.caption(
        t("parameters.table_total", n=len(rows), params=fmt_int(tr.total_params), macs=fmt_int(tr.total_macs))
        + " " + t("links.click_hint") + " " + t("links.selected", name=selected)
    )  # fmt: skip
    if spec.family != "imagenet":
        st.caption(figures_shapes.stage_names_note(t, s.arch))
    bn = counting.bn_elementwise(tr)
    if bn is not None:
        bn_row, bn_elements = bn
        st.caption(
            t(
                "parameters.bn_macs_note",
                elements=fmt_int(bn_elements),
                name=bn_row.name,
                shape="×".join(str(d) for d in bn_row.output_shape),
                convention=fmt_int(bn_row.macs),
            )
        )
    if spec.family == "seed004":
        n_convs, n_biases = counting.listing_conv_biases(tr)
        st.info(
            t(
                "parameters.listing_bias",
                convs=n_convs,
                listing=fmt_int(tr.total_params + n_biases),
                ours=fmt_int(tr.total_params),
                biases=fmt_int(n_biases),
            )
        )
    st.download_button(
        t("parameters.download_csv"), counting.table_to_csv(rows), file_name=f"{s.arch}_params_by_{level}.csv",
        mime="text/csv", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    ui.figure(figures_params.params_treemap(tr, t), width="stretch", config=PLOTLY_CONFIG, theme=None)
    stage_rows = [r for r in counting.count_table(tr, "stage") if r.kind == "stage"]
    heaviest = max(stage_rows, key=lambda r: r.params)
    busiest = max(stage_rows, key=lambda r: r.macs)
    st.caption(
        t(
            "parameters.treemap_caption",
            heaviest=heaviest.paper_name,
            share=f"{100 * heaviest.params / tr.total_params:.0f}",
            blocks=sum(1 for b in tr.blocks if b.name.startswith(heaviest.name + ".")),
        )  # fmt: skip
    )
    ui.figure(figures_params.macs_by_stage_bar(tr, t), width="stretch", config=PLOTLY_CONFIG, theme=None)
    growth = t("common.list_sep").join(f"×{g:.1f}" for g in counting.stage_param_growth(tr))
    st.caption(
        t(
            "parameters.macs_caption",
            area=STAGE_STRIDE**2,
            most_macs=busiest.paper_name,
            most_params=heaviest.paper_name,
            growth=growth,
        )
    )

# ------------------------------------------------------------------ depth scaling
with tab_depth:
    st.subheader(t("parameters.dash_heading"))
    batch = int(
        st.number_input(
            t("parameters.batch_label"), min_value=1, max_value=1024, value=32, step=1, key="params_batch"
        )
    )
    # The dashboard compares the residual ImageNet networks (the paper's Table 1): at the sidebar's size when an
    # ImageNet network is chosen, at their own 224 otherwise (a CIFAR network's 32 would say little about them).
    # The plain toggle does not apply: its numbers under the names ResNet-34/50 read as the residual networks'.
    dash_size = s.input_size if spec.family == "imagenet" else 224
    stats = counting.depth_scaling(dash_size, batch, plain=False, stride_in=stride_in)
    if s.plain:
        st.caption(t("parameters.dash_residual"))
    ui.figure(
        figures_params.depth_scaling_figure(stats, t, input_size=dash_size, batch_size=batch),
        width="stretch", config=PLOTLY_CONFIG, theme=None,
    )  # fmt: skip
    ui.dev_caption(t("parameters.dash_caption", size=dash_size, batch=batch))
    by_arch = {d.arch: d for d in stats}
    r34, r50 = by_arch["resnet34"], by_arch["resnet50"]

    def change(new: int, old: int) -> str:
        return f"{100 * (new / old - 1):+.0f}%".replace("-", "−")

    st.markdown(
        t(
            "parameters.why_50",
            blocks="+".join(map(str, CATALOGUE["resnet50"].layers)),
            expansion=EXPANSION["bottleneck"],
            d34=r34.depth,
            d50=r50.depth,
            depth_ratio=f"{r50.depth / r34.depth:.2f}",
            p34=fmt_params(r34.params),
            p50=fmt_params(r50.params),
            params_change=change(r50.params, r34.params),
            m34=fmt_macs(r34.macs),
            m50=fmt_macs(r50.macs),
            macs_change=change(r50.macs, r34.macs),
            a34=fmt_bytes(r34.activation_bytes),
            a50=fmt_bytes(r50.activation_bytes),
            act_ratio=f"{r50.activation_bytes / r34.activation_bytes:.1f}",
            c34=CATALOGUE["resnet34"].out_channels,
            c50=CATALOGUE["resnet50"].out_channels,
        )  # fmt: skip
    )
    st.dataframe(
        pd.DataFrame(
            {
                t("parameters.col_network"): [ui.arch_title(d.arch) for d in stats],
                t("parameters.col_depth"): [d.depth for d in stats],
                t("parameters.col_params"): [d.params for d in stats],
                t("parameters.col_macs"): [d.macs for d in stats],
                t("parameters.dash_param_mem"): [fmt_bytes(d.param_bytes) for d in stats],
                t("parameters.dash_act_mem", batch=batch): [fmt_bytes(d.activation_bytes) for d in stats],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={
            t("parameters.col_params"): st.column_config.NumberColumn(format="localized"),
            t("parameters.col_macs"): st.column_config.NumberColumn(format="localized"),
        },
    )

# ------------------------------------------------------------------ the layer-count rule
with tab_rule:
    st.subheader(t("parameters.rule_heading"))
    option_a = (
        spec.shortcut_option == "A"
    )  # dashed shortcuts without a conv: nothing to leave out of the count
    st.markdown(
        t("parameters.rule_intro", formula=spec.layer_count_formula, per=CONVS_PER_BLOCK[spec.block],
          blocks=sum(spec.layers), block_class=spec.block_class)
    )  # fmt: skip
    st.markdown(t("parameters.rule_zero_pad" if option_a else "parameters.rule_projection"))
    # The same table the lesson's slide shows (figures_params.layer_rule_table), this network's row in bold.
    rule_table = figures_params.layer_rule_table(t, s.arch)
    rule_columns = list(rule_table)[:4]  # the last column, the ◀ mark, is the slide's
    lines = ["| " + " | ".join(rule_columns) + " |", "|---|---|---|---|"]
    for i, name in enumerate(CATALOGUE):
        bold = "**" if name == s.arch else ""
        title, block_class, blocks, formula = (rule_table[c][i] for c in rule_columns)
        lines.append(f"| {bold}{title}{bold} | {block_class} | {blocks} | {bold}{formula}{bold} |")
    st.markdown("\n".join(lines))
    st.caption(t("parameters.rule_table_caption"))

    rule = counting.layer_count_rule(s.arch)
    formula = rule.formula + (f" ({counting.cifar_formula(rule.cifar_n)})" if rule.cifar_n else "")
    st.markdown(t("parameters.rule_list_heading", title=ui.arch_title(s.arch), formula=formula))
    legend = "\n".join(
        f"- :gray[{t(f'parameters.reason_{code}')}] — {t(f'parameters.why_{code}')}"
        for code in ("projection", "bn", "relu", "pool", "add", "identity", "zero_pad", "flatten", "softmax")
        if any(i.reason == code for i in rule.not_counted)
    )
    st.markdown(t("parameters.rule_legend") + "\n\n" + legend)

    def describe(item: counting.LayerItem) -> str:
        if item.kind == "conv":
            text = t(
                "parameters.conv_desc",
                k=item.kernel,
                cin=item.in_channels,
                cout=item.out_channels,
                s=item.stride,
            )
        elif item.kind == "fc":
            text = t("parameters.fc_desc", cin=item.in_channels, cout=item.out_channels)
        else:
            text = t(f"parameters.reason_{item.reason}")
        return text

    def paper_and_name(row: Row) -> str:
        return t("common.paper_and_name", paper=row.paper_name, name=row.name)

    stem_items = [i for i in rule.items if i.group == "stem"]
    head_items = [i for i in rule.items if i.group == "head"]

    def line(label: str, items: list[counting.LayerItem]) -> str:
        counted = [f":blue-background[**{i.number}**] {describe(i)}" for i in items if i.counted]
        others: dict[str, int] = {}
        for i in items:
            if not i.counted:
                key = (
                    t("parameters.dashed_note", conv=describe(i))
                    if i.kind == "conv"
                    else t(f"parameters.reason_{i.reason}")
                )
                others[key] = others.get(key, 0) + 1
        grey = t("parameters.list_sep").join(f"{k} ×{n}" if n > 1 else k for k, n in others.items())
        return f"**{label}** — " + " · ".join(counted) + (f" &nbsp; :gray[{grey}]" if grey else "")

    st.markdown(line(t("parameters.group_stem"), stem_items))
    # The rule is about the residual network at its own input size, whatever the sidebar's plain toggle says.
    full = ui.cached_trace(s.arch, spec.default_input)
    block_rows = full.blocks
    for stage_index, stage_name in enumerate(spec.stage_names):
        blocks = [b for b in block_rows if b.name.startswith(stage_name + ".")]
        with st.expander(
            t("parameters.stage_expander", name=spec.paper_stage_names[stage_index], n=len(blocks)),
            expanded=stage_index == 0,
        ):
            st.markdown(
                "\n".join(
                    f"- {line(paper_and_name(b), [i for i in rule.items if i.block == b.name])}"
                    for b in blocks
                )
            )
    st.markdown(line(t("parameters.group_head"), head_items))
    n_counted = len(rule.counted)
    n_projections = sum(1 for i in rule.items if i.reason == "projection")
    st.success(
        t(
            "parameters.rule_total_zero_pad" if option_a else "parameters.rule_total",
            counted=n_counted,
            depth=rule.depth,
            blocks=sum(rule.layers),
            per=rule.convs_per_block,
            projections=n_projections,
            others=len(rule.not_counted) - n_projections,
        )  # fmt: skip
    )

# ------------------------------------------------------------------ BasicBlock vs Bottleneck
with tab_calc:
    st.subheader(t("parameters.calc_heading"))
    st.markdown(t("parameters.calc_intro"))
    channels = int(
        st.slider(
            t("parameters.channels_label"),
            min_value=16,
            max_value=1024,
            value=256,
            step=16,
            key="params_channels",
        )
    )
    include_bn = st.toggle(t("parameters.include_bn"), value=False, key="params_include_bn")
    basic = counting.basic_block_cost(channels, include_bn=include_bn)
    bottle = counting.bottleneck_cost(channels, include_bn=include_bn)

    def block_md(cost: counting.BlockCost, title: str) -> str:
        terms = "\n".join(f"- {c.expression()} = {fmt_int(c.weights)}" for c in cost.terms)
        if cost.include_bn:
            terms += "\n" + "\n".join(f"- BN 2×{c.c_out} = {fmt_int(c.bn_params)}" for c in cost.terms)
        return f"#### {title}\n{terms}\n\n{cost.expression()} = **{fmt_int(cost.total)}**"

    left, right = st.columns(2)
    left.markdown(block_md(basic, t("parameters.basic_title", c=channels)))
    right.markdown(block_md(bottle, t("parameters.bottleneck_title", c=channels, w=channels // 4)))
    st.info(
        t(
            "parameters.ratio",
            basic=fmt_int(basic.total),
            bottleneck=fmt_int(bottle.total),
            ratio=f"{basic.total / bottle.total:.1f}",
        )  # fmt: skip
    )
    st.caption(t("parameters.bn_note_on") if include_bn else t("parameters.bn_note_off"))

    st.markdown("#### " + t("parameters.budget_heading"))
    small = counting.basic_block_cost(channels // 4, include_bn=include_bn)
    st.markdown(
        t(
            "parameters.budget_text",
            w=channels // 4,
            c=channels,
            expr=small.expression(),
            small=fmt_int(small.total),
            bottleneck=fmt_int(bottle.total),
            times=EXPANSION["bottleneck"],
        )  # fmt: skip
    )

    st.markdown("#### " + t("parameters.projection_heading"))
    proj = counting.projection_cost(channels, 2 * channels, include_bn=include_bn)
    bn_part = f" + 2×{2 * channels}" if include_bn else ""
    st.markdown(
        t(
            "parameters.projection_text",
            c=channels,
            c2=2 * channels,
            expr=f"1×1×{channels}×{2 * channels}{bn_part}",
            cost=fmt_int(proj),
        )  # fmt: skip
    )
    real = counting.projections(full)
    if real:
        # One total for the shortcuts, conv and BN together (Trace.shortcut_params), whatever the BN switch above
        # says: it is the number the Shortcuts page gives too, all a residual network has more than its plain one.
        items = []
        for p in real:
            conv = t("parameters.conv_desc", k=1, cin=p.c_in, cout=p.c_out, s=p.stride)
            items.append(
                "- "
                + t(
                    "parameters.projection_item", paper=p.paper_name, name=f"{p.block}.downsample", conv=conv,
                    expr=p.expression(), c=p.c_out, conv_params=fmt_int(p.conv_params),
                    bn_params=fmt_int(p.bn_params), total=fmt_int(p.conv_params + p.bn_params),
                )
            )  # fmt: skip
        st.markdown(
            t(
                "parameters.projection_real",
                title=ui.arch_title(s.arch),
                total=fmt_int(full.shortcut_params),
                share=f"{100 * full.shortcut_params / full.total_params:.1f}",
                where=t("parameters.list_sep").join(p.paper_name.rsplit("_", 1)[0] + "_x" for p in real),
            )  # fmt: skip
            + "\n"
            + "\n".join(items)
        )
    else:
        st.markdown(t("parameters.projection_none", title=ui.arch_title(s.arch)))

    st.markdown("#### " + t("parameters.v15_heading"))
    v_arch = s.arch if spec.block == "bottleneck" else "resnet50"
    v_size = s.input_size if spec.block == "bottleneck" else 224
    variants = counting.stride_variant_macs(v_arch, v_size)
    st.markdown(
        t(
            "parameters.v15_text",
            area=STAGE_STRIDE**2,
            blocks=t("parameters.list_sep").join(paper for _, paper, _, _ in variants.per_block),
            gain=f"{V15_TOP1_GAIN_PCT:g}",
            title=ui.arch_title(v_arch),
            size=v_size,
            v1=fmt_macs(variants.v1_macs),
            v15=fmt_macs(variants.v15_macs),
            v1_exact=fmt_int(variants.v1_macs),
            v15_exact=fmt_int(variants.v15_macs),
            diff=fmt_macs(variants.v15_macs - variants.v1_macs),
            pct=f"{100 * (variants.v15_macs / variants.v1_macs - 1):.1f}",
        )  # fmt: skip
        + "\n"
        + "\n".join(
            "- "
            + t(
                "parameters.v15_item",
                block=t("common.paper_and_name", paper=paper, name=name),
                v1=fmt_macs(a),
                v15=fmt_macs(b),
            )
            for name, paper, a, b in variants.per_block
        )
    )
