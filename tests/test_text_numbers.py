"""Numbers the Shortcuts, Shape walk and Parameters pages quote, formatted from the trace at render time (issue 12
§3): the plain vs residual parameter difference, the notes' listing with its conv biases, the theoretical receptive
field beyond the image, the BatchNorm convention and the per-stage weight growth. Each is checked against a count
made here from the trace, in both languages."""

from __future__ import annotations

import pytest
from apptest_helpers import assert_translated
from streamlit.testing.v1 import AppTest

from resnet_viz import trace
from resnet_viz.architecture import counting
from resnet_viz.formatting import fmt_int
from resnet_viz.i18n import translator


@pytest.fixture
def open_page(app_test):
    """A fresh session in ``lang`` with ``arch`` (plain or not) on ``page``: the app and the page's text."""

    def open_(page: str, lang: str, arch: str, plain: bool = False) -> tuple[AppTest, str]:
        at = app_test(state={"rv_lang": lang, "rv_arch": arch, "rv_plain": plain})
        at.run()
        at.switch_page(page).run()
        assert_translated(at, f"{page} {lang} {arch}")
        parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
        parts += [x.value for x in at.subheader]
        text = "\n".join(str(p) for p in parts)
        return at, text

    return open_


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_plain_overview_states_the_parameter_difference(lang: str, open_page) -> None:
    _, text = open_page("app_pages/shortcuts.py", lang, "resnet34", plain=True)
    plain, res = trace("resnet34", 224, plain=True).total_params, trace("resnet34", 224).total_params
    assert res > plain  # the projection shortcuts' 1×1 convs
    for n in (plain, res, res - plain):
        assert fmt_int(n) in text
    _, text = open_page("app_pages/shortcuts.py", lang, "resnet56", plain=True)
    assert trace("resnet56", 32, plain=True).total_params == trace("resnet56", 32).total_params  # option A
    assert fmt_int(trace("resnet56", 32).total_params) in text
    # the CIFAR networks get their own kinds text: zero-padding, no conv5_x (in the residual network: the plain
    # one has a single kind of block, no solid or dashed line)
    t = translator(lang)
    assert t("diagrams.kinds_intro_plain", block="BasicBlock") in text
    _, text = open_page("app_pages/shortcuts.py", lang, "resnet56")
    assert (
        t("diagrams.kinds_intro_cifar", dashed_stages=t("common.list_sep").join(["conv3_x", "conv4_x"]))
        in text
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_parameters_page_quotes_the_listing_bn_convention_and_stage_growth(lang: str, open_page) -> None:
    _, text = open_page("app_pages/parameters.py", lang, "resnet34_cifar")
    tr = trace("resnet34_cifar", 32)
    convs, biases = counting.listing_conv_biases(tr)
    assert fmt_int(tr.total_params + biases) in text and fmt_int(biases) in text
    assert "seed" not in text.lower()
    _, text = open_page("app_pages/parameters.py", lang, "resnet34")
    tr = trace("resnet34", 224)
    growth = counting.stage_param_growth(tr)
    assert translator(lang)("common.list_sep").join(f"×{g:.1f}" for g in growth) in text
    bn, elements = counting.bn_elementwise(tr)
    assert fmt_int(elements) in text and bn.name in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_receptive_field_caption_says_it_can_exceed_the_image(lang: str, open_page) -> None:
    _, text = open_page("app_pages/architecture.py", lang, "resnet34")
    biggest = max(r.receptive_field for r in trace("resnet34", 224).rows)
    assert biggest > 224 and translator(lang)("shapes.table_caption", max_rf=biggest, size=224) in text
