"""The lesson's answers are computed for the current network and size, agree with the notes' figures at
ResNet-34/224, follow the sidebar elsewhere; replies are read leniently and never crash. Plus the page itself, in
both languages, through AppTest: every step, one right and one wrong answer."""

from __future__ import annotations

import re

import pytest
import tomllib
from repo import ROOT

from resnet_viz import ARCHS
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.trace import conv_out, trace
from resnet_viz.i18n import LANGUAGES, catalogue, translator
from resnet_viz.lesson import (
    SCOPES,
    STEP_COUNT,
    STEPS,
    answer,
    check,
    has_projections,
    parse_reply,
    slipped,
    stem_shrinks,
    text_args,
)

BY_KEY = {s.key: s for s in STEPS}


def test_the_notes_figures_at_resnet34_224() -> None:
    values = {s.key: answer(s, "resnet34", 224).value for s in STEPS}
    assert values["input"] == (224, 224, 3)
    assert values["stem"] == 56  # 224 → 112 → 56
    assert values["layers"] == 34  # 1 + 2×(3+4+6+3) + 1
    assert (values["solid"], values["dashed"]) == ("solid", "dashed")
    assert values["conv3_1"] == (28, 28, 128)
    assert (values["basic_cost"], values["bottleneck_cost"]) == (1_179_648, 69_632)
    assert values["degradation"] == 34 - 18
    assert values["zero_init"] == 3 + 4 + 6 + 3
    assert 12 <= STEP_COUNT <= 16


def test_answers_follow_the_network_and_size() -> None:
    assert answer(BY_KEY["stem"], "resnet18", 160).value == conv_out(conv_out(160, 7, 2, 3), 3, 2, 1)
    assert answer(BY_KEY["input"], "resnet20", 32).value == (32, 32, 3)
    assert answer(BY_KEY["layers"], "resnet50", 224).value == 50
    assert answer(BY_KEY["solid"], "resnet50", 224).value == "dashed"  # 64 → 256 channels
    assert answer(BY_KEY["three_kinds"], "resnet50", 224).value == "channels"
    assert answer(BY_KEY["three_kinds"], "resnet34", 224).value == "none"
    assert answer(BY_KEY["conv3_1"], "resnet50", 224).value == (28, 28, 512)
    assert answer(BY_KEY["addition"], "resnet20", 32).value == (8, 8, 64)
    assert answer(BY_KEY["zero_init"], "resnet110", 32).value == 3 * 18
    v15_50, v15_101 = answer(BY_KEY["v15"], "resnet50", 224), answer(BY_KEY["v15"], "resnet101", 224)
    assert v15_50.value == v15_101.value > 0  # the strided blocks are the same three in both
    assert answer(BY_KEY["v15"], "resnet50", 448).value > v15_50.value  # 4× the pixels


def test_a_cifar_network_without_max_pool_answers_about_the_steps_own_network() -> None:
    right = answer(BY_KEY["stem"], "resnet20", 32)
    assert right.arch == "resnet34" and right.value == 56 and right.missing == "maxpool"
    assert right.size == 224  # the caption names the size the answer is worked out for, not the sidebar's
    right = answer(BY_KEY["v15"], "resnet18", 224)
    assert right.arch == "resnet50" and right.missing == "bottleneck"
    assert answer(BY_KEY["v15"], "resnet50", 224).missing == ""


def test_the_notes_32x32_listing_gets_the_stem_text_that_fits_it() -> None:
    """Its conv1 and max-pool have stride 1: the text that says the stem shrinks the grid is not shown."""
    assert stem_shrinks(224, 56) and not stem_shrinks(32, 32)
    listing, imagenet = answer(BY_KEY["stem"], "resnet34_cifar", 32), answer(BY_KEY["stem"], "resnet34", 224)
    assert (listing.value, listing.text_key, listing.working["first"]) == (32, "stem_text_keeps", "layer2.0")
    assert (imagenet.value, imagenet.text_key) == (56, "stem_text")


