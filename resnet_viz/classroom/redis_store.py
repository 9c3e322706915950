"""The room store for replicas on several hosts: Redis, through the ``redis`` client from PyPI.

Every operation is one Lua script (:data:`_SCRIPT`), which Redis runs atomically: the checks ("is the room full?",
"is the step revealed?", "is this the teacher's secret?") and the writes that depend on them see no other client
in between, in one round trip and without WATCH/MULTI retries, so a class answering at once never livelocks.

Keys (one room's keys share the hash tag ``{CODE}``):

- ``resnet-viz:room:{CODE}``: a hash (lang, the secret's SHA-256, step, revealed, version, answers_version,
  created, touched);
- ``resnet-viz:room:{CODE}:students``: a set of anonymous student ids (at most ``Limits.students``);
- ``resnet-viz:room:{CODE}:answers:<step>``: a hash student id → reply, one per lesson step;
- ``resnet-viz:rooms``: a sorted set code → last write time, the bounded set of live rooms (at most
  ``Limits.rooms``).

Every write refreshes the TTL of all the room's keys to the idle limit, so a room nobody touches disappears from
Redis by itself even when no replica runs :meth:`RedisRoomStore.expire`; the expiry the app sees is the stored
``touched`` time (so the tests' ``now=`` applies), and ``expire`` also drops the sorted set's stale entries.
The scripts reach a room's keys by name, which a single Redis (or a primary with replicas) allows; Redis Cluster
is not supported.
"""

from __future__ import annotations

from collections import Counter

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
    tally_of,
)

try:  # the redis package is needed only when this backend is chosen
    from redis.exceptions import ConnectionError as _RedisConnectionError
    from redis.exceptions import TimeoutError as _RedisTimeoutError

    _FAILURES: tuple[type[BaseException], ...] = (_RedisConnectionError, _RedisTimeoutError)
except ImportError:  # pragma: no cover - the SQLite default without the redis package
    _FAILURES = ()

PREFIX = "resnet-viz:"
ROOMS_KEY = PREFIX + "rooms"

