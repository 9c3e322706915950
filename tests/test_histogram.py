"""The presenter's histogram: replies in one canonical form, bars judged by the lesson's own check, the known slip
with its reason, unreadable replies in one bar, and a CSV with nothing personal (and nothing a spreadsheet runs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_viz import lesson
from resnet_viz.classroom import MAX_REPLY_CHARS, Limits, Tally
from resnet_viz.classroom.histogram import (
    CSV_HEADER,
    RIGHT,
    UNREADABLE,
    WRONG,
    Bar,
    canonical_reply,
    csv_rows,
    csv_text,
    histogram,
    projected_bars,
    sendable_reply,
)
from resnet_viz.classroom.sqlite_store import SqliteRoomStore

BY_KEY = {s.key: s for s in lesson.STEPS}
ADDITION = BY_KEY[
    "addition"
]  # resnet18's layer3.0: a dashed block, 28×28×128 in, 14×14×256 out (He et al. 2015)
NUMBER = {s.key: lesson.STEPS.index(s) + 1 for s in lesson.STEPS}


def test_spellings_of_one_answer_are_one_canonical_reply() -> None:
    for typed in ("28,28,128", "(28, 28, 128)", " 28 x 28 x 128 ", "28×28×128", "[28,28,128]"):
        assert canonical_reply(ADDITION, typed) == "(28, 28, 128)"
    for typed in ("1,179,648", "1179648", "1 179 648", "1_179_648"):
        assert canonical_reply(BY_KEY["basic_cost"], typed) == "1179648"
    for typed in ("0,5", "0.50", " .5", "0.5"):
        assert canonical_reply(BY_KEY["v15"], typed) == "0.5"
    assert canonical_reply(BY_KEY["v15"], "0.504") == "0.504"  # no rounding: a reply keeps its digits
    assert canonical_reply(BY_KEY["dashed"], " dashed ") == "dashed"
    # what the lesson cannot read stays as typed, spaces collapsed, within the store's bound
    assert canonical_reply(BY_KEY["dashed"], "  no   idea ") == "no idea"
    assert canonical_reply(ADDITION, "28, 28") == "28, 28"
    assert canonical_reply(ADDITION, "x" * 100) == "x" * MAX_REPLY_CHARS
    assert canonical_reply(ADDITION, "x" * (MAX_REPLY_CHARS - 1) + " y") == "x" * (MAX_REPLY_CHARS - 1)


def test_the_page_sends_only_replies_in_the_lessons_own_form() -> None:
    """sendable_reply: the canonical reading, or None for a reply the lesson cannot read and for a shape whose
    reading, written out with brackets and spaces, would not fit the store (the page then sends nothing)."""
    assert sendable_reply(ADDITION, " 28 x 28 x 128 ") == "(28, 28, 128)"
    assert sendable_reply(BY_KEY["dashed"], "  no   idea ") is None
    numbers = ",".join(["1" * 12] * 3)  # 38 characters typed: the input takes them, the lesson reads them
    assert len(numbers) <= MAX_REPLY_CHARS and lesson.parse_reply(ADDITION, numbers) is not None
    written = "(" + ", ".join(["1" * 12] * 3) + ")"
    assert len(written) > MAX_REPLY_CHARS
    assert sendable_reply(ADDITION, numbers) is None  # not sent, rather than stored as typed
    assert canonical_reply(ADDITION, numbers) == numbers  # a store that holds it still counts it (unreadable)


@settings(max_examples=300, deadline=None)
@given(step=st.sampled_from(lesson.STEPS), text=st.text(max_size=60))
def test_what_the_page_sends_is_canonical_and_fits(step: lesson.Step, text: str) -> None:
    sent = sendable_reply(step, text)
    if sent is not None:
        assert canonical_reply(step, sent) == sent == canonical_reply(step, text)
        assert len(sent) <= MAX_REPLY_CHARS and lesson.parse_reply(step, sent) is not None


@settings(max_examples=300, deadline=None)
@given(step=st.sampled_from(lesson.STEPS), text=st.text(max_size=60))
def test_canonical_is_a_fixed_point_and_keeps_the_lessons_verdict(step: lesson.Step, text: str) -> None:
    once = canonical_reply(step, text)
    assert canonical_reply(step, once) == once
    assert len(once) <= MAX_REPLY_CHARS
    right = lesson.answer(step, step.net, 224)
    if len(text) <= MAX_REPLY_CHARS:  # what the page's input lets through: the same verdict before and after
        assert lesson.check(step, once, right) == lesson.check(step, text, right)


def test_the_addition_bars_name_the_slip_the_issue_names() -> None:
    right = lesson.answer(ADDITION, "resnet18", 224)
    tally = Tally(
        NUMBER["addition"],
        (
            ("(28, 28, 128)", 5),  # x's shape: the slip
            ("14,14,256", 4),  # right, two spellings
            ("(14, 14, 256)", 3),
            ("28,28,128", 2),  # the slip again, another spelling
            ("(14, 14, 128)", 2),
            ("(7, 7, 512)", 2),
            ("no idea", 1),
            ("256", 1),
        ),
    )
    hist = histogram(tally, right)
    assert hist.bars == (
        Bar("(14, 14, 256)", 7, RIGHT),
        Bar("(28, 28, 128)", 7, WRONG, "lesson.addition_slip"),
        Bar("(14, 14, 128)", 2, WRONG),
        Bar("(7, 7, 512)", 2, WRONG),
        Bar("", 2, UNREADABLE),
    )
    assert (hist.total, hist.right) == (tally.total, 7)


def test_the_right_bar_is_there_at_zero_and_a_step_without_a_known_slip_gives_no_reason() -> None:
    plain = lesson.answer(BY_KEY["conv3_1"], "resnet34", 224)
    hist = histogram(Tally(NUMBER["conv3_1"], (("(56, 56, 64)", 3),)), plain)
    assert hist.bars == (Bar("(28, 28, 128)", 0, RIGHT), Bar("(56, 56, 64)", 3, WRONG))
    assert histogram(Tally(NUMBER["conv3_1"], ()), plain).bars == (Bar("(28, 28, 128)", 0, RIGHT),)


def test_before_the_reveal_the_projector_orders_bars_by_count_so_the_right_one_is_not_given_away() -> None:
    plain = lesson.answer(BY_KEY["conv3_1"], "resnet34", 224)  # right: (28, 28, 128)
    tally = Tally(
        NUMBER["conv3_1"], (("(56, 56, 64)", 3), ("(28, 28, 128)", 1), ("(14, 14, 256)", 1), ("??", 2))
    )
    hist = histogram(tally, plain)
    before = projected_bars(hist, revealed=False)
    # most first, ties by text ("(14, …" before "(28, …"): the right answer is second to last, unmarked by place
    assert [(b.reply, b.count) for b in before] == [
        ("(56, 56, 64)", 3), ("(14, 14, 256)", 1), ("(28, 28, 128)", 1), ("", 2),
    ]  # fmt: skip
    assert before[-1].verdict == UNREADABLE and before[0].verdict == WRONG
    after = projected_bars(hist, revealed=True)
    assert after[0] == Bar("(28, 28, 128)", 1, RIGHT) and after == hist.bars
    # nobody gave the right answer: before the reveal it is not there at all (an empty bar would name it)
    none_right = histogram(Tally(NUMBER["conv3_1"], (("(56, 56, 64)", 3),)), plain)
    assert projected_bars(none_right, revealed=False) == (Bar("(56, 56, 64)", 3, WRONG),)
    assert projected_bars(none_right, revealed=True)[0] == Bar("(28, 28, 128)", 0, RIGHT)


def test_a_float_answer_is_right_within_the_lessons_tolerance() -> None:
    step = BY_KEY["v15"]
    right = lesson.answer(step, "resnet50", 224)
    value = float(right.value)
    near, far = f"{value + 0.004:.3f}", f"{value + 0.006:.3f}"
    hist = histogram(Tally(NUMBER["v15"], ((near, 2), (str(value), 1), (far, 1), ("lots", 1))), right)
    assert [(b.verdict, b.count) for b in hist.bars] == [(RIGHT, 3), (WRONG, 1), (UNREADABLE, 1)]
    assert hist.bars[1].reply == repr(float(far))


def test_csv_rows_merge_spellings_and_carry_no_personal_data() -> None:
    tallies = [
        Tally(NUMBER["addition"], (("(14, 14, 256)", 3), ("14,14,256", 1), ("(28, 28, 128)", 2))),
        Tally(NUMBER["input"], (("224,224,3", 5),)),
    ]
    rows = csv_rows(tallies)
    assert rows == [
        (NUMBER["input"], "lesson.input_question", "(224, 224, 3)", 5),
        (NUMBER["addition"], "lesson.addition_question", "(14, 14, 256)", 4),
        (NUMBER["addition"], "lesson.addition_question", "(28, 28, 128)", 2),
    ]
    parsed = list(csv.reader(io.StringIO(csv_text(tallies))))
    assert tuple(parsed[0]) == CSV_HEADER and [tuple(r) for r in parsed[1:]] == [
        tuple(str(v) for v in row) for row in rows
    ]


def test_a_reply_a_spreadsheet_would_run_is_written_as_text() -> None:
    rows = csv_rows([Tally(NUMBER["dashed"], (("=HYPERLINK(1)", 1), ("@SUM(A1)", 1), ("+1", 1)))])
    assert {r[2] for r in rows} == {"'=HYPERLINK(1)", "'@SUM(A1)", "'+1"}
    assert csv_rows([Tally(NUMBER["v15"], (("-0.5", 1),))])[0][2] == "-0.5"  # a plain number stays a number


def test_from_a_real_store_to_bars(tmp_path: Path) -> None:
    """What the class page does: canonicalise, answer, tally, draw; the ids stay in the store."""
    store = SqliteRoomStore(tmp_path, Limits(students=10, rooms=2, idle_s=600))
    try:
        code, secret = store.create("en")
        store.set_step(code, secret, NUMBER["addition"])
        typed = {"a": "28,28,128", "b": "(28, 28, 128)", "c": "14 14 256", "d": "?"}
        for student, text in typed.items():
            store.answer(code, student, NUMBER["addition"], canonical_reply(ADDITION, text))
        right = lesson.answer(ADDITION, "resnet18", 224)
        hist = histogram(store.tally(code, NUMBER["addition"]), right)
        assert [(b.reply, b.count, b.verdict) for b in hist.bars] == [
            ("(14, 14, 256)", 1, RIGHT),
            ("(28, 28, 128)", 2, WRONG),
            ("", 1, UNREADABLE),
        ]
        text = csv_text(store.export(code, secret))
        assert not any(student in line.split(",") for student in typed for line in text.splitlines())
    finally:
        store.close()
