"""The Shape walk and Shortcuts & blocks pages, driven headless with Streamlit's AppTest.

One AppTest per language is reused across networks (a rerun after changing the sidebar is what a user does, and it
keeps the whole file at a few seconds). Reference figures: the paper's Table 1 (224 → 112 → 56 → 28 → 14 → 7) and
the seed notes (conv3_1: [56, 56, 64] → [28, 28, 128]).
"""

from __future__ import annotations

import pytest
from apptest_helpers import assert_translated
from streamlit.testing.v1 import AppTest

from resnet_viz import ARCHS, CATALOGUE
from resnet_viz.render.dot import count_shortcut_edges

SHAPES = "app_pages/architecture.py"
SHORTCUTS = "app_pages/shortcuts.py"


@pytest.fixture
def open_app(app_test):
    """A fresh session in ``lang``, run once (on the home page)."""

    def open_(lang: str = "en") -> AppTest:
        return app_test(timeout=60, state={"rv_lang": lang}).run()

    return open_


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
    parts += [e.value for e in at.success] + [e.value for e in at.warning] + [e.value for e in at.error]
    parts += [x.value for x in at.title] + [x.value for x in at.subheader]
    return "\n".join(str(p) for p in parts)


def _charts(at: AppTest) -> list[str]:
    return [el.proto.spec for el in at.get("graphviz_chart")]


def _ok(at: AppTest, where: str) -> None:
    assert_translated(at, where)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_pages_open_for_every_network(lang: str, open_app) -> None:
    at = open_app(lang)
    for page in (SHAPES, SHORTCUTS):
        at.switch_page(page).run()
        for arch in ARCHS:
            at.selectbox(key="rv_arch").set_value(arch).run()
            _ok(at, f"{page} {arch} {lang}")
            assert at.session_state["rv_input_size"] == CATALOGUE[arch].default_input
            if page == SHORTCUTS:
                assert len(_charts(at)) >= 4  # overview, chosen block, the kinds, Figure 3
        at.toggle(key="rv_plain").set_value(True).run()
        _ok(at, f"{page} plain {lang}")
        at.toggle(key="rv_plain").set_value(False).run()


def test_shape_walk_resnet34_at_224_shows_the_paper_walk_and_the_arithmetic(open_app) -> None:
    at = open_app()
    at.switch_page(SHAPES).run()
    at.selectbox(key="rv_arch").set_value("resnet34").run()
    text = _text(at)
    assert "224 → 112 → 56 → 28 → 14 → 7" in text
    assert "⌊(224 + 2×3 − 7)/2⌋ + 1 = ⌊223/2⌋ + 1 = **112**" in text  # conv1 7×7/2 p3
    assert "⌊(112 + 2×1 − 3)/2⌋ + 1 = ⌊111/2⌋ + 1 = **56**" in text  # maxpool 3×3/2 p1
    assert "⌊(56 + 2×1 − 3)/2⌋ + 1 = ⌊55/2⌋ + 1 = **28**" in text  # conv3_1's strided 3×3
    assert "⌊(56 + 2×0 − 1)/2⌋ + 1 = ⌊55/2⌋ + 1 = **28**" in text  # its 1×1 projection
    assert "= **14**" in text and "= **7**" in text
    # The seed notes' facts.
    assert "(224, 224, 3)" in text and "224 → 112 → 56" in text and "4×" in text
    assert "[56, 56, 64]" in text and "[28, 28, 128]" in text and "[112, 112, 64]" in text
    # Table: blocks by default, every layer on request.
    blocks = len(at.dataframe[0].value)
    at.toggle(key="rv_shapes_every_layer").set_value(True).run()
    assert len(at.dataframe[0].value) > 5 * blocks // 2
    assert "layer2.0.downsample.0" in at.dataframe[0].value.iloc[:, 1].str.strip().tolist()


def test_shape_walk_follows_the_input_size_and_the_cifar_networks(open_app) -> None:
    at = open_app()
    at.switch_page(SHAPES).run()
    at.selectbox(key="rv_arch").set_value("resnet34").run()
    at.number_input(key="rv_input_size").set_value(32).run()
    assert "32 → 16 → 8 → 4 → 2 → 1" in _text(at)
    at.selectbox(key="rv_arch").set_value("resnet20").run()
    text = _text(at)
    assert "32 → 16 → 8 → 1" in text and "zero-pad" in text
    at.selectbox(key="rv_arch").set_value("resnet34_cifar").run()
    text = _text(at)
    assert "32 → 16 → 8 → 4 → 1" in text and "keeps its 32×32" in text


def test_playground_fills_in_the_formula_and_refuses_impossible_settings(open_app) -> None:
    at = open_app()
    at.switch_page(SHAPES).run()
    assert "= ⌊223/2⌋ + 1 = **112**" in "\n".join(s.value for s in at.success)  # defaults: conv1 of ResNet
    for key, value in (("rv_play_in", 56), ("rv_play_k", 3), ("rv_play_s", 1), ("rv_play_p", 1)):
        at.number_input(key=key).set_value(value)
    at.run()
    assert "⌊(56 + 2×1 − 3)/1⌋ + 1 = ⌊55/1⌋ + 1 = **56**" in at.success[0].value
    at.number_input(key="rv_play_in").set_value(4)
    at.number_input(key="rv_play_k").set_value(15)
    at.number_input(key="rv_play_p").set_value(0)
    at.run()
    assert not at.exception and not at.success
    assert "larger than the padded input" in at.warning[0].value


def test_shortcuts_page_diagrams_follow_the_choices(open_app) -> None:
    at = open_app()
    at.switch_page(SHORTCUTS).run()
    at.selectbox(key="rv_arch").set_value("resnet34").run()
    assert count_shortcut_edges(_charts(at)[0]) == {"solid": 13, "dashed": 3}
    assert "**13 solid**" in _text(at) and "**3 dashed**" in _text(at)
    at.selectbox(key="rv_arch").set_value("resnet50").run()
    assert count_shortcut_edges(_charts(at)[0]) == {"solid": 12, "dashed": 4}
    assert "64→256" in _text(at)  # why the first Bottleneck is dashed
    at.selectbox(key="rv_block_pick").set_value("layer1.0").run()
    assert "1×1 conv, 64→256\\nstride 1" in _charts(at)[1]
    at.toggle(key="rv_plain").set_value(True).run()
    assert count_shortcut_edges(_charts(at)[0]) == {"solid": 0, "dashed": 0}
    at.toggle(key="rv_plain").set_value(False).run()
    # resnet152 starts collapsed ("block × N") and expands on request.
    at.selectbox(key="rv_arch").set_value("resnet152").run()
    assert at.toggle(key="rv_dia_collapse_resnet152").value is True
    assert "Bottleneck × 35" in _charts(at)[0]
    at.toggle(key="rv_dia_collapse_resnet152").set_value(False).run()
    assert count_shortcut_edges(_charts(at)[0]) == {"solid": 46, "dashed": 4}
    # Export: DOT always, SVG/PNG where dot is installed (or a note saying why not).
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download DOT" in labels
    assert ("Download SVG" in labels) or "not installed" in _text(at)