def test_the_layer_count_text_names_shortcut_convolutions_only_where_there_are_some() -> None:
    assert has_projections(trace("resnet34", 224)) and not has_projections(trace("resnet20", 32))
    assert answer(BY_KEY["layers"], "resnet20", 32).text_key == "layers_text_option_a"
    assert answer(BY_KEY["layers"], "resnet34_cifar", 32).working["n_proj"] == 3
    for arch in ARCHS:  # the option-A text says the dashed shortcuts zero-pad: true wherever it is chosen
        tr = trace(arch, get_spec(arch).default_input)
        if not has_projections(tr):
            assert {b.shortcut for b in tr.blocks if b.dashed} == {"zero_pad"}, arch
    en = translator("en")
    assert "1×1" not in en("lesson.layers_text_option_a", title="T", n_proj=0)


def test_the_addition_asks_about_shortcut_x_and_accepts_exactly_its_shape() -> None:
    """layer3.0 is dashed: x is not a term of the sum. The question names shortcut(x); x's shape is wrong and
    gets its own explanation; F(x)'s shape is right."""
    step = BY_KEY["addition"]
    right = answer(step, "resnet18", 224)
    assert right.value == (14, 14, 256) and right.slip == (28, 28, 128)
    assert check(step, "14, 14, 256", right) is True
    assert check(step, "28, 28, 128", right) is False and slipped(step, "28, 28, 128", right)
    assert not slipped(step, "14, 14, 256", right) and not slipped(step, "7, 7, 512", right)
    for lang in LANGUAGES:
        assert "shortcut(x)" in translator(lang)("lesson.addition_question", named="layer3.0", title="T")
    for arch in ARCHS:
        assert answer(step, arch, 64).working_key == "addition_working_dashed"


def test_the_cost_steps_open_a_block_of_the_shape_they_ask_about() -> None:
    """Steps 7 and 8 ask about the notes' blocks on 256 channels: they open a solid block with 256 channels in and
    out (a BasicBlock in ResNet-34, a Bottleneck of width 64 in ResNet-50), not a down-sampling one."""
    for key, block_kind in (("basic_cost", "basic"), ("bottleneck_cost", "bottleneck")):
        step = BY_KEY[key]
        tr = trace(step.net, get_spec(step.net).default_input)
        block = tr.row(step.block)
        assert tr.block == block_kind and not block.dashed
        assert (
            block.input_shape[0] == block.output_shape[0] == answer(step, "resnet18", 160).working["c"] == 256
        )
    assert answer(BY_KEY["bottleneck_cost"], "resnet18", 160).working["width"] == 64


@pytest.mark.parametrize("key", ["basic_cost", "bottleneck_cost", "degradation", "input"])
def test_answers_said_not_to_depend_on_the_network_do_not(key: str) -> None:
    """The caption under the answer says what it depends on; check that it is true on every network."""
    step = BY_KEY[key]
    for size in (64, 224):
        answers = [answer(step, arch, size) for arch in ARCHS]
        assert len({repr(a.value) for a in answers}) == 1
        assert {a.scope for a in answers} <= {"fixed", "size"}
    if answers[0].scope == "fixed":  # nor on the size
        assert answer(step, "resnet50", 64).value == answer(step, "resnet50", 224).value
    assert all(answer(s, "resnet34", 224).scope in SCOPES for s in STEPS)


def test_answers_said_to_depend_on_the_network_alone_do_not_depend_on_the_size() -> None:
    """ "The answer depends on the network …, not on the input size": the same answer at every size, for every
    network; and the steps that say so are the ones whose value is a count, a kind or a channel number."""
    scoped = [s for s in STEPS if answer(s, "resnet50", 224).scope == "network_only"]
    assert {s.key for s in scoped} >= {
        "layers",
        "solid",
        "dashed",
        "three_kinds",
        "feature_maps",
        "zero_init",
    }
    for step in scoped:
        for arch in ARCHS:
            values = {repr(answer(step, arch, size).value) for size in (64, 97, 224)}
            assert len(values) == 1, (step.key, arch, values)
    # and the steps that keep the size in their caption do change with it somewhere
    for step in STEPS:
        if answer(step, "resnet50", 224).scope == "network":
            assert any(
                repr(answer(step, arch, 64).value) != repr(answer(step, arch, 224).value) for arch in ARCHS
            ), step.key


