"""The words the Feature-maps page and its inspector choose (issue 21): each sentence picked by the data it is about,
in both languages, with its numbers formatted from code. Pure functions of records and a translator: no page runs.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from resnet_viz import trace
from resnet_viz.architecture import catalogue
from resnet_viz.i18n import arch_title, translator
from resnet_viz.imaging.capture import Residual
from resnet_viz.imaging.explain import RFBox, explain_value
from resnet_viz.models.weights import load_random
from resnet_viz.render import figures_explain as fx
from resnet_viz.render import figures_feature_maps as fm

EN, ZH = translator("en"), translator("zh")
BOX = RFBox(size=35, jump=8, center_row=20.0, center_col=20.0, top=3, left=3, bottom=38, right=38)


# ------------------------------------------------------------------------------------ the effective receptive field
def test_a_zero_gradient_has_no_field_to_draw_and_says_no_pixel_moves_the_value():
    for t in (EN, ZH):
        heat, caption = fx.erf_view(np.zeros((64, 64), np.float32), BOX, t)
        assert heat is None
        assert caption == t("inspector.erf_zero")
        assert "0×0" not in caption


def test_a_gradient_gets_its_picture_and_the_share_formatted_from_the_code():
    erf = np.zeros((64, 64), np.float32)
    erf[18:23, 18:23] = 1.0  # all of it within a 5×5 square around the centre
    for t in (EN, ZH):
        heat, caption = fx.erf_view(erf, BOX, t)
        assert heat is not None and float(heat.max()) == pytest.approx(1.0) and float(heat.min()) == 0.0
        assert caption == t("inspector.erf_caption", mass=f"{fx.ERF_MASS:.0%}", extent=5, size=35)
        assert f"{fx.ERF_MASS:.0%}" in caption and "5×5" in caption


def test_a_gradient_with_nan_is_said_to_be_unusable_not_zero():
    erf = np.ones((8, 8), np.float32)
    erf[2, 3] = np.nan
    heat, caption = fx.erf_view(erf, BOX, EN)
    assert heat is None and caption == EN("inspector.erf_nonfinite")


# ------------------------------------------------------------------------------------ hover texts
@pytest.fixture(scope="module")
def conv_explanation():
    model = load_random("resnet20")
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    return explain_value(model, x, "layer1.0.conv1", 2, 5, 6)


def _hovers(fig) -> list[str]:
    return [tr["hovertemplate"] for tr in json.loads(fig.to_json())["data"] if tr.get("hovertemplate")]


def test_the_inspectors_hover_texts_are_translated(conv_explanation):
    e = conv_explanation
    channel_map = np.arange(12, dtype=np.float32).reshape(3, 4)
    for t, word in ((EN, "row %{y}, column %{x}: %{"), (ZH, "第 %{y} 行，第 %{x} 列：%{")):
        figures = [
            fx.position_figure(channel_map, 1, 2, t=t),
            fx.window_figure(e, 3, t),
            fx.source_figure(np.zeros((8, 8), np.float32), e, t),
        ]
        hovers = [h for f in figures for h in _hovers(f)]
        assert len(hovers) == 5  # the clickable cells, the three panels, the source map
        assert all(h.startswith(word) for h in hovers), hovers
        if t is ZH:
            assert not any("row" in h or "col" in h for h in hovers), hovers


# ------------------------------------------------------------------------------------ the residual tab
def _residual(
    block: str, shortcut: str, main_norm: float = 3.0, shortcut_norm: float | None = 6.0
) -> Residual:
    m = np.zeros((2, 2), np.float32)
    return Residual(block=block, shortcut=shortcut, x_mean=m, main_mean=m, shortcut_mean=None if
                    shortcut == "none" else m, sum_mean=m, out_mean=m, x_norm=12.0, main_norm=main_norm,
                    shortcut_norm=None if shortcut == "none" else shortcut_norm)  # fmt: skip


def _names(arch: str, size: int, **kw) -> fm.LayerNames:
    return fm.LayerNames(trace(arch, size, **kw), SimpleNamespace(stage_of={}))


def test_a_projection_is_described_with_its_blocks_own_stride():
    """ResNet-50's layer1.0 projects 64 → 256 channels with stride 1; layer2.0 halves the map with stride 2."""
    names = _names("resnet50", 64)
    for t, words in ((EN, "stride {}"), (ZH, "步距为 {} 的")):
        one = fm.shortcut_caption(_residual("layer1.0", "projection"), names, t)
        two = fm.shortcut_caption(_residual("layer2.0", "projection"), names, t)
        assert words.format(1) in one and words.format(2) in two
    cifar = _names("resnet20", 32)
    assert "stride 2" in fm.shortcut_caption(_residual("layer2.0", "zero_pad"), cifar, EN)


