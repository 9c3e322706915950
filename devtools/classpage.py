"""What a browser script types into and reads from the class page (issue 23), for the e2e test
(``tests/e2e/test_class_mode.py``) and the benchmark (``benchmarks/bench_classroom.py``): one definition of each.

* replies a student types to a lesson step: the right one, and wrong ones of the right kind;
* the label the presenter gives the bar of a typed reply: the store's canonical form
  (``classroom.histogram.canonical_reply``) shown as the page shows it (``ui.classroom.shown_answer``), so an
  expected histogram is never a typed-in label;
* the presenter's plain-text bars (``class_bars``: one line "<answer>: <count>") read back as a Counter.

It lives outside ``resnet_viz/`` because it is development tooling, not part of the app.
"""

from __future__ import annotations

import re
from collections import Counter

from resnet_viz import lesson, links
from resnet_viz.i18n import translator


def right_value(step: lesson.Step) -> object:
    """The lesson's answer to ``step`` in a room: the step's own network at its own input size (what the class
    page asks about)."""
    return lesson.answer(step, step.net, links.start_size(step.net)).value


def typed_reply(step: lesson.Step, off_by: int = 0) -> str:
    """A reply as a student types it ("224, 224, 3", "56"): the right answer, or with its last number changed by
    ``off_by`` (a wrong answer of the right kind). Shape and integer steps only."""
    if step.kind not in ("shape", "int"):
        raise ValueError(f"step {step.key!r} is a {step.kind} question; typed replies are for shape and int")
    value = right_value(step)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in (*value[:-1], value[-1] + off_by))
    return str(int(value) + off_by)  # type: ignore[call-overload]


def bar_label(step: lesson.Step, reply: str, lang: str) -> str:
    """How the presenter labels the bar a typed ``reply`` is counted in, in the room's language."""
    from resnet_viz.classroom.histogram import canonical_reply
    from resnet_viz.ui.classroom import shown_answer

    return shown_answer(step, canonical_reply(step, reply), translator(lang))


def expected_bars(step: lesson.Step, replies: list[str], lang: str) -> Counter:
    """The bars the presenter must show for the standing ``replies``: label → count."""
    return Counter(bar_label(step, r, lang) for r in replies)


def parse_bars(text: str) -> Counter:
    """The presenter's plain-text bars, one line "<answer>: <count>" each (a full-width colon too), as a Counter;
    a bar of 0 is left out: it is no submitted answer."""
    bars: Counter = Counter()
    for line in text.splitlines():
        m = re.match(r"^\s*(.+?)\s*[:：]\s*(\d+)\s*$", line)
        if m and int(m[2]):
            bars[m[1]] += int(m[2])
    return bars
