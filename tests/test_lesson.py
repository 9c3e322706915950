"""The lesson's answers are computed for the current network and size, agree with the notes' figures at
ResNet-34/224, follow the sidebar elsewhere; replies are read leniently and never crash. Plus the page itself, in
both languages, through AppTest: every step, one right and one wrong answer."""

from __future__ import annotations

import pytest

from resnet_viz import ARCHS
from resnet_viz.architecture.trace import conv_out
from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS, answer, check, parse_reply

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
    assert right.arch == "resnet34" and right.value == 56


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
        if n in (1, 5):  # one question right, one wrong (a choice question)
            right = answer(step, step.net, at.session_state["rv_input_size"])
            reply = _typed(right.value) if n == 1 else "solid"
            if step.kind == "choice":
                at.radio(key=f"lesson_reply_{step.key}").set_value(reply)
            else:
                at.text_input(key=f"lesson_reply_{step.key}").input(reply)
            at.button(key=f"FormSubmitter:lesson_form_{step.key}-{t('lesson.check')}").click().run()
            if n == 1:
                assert at.success and at.success[0].value.startswith(t("lesson.right")), [
                    e.value for e in at.error
                ]
            else:
                assert at.error and at.error[0].value.startswith(
                    t("lesson.wrong", answer=t("lesson.choice_dashed"))
                )
        if n < STEP_COUNT:
            at.button(key="lesson_next").click().run()
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert at.query_params["step"] == str(STEP_COUNT - 1)
