"""The ResNet → ConvNeXt page (app_pages/ladder.py) under AppTest: every rung renders with its own counts, the
``rung`` address parameter round-trips, a bad rung gets one notice, the diff takes any two rungs, both languages
and presenter mode draw without a missing key. No weights are downloaded (``offline``: an empty torch hub)."""

from __future__ import annotations

import re

import pytest
from apptest_helpers import missing_keys, page_texts
from streamlit.testing.v1 import AppTest

from resnet_viz.architecture.ladder import RUNG_KEYS, get_rung, max_seed_std, rung_trace, step_spread
from resnet_viz.architecture.ladder_diff import diff
from resnet_viz.formatting import fmt_code, fmt_int
from resnet_viz.i18n import translator
from resnet_viz.render.figures_ladder import gmacs, renamed_note, signed, signed_si

PAGE = "app_pages/ladder.py"
pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def open_ladder(app_test):
    def open_(query: dict[str, str] | None = None, state: dict | None = None) -> AppTest:
        at = app_test(timeout=240, query=query, state=state)
        at.switch_page(PAGE)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def _rung_box(at: AppTest):
    return next(s for s in at.selectbox if s.key == "rv_ladder_rung")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_every_rung_renders_with_its_own_counts(open_ladder) -> None:
    at = open_ladder({"lang": "en"})
    t = translator("en")
    for key in RUNG_KEYS:
        _rung_box(at).set_value(key).run()
        assert not at.exception, (key, [e.value for e in at.exception])
        tr = rung_trace(key, 224)
        assert _metric(at, t("ladder.metric_params")) == fmt_int(tr.total_params), key
        assert _metric(at, t("ladder.metric_macs")) == gmacs(tr.total_macs), key
        assert at.query_params["rung"] == [key] or at.query_params["rung"] == key
        assert len(at.get("graphviz_chart")) >= 2, key  # the rung's block diagram and the diff's
        assert not missing_keys(at), (key, missing_keys(at))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_rung_parameter_round_trips(lang: str, open_ladder) -> None:
    at = open_ladder({"lang": lang, "rung": "width"})
    assert _rung_box(at).value == "width"
    assert dict(at.query_params)["rung"] in ("width", ["width"])
    assert not [w for w in at.warning if str(w.value).startswith(translator(lang)("links.notice"))]
    _rung_box(at).set_value("bn_ln").run()
    assert dict(at.query_params)["rung"] in ("bn_ln", ["bn_ln"])
    assert not missing_keys(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_bad_rung_gets_one_notice_and_the_first_rung(lang: str, open_ladder) -> None:
    t = translator(lang)
    at = open_ladder({"lang": lang, "rung": "resnet18"})
    notices = [str(w.value) for w in at.warning if str(w.value).startswith(t("links.notice"))]
    assert len(notices) == 1 and fmt_code("rung=resnet18") in notices[0], notices
    assert _rung_box(at).value == RUNG_KEYS[0]
    assert dict(at.query_params)["rung"] in (RUNG_KEYS[0], [RUNG_KEYS[0]])


def test_the_diff_takes_any_two_rungs(open_ladder) -> None:
    t = translator("en")
    at = open_ladder({"lang": "en", "rung": "patchify"})
    d = diff("stage_ratio", "patchify")  # the default: the rung before the chosen one
    assert _metric(at, t("ladder.diff_params")) == signed(d.delta_params)
    next(s for s in at.selectbox if s.key == "rv_ladder_a_patchify").set_value("resnet50").run()
    next(s for s in at.selectbox if s.key == "rv_ladder_b_patchify").set_value("convnext_tiny").run()
    d = diff("resnet50", "convnext_tiny")
    assert _metric(at, t("ladder.diff_params")) == signed(d.delta_params)
    assert _metric(at, t("ladder.diff_macs")) == signed_si(d.delta_macs)
    assert next(m.help for m in at.metric if m.label == t("ladder.diff_macs")) == signed(d.delta_macs)
    assert _metric(at, t("ladder.diff_rf")) == signed(d.delta_receptive_field)
    next(s for s in at.selectbox if s.key == "rv_ladder_diff_part_resnet50_convnext_tiny").set_value(
        "stage2.0"
    ).run()
    [spec] = [g.proto.spec for g in at.get("graphviz_chart") if "resnet50" not in g.proto.spec.split("\n")[0]
              and "convnext_tiny_stage2.0" in g.proto.spec]  # fmt: skip
    layer_scale = next(x for x in spec.splitlines() if x.strip().startswith('"stage2.0.layer_scale" ['))
    assert 'class="added"' in layer_scale and "peripheries=2" in layer_scale


def test_recipe_numbers_come_from_torchvisions_weights_meta(open_ladder) -> None:
    import torchvision.models as tvm

    at = open_ladder({"lang": "en"})
    text = "\n".join(page_texts(at))
    for w in (tvm.ResNet50_Weights.IMAGENET1K_V1, tvm.ResNet50_Weights.IMAGENET1K_V2):
        assert f"{w.meta['_metrics']['ImageNet-1K']['acc@1']:.3f}" in text
    assert "download-weights resnet50 --recipes" in text  # offline: an empty cache, so the page says how


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fewer_norms_is_at_the_edge_of_the_spread_and_quotes_the_papers_reading(
    lang: str, open_ladder
) -> None:
    t = translator(lang)
    at = open_ladder({"lang": lang, "rung": "fewer_norms"})
    captions = [str(c.value) for c in at.caption]
    edge = t("ladder.step_edge", top1="81.41", std="0.09", prev_top1="81.27", prev_std="0.06", delta="+0.14",
             spread="0.15")  # fmt: skip
    reading = t("ladder.reading_fewer_norms", top1="81.4", gain_r50="0.14", gain_r200="0.46")
    assert edge in captions and reading in captions, captions
    # the one step caption: neither of the other two branches
    assert [c for c in captions if c.startswith(edge[:8])] == [edge]
    at = open_ladder({"lang": lang, "rung": "move_up"})
    renamed = renamed_note(t, diff("inverting", "move_up"))
    assert renamed in [str(c.value) for c in at.caption] and "ConvNeXt" not in renamed
    assert not missing_keys(at)


def test_presenter_mode_draws_the_diagrams(open_ladder) -> None:
    at = open_ladder({"lang": "zh", "present": "1", "rung": "convnext_tiny"})
    assert len(at.get("graphviz_chart")) >= 2 and not missing_keys(at)


@pytest.mark.slow
def test_with_both_weight_sets_cached_each_reads_the_photo_with_its_own_preprocessing(open_ladder) -> None:
    """A stand-in cache (one random ResNet-50 saved under both torchvision file names; nothing is downloaded):
    the page shows each weight set's top-5 and CAM, and each top-1 is what a plain forward of that model on the
    photo, preprocessed by that weight set's own transforms(), gives."""
    import torch
    import torchvision.models as tvm
    from PIL import Image

    from resnet_viz.imaging.images import sample_images
    from resnet_viz.models.weights import weights_file

    torch.manual_seed(0)
    model = tvm.resnet50().eval()
    for w in (tvm.ResNet50_Weights.IMAGENET1K_V1, tvm.ResNet50_Weights.IMAGENET1K_V2):
        weights_file(w).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), weights_file(w))
    at = open_ladder({"lang": "en"})
    photo = next(iter(sample_images().values()))
    expected = []
    for w in (tvm.ResNet50_Weights.IMAGENET1K_V1, tvm.ResNet50_Weights.IMAGENET1K_V2):
        with torch.no_grad():
            x = w.transforms()(Image.open(photo).convert("RGB")).unsqueeze(0)
            expected.append(w.meta["categories"][int(model(x).argmax())])
    tables = [df.value for df in at.dataframe if "class" in df.value.columns]
    assert [table["class"].iloc[0] for table in tables] == expected
    assert all(len(table) == 5 for table in tables)
    cam = translator("en")("ladder.photo_cam", label=expected[0]).split("“")[0]
    assert sum(1 for img in at.image for c in img.captions if c.startswith(cam)) == 2


