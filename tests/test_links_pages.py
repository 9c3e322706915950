"""Every address-bar parameter, good and bad, on every page (Streamlit's AppTest with ``at.query_params``).

A shared address opened in a fresh session must show that view on the first run; a bad value gets one notice and
its default while the other values still apply; the address is rewritten from the settings after every run.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.formatting import fmt_code
from resnet_viz.i18n import translator

PAGES = {
    "home": "app_pages/home.py",
    "architecture": "app_pages/architecture.py",
    "shortcuts": "app_pages/shortcuts.py",
    "parameters": "app_pages/parameters.py",
    "why_residual": "app_pages/why_residual.py",
    "feature_maps": "app_pages/feature_maps.py",
}
ZH, EN = translator("zh"), translator("en")


# Offline: the Feature maps page falls back to random weights.
pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def open_page(app_test):
    """A fresh session opening ``page`` at an address with ``query``."""

    def open_(page: str, query: dict[str, str]) -> AppTest:
        at = app_test(timeout=240, query=query)
        if page != "home":
            at.switch_page(PAGES[page])
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def _warnings(at: AppTest) -> list[str]:
    return [str(w.value) for w in at.warning]


def _notice(at: AppTest, t) -> str:
    found = [w for w in _warnings(at) if w.startswith(t("links.notice"))]
    assert len(found) == 1, _warnings(at)
    return found[0]


@pytest.mark.parametrize("page", list(PAGES))
def test_a_shared_address_shows_its_view_on_first_load(page: str, open_page) -> None:
    # A small input keeps the Feature maps page's forward pass short; every other value is a non-default.
    query = {
        "lang": "zh",
        "net": "resnet50",
        "size": "64",
        "stride": "1x1",
        "plain": "1",
        "block": "layer3.1",
    }
    if page == "feature_maps":
        query["sample"] = "coffee"
    at = open_page(page, query)
    ss = at.session_state
    assert (ss["rv_lang"], ss["rv_arch"], ss["rv_input_size"]) == ("zh", "resnet50", 64)
    assert (ss["rv_stride_in"], ss["rv_plain"], ss["rv_block"]) == ("1x1", True, "layer3.1")
    assert at.selectbox(key="rv_arch").label == ZH("common.network")  # the page speaks Chinese
    assert not [w for w in _warnings(at) if w.startswith(ZH("links.notice"))]
    assert {k: at.query_params[k] for k in query} == query  # the address keeps the view
    assert any("layer3.1" in c.value for c in at.code)  # the share box shows the link
    if page == "feature_maps":  # the channel grid shows the selected block, of the linked photo
        assert (ss["fm_layer"], ss["fm_sample"]) == ("layer3.1", "coffee")
        at.button(key="fm_tile_layer4.2").click().run()  # a stage tile selects that stage's output
        assert ss["rv_block"] == at.query_params["block"] == "layer4.2" and ss["fm_layer"] == "layer4.2"


@pytest.mark.parametrize("page", list(PAGES))
def test_bad_values_get_one_notice_and_their_defaults(page: str, open_page) -> None:
    query = {"lang": "zh", "net": "resnet18", "size": "abc", "block": "layer9.9", "colour": "red",
             "stride": "x" * 5000, "plain": "maybe"}  # fmt: skip
    at = open_page(page, query)
    ss = at.session_state
    assert (ss["rv_lang"], ss["rv_arch"]) == ("zh", "resnet18")  # the valid values still apply
    assert ss["rv_input_size"] == 224 and ss["rv_plain"] is False and ss["rv_block"] == "layer2.0"  # defaults
    notice = _notice(at, ZH)
    for bad in ("size=abc", "layer9.9", "`colour`", "5000", "plain=maybe"):
        assert bad in notice, (bad, notice)
    assert "x" * 30 not in notice  # a long value is never repeated whole
    assert (
        "colour" not in at.query_params
        and len(at.query_params["stride"] if "stride" in at.query_params else "") < 5
    )
    assert at.query_params["size"] == "224" and at.query_params["block"] == "layer2.0"
    at.run()  # the notice is shown once: the address no longer holds the bad values
    assert not [w for w in _warnings(at) if w.startswith(ZH("links.notice"))]


@pytest.mark.parametrize(
    ("query", "expected", "noticed"),
    [
        ({"net": "resnet35"}, {"rv_arch": "resnet34"}, "net"),
        ({"size": "-3"}, {"rv_input_size": 224}, "size"),
        ({"size": "20000"}, {"rv_input_size": 224}, "size"),
        ({"net": "resnet20", "size": "48"}, {"rv_arch": "resnet20", "rv_input_size": 48}, None),
        ({"net": "resnet20"}, {"rv_arch": "resnet20", "rv_input_size": 32}, None),  # the network's own size
        ({"lang": "fr"}, {"rv_lang": "en"}, "lang"),
        ({"stride": "2x2", "net": "resnet101"}, {"rv_stride_in": "3x3", "rv_arch": "resnet101"}, "stride"),
        ({"stride": "1x1", "net": "resnet101"}, {"rv_stride_in": "1x1"}, None),
        (
            {"net": "resnet18", "block": "layer3.5"},
            {"rv_block": "layer2.0"},
            "block",
        ),  # resnet18's layer3: 2 blocks
        ({"net": "resnet20", "block": "maxpool"}, {"rv_block": "layer2.0"}, "block"),  # CIFAR: no max-pool
        ({"block": "fc"}, {"rv_block": "fc"}, None),
        ({"present": "1"}, {"rv_present": True}, None),
        ({"present": "yes"}, {"rv_present": False}, "present"),
        ({"step": "99"}, {}, "step"),
        ({"sample": "nope"}, {}, "sample"),
    ],
)
def test_each_parameter_good_and_bad(
    query: dict[str, str], expected: dict[str, object], noticed: str | None, open_page
) -> None:
    at = open_page("home", {"lang": "en", **query} if "lang" not in query else query)
    for key, value in expected.items():
        assert at.session_state[key] == value, (key, query)
    notices = [w for w in _warnings(at) if w.startswith(EN("links.notice"))]
    assert len(notices) == (noticed is not None), (notices, query)
    if noticed:
        assert f"`{noticed}={query[noticed]}`" in notices[0]  # names the bad value
        assert notices[0].count("\n- ") == 1  # and nothing else


#: The red team's probes (issue 22, D5): a backtick in a name or value used to close the notice's code span, so
#: the rest became a live link to another site, or a third-party image that leaks the viewer's address.
INJECTIONS = {"a`[Click](//e.co)`": "1", "net": "`[Click](//e.co)`", "plain": "`![i](//host/p.png)`"}


def test_names_and_values_from_the_address_are_echoed_only_as_code(open_page) -> None:
    at = open_page("home", {"lang": "en", **INJECTIONS})
    notice = _notice(at, EN)
    echoed = [fmt_code("a`[Click](//e.co)`"), fmt_code("net=`[Click](//e.co)`"),
              fmt_code("plain=`![i](//host/p.png)`")]  # fmt: skip
    for span in echoed:
        assert span in notice, (span, notice)
        notice = notice.replace(span, "")
    assert "](" not in notice and "![" not in notice, notice  # no markup outside the spans
    assert notice.count("\n- ") == 3
    assert at.session_state["rv_arch"] == "resnet34" and at.session_state["rv_plain"] is False


def test_block_falls_back_to_the_nearest_when_the_network_changes(open_page) -> None:
    at = open_page("shortcuts", {"net": "resnet50", "block": "layer3.5", "lang": "en"})
    at.selectbox(key="rv_arch").set_value("resnet18").run()
    assert at.session_state["rv_block"] == "layer3.1"
    assert any(
        EN("links.block_moved", net="ResNet-18", old=fmt_code("layer3.5"), new=fmt_code("layer3.1"))
        == i.value
        for i in at.info
    )
    assert at.query_params["block"] == "layer3.1" and at.query_params["net"] == "resnet18"
    # The selection survives a change of page and of language.
    at.switch_page(PAGES["parameters"]).run()
    at.radio(key="rv_lang").set_value("zh").run()
    assert at.session_state["rv_block"] == "layer3.1" and at.query_params["lang"] == "zh"
    assert not at.exception


def test_widgets_update_the_address(open_page) -> None:
    at = open_page("architecture", {})
    at.selectbox(key="rv_arch").set_value("resnet101").run()
    assert at.query_params["net"] == "resnet101" and at.query_params["size"] == "224"
    at.number_input(key="rv_input_size").set_value(96).run()
    at.toggle(key="rv_plain").set_value(True).run()
    assert (at.query_params["size"], at.query_params["plain"]) == ("96", "1")
    at.toggle(key="rv_present").set_value(True).run()
    assert at.query_params["present"] == "1"