# ARGV: op, code, now, idle_s, steps, key prefix, now - idle_s (exact, from Python), then the op's own. KEYS[1]: the live rooms' sorted set.
# Replies: {"ok", ...} or {error kind, detail}. Numbers go back as strings (Lua numbers become integers).
_SCRIPT = """
local op, code, now_s = ARGV[1], ARGV[2], ARGV[3]
local now, idle, steps = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local index = KEYS[1]
local room = ARGV[6] .. 'room:{' .. code .. '}'
local students = room .. ':students'
local function answers(step) return room .. ':answers:' .. step end
local function all_keys()
  local keys = {room, students}
  for s = 1, steps do keys[#keys + 1] = answers(s) end
  return keys
end
local function drop(c)
  local r = ARGV[6] .. 'room:{' .. c .. '}'
  redis.call('DEL', r, r .. ':students')
  for s = 1, steps do redis.call('DEL', r .. ':answers:' .. s) end
  redis.call('ZREM', index, c)
end
local function touch()
  redis.call('HSET', room, 'touched', now_s)
  redis.call('ZADD', index, now_s, code)
  local ttl = math.ceil(idle * 1000)
  for _, k in ipairs(all_keys()) do redis.call('PEXPIRE', k, ttl) end
end
local function expire()
  local stale = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[7])
  local n = 0
  for _, c in ipairs(stale) do
    local touched = redis.call('HGET', ARGV[6] .. 'room:{' .. c .. '}', 'touched')
    -- the same test as live(): a room is either served or expired, never both
    if not touched or now - tonumber(touched) > idle then drop(c); n = n + 1 end
  end
  return n
end
local FIELDS = {'lang', 'secret', 'step', 'revealed', 'version', 'answers_version', 'created', 'touched'}
local function live()
  local r = redis.call('HMGET', room, unpack(FIELDS))
  if not r[1] or now - tonumber(r[8]) > idle then return nil end
  return r
end
local function state()
  local r = live()
  return {'ok', r[1], r[3], r[4], tostring(redis.call('SCARD', students)),
          tostring(redis.call('HLEN', answers(r[3]))), r[5], r[6], r[7], r[8]}
end
local function join(student, most)
  if redis.call('SISMEMBER', students, student) == 0 then
    local n = redis.call('SCARD', students)
    if n >= most then return tostring(n) end
    redis.call('SADD', students, student)
  end
  return nil
end

if op == 'create' then
  expire()
  local n = redis.call('ZCARD', index)
  if n >= tonumber(ARGV[10]) then return {'too_many_rooms', tostring(n)} end
  if redis.call('EXISTS', room) == 1 then return {'taken', ''} end
  redis.call('HSET', room, 'lang', ARGV[8], 'secret', ARGV[9], 'step', 1, 'revealed', 0, 'version', 1,
             'answers_version', 0, 'created', now_s, 'touched', now_s)
  touch()
  return {'ok'}
elseif op == 'expire' then
  return {'ok', tostring(expire())}
elseif op == 'end' then
  local h = redis.call('HGET', room, 'secret')
  if not h then return {'no_room', ''} end
  if h ~= ARGV[8] then return {'not_teacher', ''} end
  drop(code)
  return {'ok'}
end

local r = live()
if not r then return {'no_room', ''} end
if op == 'state' then
  return state()
elseif op == 'tally' then
  local out = redis.call('HVALS', answers(ARGV[8]))
  table.insert(out, 1, 'ok')
  return out
elseif op == 'join' then
  local full = join(ARGV[8], tonumber(ARGV[9]))
  if full then return {'full', full} end
  touch()
  return state()
elseif op == 'answer' then
  if ARGV[9] ~= r[3] then return {'bad_step', r[3]} end
  if r[4] == '1' then return {'revealed', ''} end
  local full = join(ARGV[8], tonumber(ARGV[11]))
  if full then return {'full', full} end
  redis.call('HSET', answers(r[3]), ARGV[8], ARGV[10])
  redis.call('HINCRBY', room, 'answers_version', 1)
  touch()
  return state()
end

-- the teacher's actions
if r[2] ~= ARGV[8] then return {'not_teacher', ''} end
if op == 'export' then
  local out = {'ok'}
  for s = 1, steps do
    local replies = redis.call('HVALS', answers(s))
    out[#out + 1] = tostring(#replies)
    for _, v in ipairs(replies) do out[#out + 1] = v end
  end
  return out
elseif op == 'set_step' then
  redis.call('HSET', room, 'step', ARGV[9], 'revealed', 0)
elseif op == 'reveal' then
  redis.call('HSET', room, 'revealed', 1)
elseif op == 'reset' then
  redis.call('DEL', answers(r[3]))
  redis.call('HSET', room, 'revealed', 0)
  redis.call('HINCRBY', room, 'answers_version', 1)
else
  return redis.error_reply('unknown op ' .. op)
end
redis.call('HINCRBY', room, 'version', 1)
touch()
return state()
"""


