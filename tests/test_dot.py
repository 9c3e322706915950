"""DOT diagrams: shortcut edges counted on the text (and checked against torchvision's own modules), block internals
against torchvision's strides, Figure 3's VGG-19 (catalogue data) against torchvision's, the golden file, rendering and the CLI.

Golden file: ``tests/golden/resnet34_overview_en.dot``. Refresh it only on purpose, after looking at the new
diagram: ``RESNET_VIZ_UPDATE_GOLDEN=1 pytest tests/test_dot.py -k golden``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from repo import ROOT
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz import ARCHS, CATALOGUE, build_model, trace
from resnet_viz.architecture.catalogue import VGG19_LAYERS
from resnet_viz.cli import main as cli_main
from resnet_viz.i18n import translator
from resnet_viz.render import dot as rdot

GOLDEN = ROOT / "tests" / "golden" / "resnet34_overview_en.dot"
EN = translator("en")
HAS_DOT = shutil.which("dot") is not None
NEEDS_DOT = pytest.mark.skipif(
    not HAS_DOT, reason="graphviz 'dot' program not installed (apt install graphviz)"
)


def _tr(arch: str, **kw):
    return trace(arch, CATALOGUE[arch].default_input, **kw)


def _torchvision_projections(arch: str) -> tuple[int, int]:
    """(blocks, blocks with a downsample) counted on the real network: torchvision's for ImageNet (built on the
    meta device), our torchvision-based build for the CIFAR and seed-004 networks."""
    if CATALOGUE[arch].family == "imagenet":
        with torch.device("meta"):
            model = getattr(tvm, arch)()
    else:
        model = build_model(arch)
    blocks = [m for m in model.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    return len(blocks), sum(b.downsample is not None for b in blocks)


def test_resnet34_and_resnet50_shortcut_counts_match_the_paper() -> None:
    assert rdot.count_shortcut_edges(rdot.overview_dot(_tr("resnet34"), EN)) == {"solid": 13, "dashed": 3}
    assert rdot.count_shortcut_edges(rdot.overview_dot(_tr("resnet50"), EN)) == {"solid": 12, "dashed": 4}


@pytest.mark.parametrize("arch", ARCHS)
def test_expanded_overview_has_one_shortcut_per_block_dashed_where_torchvision_projects(arch: str) -> None:
    text = rdot.overview_dot(_tr(arch), EN, collapse=False)
    blocks, projections = _torchvision_projections(arch)
    counts = rdot.count_shortcut_edges(text)
    assert counts == {"solid": blocks - projections, "dashed": projections}
    # Exactly the shortcut edges carry the class; the dashed ones are labelled with what they do.
    dashed_lines = [ln for ln in text.splitlines() if 'class="shortcut"' in ln and 'style="dashed"' in ln]
    word = "zero-pad" if CATALOGUE[arch].shortcut_option == "A" else "1×1 conv"
    assert all(word in ln for ln in dashed_lines)


@pytest.mark.parametrize("arch", ARCHS)
def test_plain_networks_draw_no_shortcut_and_no_addition(arch: str) -> None:
    text = rdot.overview_dot(_tr(arch, plain=True), EN, collapse=False)
    assert rdot.count_shortcut_edges(text) == {"solid": 0, "dashed": 0}
    assert 'label="+"' not in text
    assert "dashed" not in text


def test_deep_networks_collapse_by_default_into_block_times_n() -> None:
    assert not rdot.default_collapse(_tr("resnet34")) and not rdot.default_collapse(_tr("resnet50"))
    assert rdot.default_collapse(_tr("resnet101")) and rdot.default_collapse(_tr("resnet152"))
    collapsed = rdot.overview_dot(_tr("resnet152"), EN)
    expanded = rdot.overview_dot(_tr("resnet152"), EN, collapse=False)
    # Every dashed first block stays visible; each run of identity blocks becomes one node with one shortcut.
    assert rdot.count_shortcut_edges(collapsed) == {"solid": 4, "dashed": 4}
    assert "Bottleneck × 35" in collapsed  # conv4_2 … conv4_36: layers (3, 8, 36, 3) of the paper's Table 1
    assert "conv4_2 … conv4_36" in collapsed
    assert len(collapsed.splitlines()) < len(expanded.splitlines()) / 3


def test_overview_edges_carry_the_shapes_of_the_walk() -> None:
    text = rdot.overview_dot(_tr("resnet34"), EN)
    for shape in ("3×224×224", "64×112×112", "64×56×56", "128×28×28", "256×14×14", "512×7×7"):
        assert f'label="{shape}"' in text


def test_golden_resnet34_overview() -> None:
    text = rdot.overview_dot(_tr("resnet34"), EN)
    if os.environ.get("RESNET_VIZ_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with RESNET_VIZ_UPDATE_GOLDEN=1 once, look at it, commit it"
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "overview DOT changed; if on purpose, refresh with RESNET_VIZ_UPDATE_GOLDEN=1"
    )


def _labels(text: str) -> dict[str, str]:
    """node id -> label, for node statements."""
    out = {}
    for m in re.finditer(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"', text, re.M):
        out[m.group(1)] = m.group(2)
    return out


@pytest.mark.parametrize("stride_in", ["3x3", "1x1"])
def test_bottleneck_internals_show_torchvision_strides_and_mark_v1_v15(stride_in: str) -> None:
    tr = trace("resnet50", 224, stride_in=stride_in)
    model = build_model("resnet50", stride_in=stride_in)
    text = rdot.block_dot(tr, "layer2.0", EN)
    labels = _labels(text)
    for conv in ("conv1", "conv2", "conv3"):
        module = model.get_submodule(f"layer2.0.{conv}")
        label = labels[f"layer2.0.{conv}"]
        assert f"stride {module.stride[0]}, padding {module.padding[0]}" in label
        assert f"{module.in_channels}→{module.out_channels}" in label
    strided = "conv2" if stride_in == "3x3" else "conv1"
    version = "v1.5" if stride_in == "3x3" else "v1 (the paper)"
    assert f"{version}" in labels[f"layer2.0.{strided}"] and "stride 2 here" in labels[f"layer2.0.{strided}"]
    ds = model.get_submodule("layer2.0.downsample.0")
    assert (
        f"1×1 conv, {ds.in_channels}→{ds.out_channels}\\nstride {ds.stride[0]}"
        in labels["layer2.0.downsample.0"]
    )
    assert len([ln for ln in text.splitlines() if 'class="shortcut"' in ln and "dashed" in ln]) == 3


def test_the_three_kinds_of_bottleneck() -> None:
    tr = _tr("resnet50")
    kinds = rdot.representative_blocks(tr)
    assert kinds == {
        "projection_channels": "layer1.0",
        "identity": "layer1.1",
        "projection_stride": "layer2.0",
    }
    first = rdot.block_dot(tr, "layer1.0", EN)
    assert "1×1 conv, 64→256\\nstride 1, padding 0" in first  # conv2_1: channels only, no down-sampling
    assert "channels only" in first or "changes only the channels" in first
    identity = rdot.block_dot(tr, "layer1.1", EN)
    assert "downsample" not in identity and rdot.count_shortcut_edges(identity) == {"solid": 1, "dashed": 0}


def test_basic_blocks_solid_and_dashed_and_option_a() -> None:
    r34 = _tr("resnet34")
    assert rdot.count_shortcut_edges(rdot.block_dot(r34, "layer1.0", EN)) == {"solid": 1, "dashed": 0}
    dashed = rdot.block_dot(r34, "layer2.0", EN)
    assert "1×1 conv, 64→128\\nstride 2, padding 0" in dashed
    cifar = rdot.block_dot(_tr("resnet20"), "layer2.0", EN)
    assert "zero-pad" in cifar and rdot.count_shortcut_edges(cifar) == {"solid": 0, "dashed": 1}
    plain = rdot.block_dot(_tr("resnet34", plain=True), "layer2.0", EN)
    assert rdot.count_shortcut_edges(plain) == {"solid": 0, "dashed": 0} and "add" not in _labels(plain)


def test_block_dot_rejects_unknown_blocks_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="no block 'layer9.0'"):
        rdot.block_dot(_tr("resnet18"), "layer9.0", EN)
    with pytest.raises(ValueError, match="not a block"):
        rdot.block_dot(_tr("resnet18"), "layer1.0.conv1", EN)


def _torchvision_vgg19_layers() -> list[tuple[str, int, int]]:
    """VGG-19's layers read from ``torchvision.models.vgg19`` built on the meta device (no weights)."""
    with torch.device("meta"):
        model = tvm.vgg19()
    layers: list[tuple[str, int, int]] = []
    for m in model.features:
        if isinstance(m, torch.nn.Conv2d):
            layers.append(("conv", int(m.kernel_size[0]), int(m.out_channels)))
        elif isinstance(m, torch.nn.MaxPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            layers.append(("pool", int(k), 0))
    layers += [("fc", 0, int(m.out_features)) for m in model.classifier if isinstance(m, torch.nn.Linear)]
    return layers


def test_figure3_vgg19_is_torchvisions_and_the_only_difference_is_the_shortcuts() -> None:
    layers = VGG19_LAYERS
    assert list(layers) == _torchvision_vgg19_layers()  # the catalogue's data is torchvision's network
    assert sum(k == "conv" for k, _, _ in layers) + sum(k == "fc" for k, _, _ in layers) == 19  # VGG-19
    assert [c for k, _, c in layers if k == "fc"] == [4096, 4096, 1000]
    text = rdot.compare_dot(EN)
    labels = _labels(text)
    plain = [v for k, v in labels.items() if k.startswith("plain_")]
    res = [v for k, v in labels.items() if k.startswith("res_")]
    assert plain == res and len(plain) == 33 + 3  # 33 convs, max-pool, avg-pool, fc: same layers in both
    assert rdot.count_shortcut_edges(text) == {"solid": 13, "dashed": 3}
    assert all(ln.split("->")[0].strip().startswith('"res_') for ln in text.splitlines() if "shortcut" in ln)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_view_is_fully_translated(lang: str) -> None:
    texts = [rdot.compare_dot(translator(lang))]
    for arch in ARCHS:
        tr = _tr(arch)
        texts.append(rdot.overview_dot(tr, translator(lang)))
        texts += [
            rdot.block_dot(tr, name, translator(lang)) for name in rdot.representative_blocks(tr).values()
        ]
    for text in texts:
        assert "⟦" not in text
        assert 'fontname="Noto Sans CJK SC' in text
    if lang == "zh":
        assert "恒等映射" in texts[1] and "步距" in texts[1]


@NEEDS_DOT
def test_dot_program_accepts_every_view_and_renders_the_shortcut_classes() -> None:
    svg = rdot.render(rdot.overview_dot(_tr("resnet34"), EN), "svg").decode()
    assert svg.count('class="edge shortcut"') == 16
    for text in (
        rdot.block_dot(_tr("resnet50"), "layer2.0", translator("zh")),
        rdot.compare_dot(EN),
        rdot.overview_dot(_tr("resnet152"), EN),
    ):
        assert rdot.render(text, "svg").startswith(b"<?xml")
    assert rdot.render(rdot.block_dot(_tr("resnet18"), "layer2.0", EN), "png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_dot_is_a_one_line_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rdot.shutil, "which", lambda name: None)
    rdot.render.cache_clear()
    with pytest.raises(OSError, match="needs the graphviz 'dot' program"):
        rdot.render("digraph { a }", "svg")


# ----------------------------------------------------------------------------------------------------------- CLI


def test_cli_diagram_dot_to_file(tmp_path: Path) -> None:
    out = tmp_path / "r34.dot"
    assert cli_main(["diagram", "resnet34", "--format", "dot", "-o", str(out)]) == 0
    assert rdot.count_shortcut_edges(out.read_text()) == {"solid": 13, "dashed": 3}
    out50 = tmp_path / "b.dot"
    argv = [
        "diagram",
        "resnet50",
        "--view",
        "block",
        "--block",
        "layer1.0",
        "--stride-in",
        "1x1",
        "--lang",
        "zh",
    ]
    assert cli_main([*argv, "-o", str(out50)]) == 0
    assert "1×1 卷积" in out50.read_text()
    assert cli_main(["diagram", "resnet152", "--expand", "-o", str(tmp_path / "e.dot")]) == 0
    assert rdot.count_shortcut_edges((tmp_path / "e.dot").read_text()) == {"solid": 46, "dashed": 4}


@NEEDS_DOT
def test_cli_diagram_svg_and_png(tmp_path: Path) -> None:
    svg, png = tmp_path / "r.svg", tmp_path / "c.png"
    assert cli_main(["diagram", "resnet18", "--format", "svg", "-o", str(svg)]) == 0
    assert svg.read_text().count('class="edge shortcut"') == 8
    assert cli_main(["diagram", "resnet34", "--view", "compare", "--format", "png", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_diagram_errors_are_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["diagram", "resnet50", "--view", "block", "--block", "layer9.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no block 'layer9.0'" in err
    monkeypatch.setattr(rdot.shutil, "which", lambda name: None)
    rdot.render.cache_clear()
    assert cli_main(["diagram", "resnet34", "--format", "svg", "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dot" in err and not (tmp_path / "x.svg").exists()
