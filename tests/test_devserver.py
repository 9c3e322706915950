"""The one development server helper (devtools/devserver.py) the e2e tests and the benchmarks share."""

from __future__ import annotations

import os
import socket
import time

from devtools import devserver

LOG = """\
2026-11-28 21:00:00.000 Uncaught app execution
Traceback (most recent call last):
  File "app.py", line 3, in <module>
    x = {}["a"]
        ~~^^^^^
KeyError: 'a'
Traceback (most recent call last):
  File "x.py", line 1, in <module>

    raise ValueError("bad")
ValueError: bad
some later line
Traceback (most recent call last):
  File "x.py", line 1, in <module>
KeyError: 'a'
"""


def test_every_traceback_is_named_by_its_exception_line():
    assert devserver.exceptions_in_log(LOG) == ["KeyError: 'a'", "ValueError: bad", "KeyError: 'a'"]
    assert devserver.exceptions_in_log("all fine\nno errors\n") == []


def test_chromium_env_is_authoritative(monkeypatch, tmp_path):
    monkeypatch.setenv(devserver.CHROMIUM_ENV, str(tmp_path / "missing"))
    assert devserver.chromium_path() is None  # no fallback to the system's browser
    fake = tmp_path / "chromium"
    fake.write_text("")
    monkeypatch.setenv(devserver.CHROMIUM_ENV, str(fake))
    assert devserver.chromium_path() == str(fake)


def test_health_check_is_false_where_nothing_listens():
    port = devserver.free_port()
    with socket.socket() as probe:  # the port really was free
        probe.bind(("127.0.0.1", port))
    assert devserver.is_healthy(f"http://127.0.0.1:{port}", timeout_s=0.5) is False


def test_process_cpu_seconds_and_memory_of_this_process():
    before = devserver.process_cpu_s(os.getpid())
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:  # burn 0.3 CPU-seconds
        pass
    after = devserver.process_cpu_s(os.getpid())
    assert 0.2 <= after - before <= 5
    rss, hwm = devserver.process_memory_mb(os.getpid())
    assert 1 < rss <= hwm
