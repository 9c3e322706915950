"""What the presenter shows after "Ask the room": one step's answers as bars, and the room's CSV.

Pure (no Streamlit, no torch); the verdicts come from the lesson itself (:func:`resnet_viz.lesson.check` and
:func:`resnet_viz.lesson.slipped`), so a bar is marked right exactly when the student's own page would say so.

Replies are stored in one canonical form (:func:`canonical_reply`; the class page sends :func:`sendable_reply`,
the same form, before ``RoomStore.answer``), read with the lesson's own parser (:func:`resnet_viz.lesson.parse_reply`):
``28,28,128``, ``28x28x128`` and ``(28, 28, 128)`` are one bar; ``1,000`` and ``1000`` one; ``0,5`` and ``0.50``
one. The page sends only replies the lesson can read (:func:`sendable_reply`); a stored reply it cannot read
(another client's) is kept as typed (spaces collapsed) and counted in one "unreadable" bar.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from resnet_viz.classroom import MAX_REPLY_CHARS, Tally
from resnet_viz.lesson import STEPS, Answer, Step, check, parse_reply, slipped

RIGHT, WRONG, UNREADABLE = "right", "wrong", "unreadable"
#: The CSV's columns: no student id, no time, nothing personal.
CSV_HEADER = ("step", "question", "answer", "count")


def canonical_reply(step: Step, text: str) -> str:
    """The one form a reply is stored and counted in: the lesson's reading of it written back out
    (``(28, 28, 128)``, ``1000``, ``0.5``, ``dashed``), or, when the lesson cannot read it (or its reading written
    out would not fit :data:`~resnet_viz.classroom.MAX_REPLY_CHARS`), the text with its spaces collapsed. Either
    way it is read from the first ``MAX_REPLY_CHARS`` characters (the page's input takes no more), and applying it
    twice changes nothing."""
    typed = _as_input(text)
    reply = sendable_reply(step, typed)
    return typed if reply is None else reply


def sendable_reply(step: Step, text: str) -> str | None:
    """What the class page sends for ``text``: the lesson's reading of it written back out, or None (the page
    sends nothing) when the lesson cannot read it, or when that reading does not fit the store's
    :data:`~resnet_viz.classroom.MAX_REPLY_CHARS` (three numbers of a dozen digits each: ``(…, …, …)`` adds
    the brackets and spaces). So every reply the page stores is in the lesson's own form."""
    value = parse_reply(step, _as_input(text))
    if value is None:
        return None
    if step.kind == "shape":
        reply = "(" + ", ".join(str(v) for v in value) + ")"  # type: ignore[union-attr]
    elif step.kind == "float":
        # repr keeps every digit the student typed (0.504 stays 0.504: it is right within the lesson's ±0.005,
        # and a rounding here could move a reply across that edge); only the notation is made one.
        reply = repr(float(value))  # type: ignore[arg-type]
    else:
        reply = str(value)
    return reply if len(reply) <= MAX_REPLY_CHARS else None


def _as_input(text: str) -> str:
    """The reply as the page's input holds it: spaces collapsed, at most ``MAX_REPLY_CHARS`` characters."""
    return " ".join(str(text).split())[:MAX_REPLY_CHARS].rstrip()


@dataclass(frozen=True)
class Bar:
    """One bar: a canonical reply (for the right bar, the right answer; for the unreadable bar, empty), how many
    gave it, its verdict, and the i18n key of the reason it is wrong where the lesson knows one."""

    reply: str
    count: int
    verdict: str  # RIGHT, WRONG or UNREADABLE
    reason_key: str = ""  # e.g. "lesson.addition_slip": format it with lesson.text_args(step, right, ...)


@dataclass(frozen=True)
class Histogram:
    """A step's bars in the order the presenter shows them: the right answer first (even at 0), then each
    distinct wrong answer, most first (ties by text), then the unreadable replies in one bar (when any)."""

    step: int
    bars: tuple[Bar, ...]

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)

    @property
    def right(self) -> int:
        return sum(b.count for b in self.bars if b.verdict == RIGHT)


def histogram(tally: Tally, right: Answer) -> Histogram:
    """The bars of ``tally`` against the lesson's ``right`` answer for that step (``lesson.answer`` at the
    room's network and size). Replies are canonicalised again here, so a store holding two spellings of one
    answer still shows one bar."""
    step = STEPS[tally.step - 1]
    right_text = canonical_reply(step, _typed(right.value))
    wrong: Counter[str] = Counter()
    n_right = n_unreadable = 0
    for reply, n in tally.counts:
        text = canonical_reply(step, reply)
        verdict = check(step, text, right)
        if verdict is None:
            n_unreadable += n
        elif verdict:
            n_right += n
        else:
            wrong[text] += n
    bars = [Bar(right_text, n_right, RIGHT)]
    for text, n in sorted(wrong.items(), key=lambda tn: (-tn[1], tn[0])):
        reason = f"lesson.{right.slip_key}" if right.slip_key and slipped(step, text, right) else ""
        bars.append(Bar(text, n, WRONG, reason))
    if n_unreadable:
        bars.append(Bar("", n_unreadable, UNREADABLE))
    return Histogram(tally.step, tuple(bars))


def projected_bars(hist: Histogram, *, revealed: bool) -> tuple[Bar, ...]:
    """The bars the projector shows, in its order. Before the reveal nothing may give the answer away: only the
    answers someone gave, the right one among them unmarked, most first and ties by their text, so its place says
    nothing the counts do not (the unreadable replies, when any, last). After the reveal, :attr:`Histogram.bars`:
    the right answer first (even at 0), then the wrong ones, most first."""
    if revealed:
        return hist.bars
    given = sorted(
        (b for b in hist.bars if b.count and b.verdict != UNREADABLE), key=lambda b: (-b.count, b.reply)
    )
    return tuple(given + [b for b in hist.bars if b.verdict == UNREADABLE])


def _typed(value: object) -> str:
    """The right answer as a student would type it (what canonical_reply reads)."""
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------------------------------- CSV
#: A cell a spreadsheet would run as a formula (=, +, -, @, a tab or CR first), unless it is a plain number.
_FORMULA = re.compile(r"[=+\-@\t\r]")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _cell(text: str) -> str:
    if _FORMULA.match(text) and not _NUMBER.fullmatch(text):
        return "'" + text  # what OWASP's CSV-injection advice does: the spreadsheet shows it as text
    return text


def csv_rows(tallies: Iterable[Tally]) -> list[tuple[int, str, str, int]]:
    """The room's results, one row per (step, answer): step number, the question's i18n key
    (``lesson.addition_question``, the same in every language), the canonical answer, and its count. No
    student ids leave the store, so none can be here."""
    rows = []
    for tally in sorted(tallies, key=lambda t: t.step):
        question = f"lesson.{STEPS[tally.step - 1].key}_question"
        merged: Counter[str] = Counter()
        for reply, n in tally.counts:
            merged[canonical_reply(STEPS[tally.step - 1], reply)] += n
        for reply, n in sorted(merged.items(), key=lambda rn: (-rn[1], rn[0])):
            rows.append((tally.step, question, _cell(reply), n))
    return rows


def csv_text(tallies: Iterable[Tally]) -> str:
    """:func:`csv_rows` under :data:`CSV_HEADER`, as the download's text (RFC 4180 quoting, CRLF lines)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(tallies))
    return out.getvalue()
