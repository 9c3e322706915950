"""One development server helper for the real-browser tests (``tests/e2e``) and the benchmarks (``benchmarks/``).

Both start ``streamlit run app.py`` on a free loopback port, find Debian's Chromium, wait for Streamlit's health
endpoint, read the server's log for exceptions and stop the server. Before this module each had its own class, and
they had drifted (a different Chromium search order, a different health check, a different way of counting
exceptions in the log), so the e2e tests and the load test could disagree on whether the server failed. Now there
is one definition of each:

* Chromium: ``$RESNET_VIZ_CHROMIUM`` if set (authoritative: it is the only path tried, which is also how the
  "no browser" path is tested), else ``/usr/bin/chromium``, ``chromium``, ``chromium-browser`` on ``PATH``;
* healthy: ``GET /_stcore/health`` answers 200 with the body ``ok``;
* an exception: every ``Traceback`` in the log, named by the exception line that ends it (the first line after
  it that is neither empty nor indented);
* stop: SIGTERM, then SIGKILL after a grace period; the log file is closed.

It lives outside ``resnet_viz/`` because it is development tooling, not part of the app.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ENV = "RESNET_VIZ_CHROMIUM"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
START_TIMEOUT_S = 120
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright's own browser download is not used: CI installs chromium with apt-get)."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:  # an explicit choice is the only one tried
        return env if os.path.exists(env) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_healthy(base_url: str, timeout_s: float = 2.0) -> bool:
    """Streamlit's own health check: ``/_stcore/health`` answers 200 ``ok``."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=timeout_s) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


def exceptions_in_log(text: str) -> list[str]:
    """The exception line ending every traceback in ``text``, in order (one entry per ``Traceback``)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            rest = (ln for ln in lines[i + 1 :] if ln.strip() and not ln[0].isspace())
            last = next(rest, line)
            found.append((line if last.startswith("Traceback") else last).strip()[:200])
    return found


def process_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, high-water mark) of a process in MB: /proc on Linux, else psutil (RSS twice) if installed."""
    status = Path(f"/proc/{pid}/status")
    try:
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError):
        pass
    try:
        import psutil

        rss = psutil.Process(pid).memory_info().rss / 2**20
        return rss, rss
    except (ImportError, OSError):
        return float("nan"), float("nan")


def process_cpu_s(pid: int) -> float:
    """CPU-seconds (user + system, all threads) the process has used so far: /proc, else psutil."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14 and 15)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except (ImportError, OSError):
        return float("nan")


class DevServer:
    """``streamlit run app.py`` (with this interpreter) on a loopback port; always stopped by :meth:`stop`.

    ``port`` defaults to a free one; ``extra_env`` adds environment variables; ``extra_args`` adds Streamlit
    options (e.g. ``["--server.baseUrlPath", "x"]``). Also a context manager (waits until healthy on entry).
    """

    def __init__(
        self,
        log_path: Path,
        *,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path).resolve()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
            *(extra_args or []),
        ]  # fmt: skip
        self.process = subprocess.Popen(cmd, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def healthy(self) -> bool:
        return self.running() and is_healthy(self.base_url)

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.process.returncode}; {self.log_path}:\n{self.log_tail()}"
                )
            if is_healthy(self.base_url):
                return
            time.sleep(0.25)
        raise RuntimeError(
            f"streamlit not healthy after {timeout_s:.0f} s; {self.log_path}:\n{self.log_tail()}"
        )

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def logged_exceptions(self) -> list[str]:
        """The exception line of every traceback the server logged (exceptions in the page scripts included)."""
        return exceptions_in_log(self.log_text())

    def exception_counts(self) -> list[str]:
        """Each distinct logged exception with how often it occurred: ``["3× KeyError: 'x'", …]``."""
        return [f"{n}× {message}" for message, n in Counter(self.logged_exceptions()).items()]

    def memory_mb(self) -> tuple[float, float]:
        """(RSS, high-water mark) of the server in MB."""
        return process_memory_mb(self.pid)

    def cpu_s(self) -> float:
        """CPU-seconds the server process has used so far (all its threads)."""
        return process_cpu_s(self.pid)

    def kill(self) -> None:
        """SIGKILL, as a crash would (for the replica benchmark); :meth:`stop` still closes the log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self, grace_s: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace_s)
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> DevServer:
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
