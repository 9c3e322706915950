"""The loss-landscape section of the *Why residual* page (AppTest): the shipped surfaces drawn side by side on one
colour scale, the 3-D view on request, the numbers, and a (shortened) live slice that completes and is reused."""

from __future__ import annotations

import json

import pytest
import torch
from apptest_helpers import assert_translated
from streamlit.testing.v1 import AppTest

from resnet_viz import paths
from resnet_viz.experiments import landscape as ls

PAGE = "app_pages/why_residual.py"


# Tiny nets and batches: one intra-op thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def open_page(app_test):
    """A fresh session in ``lang`` on the Why residual page."""

    def open_(lang: str) -> AppTest:
        at = app_test(timeout=300, state={"rv_lang": lang, "rv_arch": "resnet20"})
        at.run()
        return at.switch_page(PAGE).run()

    return open_


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.info]
    parts += [e.value for e in at.warning] + [e.value for e in at.error] + [x.value for x in at.header]
    return "\n".join(str(p) for p in parts)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.slow  # page reruns plus a 5-point slice of a trained 56-layer net: ~30–90 s on 2 busy cores
@pytest.mark.skipif(not ls.available_nets(), reason="no trained weights shipped")
def test_landscape_section(monkeypatch: pytest.MonkeyPatch, open_page) -> None:
    monkeypatch.setattr(
        ls, "LIVE_POINTS", 5
    )  # the page reads these at run time; the real ones are benchmarked
    monkeypatch.setattr(ls, "LIVE_BATCH", 16)
    at = open_page("en")
    text = _text(at)
    assert_translated(at, "open")
    shipped = [s for net in ls.LANDSCAPE_NETS if (s := ls.load_landscape(net))]
    contours = [f for f in _figures(at) if any(tr.get("type") == "contour" for tr in f["data"])]
    if shipped:
        assert len(contours) == 1
        traces = [tr for tr in contours[0]["data"] if tr["type"] == "contour"]
        assert len(traces) == 2 and all(tr["coloraxis"] == "coloraxis" for tr in traces)  # one shared scale
        summary = shipped[0]["summary"]
        assert f"{100 * summary['nonconvex_share']:.1f}%" in str(at.dataframe[-1].value.to_dict())
        at.toggle(key="rvl_3d").set_value(True).run()
        assert_translated(at, "3-D")
        assert any(tr.get("type") == "surface" for f in _figures(at) for tr in f["data"])
    else:
        assert "make_landscape.py" in text and not contours
    at.button(key="rvl_live_start").click().run()
    assert_translated(at, "live slice")
    slices = [f for f in _figures(at) if any("live" in tr.get("name", "") for tr in f["data"])]
    assert len(slices) == 1
    line = next(tr for tr in slices[0]["data"] if "live" in tr["name"])
    assert len(line["y"]) == 5
    net = at.selectbox(key="rvl_live_net").value
    x, y = ls.eval_batch(ls.shipped_config(), 16)
    with torch.no_grad():
        origin = float(torch.nn.functional.cross_entropy(ls.load_net(net)(x), y))
    assert line["y"][2] == pytest.approx(origin, rel=1e-6)  # the middle point is the trained net itself
    assert f"{origin:.3g}" in _text(at)
    assert paths.trained_weights_path(
        "plain" if net.startswith("plain") else "resnet", int(net[-2:])
    ).exists()
