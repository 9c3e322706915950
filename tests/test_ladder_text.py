"""The ladder page's words against the paper and in both languages (second reader's findings, issue 25, round 1).

Reference values are typed from Liu et al. 2022 (arXiv:2201.03545v2): Table 10's means and standard deviations,
Appendix A.1 ("For experiments in 'modernizing a ConvNet' (Section 2), we also use Table 5's setting for
ImageNet-1K, except EMA is disabled"), Table 5 ("layer scale 1e-6"). Layer Scale counts are worked out by hand
from ConvNeXt-T's widths (96, 192, 384, 768) and depths (3, 3, 9, 3).
"""

from __future__ import annotations

import re

import pytest
from test_glossary import GLOSSARY, _half_width

from resnet_viz.architecture.ladder import (
    RUNG_KEYS,
    VARIANTS,
    layer_scale_params,
    max_seed_std,
    rung_trace,
    step_spread,
)
from resnet_viz.architecture.ladder_diff import diff
from resnet_viz.i18n import translator
from resnet_viz.render.dot.ladder import changed_parts, diff_dot, part_dot, parts
from resnet_viz.render.figures_ladder import (
    delta_arrow,
    ladder_figure,
    ladder_rows,
    part_rows,
    part_table,
    rung_label,
)

EN, ZH = translator("en"), translator("zh")

# --------------------------------------------------------------------------------------------- Layer Scale (1)


def test_layer_scale_is_counted_at_the_last_rung_only() -> None:
    assert (
        layer_scale_params("convnext_tiny") == 96 * 3 + 192 * 3 + 384 * 9 + 768 * 3
    )  # one γ per channel per block
    assert all(layer_scale_params(k) == 0 for k in RUNG_KEYS[:-1])


@pytest.mark.parametrize(
    ("lang", "a1", "table5"), [("en", "Appendix A.1", "Table 5"), ("zh", "附录 A.1", "表 5")]
)
def test_the_layer_scale_choice_cites_the_setting_of_every_step(lang: str, a1: str, table5: str) -> None:
    """Appendix A.1: §2's steps use Table 5's setting (EMA off), and Table 5 lists layer scale: the text must not
    present Layer Scale as a last-rung recipe detail."""
    t = translator(lang)
    choice = t("ladder.choices_convnext_tiny", gamma="6,624")
    assert a1 in choice and table5 in choice and "6,624" in choice
    assert "§2" in choice
    assert a1 in t("ladder.ladder_text") and table5 in t("ladder.ladder_text")


# --------------------------------------------------------------------------------------------- seeds' spread (3)

# Table 10: mean ± std (three seeds), typed from the paper.
TABLE_10 = {
    "resnet50": (78.82, 0.07), "stage_ratio": (79.36, 0.07), "patchify": (79.51, 0.18),
    "depth_conv": (78.28, 0.08), "width": (80.50, 0.02), "inverting": (80.64, 0.03), "move_up": (79.92, 0.08),
    "kernel7": (80.57, 0.14), "gelu": (80.62, 0.14), "fewer_acts": (81.27, 0.06), "fewer_norms": (81.41, 0.09),
    "bn_ln": (81.47, 0.09), "convnext_tiny": (81.97, 0.06),
}  # fmt: skip


@pytest.mark.parametrize("key", RUNG_KEYS[1:])
def test_step_spread_compares_the_change_with_both_standard_deviations(key: str) -> None:
    before = RUNG_KEYS[RUNG_KEYS.index(key) - 1]
    (m0, s0), (m1, s1) = TABLE_10[before], TABLE_10[key]
    delta, spread = round((m1 - m0) * 100), round((s0 + s1) * 100)
    step = step_spread(key)
    assert (step.previous, step.delta, step.spread) == (before, delta, spread)
    assert step.beyond == (abs(delta) > spread)


def test_step_spread_takes_both_branches_where_the_paper_says_so() -> None:
    # §2.6: with GELU "the accuracy stays unchanged"; patchify +0.15 ± 0.18; BN → LN +0.06 ± 0.09
    assert (
        not step_spread("gelu").beyond
        and not step_spread("patchify").beyond
        and not step_spread("bn_ln").beyond
    )
    # depthwise conv −1.23, width +2.22, the separate down-sampling layers +0.50
    assert (
        step_spread("depth_conv").beyond
        and step_spread("width").beyond
        and step_spread("convnext_tiny").beyond
    )
    assert step_spread("depth_conv").delta < 0
    with pytest.raises(ValueError, match="not a step"):
        step_spread("resnet50")
    assert max_seed_std() == 0.18  # the patchify stem's


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_ladder_text_no_longer_calls_every_difference_architectural(lang: str) -> None:
    text = translator(lang)("ladder.ladder_text")
    assert "{max_std}" in text and "{within}" in text and "{g_swin}" in text
    assert "so a difference between two rungs is the architecture's" not in text
    assert "about the same" not in text and "大致不变" not in text


# --------------------------------------------------------------------------------------------- metric arrows (4)


