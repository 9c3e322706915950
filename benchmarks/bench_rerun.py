"""Rerun time of every page, this checkout against another. ``python -m benchmarks.bench_rerun``

Each page of the app (every ``app_pages/*.py``, opened through app.py with ``AppTest.switch_page``, as the page
tests do) is run twice to warm its caches, then rerun unchanged several times; the figure is the median of those
reruns: what Streamlit's script run of that page costs the server on every interaction.

With ``BENCH_RERUN_APP_DIR=/path/to/other/checkout`` the other checkout ("before") is measured too, against this one
("after"). Each checkout runs in its own child process (``cwd`` and ``PYTHONPATH`` = that checkout, so their
imports never mix), both alive for the whole benchmark and driven in interleaved rounds, only one of them busy at a
time: whatever else the machine does falls on both sides alike. Target: after ≤ before × 1.1 on every page.
Informational; it gates nothing.

Both children run offline with an empty ``TORCH_HOME`` (the Feature-maps page falls back to random weights), so
both do the same work whatever is in the cache.

    BENCH_RERUN_APP_DIR=/tmp/before python -m benchmarks.bench_rerun   # about 1 minute on 2 idle cores (≤ ~3 busy)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_RERUN_ROUNDS", "9"))  # at most; fewer if the time budget runs out
RERUNS = 5  # timed reruns of each page per round
BUDGET_S = 150.0  # no new round after this many seconds of rounds (at least 2 rounds run)
TARGET = 1.1
ENV_DIR = "BENCH_RERUN_APP_DIR"


# --------------------------------------------------------------------------- child: one checkout


def _child(app_dir: Path) -> None:
    """Warm every page, then answer each "round" line on stdin with one JSON line of rerun times per page."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever Streamlit or the app print goes to stderr; stdout carries only our JSON lines

    from streamlit.testing.v1 import AppTest

    pages = sorted(p.relative_to(app_dir).as_posix() for p in (app_dir / "app_pages").glob("*.py"))
    apps: dict[str, AppTest] = {}
    first: dict[str, float] = {}
    errors: dict[str, str] = {}
    for page in pages:
        t0 = time.perf_counter()
        at = AppTest.from_file(str(app_dir / "app.py"), default_timeout=300)
        at.switch_page(page).run()
        at.run()  # a second run: caches warm, the address written back and read again
        first[page] = time.perf_counter() - t0
        if at.exception:
            errors[page] = str(at.exception[0].value)[:200]
        else:
            apps[page] = at
    import resnet_viz

    out.write(json.dumps({"pages": pages, "first_s": first, "errors": errors,
                          "package": str(Path(resnet_viz.__file__).resolve().parent)}) + "\n")  # fmt: skip
    for line in sys.stdin:
        if line.strip() != "round":
            break
        times: dict[str, list[float]] = {}
        for page, at in apps.items():
            times[page] = []
            for _ in range(RERUNS):
                t0 = time.perf_counter()
                at.run()
                times[page].append(time.perf_counter() - t0)
        out.write(json.dumps(times) + "\n")


# --------------------------------------------------------------------------- parent


class _Checkout:
    def __init__(self, label: str, app_dir: Path, tmp: str) -> None:
        self.label, self.app_dir = label, app_dir
        torch_home = str(Path(tmp) / "torch")  # empty: no pretrained weights on either side
        self.log = open(Path(tmp) / f"{label}.log", "w+")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "PYTHONPATH": str(app_dir), "RESNET_VIZ_OFFLINE": "1", "TORCH_HOME": torch_home}
        env.pop(ENV_DIR, None)
        # The script by its path: `-m benchmarks...` would import the other checkout's benchmarks package.
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(app_dir)],
            cwd=app_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            text=True, bufsize=1,
        )  # fmt: skip
        self.info = self._read()
        if not Path(self.info["package"]).is_relative_to(
            app_dir
        ):  # the imports would mix: nothing to compare
            self.close()
            raise RuntimeError(
                f"{label}: imported resnet_viz from {self.info['package']}, not from {app_dir}"
            )
        self.times: dict[str, list[float]] = {p: [] for p in self.info["pages"]}

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.log.seek(0)
            tail = self.log.read()[-1500:]
            raise RuntimeError(
                f"{self.label} ({self.app_dir}): the child process ended (exit {code}):\n{tail}"
            )
        return json.loads(line)

    def round(self) -> None:
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        for page, times in self._read().items():
            self.times[page] += times

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def median_ms(self, page: str) -> float:
        times = self.times.get(page) or []
        return 1000 * statistics.median(times) if times else float("nan")


def _name(page: str) -> str:
    return Path(page).stem


def run() -> list:
    from benchmarks.common import Result

    other = os.environ.get(ENV_DIR)
    checkouts: list[_Checkout] = []
    with tempfile.TemporaryDirectory(prefix="bench-rerun-") as tmp:
        try:
            checkouts.append(_Checkout("after", ROOT, tmp))
            if other:
                checkouts.append(_Checkout("before", Path(other).resolve(), tmp))
            t0 = time.perf_counter()
            rounds = 0
            while rounds < ROUNDS and (rounds < 2 or time.perf_counter() - t0 < BUDGET_S):
                # Interleaved, the order flipped every round: neither side always runs first.
                for c in checkouts if rounds % 2 == 0 else reversed(checkouts):
                    c.round()
                rounds += 1
        finally:
            for c in checkouts:
                c.close()

    after = checkouts[0]
    before = checkouts[1] if len(checkouts) > 1 else None
    results = []
    for label, c in ((c.label, c) for c in checkouts):
        for page, error in c.info["errors"].items():
            results.append(Result(f"rerun {_name(page)} ({label})", float("nan"), "", "runs", False, error))
    pages = (
        after.info["pages"]
        if before is None
        else [p for p in after.info["pages"] if p in before.info["pages"]]
    )
    how = f"median of {rounds} rounds × {RERUNS} reruns"
    for page in pages:
        a = after.median_ms(page)
        if before is None:
            results.append(
                Result(
                    f"rerun {_name(page)}", a, "ms", f"informs (set {ENV_DIR} for before/after)", True, how
                )
            )
            continue
        b = before.median_ms(page)
        ratio = a / b
        results.append(
            Result(f"rerun {_name(page)}: after / before", ratio, "×", f"≤ {TARGET:g}×", ratio <= TARGET,
                   f"before {b:.1f} ms, after {a:.1f} ms ({how})")
        )  # fmt: skip
    if before is not None and pages:
        total_a = sum(after.median_ms(p) for p in pages)
        total_b = sum(before.median_ms(p) for p in pages)
        ratio = total_a / total_b
        results.append(
            Result("rerun of every page, summed: after / before", ratio, "×", f"≤ {TARGET:g}×", ratio <= TARGET,
                   f"before {total_b:.0f} ms, after {total_a:.0f} ms; resnet_viz from {before.info['package']} "
                   f"and {after.info['package']}")
        )  # fmt: skip
        for page in sorted(set(after.info["pages"]) ^ set(before.info["pages"])):
            side = "after" if page in after.info["pages"] else "before"
            results.append(
                Result(f"rerun {_name(page)}", float("nan"), "", "in both", False, f"only {side} has it")
            )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]))
    else:
        from benchmarks.common import print_table

        print_table(run())
