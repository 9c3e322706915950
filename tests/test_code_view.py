"""The code beside the picture: real sources, the right lines marked, and the Shortcuts page wiring it up."""

from __future__ import annotations

import inspect

from streamlit.testing.v1 import AppTest
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz.render import code_view


def test_torchvision_source_is_the_installed_code() -> None:
    assert code_view.torchvision_source("basic") == inspect.getsource(BasicBlock)
    assert code_view.torchvision_source("bottleneck") == inspect.getsource(Bottleneck)


def test_layer_lines_build_and_call_the_layer() -> None:
    source = code_view.torchvision_source("bottleneck")
    lines = source.splitlines()
    for layer in ("conv1", "conv2", "conv3"):
        found = [lines[i - 1].strip() for i in code_view.layer_lines(source, layer)]
        assert len(found) == 2 and found[0].startswith(f"self.{layer} = ") and f"self.{layer}(" in found[1]
    assert code_view.layer_lines(source, "conv4") == []


def test_the_notes_listing_ships_and_parses() -> None:
    notes = code_view.notes_source()
    compile(notes, "notes", "exec")  # the restored indentation is valid Python
    assert "class resblock(nn.Module)" in notes and not notes.startswith("#")
    lines = notes.splitlines()
    (conv1,) = code_view.layer_lines(notes, "conv1", notes=True)
    assert "kernel_size=3,stride=stride" in lines[conv1 - 1]
    (conv2,) = code_view.layer_lines(notes, "conv2", notes=True)
    assert conv2 > conv1 and "stride=1" in lines[conv2 - 1]
    assert any(
        "kernel_size=1" in lines[i - 1] for i in code_view.layer_lines(notes, "downsample", notes=True)
    )
    assert code_view.layer_lines(notes, "conv3", notes=True) == []  # a BasicBlock has two convolutions


def _listing(at: AppTest, index: int = 0):
    """The code table of the listing in tab ``index`` (columns: mark, line number, code)."""
    return [df for df in at.dataframe if df.key and df.key.startswith("rv_code_lines_")][index].value


def _marked(at: AppTest) -> list[str]:
    table = _listing(at)
    return [code for mark, code in zip(table["mark"], table["code"]) if mark == "▶"]


def test_shortcuts_page_marks_the_same_layer_in_diagram_and_code(app_test) -> None:
    at = app_test(query={"net": "resnet34", "block": "layer2.0", "lang": "en"})
    at.switch_page("app_pages/shortcuts.py").run()
    assert not at.exception
    assert at.session_state["rv_code_layer"] == "conv1"
    at.session_state["rv_code_layer"] = "downsample"
    at.run()
    assert any("self.downsample(x)" in line for line in _marked(at))
    diagram = at.get("graphviz_chart")[1].proto.spec
    assert (
        [ln for ln in diagram.splitlines() if "penwidth=3.5" in ln][0]
        .lstrip()
        .startswith('"layer2.0.downsample.0"')
    )
    at.toggle(key="rv_plain").set_value(True).run()  # a plain twin shows our forward first
    code = "\n".join(_listing(at)["code"])
    assert not at.exception and "self.conv2(out)" in code
    assert "+=" not in code.split("def forward")[1]


def test_line_layers_map_each_line_to_its_layer() -> None:
    source = code_view.torchvision_source("bottleneck")
    by_line = dict(zip(source.splitlines(), code_view.line_layers(source)))
    assert by_line["        out = self.bn2(out)"] == "conv2"  # a BatchNorm belongs to its conv
    assert by_line["        out = self.conv3(out)"] == "conv3"
    assert by_line["            identity = self.downsample(x)"] == "downsample"
    assert by_line["        out = self.relu(out)"] is None
    notes = code_view.notes_source()
    pairs = [
        (line.strip(), layer)
        for line, layer in zip(notes.splitlines(), code_view.line_layers(notes, notes=True))
    ]
    assert [layer for line, layer in pairs if line.startswith("nn.BatchNorm2d")] == [
        "conv1",
        "conv2",
        "downsample",
    ]
    table = code_view.code_table("a\nb\nc", [2])
    assert table == {"mark": ["", "▶", ""], "line": [1, 2, 3], "code": ["a", "b", "c"]}


def test_clicking_a_code_line_selects_its_layer_in_the_diagram(app_test) -> None:
    at = app_test(query={"net": "resnet50", "block": "layer2.0", "lang": "en"})
    at.switch_page("app_pages/shortcuts.py").run()
    assert not at.exception and at.session_state["rv_code_layer"] == "conv1"
    code = list(_listing(at)["code"])
    row = code.index("        out = self.bn3(out)")  # a click on conv3's BatchNorm line
    at.session_state["rv_code_lines_torchvision_bottleneck"] = {"selection": {"cells": [[row, "code"]]}}
    at.run()
    assert not at.exception and at.session_state["rv_code_layer"] == "conv3"
    assert at.pills(key="rv_code_layer").value == "conv3"
    marked = " ".join(_marked(at))
    assert "self.conv3(out)" in marked and "self.conv1(x)" not in marked
    diagram = at.get("graphviz_chart")[1].proto.spec
    (thick,) = [ln.lstrip() for ln in diagram.splitlines() if "penwidth=3.5" in ln]
    assert thick.startswith('"layer2.0.conv3"')
    # the line stays selected in its table: picking another layer with the pills is not undone by it
    at.pills(key="rv_code_layer").set_value("downsample").run()
    assert at.session_state["rv_code_layer"] == "downsample"
    # a line outside any layer selects nothing new
    at.session_state["rv_code_lines_torchvision_bottleneck"] = {"selection": {"cells": [[0, "line"]]}}
    at.run()
    assert not at.exception and at.session_state["rv_code_layer"] == "downsample"
