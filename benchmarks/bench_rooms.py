"""Class mode's room store alone, on SQLite and on Redis: ``python -m benchmarks --only rooms``.

What a class costs the store (the browser-level figures are ``--only classroom``'s):

* *a student's poll*: one ``state()``, what every following phone runs each period. Its median, as a share of
  one core at one poll per second, is the store's part of the "idle student ≤ 2 % of a core" budget;
* *a class answering at once*: 30 students in 8 threads, each answering then changing the answer, against one
  store object (one replica): the p95 latency of one ``answer()``, and the tally checked exact.

Redis runs on a ``redis-server`` started here on a free loopback port (no persistence); without one its rows say
so. SQLite runs on a file in a temporary folder (the same WAL settings as the app).
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter

from benchmarks.common import Result, print_table
from resnet_viz.classroom import Limits, RoomStore

STUDENTS = 30
THREADS = 8
POLLS = 2000
POLL_TARGET_MS = 2.0  # 2 ms per poll at 1 poll/s is 0.2 % of a core: a tenth of the idle student's budget
ANSWER_P95_TARGET_MS = 50.0  # far under the 2 s an answer may take to reach the presenter


def _bench(name: str, store: RoomStore) -> list[Result]:
    code, _ = store.create("en")
    for i in range(STUDENTS):
        store.join(code, f"s{i}")
    for _ in range(50):
        store.state(code)  # warm: connections, statements, the script cache
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for _ in range(POLLS):
        store.state(code)
    poll_ms = 1000 * (time.perf_counter() - t0) / POLLS
    poll_cpu_ms = 1000 * (time.process_time() - cpu0) / POLLS

    latencies: list[float] = []
    lock = threading.Lock()

    def student(indices: range) -> None:
        mine = []
        for i in indices:
            for reply in ("(28, 28, 128)", "(14, 14, 256)"):
                t = time.perf_counter()
                store.answer(code, f"s{i}", 1, reply)
                mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=student, args=(range(k, STUDENTS, THREADS),)) for k in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    p95 = 1000 * statistics.quantiles(latencies, n=20)[-1]
    exact = dict(store.tally(code, 1).counts) == dict(Counter({"(14, 14, 256)": STUDENTS}))
    return [
        Result(
            f"rooms {name}: a student's poll (state())",
            poll_ms,
            "ms",
            f"≤ {POLL_TARGET_MS:g} ms",
            poll_ms <= POLL_TARGET_MS,
            f"{poll_cpu_ms:.3f} ms CPU in this process; {POLLS} polls",
        ),
        Result(
            f"rooms {name}: answer() p95, {STUDENTS} students in {THREADS} threads",
            p95,
            "ms",
            f"≤ {ANSWER_P95_TARGET_MS:g} ms, tally exact",
            p95 <= ANSWER_P95_TARGET_MS and exact,
            f"{len(latencies)} answers; tally {'exact' if exact else 'WRONG'}",
        ),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run() -> list[Result]:
    from resnet_viz.classroom.sqlite_store import SqliteRoomStore

    limits = Limits(students=200, rooms=50, idle_s=600)
    results = []
    with tempfile.TemporaryDirectory(prefix="rooms-") as tmp:
        store = SqliteRoomStore(tmp, limits)
        try:
            results += _bench("SQLite", store)
        finally:
            store.close()
    exe = shutil.which("redis-server")
    if exe is None:
        return [*results, Result("rooms Redis", float("nan"), "", "apt-get install redis-server", False)]
    import redis

    from resnet_viz.classroom.redis_store import RedisRoomStore

    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        store = RedisRoomStore(url, limits)
        try:
            results += _bench("Redis", store)
        finally:
            store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return results


if __name__ == "__main__":
    print_table(run())
