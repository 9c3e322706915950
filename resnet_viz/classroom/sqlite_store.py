"""The default room store: one SQLite file in WAL mode, shared by every replica on one host.

Why these choices:

- **WAL mode**: a read never waits for a writer, and a writer waits only for another writer. A student's
  periodic check (``state``) is a read, except once per :data:`EXPIRE_EVERY_S` per process, when it runs the
  sweep of expired rooms first: a write, which may wait for another writer (up to :data:`BUSY_TIMEOUT_MS`).
  The mode is a property of the file, so it is set once and every process then uses it.
- **``BEGIN IMMEDIATE`` for every write**: the write lock is taken before the room is read, so a check and the
  write that depends on it ("is the room full?", "is the step revealed?") cannot interleave with another
  process's; a deferred transaction would instead fail with ``SQLITE_BUSY`` when it upgrades its read lock.
- **``busy_timeout``**: a writer that finds the lock taken waits (up to :data:`BUSY_TIMEOUT_MS`) instead of
  failing; one write here is a few rows, well under a millisecond, so a class of 200 answering together queues
  for milliseconds.
- **A connection per call, pooled**: Streamlit runs each script run in its own thread; a ``sqlite3`` connection
  must not be used by two threads at once, so each call takes one from a small pool (or opens one) and gives it
  back. Not one per thread: Streamlit starts a new thread for every run, so those would pile up, one per poll.
- **``synchronous=NORMAL``**: in WAL mode it is still safe against the app crashing; only a power cut can lose
  the last moments of answers, which a class can give again.

- **Deleted means gone from the files**: ``secure_delete`` overwrites a deleted row's bytes in its page, and
  after :meth:`SqliteRoomStore.end` or a sweep that deleted a room the WAL is checkpointed into the database and
  truncated (``wal_checkpoint(TRUNCATE)``); without both, a deleted student id and reply stay readable in
  ``rooms.sqlite3`` (free space) and ``rooms.sqlite3-wal`` (old frames) while the app runs.

Only the hash of the teacher secret is stored. Rooms, students and answers are bounded by :class:`Limits`.
An expired room (idle past ``Limits.idle_s``) is never served, and its rows are deleted from the file by
:meth:`SqliteRoomStore.expire`, which :meth:`SqliteRoomStore.create` runs every time, and every other call
that writes or polls (join, answer, a teacher action, ``state``) at most once per :data:`EXPIRE_EVERY_S` per
process: nothing needs to call ``expire`` on a timer, and while anyone has a class open (its page polls
``state`` every second) an expired room's rows outlive its idle limit by at most that long.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from resnet_viz.classroom import (
    Limits,
    RoomError,
    RoomState,
    Tally,
    checked_code,
    checked_lang,
    checked_reply,
    checked_step,
    checked_student,
    clock,
    moved_on,
    new_code,
    new_secret,
    no_room,
    not_teacher,
    secret_hash,
    secret_matches,
    tally_of,
)

FILE_NAME = "rooms.sqlite3"
#: How long a write waits for another process's write lock before failing, in ms. Writes take well under 1 ms,
#: so 10 s is only reached when something is badly wrong (a disk that stalls), and then failing is right.
BUSY_TIMEOUT_MS = 10_000
#: The most idle connections kept for reuse: about the calls a process runs at once (Streamlit's sessions on a
#: few cores); more would only hold file descriptors.
MAX_IDLE = 8
#: Seconds between the deletions of expired rooms that ordinary writes run (per process): one indexed query
#: (``rooms_touched``) a minute costs nothing beside a class's writes, and bounds how long an expired room's rows
#: (its students' random ids and their replies) stay on disk after its idle limit while the app is in use.
EXPIRE_EVERY_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY,
    lang TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    step INTEGER NOT NULL,
    revealed INTEGER NOT NULL,
    version INTEGER NOT NULL,
    answers_version INTEGER NOT NULL,
    created REAL NOT NULL,
    touched REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rooms_touched ON rooms (touched);
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL,
    student TEXT NOT NULL,
    PRIMARY KEY (code, student)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL,
    step INTEGER NOT NULL,
    student TEXT NOT NULL,
    reply TEXT NOT NULL,
    PRIMARY KEY (code, step, student)
) WITHOUT ROWID;
"""


