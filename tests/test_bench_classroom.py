"""benchmarks/bench_classroom.py's pure parts: the presenter's bars read back, latencies from the pages' logs,
percentiles, and the table's rows against issue 23's targets (no browser, no server)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from benchmarks.bench_classroom import (
    Phase,
    answer_latencies,
    bars_mismatch,
    replies,
    results,
    step_latency,
)
from benchmarks.common import percentile
from devtools.classpage import parse_bars, typed_reply


def test_bars_are_read_line_by_line_and_a_bar_of_zero_is_no_answer() -> None:
    text = "(224, 224, 3): 18\n(224, 224, 4)：7\n\n56: 0\nnot a bar\n(224, 224, 5): 5"
    assert parse_bars(text) == Counter({"(224, 224, 3)": 18, "(224, 224, 4)": 7, "(224, 224, 5)": 5})


def test_a_student_counted_under_the_wrong_answer_is_one_miscount() -> None:
    expected = Counter({"a": 3, "b": 2})
    assert bars_mismatch(expected, Counter({"a": 3, "b": 2})) == 0
    assert bars_mismatch(expected, Counter({"a": 2, "b": 3})) == 1  # one moved
    assert bars_mismatch(expected, Counter({"a": 3, "b": 1})) == 1  # one missing
    assert bars_mismatch(expected, Counter({"a": 3, "b": 2, "c": 1})) == 1  # one extra
    assert bars_mismatch(expected, Counter()) == 3  # (5 + 1) // 2: every answer missing


def test_the_kth_answer_is_shown_when_the_total_first_reaches_k() -> None:
    bars = [(10.5, "x: 1"), (11.0, "x: 2\ny: 1"), (14.0, "x: 3\ny: 1")]
    # Submitted out of order: the latencies pair the sorted submits with the totals reaching 1, 2, 3, 4.
    got = answer_latencies([10.2, 9.9, 10.0, 12.0], bars)
    assert got == pytest.approx([10.5 - 9.9, 11.0 - 10.0, 11.0 - 10.2, 14.0 - 12.0])
    assert answer_latencies([1.0, 2.0], [(1.5, "x: 1")]) == [0.5, math.inf]  # the second never shown


def test_a_step_is_reached_the_first_time_it_is_shown_after_the_click() -> None:
    steps = [(1.0, 1), (5.0, 2), (8.0, 3), (9.5, 2)]
    assert step_latency(steps, 4.0, 2) == pytest.approx(1.0)
    assert step_latency(steps, 9.0, 2) == pytest.approx(0.5)  # back to 2: not the earlier visit
    assert step_latency(steps, 9.6, 2) == math.inf
    assert step_latency([], 0.0, 2) == math.inf


@pytest.mark.parametrize("n", [1, 2, 5, 30, 31])
@pytest.mark.parametrize("q", [0, 50, 95, 100])
def test_percentile_is_numpys_linear_one(n: int, q: float) -> None:
    values = list(np.random.default_rng(n).uniform(0, 3, n))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_leaves_out_nan_and_reaches_infinity() -> None:
    assert percentile([1.0, math.nan, 3.0], 50) == 2.0
    assert math.isnan(percentile([math.nan], 95))
    assert percentile([1.0] * 19 + [math.inf], 95) == math.inf  # one never-arrived in 20 decides the p95
    assert percentile([1.0] * 99 + [math.inf], 50) == 1.0


def test_replies_are_mostly_right_and_reproducible() -> None:
    from resnet_viz import lesson

    step = lesson.STEPS[0]
    value = lesson.answer(step, step.net, 224).value  # ResNet-34's input, worked out by the lesson
    right = ", ".join(str(v) for v in value)
    assert typed_reply(step) == right and typed_reply(step, 2) != right
    got = replies(30)
    assert got == replies(30) and len(got) == 30
    assert got.count(right) == 18 and len(set(got)) == 3


def _phase(**kw) -> Phase:
    good = dict(
        step_latencies=[0.5] * 90,
        answer_latencies=[0.8] * 30,
        bars_mismatch=0,
        idle_cpu_pct=0.4,
        join_cpu_s=0.1,
        first_load_cpu_s=0.2,
    )
    return Phase("1 server", **(good | kw))


def test_a_good_phase_passes_every_row() -> None:
    rows = results(_phase(), 30)
    assert len(rows) == 7 and all(r.ok for r in rows), [(r.name, r.value) for r in rows if not r.ok]
    assert [r.target for r in rows] == ["≤ 2 s", "≤ 2 s", "= 0 (exact)", "≤ 2%", "≤ 1×", "= 0", "= 0"]


@pytest.mark.parametrize(
    ("change", "row"),
    [
        ({"step_latencies": [0.5] * 85 + [math.inf] * 5}, 0),  # 5 of 90 never arrived: p95 is infinite
        ({"answer_latencies": [0.8] * 27 + [2.5] * 3}, 1),  # 3 slow of 30 reach the p95
        ({"bars_mismatch": 1}, 2),
        ({"bars_mismatch": -1}, 2),  # never read is no pass
        ({"idle_cpu_pct": 2.1}, 3),
        ({"join_cpu_s": 0.21}, 4),
        ({"join_cpu_s": math.nan}, 4),
        ({"errors": ["student 3: page error"]}, 5),
        ({"crosstalk": ["room B's answer in room A's bars"]}, 6),
    ],
)
def test_each_target_fails_on_its_own(change: dict, row: int) -> None:
    rows = results(_phase(**change), 30)
    assert [i for i, r in enumerate(rows) if not r.ok] == [row]


def test_the_suite_finds_it() -> None:
    from benchmarks.__main__ import discover

    assert "classroom" in discover()


def test_one_answer_spelled_three_ways_is_one_bar() -> None:
    from devtools.classpage import expected_bars
    from resnet_viz import lesson

    step = lesson.STEPS[0]  # a shape question
    bars = expected_bars(step, ["224,224,3", "(224, 224, 3)", "224 x 224 x 3", "224, 224, 4"], "en")
    assert bars == Counter({"(224, 224, 3)": 3, "(224, 224, 4)": 1})
