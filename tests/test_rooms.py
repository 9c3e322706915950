"""Class mode's room store: ONE contract suite, run against SQLite and against a real ``redis-server``.

Every test takes ``make`` (a factory of a fresh, empty store with the limits asked for) and so runs on both
backends. The Redis fixture starts ``/usr/bin/redis-server`` on a free loopback port without persistence and
stops it after the module; without it (or without the ``redis`` package) the Redis half is skipped with the
install command, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from repo import ROOT

from resnet_viz import settings
from resnet_viz.classroom import (
    MAX_REPLY_CHARS,
    MAX_STUDENT_ID_CHARS,
    GuardedStore,
    Limits,
    RoomError,
    RoomStore,
    display_code,
    open_store,
    secret_hash,
)
from resnet_viz.classroom.sqlite_store import EXPIRE_EVERY_S, FILE_NAME, SqliteRoomStore
from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT

T0 = 1_800_000_000.0  # a fixed clock for the tests that pass now=
IDLE_S = 600.0
SMALL = Limits(students=5, rooms=4, idle_s=IDLE_S)
BIG = Limits(students=200, rooms=50, idle_s=IDLE_S)

Make = Callable[..., RoomStore]


def _missing(what: str) -> None:
    message = (
        f"{what}: apt-get install redis-server (and pip install redis) to run the Redis half of the suite"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; under CI=true the Redis store must be tested")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, no snapshots, no append-only file; stopped after."""
    exe = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if exe is None:
        _missing("redis-server is not installed")
    try:
        import redis
    except ImportError:
        _missing("the redis package is not installed")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port} (exit {proc.poll()})")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """``make(limits=SMALL)``: a store of this test's backend, empty, closed after the test. Stores made twice in
    one test share their data (the same SQLite file, the same Redis database): two "replicas"."""
    made: list[RoomStore] = []
    if backend == "redis":
        import redis

        url = request.getfixturevalue("redis_url")
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()

    def factory(limits: Limits = SMALL) -> RoomStore:
        if backend == "sqlite":
            store: RoomStore = SqliteRoomStore(tmp_path / "data", limits)
        else:
            from resnet_viz.classroom.redis_store import RedisRoomStore

            store = RedisRoomStore(url, limits)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


def _stored_text(store: RoomStore, *, raw: bool = False) -> str:
    """Everything the store holds, as text: every SQLite row (``raw``: the file's bytes with its WAL, where
    deleted rows may linger until pages are reused), or every Redis value."""
    if isinstance(store, SqliteRoomStore):
        if raw:
            files = [p for p in Path(store.path).parent.iterdir() if p.name.startswith(FILE_NAME)]
            return "".join(p.read_bytes().decode("latin-1") for p in files)
        with store._connection() as conn:
            return "\n".join(conn.iterdump())
    client = store._redis
    parts = []
    for key in client.keys("*"):
        kind = client.type(key)
        if kind == "hash":
            parts += [f"{k}={v}" for k, v in client.hgetall(key).items()]
        elif kind == "set":
            parts += list(client.smembers(key))
        elif kind == "zset":
            parts += [str(m) for m in client.zrange(key, 0, -1)]
    return "\n".join(parts)


def _raises(kind: str, fn: Callable[[], object]) -> RoomError:
    with pytest.raises(RoomError) as info:
        fn()
    assert info.value.code == kind, f"expected {kind}, got {info.value.code}: {info.value}"
    return info.value


def test_a_missing_redis_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        _missing("redis-server is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install redis-server"):
        _missing("redis-server is not installed")


# ------------------------------------------------------------------------------------------------ the contract
def test_create_starts_at_step_one_and_keeps_only_the_secrets_hash(make: Make) -> None:
    store = make()
    code, secret = store.create("zh", now=T0)
    state = store.state(code, now=T0)
    assert (state.code, state.lang, state.step, state.revealed) == (code, "zh", 1, False)
    assert (state.students, state.answered, state.answers_version) == (0, 0, 0)
    assert state.created == state.touched == T0
    other, other_secret = store.create("en", now=T0)
    assert other != code and other_secret != secret
    text = _stored_text(store, raw=True)
    assert secret_hash(secret) in text and secret not in text and other_secret not in text
    if isinstance(store, SqliteRoomStore):  # answers and hashes are this user's alone
        assert all(p.stat().st_mode & 0o077 == 0 for p in Path(store.path).parent.iterdir())
    # the code as a student types it from the projector: lower case, with the dash, an O for a 0
    typed = display_code(code).lower().replace("0", "o")
    assert store.state(typed, now=T0).code == code
    with pytest.raises(ValueError):
        store.create("fr", now=T0)


def test_join_counts_a_student_once_and_does_not_move_the_room(make: Make) -> None:
    store = make()
    code, _ = store.create("en", now=T0)
    assert store.join(code, "s1", now=T0 + 1).students == 1
    again = store.join(code, "s1", now=T0 + 2)
    assert again.students == 1 and again.version == 1
    assert store.join(code, "s2", now=T0 + 3).students == 2
    assert store.state(code, now=T0 + 3).touched == T0 + 3  # a join keeps the room alive


def test_set_step_moves_every_screen_and_answered_counts_the_current_step(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    for s in ("a", "b", "c"):
        store.join(code, s, now=T0)
    store.answer(code, "a", 1, "3", now=T0)
    store.answer(code, "b", 1, "4", now=T0)
    before = store.state(code, now=T0)
    assert before.answered == 2
    moved = store.set_step(code, secret, 2, now=T0 + 1)
    assert (moved.step, moved.answered, moved.students) == (2, 0, 3)
    assert moved.version == before.version + 1
    store.answer(code, "c", 2, "64", now=T0 + 2)
    assert store.state(code, now=T0 + 2).answered == 1
    back = store.set_step(code, secret, 1, now=T0 + 3)
    assert back.answered == 2  # step 1's answers are kept
    for bad in (0, STEP_COUNT + 1, -1, "2", 1.0, True):
        _raises("no_step", lambda bad=bad: store.set_step(code, secret, bad, now=T0 + 4))
    assert store.set_step(code, secret, STEP_COUNT, now=T0 + 5).step == STEP_COUNT


def test_answer_change_answer_and_tally(make: Make) -> None:
    store = make()
    code, _ = store.create("en", now=T0)
    v0 = store.state(code, now=T0).answers_version
    store.answer(code, "a", 1, "(28, 28, 128)", now=T0 + 1)
    store.answer(code, "b", 1, "(28, 28, 128)", now=T0 + 1)
    store.answer(code, "c", 1, "(56, 56, 64)", now=T0 + 1)
    assert store.tally(code, 1, now=T0 + 1).counts == (("(28, 28, 128)", 2), ("(56, 56, 64)", 1))
    state = store.answer(code, "a", 1, "  (56, 56, 64) ", now=T0 + 2)  # changed; outer spaces dropped
    assert state.answered == 3 and state.students == 3  # answering joins a student whose join was lost
    assert state.answers_version == v0 + 4
    tally = store.tally(code, 1, now=T0 + 2)
    assert tally.counts == (("(56, 56, 64)", 2), ("(28, 28, 128)", 1)) and tally.total == 3
    assert store.tally(code, 2, now=T0 + 2).counts == ()
    moved = _raises("bad_step", lambda: store.answer(code, "a", 2, "1", now=T0 + 3))  # not the room's step
    assert moved.params["n"] == 1  # the step the class is on: the message names it
    _raises("no_step", lambda: store.answer(code, "a", True, "1", now=T0 + 3))  # True == 1, but not a step
    _raises("no_step", lambda: store.tally(code, STEP_COUNT + 1, now=T0 + 3))


def test_a_tie_is_ordered_by_the_replys_text(make: Make) -> None:
    store = make()
    code, _ = store.create("en", now=T0)
    for student, reply in (("a", "zz"), ("b", "aa"), ("c", "mm"), ("d", "mm")):
        store.answer(code, student, 1, reply, now=T0)
    assert store.tally(code, 1, now=T0).counts == (("mm", 2), ("aa", 1), ("zz", 1))


def test_reveal_refuses_answers_and_a_step_change_unreveals(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    store.answer(code, "a", 1, "3", now=T0)
    v = store.state(code, now=T0).version
    shown = store.reveal(code, secret, now=T0 + 1)
    assert shown.revealed and shown.version == v + 1
    _raises("revealed", lambda: store.answer(code, "a", 1, "4", now=T0 + 2))  # no change after reveal
    _raises("revealed", lambda: store.answer(code, "b", 1, "4", now=T0 + 2))  # nor a late first answer
    assert store.tally(code, 1, now=T0 + 2).counts == (("3", 1),)
    store.set_step(code, secret, 2, now=T0 + 3)
    again = store.set_step(code, secret, 1, now=T0 + 4)
    assert not again.revealed
    store.answer(code, "a", 1, "4", now=T0 + 5)
    assert store.tally(code, 1, now=T0 + 5).counts == (("4", 1),)


def test_reset_forgets_only_the_current_steps_answers(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    store.answer(code, "a", 1, "3", now=T0)
    store.set_step(code, secret, 2, now=T0)
    store.answer(code, "a", 2, "64", now=T0)
    store.answer(code, "b", 2, "65", now=T0)
    store.reveal(code, secret, now=T0)
    before = store.state(code, now=T0)
    after = store.reset(code, secret, now=T0 + 1)
    assert (after.step, after.revealed, after.answered, after.students) == (2, False, 0, 2)
    assert after.version == before.version + 1 and after.answers_version > before.answers_version
    assert store.tally(code, 2, now=T0 + 1).counts == ()
    assert store.tally(code, 1, now=T0 + 1).counts == (("3", 1),)
    store.answer(code, "b", 2, "64", now=T0 + 2)  # answerable again
    assert [(t.step, t.counts) for t in store.export(code, secret, now=T0 + 2)] == [
        (1, (("3", 1),)),
        (2, (("64", 1),)),
    ]


def test_end_deletes_the_room_and_its_answers(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    kept, _ = store.create("en", now=T0)
    store.answer(code, "a", 1, "3", now=T0)
    store.answer(kept, "a", 1, "3", now=T0)
    store.end(code, secret)
    for action in (
        lambda: store.state(code, now=T0),
        lambda: store.join(code, "a", now=T0),
        lambda: store.tally(code, 1, now=T0),
        lambda: store.end(code, secret),
    ):
        _raises("no_room", action)
    assert code not in _stored_text(store)
    assert store.tally(kept, 1, now=T0).counts == (("3", 1),)


def test_a_room_expires_after_its_idle_time(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    fresh, _ = store.create("en", now=T0 + IDLE_S)
    store.join(code, "a", now=T0 + 100)  # a write keeps it alive ...
    assert store.state(code, now=T0 + 100 + IDLE_S).step == 1
    store.state(code, now=T0 + 100 + IDLE_S / 2)  # ... a read does not
    assert store.expire(now=T0 + 100 + IDLE_S - 1) == 0
    assert store.expire(now=T0 + 100 + IDLE_S + 1) == 1
    assert code not in _stored_text(store)
    _raises("no_room", lambda: store.state(code, now=T0 + 100 + IDLE_S + 1))
    _raises("no_room", lambda: store.answer(code, "a", 1, "3", now=T0 + 100 + IDLE_S + 1))
    _raises("no_room", lambda: store.reveal(code, secret, now=T0 + 100 + IDLE_S + 1))
    assert store.state(fresh, now=T0 + 100 + IDLE_S + 1).code == fresh
    assert store.expire(now=T0 + 2 * IDLE_S + 1) == 1


def test_sqlite_deletes_expired_rooms_on_any_write_not_only_on_create(tmp_path: Path) -> None:
    """Nothing calls expire() on a timer: a join, an answer or a teacher action deletes the expired rooms' rows
    (their students' ids and typed replies) at most EXPIRE_EVERY_S after the idle limit while the app is used."""
    store = SqliteRoomStore(tmp_path / "data", SMALL)
    try:
        old, _ = store.create("en", now=T0)
        kept, _ = store.create("en", now=T0)
        store.answer(old, "tab-of-a", 1, "Ada Lovelace", now=T0 + 1)
        store.join(kept, "b", now=T0 + IDLE_S - 1)  # a sweep: nothing has expired yet
        assert "Ada Lovelace" in _stored_text(store)
        store.join(kept, "b", now=T0 + IDLE_S + 1 + EXPIRE_EVERY_S)  # old expired over a minute ago
        text = _stored_text(store)
        assert old not in text and "Ada Lovelace" not in text and "tab-of-a" not in text
        assert store.state(kept, now=T0 + IDLE_S + 1 + EXPIRE_EVERY_S).students == 1
        # a class's polls sweep too (a class where nobody writes for a while still deletes the others)
        gone, _ = store.create("en", now=T0 + 2 * IDLE_S)
        _raises("no_room", lambda: store.state(kept, now=T0 + 3 * IDLE_S + 2))  # a poll, swept first
        assert gone not in _stored_text(store)
    finally:
        store.close()


def _on_disk(store: SqliteRoomStore) -> bytes:
    """The bytes of the store's files as they lie on disk now (the database, its WAL and shared-memory index)."""
    folder = Path(store.path).parent
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith(FILE_NAME))