def test_the_lesson_step_opens_the_ladder_at_the_patchify_rung(app_test) -> None:
    from resnet_viz.lesson import STEPS

    n = next(i for i, s in enumerate(STEPS, 1) if s.page == "ladder")
    at = app_test(timeout=240, query={"lang": "en", "step": str(n)})
    at.switch_page("app_pages/lesson.py")
    at.run()
    assert not at.exception
    [link] = [pl.proto for pl in at.get("page_link") if pl.proto.page == "ladder"]
    assert "rung=patchify" in link.query_string.split("&")


def test_the_paper_inconsistent_sentence_holds_where_it_is_shown() -> None:
    """ladder.reason_paper_inconsistent says Table 10's row before the rung agrees with our count to rounding and
    that the rung changes no convolution or linear layer: true of every rung it is shown for."""
    from resnet_viz.architecture.ladder import TABLE_11_GFLOPS, macs_explanation

    shown = [k for k in RUNG_KEYS if macs_explanation(k).reason == "paper_inconsistent"]
    assert shown  # BN → LN: Figure 2 says 4.2, Table 10 4.46
    for key in shown:
        before = RUNG_KEYS[RUNG_KEYS.index(key) - 1]
        assert macs_explanation(before).table_matches
        d = diff(before, key)
        assert all(c.a.macs == c.b.macs for c in d.changed) and not d.added and not d.removed
        # and Table 11, as the sentence says: 14.81 for both steps (typed from the paper)
        assert TABLE_11_GFLOPS[key] == TABLE_11_GFLOPS[before] == 14.81


