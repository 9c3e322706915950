"""The Feature-maps page's "Look inside one value" tab through AppTest: every layer kind is explained with the
number the network computed, bad positions get a clear message, a new position runs no network, and the
receptive field and Grad-CAM parts work in both languages. Offline (random weights), as the page's other tests."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
import torch
from apptest_helpers import uploader
from streamlit.testing.v1 import AppTest

from resnet_viz import trace
from resnet_viz.i18n import translator
from resnet_viz.imaging import explain

PAGE = "app_pages/feature_maps.py"
EN = translator("en")


@pytest.fixture
def page(monkeypatch, app_test, offline):
    # Every record the page makes, with the model and input it used (to check the value shown against the core).
    seen: list[tuple] = []
    real = explain.record_layer

    def spy(model, image, layer):
        seen.append((model, image.clone(), layer))
        return real(model, image, layer)

    monkeypatch.setattr(explain, "record_layer", spy)

    def open_page(arch: str = "resnet18", size: int = 64, lang: str = "en", **state) -> AppTest:
        at = app_test(
            timeout=240,
            state={"rv_lang": lang, "rv_arch": arch, "rv_input_size": size, "fm_weights": "random"},
        )
        at.run()
        at.switch_page(PAGE).run()
        at.session_state["fm_tab"] = translator(lang)("inspector.tab")
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        ok(at)
        return at

    open_page.seen = seen  # type: ignore[attr-defined]
    yield open_page
    # The captures and records these tests made stay in this process's Streamlit caches: clear them, so a later
    # test that counts forward passes of the same picture sees its own.
    st.cache_data.clear()
    st.cache_resource.clear()


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    texts = all_text(at)
    assert not [x for x in texts if "⟦" in x], [x for x in texts if "⟦" in x]


def all_text(at: AppTest) -> list[str]:
    out: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "latex"):
        out += [str(e.value) for e in getattr(at, kind)]
    for img in at.image:
        out += img.captions
    for kind in ("radio", "selectbox", "slider", "toggle", "number_input"):
        out += [str(w.label) for w in getattr(at, kind)]
    return out


def pick(at: AppTest, layer: str, channel: int, row: int, col: int) -> AppTest:
    at.selectbox(key="ix_layer").set_value(layer).run()
    at.number_input(key="ix_channel").set_value(channel)
    at.number_input(key="ix_row").set_value(row)
    at.number_input(key="ix_col").set_value(col).run()
    ok(at)
    return at


def shown_value(at: AppTest) -> float:
    return float(at.metric[0].value)


def check_against_core(page, at: AppTest, layer: str, c: int, i: int, j: int) -> explain.Explanation:
    """The value on the page is the core's explain_value for the model and input the page used."""
    model, image, _ = next(s for s in reversed(page.seen) if s[2] == layer)
    e = explain.explain_value(model, image, layer, c, i, j)
    assert shown_value(at) == pytest.approx(e.value, abs=1e-4)
    assert abs(e.value - e.reconstructed) <= explain.TOLERANCE * max(1, abs(e.value))
    return e


def texts_with(at: AppTest, fragment: str) -> list[str]:
    return [x for x in all_text(at) if fragment in x]


def test_every_layer_kind_of_a_projection_network_is_explained(page):
    at = page("resnet18", 64)
    # conv (its BN and ReLU follow), BN, the stem's ReLU, max pool, identity block, projection block, the
    # projection's own conv and BN
    cases = [
        ("conv1", 5, 10, 12), ("bn1", 5, 10, 12), ("relu", 5, 10, 12), ("maxpool", 2, 0, 7),
        ("layer1.0.conv2", 9, 3, 4), ("layer1.1", 7, 8, 8), ("layer2.0", 3, 2, 5),
        ("layer2.0.downsample.0", 100, 1, 1), ("layer2.0.downsample.1", 100, 1, 1),
    ]  # fmt: skip
    for layer, c, i, j in cases:
        pick(at, layer, c, i, j)
        e = check_against_core(page, at, layer, c, i, j)
        if e.kind in ("conv", "bn", "relu"):
            assert texts_with(at, "**The dot product, term by term**")
            table = at.dataframe[0].value
            terms = list(table[EN("inspector.col_term")])
            assert terms[0].startswith("input channel ") and "= convolution output z" in terms
            if e.kind != "conv" or e.then:
                assert at.latex, layer  # the BN arithmetic with its numbers
                bn = next(t for t in (*e.steps, *e.then) if t.key == "bn")
                assert f"{bn.numbers['mean']:.4f}" in at.latex[0].value
        elif e.kind == "maxpool":
            assert texts_with(at, f"Maximum: **{e.value:.4f}**")
        else:
            main = next(t for t in e.steps if t.key == "main").value
            line = texts_with(at, "**F(x)** = ")
            assert line and f"{main:.4f}" in line[0] and f"y = {e.value:.4f}" in line[0]
            if e.shortcut == "projection":
                assert texts_with(
                    at, "reads one pixel of the block's input, row 4, column 10, with all 64 channels"
                )
            else:
                assert texts_with(at, "Identity shortcut")


