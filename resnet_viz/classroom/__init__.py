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

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Protocol, cast

from resnet_viz import settings
from resnet_viz.errors import UserError
from resnet_viz.i18n import LANGUAGES
from resnet_viz.lesson import STEP_COUNT

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
        "bad_step",  # an answer to a step that is not the room's current one (the class moved on): n = the room's
        "no_step",  # a step outside the lesson (1..steps)
        "bad_reply",  # an empty or too long reply, or a bad student id
        "unavailable",  # the store failed (a database locked past its timeout, a Redis that cannot be reached)
    )
    OUTSIDE = ("code",)

    @classmethod
    def about(cls, kind: str, code: str, message: str, **params: object) -> RoomError:
        """A RoomError about room ``code``: its ``code`` param is the room's (``UserError``'s own ``code`` argument
        is the error's kind, so the room's code cannot be passed as a keyword)."""
        err = cls(kind, message, **params)
        err.params["code"] = code
        return err


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

    def answer(
        self, code: str, student: str, step: int, reply: str, *, now: float | None = None
    ) -> RoomState:
        """A student's reply to the room's current step; a second reply replaces the first until reveal. A student
        not joined yet (a join lost to a reload or another replica) is joined first, within the room's bound.
        Store the reply as ``histogram.canonical_reply(step, text)`` gives it, so that spellings are one bar."""
        ...

    def tally(self, code: str, step: int, *, now: float | None = None) -> Tally:
        """The step's answers, counted (no student ids leave the store)."""
        ...

    def export(self, code: str, secret: str, *, now: float | None = None) -> list[Tally]:
        """Teacher: every step's tally (the CSV download: step, question, answer, count)."""
        ...

    def expire(self, *, now: float | None = None) -> int:
        """Delete every room idle longer than the idle limit; the number deleted."""
        ...

    def close(self) -> None:
        """Let go of the store's connections (the process's own; rooms stay in the store)."""
        ...


@dataclass(frozen=True)
class Limits:
    """The bounds every backend enforces: students per room, live rooms per store, and the idle time after which
    a room expires. A room's answers are bounded by them too: one per student per lesson step, each at most
    :data:`MAX_REPLY_CHARS`, so at most ``students × steps`` rows of bounded size."""

    students: int = settings.DEFAULTS.room_students
    rooms: int = settings.DEFAULTS.max_rooms
    idle_s: float = settings.DEFAULTS.room_idle_min * 60
    steps: int = STEP_COUNT

    @classmethod
    def from_settings(cls, s: settings.Settings) -> Limits:
        return cls(students=s.room_students, rooms=s.max_rooms, idle_s=s.room_idle_min * 60)


# ------------------------------------------------------------------------------ checks both backends share
# Each raises the RoomError a page shows, before anything reaches a store.


def clock(now: float | None) -> float:
    """``now`` as given (the tests' clock), else the wall clock."""
    return time.time() if now is None else float(now)


def checked_code(code: str) -> str:
    """A code in its stored form; ``no_room`` for anything that cannot be one (a forged address)."""
    normal = normalize_code(code) if isinstance(code, str) else None
    if normal is None:
        raise RoomError.about("no_room", str(code)[:20], f"no room {str(code)[:20]!r}")
    return normal


def checked_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


def checked_student(student: str) -> str:
    """An anonymous id as the browser sent it: 1 to :data:`MAX_STUDENT_ID_CHARS` printable characters."""
    if (
        not isinstance(student, str)
        or not 0 < len(student) <= MAX_STUDENT_ID_CHARS
        or not student.isprintable()
    ):
        raise RoomError(
            "bad_reply",
            f"a student id is 1 to {MAX_STUDENT_ID_CHARS} printable characters",
            chars=MAX_REPLY_CHARS,
        )
    return student


def checked_reply(reply: str) -> str:
    """A reply without its outer spaces: 1 to :data:`MAX_REPLY_CHARS` printable characters."""
    text = reply.strip() if isinstance(reply, str) else ""
    if not 0 < len(text) <= MAX_REPLY_CHARS or not text.isprintable():
        raise RoomError("bad_reply", f"a reply is 1 to {MAX_REPLY_CHARS} characters", chars=MAX_REPLY_CHARS)
    return text


def checked_step(step: int, steps: int) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= steps:
        raise RoomError("no_step", f"step {step!r} is not one of 1..{steps}", step=step, steps=steps)
    return step


def moved_on(code: str, step: object, current: int) -> RoomError:
    """An answer to ``step`` when room ``code`` is at step ``current``: the class has moved on (or back)."""
    return RoomError("bad_step", f"step {step!r} is not room {code}'s step ({current})", step=step, n=current)


def no_room(code: str) -> RoomError:
    return RoomError.about("no_room", code, f"no room {code}")


def not_teacher(code: str) -> RoomError:
    return RoomError.about("not_teacher", code, f"not the teacher of room {code}")


def tally_of(step: int, replies: list[tuple[str, int]]) -> Tally:
    """A :class:`Tally` in its one order: most answers first, then the reply's text (stable for tests, CSV)."""
    return Tally(step, tuple(sorted(replies, key=lambda rc: (-rc[1], rc[0]))))


class GuardedStore:
    """A store whose backend failures reach the page as ``RoomError("unavailable")`` (the class store cannot be
    reached; try again), never as a traceback: a SQLite database still locked after its busy timeout or a disk
    error (``sqlite3.OperationalError``), a Redis that refuses the connection or times out. ``failures`` are the
    backend's own exception classes (:data:`SqliteRoomStore.FAILURES <resnet_viz.classroom.sqlite_store>`,
    ``RedisRoomStore.FAILURES``); anything else (a bug) still raises as itself. Every other attribute is the
    store's."""

    def __init__(self, store: RoomStore, failures: tuple[type[BaseException], ...]) -> None:
        self.store = store
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def guarded(*args: object, **kwargs: object) -> object:
            try:
                return attr(*args, **kwargs)
            except self.failures as err:
                raise unavailable(err) from None

        return guarded


def unavailable(err: BaseException) -> RoomError:
    """The RoomError a backend failure becomes (its English message names the failure, for the log)."""
    return RoomError("unavailable", f"the class store cannot be reached: {type(err).__name__}: {err}")


def open_store(s: settings.Settings | None = None) -> RoomStore:
    """The store ``RESNET_VIZ_ROOMS`` names, with the limits of the ``RESNET_VIZ_ROOM_*`` knobs: SQLite at
    ``<data dir>/rooms.sqlite3`` by default, Redis for a ``redis://`` address, behind :class:`GuardedStore`
    (a failure of the backend, opening it included, is ``RoomError("unavailable")``). One store object serves
    every session of a process (both backends are thread-safe); the UI keeps it in ``st.cache_resource``."""
    s = s or settings.current()
    limits = Limits.from_settings(s)
    if s.rooms == "sqlite":
        from resnet_viz.classroom.sqlite_store import SqliteRoomStore as backend
    else:
        from resnet_viz.classroom.redis_store import RedisRoomStore as backend
    try:
        store = backend(settings.data_dir(s) if s.rooms == "sqlite" else s.rooms, limits)
    except backend.FAILURES as err:
        raise unavailable(err) from None
    return cast(RoomStore, GuardedStore(store, backend.FAILURES))
