"""TEMPORARY stand-ins for the store helper's work (branch ``rooms``), so the class UI runs before it lands:
an in-process :class:`MemoryStore` (one process only: no replicas), ``open_store``, and the histogram's
``canonical_reply`` / ``bars`` / ``csv_rows``. Deleted when ``rooms`` is merged into main.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from resnet_viz import lesson
from resnet_viz.classroom import (
    MAX_REPLY_CHARS,
    MAX_STUDENT_ID_CHARS,
    RoomError,
    RoomState,
    Tally,
    new_code,
    new_secret,
    secret_hash,
    secret_matches,
)

IDLE_S = 180 * 60
MAX_STUDENTS = 200


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[str, dict] = {}

    def _room(self, code: str, now: float | None) -> dict:
        room = self._rooms.get(code)
        now = time.time() if now is None else now
        if room is None or now - room["touched"] > IDLE_S:
            raise RoomError("no_room", f"no room {code}")
        return room

    def _state(self, room: dict) -> RoomState:
        step = room["step"]
        answered = sum(1 for (s, _), _r in room["answers"].items() if s == step)
        return RoomState(
            code=room["code"], lang=room["lang"], step=step, revealed=room["revealed"],
            students=len(room["students"]), answered=answered, version=room["version"],
            answers_version=room["answers_version"], created=room["created"], touched=room["touched"],
        )  # fmt: skip

    def _teacher(self, code: str, secret: str, now: float | None) -> dict:
        room = self._room(code, now)
        if not secret_matches(secret, room["hash"]):
            raise RoomError("not_teacher", "not the teacher")
        room["touched"] = time.time() if now is None else now
        return room

    def create(self, lang: str, *, now: float | None = None) -> tuple[str, str]:
        with self._lock:
            code, secret = new_code(), new_secret()
            t = time.time() if now is None else now
            self._rooms[code] = {
                "code": code, "lang": lang, "step": 1, "revealed": False, "students": set(), "answers": {},
                "version": 1, "answers_version": 0, "created": t, "touched": t, "hash": secret_hash(secret),
            }  # fmt: skip
            return code, secret

    def state(self, code: str, *, now: float | None = None) -> RoomState:
        with self._lock:
            return self._state(self._room(code, now))

    def join(self, code: str, student: str, *, now: float | None = None) -> RoomState:
        with self._lock:
            room = self._room(code, now)
            if not student or len(student) > MAX_STUDENT_ID_CHARS:
                raise RoomError("bad_reply", "bad student id")
            if student not in room["students"] and len(room["students"]) >= MAX_STUDENTS:
                raise RoomError("full", "full")
            room["students"].add(student)
            return self._state(room)

    def set_step(self, code: str, secret: str, step: int, *, now: float | None = None) -> RoomState:
        with self._lock:
            room = self._teacher(code, secret, now)
            if not 1 <= step <= lesson.STEP_COUNT:
                raise RoomError("bad_step", "bad step")
            room.update(step=step, revealed=False, version=room["version"] + 1)
            return self._state(room)

    def reveal(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        with self._lock:
            room = self._teacher(code, secret, now)
            room.update(revealed=True, version=room["version"] + 1)
            return self._state(room)

    def reset(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        with self._lock:
            room = self._teacher(code, secret, now)
            room["answers"] = {k: v for k, v in room["answers"].items() if k[0] != room["step"]}
            room.update(
                revealed=False, version=room["version"] + 1, answers_version=room["answers_version"] + 1
            )
            return self._state(room)

    def end(self, code: str, secret: str) -> None:
        with self._lock:
            self._teacher(code, secret, None)
            del self._rooms[code]

    def answer(
        self, code: str, student: str, step: int, reply: str, *, now: float | None = None
    ) -> RoomState:
        with self._lock:
            room = self._room(code, now)
            if student not in room["students"]:
                raise RoomError("no_room", "not joined")
            if step != room["step"]:
                raise RoomError("bad_step", "not the current step")
            if room["revealed"]:
                raise RoomError("revealed", "revealed")
            if not reply.strip() or len(reply) > MAX_REPLY_CHARS:
                raise RoomError("bad_reply", "bad reply")
            room["answers"][(step, student)] = reply
            room["answers_version"] += 1
            return self._state(room)

    def tally(self, code: str, step: int) -> Tally:
        with self._lock:
            room = self._room(code, None)
            counts: dict[str, int] = {}
            for (s, _), reply in room["answers"].items():
                if s == step:
                    counts[reply] = counts.get(reply, 0) + 1
            return Tally(step, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))

    def export(self, code: str, secret: str) -> list[Tally]:
        with self._lock:
            self._teacher(code, secret, None)
        steps = sorted({s for s, _ in self._rooms[code]["answers"]})
        return [self.tally(code, s) for s in steps]

    def expire(self, *, now: float | None = None) -> int:
        return 0


def open_store() -> MemoryStore:
    return MemoryStore()


def canonical_reply(step: lesson.Step, text: str) -> str:
    value = lesson.parse_reply(step, text)
    if value is None:
        return text.strip()[:MAX_REPLY_CHARS]
    if step.kind == "shape":
        return "(" + ", ".join(str(v) for v in value) + ")"  # type: ignore[union-attr]
    if step.kind == "float":
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    return str(value)


@dataclass(frozen=True)
class Bar:
    reply: str
    count: int
    right: bool
    reason_key: str = ""
    unreadable: bool = False


def bars(step: lesson.Step, tally: Tally, right: lesson.Answer) -> list[Bar]:
    out = []
    for reply, count in tally.counts:
        verdict = lesson.check(step, reply, right)
        reason = right.slip_key if verdict is False and lesson.slipped(step, reply, right) else ""
        out.append(Bar(reply, count, verdict is True, reason, verdict is None))
    return sorted(out, key=lambda b: (not b.right, -b.count, b.reply))


def csv_rows(tallies: list[Tally]) -> list[tuple[int, str, str, int]]:
    rows = []
    for tally in tallies:
        key = f"lesson.{lesson.STEPS[tally.step - 1].key}_question"
        rows += [(tally.step, key, reply, n) for reply, n in tally.counts]
    return rows