class _Connection(sqlite3.Connection):
    """A connection that remembers whether its transaction deleted a room (then the WAL is truncated after it)."""

    deleted_rooms = False


class SqliteRoomStore:
    """:class:`~resnet_viz.classroom.RoomStore` on ``<folder>/rooms.sqlite3`` (created, with its folder, when
    missing). Thread-safe: each call has a connection to itself. Several processes may open the same file."""

    #: What this backend raises when the store itself fails (the page says "cannot be reached; try again"):
    #: a lock still held after :data:`BUSY_TIMEOUT_MS` ("database is locked"), a disk or permission error.
    FAILURES: tuple[type[BaseException], ...] = (sqlite3.OperationalError, OSError)

    def __init__(self, folder: str | os.PathLike[str], limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self.path = os.path.join(os.fspath(folder), FILE_NAME)
        try:  # the file readable by this user alone, whatever the umask (SQLite gives its WAL the same mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._count_lock = threading.Lock()
        self.open_connections = 0  # opened and not yet closed, idle or in use (a test checks they stay few)
        self._swept = float("-inf")  # the clock of this process's last deletion of expired rooms
        with self._connection() as conn:
            # journal_mode is a property of the file: set once, every later connection (any process) reads it.
            conn.execute("PRAGMA journal_mode=WAL")
        with self._write() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)

    # ------------------------------------------------------------------------------------------ plumbing
    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; _write and _read open them explicitly.
        # check_same_thread=False: a pooled connection is used by one thread at a time, but not always the same.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
            factory=_Connection,
        )  # fmt: skip
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        # A deleted row's bytes are zeroed, not left as free space (the default of Debian's SQLite, not of every build).
        conn.execute("PRAGMA secure_delete=ON")
        with self._count_lock:
            self.open_connections += 1
        return conn

    def _drop(self, conn: sqlite3.Connection) -> None:
        conn.close()
        with self._count_lock:
            self.open_connections -= 1

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for this call alone: an idle one from the pool, else a new one; back to the pool after.

        Not one per thread: Streamlit starts a new thread for every script run (and every fragment rerun), so
        connections kept per thread would pile up, one per poll. The pool holds as many as ran at once, at most
        :data:`MAX_IDLE` of them idle."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        finally:
            if conn.in_transaction or self._idle.qsize() >= MAX_IDLE:
                self._drop(conn)  # a transaction left open (a failed ROLLBACK) must not reach the next caller
            else:
                self._idle.put(conn)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the write lock from its first read (``BEGIN IMMEDIATE``); when it
        deleted a room (End, or a sweep), the WAL is then checkpointed and truncated (:meth:`_scrub`)."""
        with self._connection() as conn:
            conn.deleted_rooms = False  # type: ignore[attr-defined]
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except RoomError:
                # A refusal is decided before the call writes anything of its own, so all this transaction holds
                # is the sweep of expired rooms that began it: that stands (rolled back, the rooms would stay
                # until the next sweep, a minute later, although _swept says they went).
                self._commit(conn)
                raise
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._commit(conn)

    def _commit(self, conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")
        if conn.deleted_rooms:  # type: ignore[attr-defined]
            self._scrub(conn)

    @staticmethod
    def _scrub(conn: sqlite3.Connection) -> None:
        """Copy the WAL into the database and truncate it to 0 bytes, so the deleted rows' old pages are in
        neither file. It waits (the busy timeout) for readers of older frames, each a query long; if one still
        holds them it leaves the rest to the next End or sweep, which checkpoints again."""
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # the deletion is committed; the next End or sweep scrubs again
            pass

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in it sees the same moment (the room row and its counts agree)."""
        with self._connection() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _room(self, db: sqlite3.Connection, code: str, now: float) -> tuple:
        """The live room's row (lang, secret_hash, step, revealed, version, answers_version, created, touched);
        ``no_room`` when there is none or it has been idle past the limit."""
        row = db.execute(
            "SELECT lang, secret_hash, step, revealed, version, answers_version, created, touched"
            " FROM rooms WHERE code = ?",
            (code,),
        ).fetchone()
        if row is None or now - row[7] > self.limits.idle_s:
            raise no_room(code)
        return row

    def _teacher_room(self, db: sqlite3.Connection, code: str, secret: str, now: float) -> tuple:
        row = self._room(db, code, now)
        if not secret_matches(secret, row[1]):
            raise not_teacher(code)
        return row

    def _state(self, db: sqlite3.Connection, code: str, now: float) -> RoomState:
        lang, _, step, revealed, version, answers_version, created, touched = self._room(db, code, now)
        (students,) = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()
        (answered,) = db.execute(
            "SELECT COUNT(*) FROM answers WHERE code = ? AND step = ?", (code, step)
        ).fetchone()
        return RoomState(
            code, lang, step, bool(revealed), students, answered, version, answers_version, created, touched
        )

    def _delete(self, db: sqlite3.Connection, codes: list[str]) -> None:
        for table in ("answers", "students", "rooms"):
            db.executemany(f"DELETE FROM {table} WHERE code = ?", [(c,) for c in codes])
        if codes:
            db.deleted_rooms = True  # type: ignore[attr-defined]

    def _expire(self, db: sqlite3.Connection, now: float) -> int:
        # The same test as _room's (now - touched > idle), so a room is either served or expired, never both.
        rows = db.execute("SELECT code, touched FROM rooms WHERE touched < ?", (now - self.limits.idle_s,))
        codes = [c for c, touched in rows if now - touched > self.limits.idle_s]
        self._delete(db, codes)
        self._swept = now
        return len(codes)

    def _sweep(self, db: sqlite3.Connection, now: float) -> None:
        """Delete the expired rooms if this process has not for :data:`EXPIRE_EVERY_S` (or the clock went back:
        the tests' ``now``)."""
        if not 0 <= now - self._swept < EXPIRE_EVERY_S:
            self._expire(db, now)

    # ---------------------------------------------------------------------------------------- the interface
    def create(self, lang: str, *, now: float | None = None) -> tuple[str, str]:
        lang, t = checked_lang(lang), clock(now)
        secret = new_secret()
        with self._write() as db:
            self._expire(db, t)
            (live,) = db.execute("SELECT COUNT(*) FROM rooms").fetchone()
            if live >= self.limits.rooms:
                raise RoomError("too_many_rooms", f"the store holds its most rooms ({live})", rooms=live)
            while True:  # 30 bits: a collision is rare, and then another code is drawn
                code = new_code()
                if db.execute("SELECT 1 FROM rooms WHERE code = ?", (code,)).fetchone() is None:
                    break
            db.execute(
                "INSERT INTO rooms VALUES (?, ?, ?, 1, 0, 1, 0, ?, ?)",
                (code, lang, secret_hash(secret), t, t),
            )
        return code, secret

    def state(self, code: str, *, now: float | None = None) -> RoomState:
        code, t = checked_code(code), clock(now)
        if not 0 <= t - self._swept < EXPIRE_EVERY_S:  # the polls of an open class keep the sweeps going
            self.expire(now=t)
        with self._read() as db:
            return self._state(db, code, t)

    def join(self, code: str, student: str, *, now: float | None = None) -> RoomState:
        code, student, t = checked_code(code), checked_student(student), clock(now)
        with self._write() as db:
            self._sweep(db, t)
            self._room(db, code, t)
            self._join(db, code, student)
            db.execute("UPDATE rooms SET touched = ? WHERE code = ?", (t, code))
            return self._state(db, code, t)

    def _join(self, db: sqlite3.Connection, code: str, student: str) -> None:
        if db.execute("SELECT 1 FROM students WHERE code = ? AND student = ?", (code, student)).fetchone():
            return
        (joined,) = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()
        if joined >= self.limits.students:
            raise RoomError("full", f"room {code} holds its most students ({joined})", students=joined)
        db.execute("INSERT INTO students VALUES (?, ?)", (code, student))

    def set_step(self, code: str, secret: str, step: int, *, now: float | None = None) -> RoomState:
        step = checked_step(step, self.limits.steps)
        code, t = checked_code(code), clock(now)
        with self._write() as db:
            self._sweep(db, t)
            self._teacher_room(db, code, secret, t)
            db.execute(
                "UPDATE rooms SET step = ?, revealed = 0, version = version + 1, touched = ? WHERE code = ?",
                (step, t, code),
            )
            return self._state(db, code, t)

    def reveal(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        code, t = checked_code(code), clock(now)
        with self._write() as db:
            self._sweep(db, t)
            self._teacher_room(db, code, secret, t)
            db.execute(
                "UPDATE rooms SET revealed = 1, version = version + 1, touched = ? WHERE code = ?", (t, code)
            )
            return self._state(db, code, t)

    def reset(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        code, t = checked_code(code), clock(now)
        with self._write() as db:
            self._sweep(db, t)
            step = self._teacher_room(db, code, secret, t)[2]
            db.execute("DELETE FROM answers WHERE code = ? AND step = ?", (code, step))
            db.execute(
                "UPDATE rooms SET revealed = 0, version = version + 1, answers_version = answers_version + 1,"
                " touched = ? WHERE code = ?",
                (t, code),
            )
            return self._state(db, code, t)

    def end(self, code: str, secret: str) -> None:
        code = checked_code(code)
        with self._write() as db:
            # An ended room is gone whatever its idle time, so the room is looked up without the idle check.
            row = db.execute("SELECT secret_hash FROM rooms WHERE code = ?", (code,)).fetchone()
            if row is None:
                raise no_room(code)
            if not secret_matches(secret, row[0]):
                raise not_teacher(code)
            self._delete(db, [code])

    def answer(
        self, code: str, student: str, step: int, reply: str, *, now: float | None = None
    ) -> RoomState:
        code, student, t = checked_code(code), checked_student(student), clock(now)
        reply = checked_reply(reply)
        with self._write() as db:
            self._sweep(db, t)
            _, _, current, revealed, *_ = self._room(db, code, t)
            if isinstance(step, bool) or not isinstance(
                step, int
            ):  # True == 1 in Python, but it is not a step
                raise RoomError("no_step", f"step {step!r} is not a step", step=step, steps=self.limits.steps)
            if step != current:
                raise moved_on(code, step, current)
            if revealed:
                raise RoomError("revealed", f"step {step} of room {code} is revealed", step=step)
            # A student whose join was lost (a new replica, a reload) joins here, within the room's bound.
            self._join(db, code, student)
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?)"
                " ON CONFLICT (code, step, student) DO UPDATE SET reply = excluded.reply",
                (code, step, student, reply),
            )
            db.execute(
                "UPDATE rooms SET answers_version = answers_version + 1, touched = ? WHERE code = ?",
                (t, code),
            )
            return self._state(db, code, t)

    def tally(self, code: str, step: int, *, now: float | None = None) -> Tally:
        code, step = checked_code(code), checked_step(step, self.limits.steps)
        with self._read() as db:
            self._room(db, code, clock(now))
            rows = db.execute(
                "SELECT reply, COUNT(*) FROM answers WHERE code = ? AND step = ? GROUP BY reply", (code, step)
            ).fetchall()
        return tally_of(step, rows)

    def export(self, code: str, secret: str, *, now: float | None = None) -> list[Tally]:
        code = checked_code(code)
        with self._read() as db:
            self._teacher_room(db, code, secret, clock(now))
            rows = db.execute(
                "SELECT step, reply, COUNT(*) FROM answers WHERE code = ? GROUP BY step, reply", (code,)
            ).fetchall()
        steps = sorted({s for s, _, _ in rows})
        return [tally_of(s, [(r, n) for s2, r, n in rows if s2 == s]) for s in steps]

    def expire(self, *, now: float | None = None) -> int:
        with self._write() as db:
            return self._expire(db, clock(now))

    def close(self) -> None:
        """Close the idle connections (a call after this opens a new one; one in use closes when it ends)."""
        while True:
            try:
                self._drop(self._idle.get_nowait())
            except queue.Empty:
                return