@pytest.mark.parametrize("how", ["end", "expiry"])
def test_sqlite_leaves_no_deleted_id_or_reply_in_its_files(tmp_path: Path, how: str) -> None:
    """After End, or a sweep that deleted an idle room, a student's id and typed reply are in neither
    rooms.sqlite3 (free space in a page) nor rooms.sqlite3-wal (old frames), while the store stays open."""
    store = SqliteRoomStore(tmp_path / "data", BIG)
    try:
        student, reply = "tab-4f1c9e0b7d2a", "Grace Hopper"
        code, secret = store.create("en", now=T0)
        kept, _ = store.create("en", now=T0)
        store.answer(code, student, 1, reply, now=T0 + 1)
        for i in range(20):  # other rooms' rows around it, as in a busy store
            store.answer(kept, f"other-{i:02d}", 1, "(224, 224, 3)", now=T0 + 1)
        assert student.encode() in _on_disk(store) and reply.encode() in _on_disk(store)
        if how == "end":
            store.end(code, secret)
        else:
            # `kept` stays alive; `code` is not idle long enough yet
            store.join(kept, "early", now=T0 + IDLE_S)
            later = T0 + IDLE_S + EXPIRE_EVERY_S + 1  # `code` expired, and the last sweep is a minute old
            store.join(kept, "late", now=later)  # this write sweeps
            _raises("no_room", lambda: store.state(code, now=later))
        on_disk = _on_disk(store)
        assert student.encode() not in on_disk and reply.encode() not in on_disk
        assert store.tally(kept, 1, now=T0 + IDLE_S).counts == (("(224, 224, 3)", 20),)  # the rest is intact
    finally:
        store.close()


