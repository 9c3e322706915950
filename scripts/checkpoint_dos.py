"""Measure what one hostile checkpoint costs the server: time to refuse, the longest stall of another thread,
and the peak RSS added (issue 22, D1, D2, D4).

    python scripts/checkpoint_dos.py [--timeout 60] [CASE ...]

Each case runs in a child process (a hash bomb cannot be interrupted inside a thread), which loads the file with
:func:`resnet_viz.models.weights.load_checkpoint` in a worker thread while its main thread ticks every 5 ms, as a
Streamlit server's other sessions and its health check would: the longest gap between ticks is the stall.
Cases: bomb-zip-20, bomb-zip-24, bomb-zip-31, bomb-zip-64, bomb-raw-31, intkeys-40k, stride0-2M, st-1M (see
tests/checkpoint_bombs.py for what each file is).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    "bomb-zip-20", "bomb-zip-24", "bomb-zip-31", "bomb-zip-64", "bomb-raw-31", "intkeys-40k", "stride0-2M", "st-1M",
)  # fmt: skip


def _make(case: str) -> tuple[bytes, str]:
    sys.path.insert(0, str(ROOT / "tests"))
    import checkpoint_bombs as cb

    if case.startswith("bomb-zip-"):
        return cb.hash_bomb_zip(int(case.rsplit("-", 1)[1])), "resnet18"
    if case.startswith("bomb-raw-"):
        return cb.hash_bomb_pickle(int(case.rsplit("-", 1)[1])), "resnet18"
    if case.startswith("intkeys-"):
        return cb.colliding_int_keys_zip(int(case.rsplit("-", 1)[1].removesuffix("k")) * 1000), "resnet18"
    if case == "stride0-2M":
        from resnet_viz.models.weights import load_random

        return cb.stride0_fc_checkpoint(load_random("resnet18").state_dict(), 2_000_000), "resnet18"
    if case == "st-1M":
        return cb.safetensors_many(1_000_000), "resnet18"
    raise SystemExit(f"unknown case {case}; choose from {', '.join(CASES)}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(case: str) -> None:
    """Runs in the child: load in a thread, tick in the main thread, print one JSON line."""
    import torch

    torch.set_num_threads(1)
    from resnet_viz.models.weights import load_checkpoint

    data, arch = _make(case)
    try:  # the imports and first-call set-up of the reader happen before the baseline
        load_checkpoint(b"\x80\x02N.", arch)
    except Exception:  # noqa: BLE001, S110 - only warming up
        pass

    base = _rss_mb()
    outcome: dict[str, object] = {}

    def work() -> None:
        t0 = time.perf_counter()
        try:
            load_checkpoint(data, arch)
            outcome["result"] = "loaded"
        except Exception as exc:  # noqa: BLE001 - a measurement: any outcome is recorded
            outcome["result"] = f"{type(exc).__name__}: {getattr(exc, 'code', '')} {str(exc)[:120]}"
        outcome["seconds"] = time.perf_counter() - t0

    th = threading.Thread(target=work, daemon=True)
    last = time.perf_counter()
    stall = 0.0
    th.start()
    while th.is_alive():
        time.sleep(0.005)
        now = time.perf_counter()
        stall = max(stall, now - last)
        last = now
    outcome.update(case=case, bytes=len(data), stall_s=round(stall, 3), rss_added_mb=round(_rss_mb() - base))
    print(json.dumps(outcome), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before a case counts as 'never ends'"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    for case in args.cases:
        t0 = time.perf_counter()
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--child", case],
                capture_output=True,
                text=True,
                timeout=args.timeout,
                cwd=ROOT,
            )
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
        except subprocess.TimeoutExpired:
            line = json.dumps({"case": case, "result": f"still running after {args.timeout:.0f} s (killed)"})
        print(line, f"[{time.perf_counter() - t0:.1f} s with start-up]", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