def test_what_the_step_texts_say_about_every_network_holds() -> None:
    """conv3_1's text: the first block of every stage after the first halves the size (rounding up) and doubles
    the channels. three_kinds' text: ResNet-50's conv2_1 changes only the channels, conv3_1 … conv5_1 both, the
    rest are solid. v1.5's text: only Bottleneck networks have the choice."""
    for arch in ARCHS:
        tr = trace(arch, 97 if get_spec(arch).family == "imagenet" else 33)
        firsts = [tr.row(f"layer{i}.0") for i in range(2, len(tr.layers) + 1)]
        for row in firsts:
            (c_in, h_in, _), (c_out, h_out, _) = row.input_shape, row.output_shape
            assert h_out == -(-h_in // 2) and c_out == 2 * c_in, (arch, row.name)
    tr = trace("resnet50", 224)
    dashed = {
        b.paper_name: (b.input_shape[0] != b.output_shape[0], b.stride != 1) for b in tr.blocks if b.dashed
    }
    assert dashed == {"conv2_1": (True, False), "conv3_1": (True, True), "conv4_1": (True, True),
                      "conv5_1": (True, True)}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_text_of_every_step_formats_for_every_network(lang: str) -> None:
    t = translator(lang)
    for arch in ARCHS:
        for step in STEPS:
            right = answer(step, arch, get_spec(arch).default_input)
            args = text_args(step, right, t, current=arch)
            keys = [right.text_key, f"{step.key}_question", right.working_key, f"{step.key}_title"]
            keys += [right.slip_key] if right.slip_key else []
            for key in keys:
                text = t(f"lesson.{key}", **args)
                assert "⟦" not in text and not re.search(r"\{\w+\}", text), (arch, key, text)
                assert "None" not in text, (arch, key, text)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_step_answers_for_every_network(arch: str) -> None:
    for step in STEPS:
        right = answer(step, arch, 64)
        assert check(step, _typed(right.value), right) is True


def _typed(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def test_replies_are_read_leniently_and_never_crash() -> None:
    shape, count, gmacs = BY_KEY["conv3_1"], BY_KEY["basic_cost"], BY_KEY["v15"]
    assert parse_reply(shape, "[28 x 28 x 128]") == (28, 28, 128)
    assert parse_reply(shape, "28, 28") is None
    assert parse_reply(count, "1,179,648") == 1_179_648
    assert parse_reply(count, "-3") is None and parse_reply(count, "١٢") is None
    assert parse_reply(gmacs, "0,23") == 0.23 and parse_reply(gmacs, "abc") is None
    right = answer(gmacs, "resnet50", 224)
    assert check(gmacs, f"{right.value + 0.01:.2f}", right) is False
    assert check(BY_KEY["solid"], "striped", answer(BY_KEY["solid"], "resnet34", 224)) is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_lesson_page_in_both_languages(lang: str, app_test) -> None:
    t = translator(lang)
    at = app_test(timeout=240, query={"lang": lang})
    at.switch_page("app_pages/lesson.py").run()
    for n, step in enumerate(STEPS, start=1):
        assert not at.exception, [e.value for e in at.exception]
        assert at.query_params["step"] == str(n)
        assert at.subheader[0].value == t(
            "lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{step.key}_title")
        )
        assert at.session_state["rv_arch"] == step.net and at.session_state["rv_block"] == step.block
        assert all("⟦" not in str(m.value) for m in at.markdown)
        if n in (1, 5, 12):  # one question right, one wrong (a choice question), x's shape at the addition
            right = answer(step, step.net, at.session_state["rv_input_size"])
            reply = {1: _typed(right.value), 5: "solid", 12: _typed(right.slip)}[n]
            if step.kind == "choice":
                at.radio(key=f"lesson_reply_{step.key}").set_value(reply)
            else:
                at.text_input(key=f"lesson_reply_{step.key}").input(reply)
            at.button(key=f"FormSubmitter:lesson_form_{step.key}-{t('lesson.check')}").click().run()
            if n == 1:
                assert at.success and at.success[0].value.startswith(t("lesson.right")), [
                    e.value for e in at.error
                ]
            elif n == 5:
                assert at.error and at.error[0].value.startswith(
                    t("lesson.wrong", answer=t("lesson.choice_dashed"))
                )
            else:
                args = text_args(step, right, t, current=step.net)
                assert at.error and t("lesson.addition_slip", **args) in at.error[0].value
        if step.key == "basic_cost":  # an answer that does not depend on the network says so
            assert t("lesson.about_fixed") in [c.value for c in at.caption]
        if n < STEP_COUNT:
            at.button(key="lesson_next").click().run()
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert at.query_params["step"] == str(STEP_COUNT - 1)


def test_every_lesson_sentence_is_registered_or_a_label() -> None:
    """Each key of the lesson section is in the claims register with its sources, or listed as a label (a title,
    a button, a question that states nothing); tests/test_claims.py checks that every registered source resolves."""
    register = tomllib.loads((ROOT / "resnet_viz" / "i18n" / "claims.toml").read_text(encoding="utf-8"))
    keys = {k.split(".", 1)[1] for k in catalogue("en") if k.startswith("lesson.")}
    claims = {k.split(".", 1)[1] for k in register["claims"] if k.startswith("lesson.")}
    labels = set(register["not_claims"]["lesson"])
    assert not claims & labels, claims & labels
    assert keys == claims | labels, (sorted(keys - claims - labels), sorted((claims | labels) - keys))


def test_the_shattered_step_answers_from_the_measurement(monkeypatch) -> None:
    """The answer is the network whose measured lag-1 autocorrelation is nearer 0, and the working says whether
    the two differ beyond the seed spread: both branches, on measurements put in place of the real one."""
    from resnet_viz.experiments import shattered

    step = BY_KEY["shattered"]
    real = answer(step, "resnet34", 224)
    assert real.value in step.choices and real.scope == "fixed" and real.arch == "resnet56"
    assert check(step, real.value, real) and not check(
        step, next(c for c in step.choices if c != real.value), real
    )
    cases = {
        "shattered_working_residual": ({"plain56": (0.0, 0.1), "resnet56": (0.7, 0.8)}, "plain"),
        "shattered_working_plain": ({"plain56": (0.7, 0.8), "resnet56": (0.0, 0.1)}, "residual"),
        "shattered_working_overlap": ({"plain56": (0.0, 0.5), "resnet56": (0.4, 0.6)}, "plain"),
    }
    for working_key, (measured, value) in cases.items():
        monkeypatch.setattr(shattered, "recorded_init_lag1", lambda depth, m=measured: m)
        got = answer(step, "resnet34", 224)
        assert (got.working_key, got.value) == (working_key, value)
        for lang in LANGUAGES:
            t = translator(lang)
            assert "⟦" not in t(f"lesson.{working_key}", **text_args(step, got, t, current="resnet34"))
    # every residual seed above every plain seed does not say which mean is nearer 0: with the plain network
    # anti-correlated (mean −0.9) the residual one (+0.45) is nearer, and the working must not say the plain one is
    for measured, value in (
        ({"plain56": (-0.95, -0.85), "resnet56": (0.4, 0.5)}, "residual"),
        ({"plain56": (0.0, 0.1), "resnet56": (0.4, 0.5)}, "plain"),
    ):
        monkeypatch.setattr(shattered, "recorded_init_lag1", lambda depth, m=measured: m)
        got = answer(step, "resnet34", 224)
        assert (got.working_key, got.value) == ("shattered_working_residual", value)
        for lang in LANGUAGES:
            t = translator(lang)
            working = t(f"lesson.{got.working_key}", **text_args(step, got, t, current="resnet34"))
            assert "plain network's is nearer" not in working and "普通网络的更接近" not in working


def test_answer_text_writes_each_kind_as_the_pages_show_it() -> None:
    from resnet_viz.i18n import translator
    from resnet_viz.lesson import STEPS, answer_text

    kinds = {s.kind: s for s in STEPS}
    t = translator("en")
    assert answer_text(kinds["shape"], (28, 28, 128), t) == "(28, 28, 128)"
    assert answer_text(kinds["int"], 1234567, t) == "1,234,567"
    assert answer_text(kinds["float"], 0.5, t) == "0.50"
    assert answer_text(kinds["choice"], "dashed", translator("zh")) == translator("zh")("lesson.choice_dashed")