class RedisRoomStore:
    """:class:`~resnet_viz.classroom.RoomStore` in Redis at ``url`` (``redis://host:port/db``). Thread-safe:
    the client's connection pool hands each call its own connection."""

    #: What this backend raises when Redis itself fails (refused, dropped or timed-out connections; a server
    #: still loading its data is a ConnectionError too): the page says "cannot be reached; try again".
    FAILURES: tuple[type[BaseException], ...] = _FAILURES

    def __init__(self, url: str, limits: Limits | None = None, *, prefix: str = PREFIX) -> None:
        import redis  # imported here so that the SQLite default needs no redis package at import time

        self.limits = limits or Limits()
        self.url = url
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._script = self._redis.register_script(_SCRIPT)

    def _call(self, op: str, code: str, now: float | None, *args: object) -> list[str]:
        t = clock(now)
        idle = float(self.limits.idle_s)
        argv = [op, code, repr(t), repr(idle), self.limits.steps, self.prefix, repr(t - idle), *args]
        reply = self._script(keys=[self.prefix + "rooms"], args=argv)
        kind = reply[0]
        if kind == "ok":
            return reply[1:]
        if kind == "no_room":
            raise no_room(code)
        if kind == "not_teacher":
            raise not_teacher(code)
        if kind == "full":
            raise RoomError(
                "full", f"room {code} holds its most students ({reply[1]})", students=int(reply[1])
            )
        if kind == "too_many_rooms":
            raise RoomError(
                "too_many_rooms", f"the store holds its most rooms ({reply[1]})", rooms=int(reply[1])
            )
        if kind == "bad_step":
            raise moved_on(code, args[1] if len(args) > 1 else None, int(reply[1]))
        if kind == "revealed":
            raise RoomError("revealed", f"room {code}'s step is revealed", step=args[1] if args else None)
        raise RoomError(kind, f"room {code}: {kind}")  # "taken": handled by create

    @staticmethod
    def _state(code: str, f: list[str]) -> RoomState:
        lang, step, revealed, students, answered, version, answers_version, created, touched = f
        return RoomState(
            code,
            lang,
            int(step),
            revealed == "1",
            int(students),
            int(answered),
            int(version),
            int(answers_version),
            float(created),
            float(touched),
        )

    # ---------------------------------------------------------------------------------------- the interface
    def create(self, lang: str, *, now: float | None = None) -> tuple[str, str]:
        lang = checked_lang(lang)
        secret = new_secret()
        while True:  # 30 bits: a collision is rare, and then another code is drawn
            code = new_code()
            try:
                self._call("create", code, now, lang, secret_hash(secret), self.limits.rooms)
            except RoomError as err:
                if err.code == "taken":
                    continue
                raise
            return code, secret

    def state(self, code: str, *, now: float | None = None) -> RoomState:
        code = checked_code(code)
        return self._state(code, self._call("state", code, now))

    def join(self, code: str, student: str, *, now: float | None = None) -> RoomState:
        code, student = checked_code(code), checked_student(student)
        return self._state(code, self._call("join", code, now, student, self.limits.students))

    def set_step(self, code: str, secret: str, step: int, *, now: float | None = None) -> RoomState:
        step = checked_step(step, self.limits.steps)
        code = checked_code(code)
        return self._state(code, self._call("set_step", code, now, secret_hash(secret or ""), step))

    def reveal(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        code = checked_code(code)
        return self._state(code, self._call("reveal", code, now, secret_hash(secret or "")))

    def reset(self, code: str, secret: str, *, now: float | None = None) -> RoomState:
        code = checked_code(code)
        return self._state(code, self._call("reset", code, now, secret_hash(secret or "")))

    def end(self, code: str, secret: str) -> None:
        code = checked_code(code)
        self._call("end", code, None, secret_hash(secret or ""))

    def answer(
        self, code: str, student: str, step: int, reply: str, *, now: float | None = None
    ) -> RoomState:
        code, student, reply = checked_code(code), checked_student(student), checked_reply(reply)
        if isinstance(step, bool) or not isinstance(step, int):
            raise RoomError("no_step", f"step {step!r} is not a step", step=step, steps=self.limits.steps)
        return self._state(code, self._call("answer", code, now, student, step, reply, self.limits.students))

    def tally(self, code: str, step: int, *, now: float | None = None) -> Tally:
        code, step = checked_code(code), checked_step(step, self.limits.steps)
        return tally_of(step, list(Counter(self._call("tally", code, now, step)).items()))

    def export(self, code: str, secret: str, *, now: float | None = None) -> list[Tally]:
        code = checked_code(code)
        flat = self._call("export", code, now, secret_hash(secret or ""))
        tallies, i = [], 0
        for step in range(1, self.limits.steps + 1):
            n = int(flat[i])
            replies, i = flat[i + 1 : i + 1 + n], i + 1 + n
            if replies:
                tallies.append(tally_of(step, list(Counter(replies).items())))
        return tallies

    def expire(self, *, now: float | None = None) -> int:
        return int(self._call("expire", "-", now)[0])

    def close(self) -> None:
        self._redis.close()