def test_the_ratio_compares_f_with_the_shortcut_and_a_plain_network_has_none():
    names = _names("resnet18", 64)
    res = [_residual("layer1.0", "identity", 3.0, 6.0), _residual("layer2.0", "projection", 1.0, 4.0)]
    fig = json.loads(fm.ratio_figure(res, names, EN).to_json())
    assert fig["data"][0]["y"] == [0.5, 0.25]  # ‖F(x)‖ / ‖shortcut(x)‖, not / ‖x‖ (12)
    assert "‖shortcut(x)‖" in fig["data"][0]["hovertemplate"]
    assert fig["layout"]["title"]["text"] == EN("feature_maps.ratio_title")
    plain = _names("resnet18", 64, plain=True)
    assert fm.ratio_figure([_residual("layer1.0", "none"), _residual("layer1.1", "none")], plain, EN) is None


def test_a_plain_block_is_not_said_to_add_anything():
    for t in (EN, ZH):
        plain = _residual("layer1.0", "none")
        assert fm.term_explanation("main", plain, 2, 2, t) == t("feature_maps.explain_main_plain")
        assert fm.term_explanation("sum", plain, 2, 2, t) == t("feature_maps.explain_sum_plain")
        assert fm.term_explanation("out", plain, 2, 2, t) == t("feature_maps.explain_out", h=2, w=2)
        solid = _residual("layer1.1", "identity")
        assert fm.term_explanation("main", solid, 2, 2, t) == t("feature_maps.explain_main")


def test_the_overview_speaks_of_learned_features_only_for_trained_weights():
    for t in (EN, ZH):
        assert fm.overview_note(True, t) == t("feature_maps.overview_trained")
        assert fm.overview_note(False, t) == t("feature_maps.overview_untrained")
    assert "16" in EN("feature_maps.overview_title", k=fm.OVERVIEW_CHANNELS)


# ------------------------------------------------------------------------------------ why random weights
def test_why_there_are_no_pretrained_weights_fits_the_network():
    cifar = fm.no_pretrained_text("resnet20", False, "3x3", EN)
    nets = [a for a in catalogue.IMAGENET_ARCHS if catalogue.has_pretrained(a)]
    assert nets and all(arch_title(EN, a) in cifar for a in nets)
    assert "v1" not in cifar
    assert fm.no_pretrained_text("resnet18", True, "3x3", EN) == EN(
        "feature_maps.no_pretrained_plain", arch="resnet18"
    )
    v1 = fm.no_pretrained_text("resnet50", False, "1x1", EN)
    assert v1 == EN("feature_maps.no_pretrained_v1", arch="resnet50") and "v1.5" in v1
    assert "、" in fm.no_pretrained_text("resnet20", False, "3x3", ZH)  # the zh list separator


def test_a_zero_padded_channel_says_its_value_is_a_constant_zero():
    """Option A pads channels 0–7 of ResNet-56's layer2.0.downsample with zeros: that case has its own sentence."""
    from resnet_viz import trace
    from resnet_viz.imaging.explain import zero_padded_channel

    tr = trace("resnet56", 32)
    padded = [c for c in range(32) if zero_padded_channel(tr, "layer2.0.downsample", c)]
    assert padded == [*range(8), *range(24, 32)]
    assert not zero_padded_channel(tr, "layer2.0.conv1", 0)
    for t in (EN, ZH):
        heat, caption = fx.erf_view(np.zeros((32, 32), np.float32), BOX, t, zero_padded=True)
        assert heat is None and caption == t("inspector.erf_padded") != t("inspector.erf_zero")