def test_delta_arrow_points_down_for_a_decrease() -> None:
    assert delta_arrow(-6464) == "down" and delta_arrow(3) == "up" and delta_arrow(0) == "off"


# --------------------------------------------------------------------------------------------- parts (5)


@pytest.mark.parametrize(("key", "arch"), [("resnet50", "resnet50"), ("convnext_tiny", "convnext_tiny")])
def test_every_part_names_modules_the_torchvision_network_has(key: str, arch: str) -> None:
    import torchvision.models as tvm

    modules = dict(getattr(tvm, arch)().named_modules())
    for row in part_rows(rung_trace(key)):
        for name in row.module.split(", "):
            assert name in modules, (row.part, name)


def test_a_block_row_names_its_container_not_its_first_conv() -> None:
    r50 = {r.part: r for r in part_rows(rung_trace("resnet50"))}
    cnx = {r.part: r for r in part_rows(rung_trace("convnext_tiny"))}
    assert (
        r50["stage1.0"].module == "layer1.0" and r50["stage1.0"].params == 75_008
    )  # 4,096+36,864+16,384+16,384+BN
    assert cnx["stage1.0"].module == "features.1.0" and cnx["stage2.down"].module == "features.2"
    assert r50["stem"].module == "conv1, bn1, relu, maxpool" and cnx["stem"].module == "features.0"
    assert r50["head"].module == "avgpool, fc" and cnx["head"].module == "avgpool, classifier"


# --------------------------------------------------------------------------------------------- zh (6, 7, 8)

_ENGLISH_CITATION = re.compile(r"\bet al\.|\bFigure\b|\bTable\b|\bAppendix\b|mean ± std|regime|foreground")


def test_the_citation_is_worded_per_language() -> None:
    zh = ZH("ladder.cited_caption", paper=ZH("ladder.paper"), figure=ZH("ladder.source_figure"),
            table=ZH("ladder.source_table"), size=224)  # fmt: skip
    assert not _ENGLISH_CITATION.findall(zh), _ENGLISH_CITATION.findall(zh)
    assert "图 2" in zh and "表 10" in zh and not _half_width(zh)
    en = EN("ladder.cited_caption", paper=EN("ladder.paper"), figure=EN("ladder.source_figure"),
            table=EN("ladder.source_table"), size=224)  # fmt: skip
    assert en.count("A ConvNet for the 2020s") == 1 and en.count("arXiv") == 1


def test_english_labels_are_figure_2s() -> None:
    from resnet_viz.architecture.ladder import RUNGS

    for spec in (*RUNGS, *VARIANTS):
        assert rung_label(EN, spec.key) == spec.label


def _rejected(text: str) -> list[str]:
    return [m.group(0) for term in GLOSSARY for p in term["reject"] for m in re.finditer(p, text)]


def _zh_labels(dot: str) -> list[str]:
    return re.findall(r'label="([^"]*)"', dot)


def _zh_rendered() -> list[str]:
    """Every data-derived string the ladder page renders in zh: labels, table cells, chart text, diagrams."""
    texts = [rung_label(ZH, k) for k in (*RUNG_KEYS, *(v.key for v in VARIANTS))]
    texts += [str(v) for row in ladder_rows(ZH) for kv in row.items() for v in kv]
    fig = ladder_figure(ZH)
    texts += [str(x) for trace in fig.data for x in trace.x]
    for key in RUNG_KEYS:
        tr = rung_trace(key)
        texts += [label for part in parts(tr) for label in _zh_labels(part_dot(tr, part, ZH))]
        texts += [str(v) for column, values in part_table(tr, ZH).items() for v in (column, *values)]
    for a, b in zip(RUNG_KEYS, RUNG_KEYS[1:]):
        d = diff(a, b)
        for part in changed_parts(d):
            texts += _zh_labels(diff_dot(d, rung_trace(a), rung_trace(b), part, ZH))
    return texts


def test_zh_rendered_labels_follow_the_glossary() -> None:
    """Labels that come from data (Figure 2's, the diagrams') are rendered text too: no rejected variant ("stem")
    and no ASCII punctuation beside a Chinese character."""
    texts = _zh_rendered()
    assert any("输入部分" in x for x in texts)
    found = {x: hits for x in texts if (hits := _rejected(x) + _half_width(x))}
    assert not found, found


def test_the_glossary_check_sees_a_data_label() -> None:
    assert _rejected("“patchify” stem（宏观设计，§2.2）") and _half_width("▲ 形状改变: k 7→4")


def test_zh_diagrams_use_the_full_width_colon() -> None:
    d = diff("stage_ratio", "patchify")
    zh = _zh_labels(diff_dot(d, rung_trace("stage_ratio"), rung_trace("patchify"), "stem", ZH))
    en = _zh_labels(diff_dot(d, rung_trace("stage_ratio"), rung_trace("patchify"), "stem", EN))
    assert not [x for x in zh if ": " in x], zh
    assert any("：" in x for x in zh) and any(": " in x for x in en)
    assert any("▲ 形状改变：" in x for x in zh), zh
