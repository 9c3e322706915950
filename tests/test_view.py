"""The one typed view: its address round trip (pure, ``resnet_viz.links.View``) and its resolution once per rerun
(``resnet_viz.ui.resolve``, through the real app under AppTest)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz import links
from resnet_viz.architecture.trace import trace
from resnet_viz.links import View

APP = Path(__file__).resolve().parent.parent / "app.py"


def test_a_view_is_frozen_and_writes_its_address_in_the_fixed_order() -> None:
    v = View(lang="zh", arch="resnet50", input_size=160, stride_in="1x1", plain=True, step="layer3.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.arch = "resnet18"  # type: ignore[misc]
    assert v.query() == {
        "lang": "zh", "net": "resnet50", "size": "160", "stride": "1x1", "plain": "1", "block": "layer3.1",
    }  # fmt: skip
    assert list(v.query(present=True)) == ["lang", "net", "size", "stride", "plain", "block", "present"]
    assert "block" not in v.query(block=None)


def test_the_stride_is_written_only_for_bottleneck_networks() -> None:
    assert "stride" not in View(lang="en", arch="resnet34", input_size=224, stride_in="1x1").query()
    assert View(lang="en", arch="resnet50", input_size=224).query()["stride"] == "3x3"


def test_page_parameters_are_set_replaced_and_removed_without_touching_the_rest() -> None:
    v = View(lang="en", arch="resnet18", input_size=224)
    w = v.with_page_param("sample", "coffee").with_page_param("step", 3)
    assert w.page_param("sample") == "coffee" and w.page_param("step") == 3 and v.page_param("sample") is None
    assert w.with_page_param("step", 4).page_param("step") == 4
    assert w.with_page_param("sample", None).page_params == (("step", 3),)
    assert w.query()["sample"] == "coffee" and dataclasses.replace(w, page_params=()) == v


def test_every_node_link_is_the_view_with_that_step_and_parses_back_to_it() -> None:
    v = View(lang="zh", arch="resnet50", input_size=224, step="layer2.0", presenter=True)
    steps = links.selectable_steps(trace("resnet50", 224))
    urls = v.step_links(steps)
    assert list(urls) == steps
    for name, url in urls.items():
        query = {k: vals[-1] for k, vals in parse_qs(url.removeprefix("?")).items()}
        assert query == v.query(block=name)
        parsed = links.parse(query).values
        assert parsed["block"] == name and parsed["net"] == "resnet50" and parsed["present"] is True


def test_the_defaults_live_in_links() -> None:
    assert links.start_size("resnet56") == 32 and links.start_size("resnet18") == 224
    steps = links.selectable_steps(trace("resnet20", 32))
    assert links.default_step(steps) == links.DEFAULT_STEP == "layer2.0"
    assert links.default_step(["conv1", "fc"]) == "conv1"
    v = View(lang="en", arch=links.DEFAULT_NET, input_size=links.start_size(links.DEFAULT_NET))
    assert (v.stride_in, v.plain, v.step, v.presenter) == (
        links.DEFAULT_STRIDE,
        False,
        links.DEFAULT_STEP,
        False,
    )


def _counting_app(monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, list[View]]:
    from resnet_viz.ui import resolve as ui_view

    resolved: list[View] = []
    real = ui_view._resolve

    def counting(*args, **kwargs):
        v = real(*args, **kwargs)
        resolved.append(v)
        return v

    monkeypatch.setattr(ui_view, "_resolve", counting)
    return AppTest.from_file(str(APP), default_timeout=120), resolved


def test_the_view_is_resolved_once_per_rerun_and_the_page_reads_that_one(monkeypatch) -> None:
    at, resolved = _counting_app(monkeypatch)
    at.query_params.update({"net": "resnet50", "block": "layer3.1", "lang": "en"})
    at.run()
    assert not at.exception
    assert len(resolved) == 1
    assert at.session_state["rv_view"] is resolved[0]
    assert (resolved[0].arch, resolved[0].step, resolved[0].input_size) == ("resnet50", "layer3.1", 224)
    at.sidebar.toggle(key="rv_plain").set_value(True).run()
    assert not at.exception
    assert len(resolved) == 2 and resolved[1].plain and resolved[1].arch == "resnet50"


def test_a_new_network_starts_at_its_own_size_through_the_widgets(monkeypatch) -> None:
    at, resolved = _counting_app(monkeypatch)
    at.run()
    at.sidebar.selectbox(key="rv_arch").set_value("resnet56").run()
    assert not at.exception
    assert (resolved[-1].arch, resolved[-1].input_size) == ("resnet56", 32)
    assert at.query_params["net"] == "resnet56" and at.query_params["size"] == "32"