@pytest.mark.parametrize(("rung", "direction"), [("depth_conv", "DOWN"), ("width", "UP")])
def test_a_decrease_gets_a_down_arrow(rung: str, direction: str, open_ladder) -> None:
    """Depthwise convs cut parameters, width 96 adds them; the metric's arrow follows the sign of the difference
    (a string delta with a true minus sign "−" would otherwise get Streamlit's up arrow)."""
    from streamlit.proto.Metric_pb2 import Metric as MetricProto

    t = translator("en")
    at = open_ladder({"lang": "en", "rung": rung})
    params = next(m for m in at.metric if m.label == t("ladder.metric_params"))
    before = rung_trace(RUNG_KEYS[RUNG_KEYS.index(rung) - 1]).total_params
    change = rung_trace(rung).total_params - before
    assert (change < 0) == (direction == "DOWN")
    assert params.proto.delta == signed(change)
    assert params.proto.direction == getattr(MetricProto.MetricDirection, direction)
    macs = next(m for m in at.metric if m.label == t("ladder.metric_macs"))
    assert macs.proto.direction == getattr(
        MetricProto.MetricDirection, direction
    )  # both shrink / both grow here


def test_zh_page_words_its_citations_and_labels_in_chinese(open_ladder) -> None:
    at = open_ladder({"lang": "zh", "rung": "patchify"})
    texts = [str(x.value) for x in (*at.markdown, *at.caption)]
    english = [x for x in texts if re.search(r"\bet al\.|\bFigure \d|\bTable \d|\bAppendix\b|regime", x)]
    assert not english, english
    everything = "\n".join(page_texts(at))
    assert "“patchify” stem" not in everything and "“patchify” 输入部分" in everything
    assert translator("zh")("ladder.source_table") in "\n".join(texts)


def test_en_page_cites_the_paper_once_and_says_each_weight_sets_resize(open_ladder) -> None:
    import torchvision.models as tvm

    at = open_ladder({"lang": "en", "rung": "patchify"})
    captions = [str(c.value) for c in at.caption]
    [cited] = [c for c in captions if c.startswith("Cited, not measured here")]
    assert cited.count("A ConvNet for the 2020s") == 1
    [recipe] = [c for c in captions if "meta[" in c]
    v1, v2 = (w.transforms().resize_size[0] for w in (tvm.ResNet50_Weights.IMAGENET1K_V1,
                                                        tvm.ResNet50_Weights.IMAGENET1K_V2))  # fmt: skip
    assert (v1, v2) == (256, 232) and f"V1 resizes to {v1} pixels and V2 to {v2} before" in recipe
    within = [k for k in RUNG_KEYS[1:] if step_spread(k).outcome == "within"]
    text = "\n".join(str(m.value) for m in at.markdown)
    assert f"±{max_seed_std():.2f}" in text and all(get_rung(k).label in text for k in within)
    assert "At the edge of the seeds' spread (values rounded): fewer norms." in text
    assert any(
        c.startswith("Table 10 (cited): 79.51 ± 0.18") and "within the seeds' spread" in c for c in captions
    )