# ------------------------------------------------------------------------------------ checkpoint errors
def test_the_tensor_data_sentence_refuses_only_what_the_loader_refuses():
    """A slice of whole rows and a transpose are dense and load; a range of columns and a step leave gaps."""
    from resnet_viz.models.weights import _dense

    base = torch.zeros(6, 8)
    for tensor, loads in ((base[2:4], True), (base.t(), True), (base[:, :4], False), (base[::2], False)):
        assert _dense(tuple(tensor.shape), tuple(tensor.stride())) == loads
    texts = {
        t: t("feature_maps.ckpt_error_tensor_data", key="k", shape="s", needed="n", stored="m")
        for t in (EN, ZH)
    }
    assert all(".expand()" in text and ".contiguous()" in text for text in texts.values())
    assert "by slicing are refused" not in texts[EN] and "non-contiguous" in texts[EN].lower()
    # The same text shows for a truncated file or a wrong safetensors byte count, and {stored} counts the whole
    # storage from the tensor's offset: it names the damaged-file case and never says "only ... for it".
    assert "damaged" in texts[EN] and "损坏" in texts[ZH]
    assert "只为它" not in texts[ZH] and "stored for it" not in texts[EN]


# ------------------------------------------------------------------------------------ the inspector's budget
def test_the_budget_names_the_folded_weight_copy_and_never_offers_a_smaller_size_for_pretrained_weights():
    from app_pages.sections.inspector import budget_text
    from resnet_viz import ui
    from resnet_viz.formatting import fmt_bytes_short

    scaled = ui.Fit(requested=224, size=160, need=300 * 2**20, budget=200 * 2**20)
    for t in (EN, ZH):
        own = budget_text(scaled, "inspector.budget_record", t, from_weights=True, layer="layer1")
        assert t("inspector.budget_fixed_size") in own and t("inspector.budget_smaller", fit=160) not in own
        chosen = budget_text(scaled, "inspector.budget_record", t, from_weights=False, layer="layer1")
        assert t("inspector.budget_smaller", fit=160) in chosen
        erf = budget_text(
            scaled,
            "inspector.budget_erf_folded",
            t,
            from_weights=False,
            layer="layer1",
            weights=fmt_bytes_short(94 * 2**20),
        )
        assert fmt_bytes_short(94 * 2**20) in erf
    assert (
        " "
        not in budget_text(scaled, "inspector.budget_record", ZH, from_weights=True, layer="L").split("。")[
            1
        ][:1]
    )


def test_untrained_cifar_nets_are_not_told_to_choose_pretrained_weights():
    from app_pages.sections.inspector import untrained_text

    for t in (EN, ZH):
        assert untrained_text(t, "resnet18", False, "3x3") == t("inspector.sanity_untrained")
        for arch, plain in (("resnet20", False), ("resnet56", False), ("resnet18", True)):
            text = untrained_text(t, arch, plain, "3x3")
            assert text != t("inspector.sanity_untrained") and arch_title(t, arch, plain=plain) in text
    assert "another width" in EN("feature_maps.ckpt_error_shape", key="k", got="a", expected="b", arch="n")


def test_the_random_weights_banner_and_the_missing_weights_name_the_network_as_the_page_does():
    from resnet_viz.models.sources import ModelSource
    from resnet_viz.models.weights import RANDOM_SEED

    for t in (EN, ZH):
        assert arch_title(t, "resnet56") in fm.no_pretrained_text("resnet56", False, "3x3", t)
        kind, cifar = fm.source_banner(ModelSource(kind="random", arch="resnet20"), t)
        assert kind == "warning" and cifar == t("feature_maps.using_random_cifar", seed=RANDOM_SEED)
        _, imagenet = fm.source_banner(ModelSource(kind="random", arch="resnet18"), t)
        assert imagenet == t("feature_maps.using_random", seed=RANDOM_SEED) != cifar
    assert "torchvision's He" not in EN("feature_maps.using_random_cifar", seed=0)
    offline = EN("feature_maps.weights_error_offline", arch="resnet18", path="/p/w.pth")
    assert "connected machine" not in offline and "this server" in offline and offline.count("/p/w.pth") == 2


