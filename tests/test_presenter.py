"""Presenter mode's pure parts: Okabe–Ito colours for every diagram and figure, shortcuts still solid vs dashed,
and the pages leaving out developer captions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resnet_viz.architecture.trace import trace
from resnet_viz.i18n import translator
from resnet_viz.render import dot, figures_params, figures_shapes, style

RENDER = Path(style.__file__).resolve().parent
_ATTR = re.compile(r'\b(color|fillcolor|fontcolor|bgcolor)="([^"]*)"')


def test_okabe_ito_palette() -> None:
    assert len(style.OKABE_ITO) == 8 and style.OKABE_ITO["vermillion"] == "#D55E00"
    assert set(style.PRESENTER_MAP.values()) <= style.PRESENTER_COLOURS


def test_every_colour_our_figures_use_has_a_presenter_colour() -> None:
    """A new colour in a figure or diagram must be given its presenter colour (else it would silently be black)."""
    used = set()
    for path in [*(RENDER / "dot").glob("*.py"), *RENDER.glob("figures_*.py")]:
        used |= {c.lower() for c in re.findall(r'"(#[0-9a-fA-F]{6}|rgba\([0-9., ]*\))"', path.read_text())}
    assert used and not used - set(style.PRESENTER_MAP)
    assert style.presenter_colour("rgba(31,119,180,0.2)") == "rgba(0,114,178,0.2)"  # #1f77b4, translucent
    assert style.presenter_colour("#123456") == "#123456"  # a data colour is kept


def _diagrams() -> list[str]:
    t = translator("en")
    out = [dot.compare_dot(t)]
    for arch, size in (("resnet34", 224), ("resnet50", 224), ("resnet20", 32)):
        tr = trace(arch, size)
        out.append(dot.overview_dot(tr, t, collapse=False, highlight=tr.blocks[0].name))
        out += [
            dot.block_dot(tr, b, t, highlight=f"{b}.conv1") for b in dot.representative_blocks(tr).values()
        ]
    return out


@pytest.mark.parametrize("index", range(9))
def test_presenter_dot_uses_only_the_palette_and_keeps_dashed_shortcuts(index: int) -> None:
    normal = _diagrams()[index]
    shown = dot.presenter_dot(normal)
    colours = _ATTR.findall(shown)
    assert colours and {c.upper() for _, c in colours} <= style.PRESENTER_COLOURS
    assert all(c == "#000000" for attr, c in colours if attr == "fontcolor")  # black text
    counts = dot.count_shortcut_edges(shown)
    assert counts == dot.count_shortcut_edges(normal)  # same edges, same solid/dashed
    if counts["dashed"]:
        dashed = [ln for ln in shown.splitlines() if 'class="shortcut"' in ln and 'style="dashed"' in ln]
        assert len(dashed) == counts["dashed"] and all('color="#D55E00"' in ln for ln in dashed)
    # text larger, lines thicker
    size = lambda text: max(float(x) for x in re.findall(r"fontsize=([0-9.]+)", text))  # noqa: E731
    assert size(shown) == pytest.approx(size(normal) * style.PRESENTER_DOT_SCALE)
    assert min(float(x) for x in re.findall(r"penwidth=([0-9.]+)", shown)) >= 1.5


def test_presenter_dot_is_still_valid_graphviz_and_fits_its_box() -> None:
    assert dot.render(dot.presenter_dot(_diagrams()[2]), "svg").startswith(b"<?xml")
    for normal in _diagrams()[2:5]:  # resnet34's block diagrams: a small one is scaled up, a big one down
        svg = dot.render(dot.presenter_dot(normal, fit=(9.0, 7.5)), "svg").decode()
        width, height = map(float, re.search(r'width="([0-9.]+)pt" height="([0-9.]+)pt"', svg).groups())
        assert width <= 9 * 72 + 1 and height <= 7.5 * 72 + 1
        assert width >= 9 * 72 - 2 or height >= 7.5 * 72 - 2  # it touches the box: filled, not just capped


def _colours(node: object, key: str | None = None) -> list[str]:
    if isinstance(node, dict):
        return [c for k, v in node.items() for c in _colours(v, k)]
    if isinstance(node, (list, tuple)):
        return [c for v in node for c in _colours(v, key)]
    return [node] if isinstance(node, str) and key in {"color", "colors", "fillcolor", "bgcolor"} else []


def test_presenter_figures_use_the_palette_and_leave_the_original_alone() -> None:
    t = translator("en")
    tr = trace("resnet50", 224)
    for fig in (
        figures_params.params_treemap(tr, t),
        figures_params.macs_by_stage_bar(tr, t),
        figures_shapes.shape_walk_figure(tr, t, every_layer=False),
    ):
        before = fig.to_plotly_json()
        shown = style.presenter_figure(fig).to_plotly_json()
        assert fig.to_plotly_json() == before
        used = {c.upper() for c in _colours(shown["data"])}
        assert used and used <= style.PRESENTER_COLOURS
        assert shown["layout"]["font"]["size"] == style.PRESENTER_FONT_PX
        assert shown["layout"]["font"]["color"] == "#000000"
        for tr_ in shown["data"]:
            if isinstance(tr_.get("line"), dict) and "width" in tr_["line"]:
                assert tr_["line"]["width"] >= 3


def test_presenter_page_drops_developer_captions_and_draws_palette_diagrams(app_test) -> None:
    at = app_test(query={"net": "resnet34", "block": "layer2.0", "lang": "en"})
    at.switch_page("app_pages/shortcuts.py").run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("torchvision" in c for c in captions)  # the code's source, named normally
    from resnet_viz.models.device import usable_cores

    cores = usable_cores()  # the device caption, in words: "CPU (2 cores)", never "(1 threads)"
    assert f"Computing on: CPU ({cores} core{'s' if cores > 1 else ''})" in captions
    at.toggle(key="rv_present").set_value(True).run()
    assert not at.exception
    left = [c.value for c in at.caption]
    assert len(left) < len(captions) and not any("torchvision" in c for c in left)
    for chart in at.get("graphviz_chart"):
        found = {c.upper() for _, c in _ATTR.findall(chart.proto.spec)}
        assert found <= style.PRESENTER_COLOURS