def test_option_a_and_plain_blocks(page):
    at = page("resnet20", 32)
    pick(at, "layer2.0", 3, 1, 1)  # 16 → 32 channels: channels 0–7 and 24–31 are zeros
    check_against_core(page, at, "layer2.0", 3, 1, 1)
    assert texts_with(at, "Channel 3 is one of the zero-padded channels")
    pick(at, "layer2.0", 10, 1, 1)
    check_against_core(page, at, "layer2.0", 10, 1, 1)
    assert texts_with(at, "shortcut(x) takes the block's input at channel 2, row 2, column 2")
    pick(at, "layer2.0.downsample", 30, 3, 3)
    check_against_core(page, at, "layer2.0.downsample", 30, 3, 3)

    plain = page("resnet20", 32, rv_plain=True)
    pick(plain, "layer1.1", 4, 5, 6)
    check_against_core(page, plain, "layer1.1", 4, 5, 6)
    assert texts_with(plain, "Plain block, no shortcut")


def test_bad_positions_get_a_clear_message_naming_the_range(page):
    at = page("resnet18", 64)
    pick(at, "layer3.0", 0, 0, 0)  # 256 × 4 × 4
    for channel, row, col in ((256, 0, 0), (0, 4, 0), (0, 0, 99)):
        pick(at, "layer3.0", channel, row, col)
        message = EN("inspector.bad_position", layer="layer3.0", c=255, h=3, w=3)
        assert [e.value for e in at.error] == [message]
        assert not at.metric
    # a new layer brings the position back inside its map
    pick(at, "layer1.0", 0, 0, 0)
    at.number_input(key="ix_row").set_value(15).run()
    at.selectbox(key="ix_layer").set_value("layer4.1").run()
    ok(at)
    assert not at.error and at.number_input(key="ix_row").value == 1


