"""The Parameters page, driven headless with Streamlit's AppTest.

One AppTest per language, reused across networks (switching the sidebar is what a user does, and it keeps the file
to seconds). Reference figures: seed 002 (1,179,648 vs 69,632 at 256 channels; a 64-channel BasicBlock has
73,728), the formulas of seed 001 and the paper's Table 1; other channel counts are computed here by hand.
"""

from __future__ import annotations

import pytest
from apptest_helpers import assert_translated
from streamlit.testing.v1 import AppTest

from resnet_viz import ARCHS, CATALOGUE

PAGE = "app_pages/parameters.py"
FORMULAS = (
    "18 = 1 + 2×(2+2+2+2) + 1",
    "34 = 1 + 2×(3+4+6+3) + 1",
    "50 = 1 + 3×(3+4+6+3) + 1",
    "101 = 1 + 3×(3+4+23+3) + 1",
    "152 = 1 + 3×(3+8+36+3) + 1",
)


@pytest.fixture(scope="module")
def open_page(app_test):
    """A fresh session in ``lang`` on the Parameters page."""

    def open_(lang: str = "en") -> AppTest:
        at = app_test(timeout=60, state={"rv_lang": lang})
        at.run()
        return at.switch_page(PAGE).run()

    return open_


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
    parts += [e.value for e in at.success] + [e.value for e in at.warning] + [e.value for e in at.error]
    parts += [x.value for x in at.title] + [x.value for x in at.subheader]
    return "\n".join(str(p) for p in parts)


def _ok(at: AppTest, where: str) -> str:
    assert_translated(at, where)
    return _text(at)


@pytest.fixture(scope="module")
def en(open_page) -> AppTest:
    return open_page("en")


def _basic(c: int) -> int:  # two 3×3 convs, C → C
    return 2 * 3 * 3 * c * c


def _bottleneck(c: int) -> int:  # 1×1 C → C/4, 3×3 at C/4, 1×1 C/4 → C
    w = c // 4
    return c * w + 9 * w * w + w * c


def _fmt(n: int) -> str:
    return f"{n:,}"


@pytest.mark.slow  # every network in two languages: ~10 s on 2 cores
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_opens_for_every_network(lang: str, open_page) -> None:
    at = open_page(lang)
    for arch in ARCHS:
        at.selectbox(key="rv_arch").set_value(arch).run()
        text = _ok(at, f"{arch} {lang}")
        assert CATALOGUE[arch].layer_count_formula in text, arch
        assert len(at.get("plotly_chart")) == 3, arch
    at.toggle(key="rv_plain").set_value(True).run()
    _ok(at, f"plain {lang}")
    at.toggle(key="rv_plain").set_value(False).run()


def test_formulas_of_every_imagenet_depth_are_shown(en: AppTest) -> None:
    text = _ok(en, "formulas")
    for formula in FORMULAS:
        assert formula in text
    assert "6n+2 = 6×3+2 = 20" in text


def test_seed_002_numbers_at_256_and_after_the_slider_moves(en: AppTest) -> None:
    assert en.slider(key="params_channels").value == 256
    text = _ok(en, "256")
    for n in (
        "1,179,648",
        "69,632",
        "73,728",
        "3×3×256×256 + 3×3×256×256",
        "1×1×256×64 + 3×3×64×64 + 1×1×64×256",
    ):
        assert n in text
    en.slider(key="params_channels").set_value(128).run()
    text = _ok(en, "128")
    assert _fmt(_basic(128)) == "294,912" and _fmt(_bottleneck(128)) == "17,408"
    assert "294,912" in text and "17,408" in text
    assert _fmt(_basic(32)) in text  # the equal-budget BasicBlock at 128/4 = 32 channels
    assert "1,179,648" not in text
    en.slider(key="params_channels").set_value(512).run()
    text = _ok(en, "512")
    assert _fmt(_basic(512)) in text and _fmt(_bottleneck(512)) in text
    en.slider(key="params_channels").set_value(256).run()


def test_including_batchnorm(en: AppTest) -> None:
    en.toggle(key="params_include_bn").set_value(True).run()
    text = _ok(en, "bn")
    assert _fmt(_basic(256) + 2 * 256 + 2 * 256) in text  # 1,180,672
    assert _fmt(_bottleneck(256) + 2 * 64 + 2 * 64 + 2 * 256) in text  # 70,400
    en.toggle(key="params_include_bn").set_value(False).run()
    assert "1,179,648" in _ok(en, "bn off")


def test_v1_v15_and_projection_for_resnet50(en: AppTest) -> None:
    en.selectbox(key="rv_arch").set_value("resnet50").run()
    text = _ok(en, "resnet50")
    assert "3.858 G" in text and "4.089 G" in text
    assert (
        "The weights have the same shapes and counts, and the 3×3 conv's output is halved" in text
    )  # a sentence
    # conv3_1's dashed shortcut: 1×1×C_in×C_out and its BN's 2×C_out; all four add up to the one total
    assert "1×1×256×512 + BN 2×512 = 131,072 + 1,024 = 132,096" in text
    assert "**2,776,576** parameters" in text and "2,768,896" not in text
    assert "25,557,032" in text  # the per-stage table's total, as torchvision counts it


def test_batch_size_changes_the_activation_memory_caption(en: AppTest) -> None:
    en.number_input(key="params_batch").set_value(7).run()
    assert "(7)" in _ok(en, "batch 7")
    en.number_input(key="params_batch").set_value(32).run()


def test_table_level_switch(en: AppTest) -> None:
    en.selectbox(key="rv_arch").set_value("resnet18").run()
    for level, rows in (("stage", 6), ("block", 2 + 8), ("layer", 1 + 1 + 8 * 4 + 3 * 2 + 1)):
        en.radio(key="params_by_en").set_value(level).run()
        _ok(en, level)
        frame = en.dataframe[0].value
        assert len(frame) == rows, level
        assert int(frame.iloc[:, 3].sum()) == 11_689_512, level