def test_sqlite_a_refused_call_keeps_the_sweep_it_ran(tmp_path: Path) -> None:
    """A join to an unknown code sweeps first and is then refused: the expired room stays deleted (rolled back,
    it would stay on disk until the next sweep, a minute later)."""
    store = SqliteRoomStore(tmp_path / "data", SMALL)
    try:
        old, _ = store.create("en", now=T0)
        store.answer(old, "tab-of-b", 1, "Barbara Liskov", now=T0)
        _raises("no_room", lambda: store.join("ZZZZZZ", "c", now=T0 + IDLE_S + 1))
        assert "Barbara Liskov" not in _stored_text(store) and old not in _stored_text(store)
    finally:
        store.close()


def test_a_failing_backend_is_unavailable_not_a_traceback(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A database still locked after its busy timeout (another process holds the write lock) reaches the page
    as RoomError("unavailable"), whose message exists in every language."""
    from resnet_viz.classroom import sqlite_store

    clean_env.setenv("RESNET_VIZ_DATA_DIR", str(tmp_path / "data"))
    clean_env.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 50)
    store = open_store()
    code, _ = store.create("en")
    holder = sqlite3.connect(store.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
        err = _raises("unavailable", lambda: store.join(code, "a"))
        assert "locked" in str(err) and err.__cause__ is None
        assert store.state(code).students == 0  # reads still work in WAL mode
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()
    assert store.join(code, "a").students == 1  # and writes again once the lock is free
    for lang in ("en", "zh"):
        assert "⟦" not in err.message(translator(lang))


def test_an_unreachable_redis_is_unavailable(clean_env: pytest.MonkeyPatch) -> None:
    try:
        import redis  # noqa: F401
    except ImportError:
        _missing("the redis package")
    clean_env.setenv("RESNET_VIZ_ROOMS", f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    store = open_store()
    try:
        _raises("unavailable", lambda: store.create("en"))
    finally:
        store.close()


def test_a_room_holds_its_most_students(make: Make) -> None:
    store = make(SMALL)
    code, _ = store.create("en", now=T0)
    for i in range(SMALL.students):
        assert store.join(code, f"s{i}", now=T0).students == i + 1
    err = _raises("full", lambda: store.join(code, "late", now=T0))
    assert err.params["students"] == SMALL.students
    _raises("full", lambda: store.answer(code, "late", 1, "3", now=T0))  # answering does not slip past it
    assert store.join(code, "s0", now=T0).students == SMALL.students  # a joined student may come back
    store.answer(code, "s0", 1, "3", now=T0)
    assert store.state(code, now=T0).students == SMALL.students


def test_the_store_holds_its_most_rooms_and_expires_idle_ones_first(make: Make) -> None:
    store = make(SMALL)
    codes = [store.create("en", now=T0 + i)[0] for i in range(SMALL.rooms)]
    err = _raises("too_many_rooms", lambda: store.create("en", now=T0 + IDLE_S))
    assert err.params["rooms"] == SMALL.rooms
    store.join(codes[1], "a", now=T0 + IDLE_S)  # keeps room 1 alive
    # past the first room's idle time: it is expired to make way, the others still count
    code, _ = store.create("en", now=T0 + IDLE_S + 0.5)
    _raises("no_room", lambda: store.state(codes[0], now=T0 + IDLE_S + 0.5))
    assert store.state(codes[1], now=T0 + IDLE_S + 0.5).students == 1
    _raises("too_many_rooms", lambda: store.create("en", now=T0 + IDLE_S + 0.5))
    assert code not in codes


def test_replies_and_student_ids_are_bounded(make: Make) -> None:
    store = make()
    code, _ = store.create("en", now=T0)
    longest = "9" * MAX_REPLY_CHARS
    store.answer(code, "a", 1, longest, now=T0)
    assert store.tally(code, 1, now=T0).counts == ((longest, 1),)
    for bad in ("9" * (MAX_REPLY_CHARS + 1), "", "   ", "3\n4", "\x00"):
        _raises("bad_reply", lambda bad=bad: store.answer(code, "b", 1, bad, now=T0))
    for bad_id in ("", "x" * (MAX_STUDENT_ID_CHARS + 1), "a\tb"):
        _raises("bad_reply", lambda bad_id=bad_id: store.join(code, bad_id, now=T0))
        _raises("bad_reply", lambda bad_id=bad_id: store.answer(code, bad_id, 1, "3", now=T0))
    store.join(code, "x" * MAX_STUDENT_ID_CHARS, now=T0)
    assert store.state(code, now=T0).students == 2  # "a" and the longest id; nothing refused was kept
    assert store.tally(code, 1, now=T0).total == 1


def test_every_teacher_action_needs_the_rooms_secret(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    other, other_secret = store.create("en", now=T0)
    store.answer(code, "a", 1, "3", now=T0)
    before = store.state(code, now=T0)
    for wrong in ("", "x", other_secret, secret + "x", secret[:-1], secret_hash(secret), None):
        _raises("not_teacher", lambda wrong=wrong: store.set_step(code, wrong, 2, now=T0 + 1))
        _raises("not_teacher", lambda wrong=wrong: store.reveal(code, wrong, now=T0 + 1))
        _raises("not_teacher", lambda wrong=wrong: store.reset(code, wrong, now=T0 + 1))
        _raises("not_teacher", lambda wrong=wrong: store.export(code, wrong, now=T0 + 1))
        _raises("not_teacher", lambda wrong=wrong: store.end(code, wrong))
    assert store.state(code, now=T0) == before  # nothing moved, nothing touched
    assert store.tally(code, 1, now=T0).counts == (("3", 1),)
    assert store.reveal(other, other_secret, now=T0).revealed  # each secret drives its own room
    assert not store.state(code, now=T0).revealed


def test_a_forged_or_unknown_code_is_no_room(make: Make) -> None:
    store = make()
    code, secret = store.create("en", now=T0)
    unknown = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    for forged in (
        unknown,
        "",
        "K7Q",
        "K7QX2MM",
        "'; DROP TABLE rooms; --",
        "{" + code + "}",
        "*",
        "A" * 10_000,
    ):
        for action in (
            lambda c=forged: store.state(c, now=T0),
            lambda c=forged: store.join(c, "a", now=T0),
            lambda c=forged: store.answer(c, "a", 1, "3", now=T0),
            lambda c=forged: store.tally(c, 1, now=T0),
            lambda c=forged: store.set_step(c, secret, 2, now=T0),
            lambda c=forged: store.reveal(c, secret, now=T0),
            lambda c=forged: store.reset(c, secret, now=T0),
            lambda c=forged: store.export(c, secret, now=T0),
            lambda c=forged: store.end(c, secret),
        ):
            err = _raises("no_room", action)
            assert len(str(err.params["code"])) <= 20  # a 10 000-character address is not echoed whole
    assert store.state(code, now=T0).version == 1


def test_two_store_objects_on_the_same_data_are_two_replicas(make: Make) -> None:
    teacher_side, student_side = make(), make()
    code, secret = teacher_side.create("en")
    student_side.join(code, "a")
    teacher_side.set_step(code, secret, 3)
    assert student_side.state(code).step == 3
    student_side.answer(code, "a", 3, "solid")
    assert teacher_side.tally(code, 3).counts == (("solid", 1),)


def test_eight_threads_answering_at_once_give_exact_tallies(make: Make) -> None:
    store = make(BIG)  # one store object shared by every thread, as the sessions of a process share it
    code, _ = store.create("en")
    threads, students_per_thread, rounds = 8, 20, 4
    replies = ("(28, 28, 128)", "(56, 56, 64)", "(28, 28, 64)")
    errors: list[BaseException] = []

    def last_reply(t: int, i: int) -> str:
        return replies[(t + i + rounds - 1) % len(replies)]

    def worker(t: int) -> None:
        try:
            for r in range(rounds):  # every student answers, then changes the answer, round after round
                for i in range(students_per_thread):
                    store.answer(code, f"t{t}-s{i}", 1, replies[(t + i + r) % len(replies)])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert errors == []
    expected = Counter(last_reply(t, i) for t in range(threads) for i in range(students_per_thread))
    assert dict(store.tally(code, 1).counts) == dict(expected)
    state = store.state(code)
    assert state.students == state.answered == threads * students_per_thread
    assert state.answers_version == threads * students_per_thread * rounds


def test_sqlite_keeps_few_connections_when_every_call_is_a_new_thread(tmp_path: Path) -> None:
    """Streamlit runs every script run (every poll) in a new thread: connections kept per thread would grow by
    one per poll; the pool reuses them."""
    from resnet_viz.classroom.sqlite_store import MAX_IDLE

    store = SqliteRoomStore(tmp_path, BIG)
    try:
        code, _ = store.create("en")
        for i in range(50):
            th = threading.Thread(target=store.join, args=(code, f"s{i}"))
            th.start()
            th.join()
        assert store.open_connections == 1
        start = threading.Barrier(12)

        def poll() -> None:
            start.wait()
            for _ in range(20):
                store.state(code)

        pool = [threading.Thread(target=poll) for _ in range(12)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        assert 1 <= store.open_connections <= MAX_IDLE
        assert store.state(code).students == 50
        store.close()
        assert store.open_connections == 0
    finally:
        store.close()


_WORKER = textwrap.dedent(
    """
    import sys
    from resnet_viz.classroom import Limits
    backend, where, code, tag, n = sys.argv[1:6]
    limits = Limits(students=200, rooms=50, idle_s=600)
    if backend == "sqlite":
        from resnet_viz.classroom.sqlite_store import SqliteRoomStore as Store
    else:
        from resnet_viz.classroom.redis_store import RedisRoomStore as Store
    store = Store(where, limits)
    for i in range(int(n)):
        store.answer(code, f"{tag}-{i % 50}", 1, f"{tag}:{i % 3}")
    store.close()
    """
)


def test_two_processes_on_the_same_store_give_exact_tallies(make: Make, backend: str) -> None:
    store = make(BIG)
    code, _ = store.create("en")
    where = str(Path(store.path).parent) if isinstance(store, SqliteRoomStore) else store.url
    n = 300  # 50 students per process, each answering 6 times; the last reply of student k is f"{tag}:{(k+250)%3}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, backend, where, code, tag, str(n)], env=env)
        for tag in ("p", "q")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    expected = Counter(
        f"{tag}:{max(i for i in range(n) if i % 50 == k) % 3}" for tag in "pq" for k in range(50)
    )
    assert dict(store.tally(code, 1).counts) == dict(expected)
    assert store.state(code).answers_version == 2 * n


# ------------------------------------------------------------------------------------------- open_store
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.upper().startswith(settings.PREFIX):
            monkeypatch.delenv(name)
    settings._parse.cache_clear()
    return monkeypatch


def test_open_store_defaults_to_sqlite_in_the_data_dir_with_the_knobs_limits(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("RESNET_VIZ_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("RESNET_VIZ_ROOM_IDLE_MIN", "2.5")
    clean_env.setenv("RESNET_VIZ_ROOM_STUDENTS", "30")
    clean_env.setenv("RESNET_VIZ_MAX_ROOMS", "7")
    store = open_store()
    try:
        assert isinstance(store, GuardedStore) and isinstance(store.store, SqliteRoomStore)
        assert store.path == str(tmp_path / "data" / "rooms.sqlite3")
        assert store.limits == Limits(students=30, rooms=7, idle_s=150.0, steps=STEP_COUNT)
        code, _ = store.create("en")
        with store._connection() as conn:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal" and store.state(code).step == 1
    finally:
        store.close()


def test_open_store_gives_redis_for_a_redis_address(clean_env: pytest.MonkeyPatch, redis_url: str) -> None:
    from resnet_viz.classroom.redis_store import RedisRoomStore

    clean_env.setenv("RESNET_VIZ_ROOMS", redis_url)
    clean_env.setenv("RESNET_VIZ_ROOM_STUDENTS", "3")
    store = open_store()
    try:
        assert isinstance(store.store, RedisRoomStore) and store.url == redis_url
        assert store.limits.students == 3
        code, _ = store.create("en")
        assert store.state(code).code == code
    finally:
        store.close()