def test_a_new_position_runs_no_network(page, monkeypatch):
    at = page("resnet18", 64)
    pick(at, "layer1.0.conv1", 1, 2, 3)
    convs: list[int] = []
    real = torch.nn.Conv2d.forward

    def counting(self, x):
        convs.append(1)
        return real(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", counting)
    for row, col in ((4, 4), (15, 0), (0, 15)):
        convs.clear()
        records = len(page.seen)
        at.number_input(key="ix_row").set_value(row)
        at.number_input(key="ix_col").set_value(col).run()
        ok(at)
        assert convs == [] and len(page.seen) == records  # no conv ran, no new record was made
        check_against_core(page, at, "layer1.0.conv1", 1, row, col)


def test_receptive_field_and_grad_cam_in_both_languages(page):
    for lang in ("en", "zh"):
        t = translator(lang)
        at = page("resnet18", 64, lang=lang)
        pick(at, "layer2.1", 3, 3, 3)
        at.toggle(key="ix_rf").set_value(True).run()
        ok(at)
        caps = [c for img in at.image for c in img.captions]
        size = trace("resnet18", 64).row("layer2.1").receptive_field
        assert t("inspector.rf_box_caption", size=size, jump=8, input=64) in caps
        prefix = t("inspector.erf_caption", mass="@", extent="@", size=size).split("@")[0]
        assert [c for c in caps if c.startswith(prefix) and f"{size}×{size}" in c]
        at.toggle(key="ix_cam").set_value(True).run()
        ok(at)
        at.radio(key="ix_stage").set_value("layer2").run()
        ok(at)
        assert [m for m in at.markdown if "ρ = " in m.value]
        caps = [c for img in at.image for c in img.captions]
        assert any(t("inspector.cam_random", stage="layer2") == c for c in caps)


def test_a_checkpoint_with_nan_or_inf_gets_a_warning_naming_the_tensors(page):
    """The page still works (no traceback) and says which tensors hold NaN/Inf; the inspector shows the NaN."""
    import io

    from resnet_viz.models import build_model

    state = build_model("resnet20").state_dict()
    state["layer1.0.conv1.weight"][0, 0, 0, 0] = float("nan")
    state["fc.weight"][1, 2] = float("inf")
    buf = io.BytesIO()
    torch.save(state, buf)
    at = page("resnet20", 32)
    at.radio(key="fm_weights").set_value("checkpoint").run()
    uploader(at, "fm_ckpt_file").set_value(("nan.pt", buf.getvalue(), "")).run()
    ok(at)
    want = EN(
        "feature_maps.ckpt_nonfinite", name="`nan.pt`", n=2, names="`layer1.0.conv1.weight`, `fc.weight`"
    )
    assert [w.value for w in at.warning if w.value == want] == [want]
    pick(at, "layer1.0.conv1", 0, 3, 3)
    assert at.metric[0].value.lower() == "nan"


def _zero_position(page, layer: str) -> tuple[int, int, int]:
    """A position of ``layer`` whose value is 0 after its ReLU (its gradient is zero everywhere)."""
    model, image, _ = next(s for s in reversed(page.seen) if s[2] == layer)
    out = explain.record_layer(model, image, layer).arrays["out"]
    c, i, j = (int(v) for v in np.argwhere(out == 0)[0])
    return c, i, j


def test_a_value_no_pixel_moves_gets_no_receptive_field_only_a_sentence_saying_so(page):
    """Issue 21: "90 % of it lies within a 0×0 square" for a zero gradient. No square is stated, no heat drawn."""
    for lang in ("en", "zh"):
        t = translator(lang)
        at = page("resnet18", 64, lang=lang)
        pick(at, "layer1.0", 0, 0, 0)
        c, i, j = _zero_position(page, "layer1.0")
        pick(at, "layer1.0", c, i, j)
        at.toggle(key="ix_rf").set_value(True).run()
        ok(at)
        assert [x.value for x in at.info if x.value == t("inspector.erf_zero")] == [t("inspector.erf_zero")]
        assert not texts_with(at, "0×0")
        prefix = t("inspector.erf_caption", mass="@", extent="@", size="@").split("@")[0]
        assert not [x for x in all_text(at) if x.startswith(prefix)]
        box = t("inspector.rf_box_caption", size="@", jump="@", input="@").split("@")[0]
        assert len([c for img in at.image for c in img.captions if c.startswith(box)]) == 1  # the box only


def _checkpoint(arch: str, trained: bool) -> bytes:
    """A random network's weights as a checkpoint; ``trained``: its BNs' running statistics moved off their
    initial values, as training moves them."""
    import io

    from resnet_viz.models import build_model

    state = build_model(arch).state_dict()
    if trained:
        g = torch.Generator().manual_seed(4)
        for k, v in state.items():
            if k.endswith("running_mean"):
                v.add_(torch.randn(v.shape, generator=g) * 0.1)
            elif k.endswith("running_var"):
                v.mul_(torch.rand(v.shape, generator=g) + 0.5)
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_the_sanity_check_is_read_only_for_trained_weights_and_bn_says_which_statistics(page):
    """Issue 21: with random weights the check compared two untrained nets and read as a pass; and BN's μ/σ² were
    "measured during training" when they were the initial ones."""
    from app_pages.sections.inspector import untrained_text

    for lang in ("en", "zh"):
        t = translator(lang)
        assert untrained_text(t, "resnet20", False, "3x3").startswith(t("inspector.sanity_untrained_none", net="@", width="@", classes="@", w_shipped="@", c_shipped="@").split("@")[0])  # fmt: skip
        readings = [
            t(f"inspector.sanity_{k}", threshold=explain.SIMILAR_RHO) for k in ("high", "low", "undefined")
        ]
        at = page("resnet20", 32, lang=lang)  # random weights
        pick(at, "layer1.0.bn1", 1, 2, 3)
        initial = t("inspector.bn_title_initial", name="layer1.0.bn1", mean="0", var="1")
        assert texts_with(at, initial) and not texts_with(at, t("inspector.bn_title", name="layer1.0.bn1"))
        at.toggle(key="ix_cam").set_value(True).run()
        ok(at)
        assert [m for m in at.markdown if "ρ = " in m.value]
        assert [i.value for i in at.info if i.value == untrained_text(t, "resnet20", False, "3x3")]
        assert not [m.value for m in at.markdown if m.value in readings]

    at = page("resnet20", 32)
    at.radio(key="fm_weights").set_value("checkpoint").run()
    at.file_uploader(key="fm_ckpt_file").set_value(("trained.pt", _checkpoint("resnet20", True), "")).run()
    ok(at)
    pick(at, "layer1.0.bn1", 1, 2, 3)
    assert texts_with(at, EN("inspector.bn_title", name="layer1.0.bn1"))
    assert not texts_with(at, "initial values")
    at.toggle(key="ix_cam").set_value(True).run()
    ok(at)
    readings = [
        EN(f"inspector.sanity_{k}", threshold=explain.SIMILAR_RHO) for k in ("high", "low", "undefined")
    ]
    assert len([m.value for m in at.markdown if m.value in readings]) == 1
    assert not [i.value for i in at.info if i.value == EN("inspector.sanity_untrained")]


def test_a_projection_is_described_with_its_own_stride(page):
    at = page("resnet18", 64)
    pick(at, "layer2.0", 3, 2, 5)
    assert texts_with(at, EN("inspector.shortcut_projection", stride=2))
    assert texts_with(at, "a 1×1 convolution with stride 2 and a BatchNorm")


def test_a_zero_padded_channel_gets_no_receptive_field_box_beside_no_field(page):
    """Option A pads zero channels into layer2.0's shortcut: a constant 0 has no field, so no box and no caption."""
    at = page("resnet20", 32)
    pick(at, "layer2.0.downsample", 0, 1, 1)
    box = EN("inspector.rf_box_caption", size="@", jump="@", input="@").split("@")[0]
    box_captions = lambda: [c for img in at.image for c in img.captions if c.startswith(box)]  # noqa: E731
    assert not box_captions()
    at.toggle(key="ix_rf").set_value(True).run()
    ok(at)
    assert [x.value for x in at.info if x.value == EN("inspector.erf_padded")] == [EN("inspector.erf_padded")]
    assert not box_captions()
    pick(at, "layer2.0.downsample", 10, 1, 1)  # a channel that carries the input: the box is back
    assert box_captions()
