"""CLI start-up as whole processes (issue 11). ``python -m benchmarks.bench_cli``

In one run, in interleaved rounds (the fastest round of each counts, as in bench_trace), the wall time of:

* ``python -m resnet_viz summary resnet50`` and ``python -m resnet_viz params resnet50``, start to exit, output
  thrown away;
* the peer: ``python -c "import torch, torchvision"``, a process that only imports torch and torchvision: what
  every sub-command paid before issue 11, when ``import resnet_viz`` pulled torch in (~3.5 s on this machine);
* ``python -c pass``, the interpreter's own start, for scale.

Target (issue 11): each sub-command in ≤ 25% of the peer's time, i.e. peer / command ≥ 4×.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Result, print_table

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
TARGET = 4.0  # ≤ 25 % of the peer's wall time

COMMANDS: dict[str, list[str]] = {
    "summary": [sys.executable, "-m", "resnet_viz", "summary", "resnet50"],
    "params": [sys.executable, "-m", "resnet_viz", "params", "resnet50"],
    "import torch, torchvision": [sys.executable, "-c", "import torch, torchvision"],
    "python -c pass": [sys.executable, "-c", "pass"],
}


def _wall(cmd: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def run() -> list[Result]:
    for cmd in COMMANDS.values():  # warm the file cache once each
        _wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(ROUNDS):
        for name, cmd in COMMANDS.items():
            times[name].append(_wall(cmd))
    best = {name: min(ts) for name, ts in times.items()}
    peer, bare = best["import torch, torchvision"], best["python -c pass"]
    results = []
    for name in ("summary", "params"):
        ratio = peer / best[name]
        results.append(
            Result(
                f"python -m resnet_viz {name} resnet50: import-torch process / CLI process",
                ratio,
                "×",
                f"≥ {TARGET:.0f}× (≤ 25 %)",
                ratio >= TARGET,
                f"{best[name] * 1e3:.0f} ms vs {peer * 1e3:.0f} ms (bare interpreter {bare * 1e3:.0f} ms)",
            )
        )
    return results


if __name__ == "__main__":
    print_table(run())
