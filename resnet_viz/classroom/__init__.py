"""Class mode's shared state: a *room* the teacher drives and students answer in, kept in a store every replica
reads (SQLite in WAL mode on one host, Redis across hosts), never in process memory.

Pure: no Streamlit, no torch. This module is the one interface (:class:`RoomStore`) and its records; the backends
are :mod:`resnet_viz.classroom.sqlite_store` and :mod:`resnet_viz.classroom.redis_store`, and :func:`open_store`
picks one from ``RESNET_VIZ_ROOMS``. One contract test suite (tests/test_rooms.py) runs against both.

Who may do what: a room is created with a *teacher secret* (only its hash is stored); every teacher action
(set the step, reveal, reset, end) must present it, so a student's session, which never has it, is refused.
Students are anonymous: an opaque id per browser, no names. Rooms, students and answers are bounded and a room
expires after an idle time, so a flood of joins or submissions cannot grow memory or the database without bound.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol

from resnet_viz.errors import UserError

#: Room codes use Crockford's base-32 alphabet (no I, L, O, U: nothing a student misreads from a projector).
#: Six characters are 30 bits: a class-sized guesser rate-limited by nginx needs years to hit a live room.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6
#: What a student may type for each character Crockford's alphabet leaves out.
_CODE_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: The longest reply kept (the lesson's text input takes 40 characters), and the longest student id.
MAX_REPLY_CHARS = 40
MAX_STUDENT_ID_CHARS = 64


class RoomError(UserError):
    """Something a room refuses, shown in the page in the reader's language (``classroom.error_<code>``)."""

    I18N_PREFIX = "classroom.error_"
    CODES = (
        "no_room",  # no such room: a mistyped or forged code, or a room that expired or ended
        "not_teacher",  # a teacher action without the room's teacher secret
        "full",  # the room already holds its most students
        "too_many_rooms",  # the store already holds its most live rooms
        "revealed",  # an answer (or a change) after the teacher revealed the question
        "bad_step",  # a step outside the lesson, or an answer to a step that is not the room's current one
        "bad_reply",  # an empty or too long reply, or a bad student id
    )
    OUTSIDE = ("code",)


def new_code() -> str:
    """A fresh room code: :data:`CODE_LENGTH` characters of :data:`CODE_ALPHABET` from :mod:`secrets`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """A code as typed or scanned (``k7q-x2m``, ``K7Q X2M``, an O for a 0) in its stored form, or None when it
    cannot be one."""
    code = "".join(ch for ch in str(text).upper() if ch not in "- ").translate(_CODE_ALIASES)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def display_code(code: str) -> str:
    """The code as the projector shows it, in two groups of three: ``K7Q-X2M``."""
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def new_secret() -> str:
    """A teacher secret (kept in the teacher's session only; the store keeps its hash)."""
    return secrets.token_urlsafe(24)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str | None, stored_hash: str) -> bool:
    return secret is not None and hmac.compare_digest(secret_hash(secret), stored_hash)


@dataclass(frozen=True)
class RoomState:
    """What every screen in the room reads. ``version`` grows with every teacher action (step, reveal, reset), so
    a student's periodic check compares one integer; ``answers_version`` grows with every answer."""

    code: str
    lang: str
    step: int  # 1-based lesson step
    revealed: bool
    students: int  # joined, not expired
    answered: int  # students who answered the current step
    version: int
    answers_version: int
    created: float  # unix time
    touched: float  # unix time of the last write


@dataclass(frozen=True)
class Tally:
    """One step's answers: each distinct (normalised) reply with how many students gave it, most first."""

    step: int
    counts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


class RoomStore(Protocol):
    """The one interface both backends implement. Every method may raise :class:`RoomError`; times are unix
    seconds and ``now`` defaults to the clock (tests pass it to check expiry)."""

    def create(self, lang: str, *, now: float | None = None) -> tuple[str, str]:
        """A new room at step 1: its code and the teacher secret (returned once, never stored in clear)."""
        ...

    def state(self, code: str, *, now: float | None = None) -> RoomState:
        """The room's state (``no_room`` when unknown, ended or expired). Reading does not keep a room alive."""
        ...

    def join(self, code: str, student: str, *, now: float | None = None) -> RoomState:
        """Add (or refresh) an anonymous student; joining again is not counted twice."""
        ...

    def set_step(self, code: str, secret: str, step: int, *, now: float | None = None) -> RoomState:
        """Teacher: move the room to ``step`` (un-reveals it)."""
        ...

    def reveal(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        """Teacher: reveal the current step's answer on every screen."""
        ...

    def reset(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        """Teacher: forget the current step's answers and un-reveal it."""
        ...

    def end(self, code: str, secret: str) -> None:
        """Teacher: end the class; the room and its answers are deleted."""
        ...

    def answer(self, code: str, student: str, step: int, reply: str, *, now: float | None = None) -> RoomState:
        """A joined student's reply to the room's current step; a second reply replaces the first until reveal."""
        ...

    def tally(self, code: str, step: int) -> Tally:
        """The step's answers, counted (no student ids leave the store)."""
        ...

    def export(self, code: str, secret: str) -> list[Tally]:
        """Teacher: every step's tally (the CSV download: step, question, answer, count)."""
        ...

    def expire(self, *, now: float | None = None) -> int:
        """Delete every room idle longer than the idle limit; the number deleted."""
        ...