def test_zh_joins_made_in_code_use_zh_punctuation_and_no_space_between_sentences():
    from resnet_viz.render.figures_explain import join_sentences

    assert join_sentences("A.", "B.") == "A. B." and join_sentences("甲。", "乙。") == "甲。乙。"
    assert join_sentences("甲。", "") == "甲。"
    assert ZH("feature_maps.name_and_paper", name="layer2.0", paper="conv3_1") == "layer2.0（conv3_1）"
    assert "max pool" not in ZH("feature_maps.layer_label") and "最大池化" in ZH("feature_maps.layer_label")
    for t in (EN, ZH):
        assert "max pool" not in t("feature_maps.layer_label_no_pool") and "最大池化" not in t(
            "feature_maps.layer_label_no_pool"
        )
        assert "downsample" not in t("inspector.layer_help_plain")


def test_untrained_text_names_this_nets_width_and_classes_and_the_shipped_ones(monkeypatch):
    """Trained width-4, 20-class nets ship for the Why residual page; the text says why they do not fit this net."""
    import app_pages.sections.inspector as page
    from resnet_viz.architecture.catalogue import get_spec
    from resnet_viz.experiments import shipped

    spec, config = get_spec("resnet56"), shipped.training_config()
    assert (config.width, config.num_classes) != (spec.stem_width, spec.num_classes)
    for t in (EN, ZH):
        text = page.untrained_text(t, "resnet56", False, "3x3")
        assert text == t(
            "inspector.sanity_untrained_none",
            net=arch_title(t, "resnet56", plain=False),
            width=spec.stem_width,
            classes=spec.num_classes,
            w_shipped=config.width,
            c_shipped=config.num_classes,
        )
    monkeypatch.setattr(page.shipped_data, "degradation", lambda: None)
    assert page.untrained_text(EN, "resnet56", False, "3x3") == EN(
        "inspector.sanity_untrained_none_no_curves",
        net=arch_title(EN, "resnet56", plain=False),
        width=spec.stem_width,
        classes=spec.num_classes,
    )


def test_the_layer_picker_says_residual_block_only_for_residual_nets():
    from resnet_viz.render.figures_feature_maps import layer_label

    for has_pool in (True, False):
        assert "residual block" in layer_label(has_pool, False, EN)
        assert "残差块" in layer_label(has_pool, False, ZH)
        plain_en = layer_label(has_pool, True, EN)
        assert "residual" not in plain_en and "every block" in plain_en
        assert "残差" not in layer_label(has_pool, True, ZH)
        assert ("max pool" in layer_label(has_pool, True, EN)) == has_pool


def test_the_layer_help_names_the_shortcut_this_net_has():
    """resnet18/50 project (no option A); the CIFAR nets zero-pad (no projection); plain nets have neither."""
    from resnet_viz.architecture.trace import trace
    from resnet_viz.render.figures_explain import layer_help

    for t in (EN, ZH):
        for arch in ("resnet18", "resnet50"):
            text = layer_help(trace(arch, 64), t)
            assert text == t("inspector.layer_help") and "option A" not in text and "方案 A" not in text
        for arch in ("resnet20", "resnet56"):
            text = layer_help(trace(arch, 32), t)
            assert text == t("inspector.layer_help_option_a") and "1×1" not in text
        assert layer_help(trace("resnet56", 32, plain=True), t) == t("inspector.layer_help_plain")
    assert "残差块" not in ZH("inspector.layer_help_plain") and "对应的块" in ZH("inspector.layer_help_plain")
