"""`python -m benchmarks`: run every ``benchmarks/bench_*.py`` and print ONE table of figures, targets and PASS/MISS.

Each benchmark module runs in its own child process, one after the other: their imports are heavy (torch, torchview,
a browser for the load test), a crash or hang in one must not take the others down, and running them one at a time
keeps them from stealing each other's cores (every ratio compares figures measured in the same child, seconds apart).

    python -m benchmarks                 # everything
    python -m benchmarks --skip load     # everything but the 30-browser load test (the slow one)
    python -m benchmarks --only trace capture
    python -m benchmarks --json out.json # also write the results as JSON

Benchmarks inform; they never gate CI: the exit status is 0 whether targets are met or not (2 only for bad arguments).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> list[str]:
    """Short names of every benchmark module: ``bench_trace.py`` → ``trace``."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _child(short: str, out_path: str) -> int:
    """In the child process: run one module's ``run()`` and write its results as JSON."""
    module = importlib.import_module(f"benchmarks.bench_{short}")
    results = module.run()
    rows = [dataclasses.asdict(r) for r in results]
    Path(out_path).write_text(json.dumps(rows, allow_nan=True))
    return 0


def run_one(short: str, timeout_s: float) -> tuple[list[Result], float]:
    """Run ``bench_<short>`` in a child process; a failure becomes a MISS row saying what happened."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", short, "--child-out", str(out)]
        t0 = time.perf_counter()
        # The child's own prints go to our stderr, so that stdout holds only the table.
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=timeout_s)
            failure = None
            sys.stderr.write(err or "")
            if proc.returncode != 0:
                last = [line for line in (err or "").strip().splitlines() if line.strip()]
                failure = f"exit {proc.returncode}: {last[-1][:160] if last else 'no output'}"
        except subprocess.TimeoutExpired:
            # SIGINT first, so that the child's `finally` blocks stop what it started (a server, a browser).
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            failure = f"timed out after {timeout_s:.0f} s"
        elapsed = time.perf_counter() - t0
        if failure is None and not out.exists():
            failure = "wrote no results"
        if failure is not None:
            return [
                Result(f"{short}: benchmark did not finish", math.nan, "", "runs", False, failure)
            ], elapsed
        rows = json.loads(out.read_text())
        return [Result(**row) for row in rows], elapsed


def format_table(sections: list[tuple[str, list[Result]]]) -> str:
    """One table for every benchmark: suite, what, measured, target, PASS/MISS, detail."""
    rows = []
    for short, results in sections:
        for r in results:
            measured = (
                "—"
                if isinstance(r.value, float) and math.isnan(r.value)
                else f"{r.value:,.2f} {r.unit}".strip()
            )
            rows.append((short, r.name, measured, r.target, "PASS" if r.ok else "MISS", r.detail))
    header = ("suite", "benchmark", "measured", "target", "", "detail")
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header).rstrip(), line.format(*("-" * w for w in widths)).rstrip()]
    out += [line.format(*row).rstrip() for row in rows]
    passed = sum(1 for row in rows if row[4] == "PASS")
    out.append(f"\n{passed} PASS, {len(rows) - passed} MISS (benchmarks inform; they do not gate CI)")
    return "\n".join(out)


def build_parser(available: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    # action="extend": `--skip a --skip b` leaves out both (with the default "store" the last one won).
    parser.add_argument(
        "--skip",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help=f"leave these out ({', '.join(available)}); may be repeated",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="run only these; may be repeated",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds allowed per benchmark module (900)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every result as JSON to PATH")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    return parser


def chosen(args: argparse.Namespace, available: list[str]) -> list[str]:
    """The benchmarks to run, in order: every one, or only ``--only``'s, less every ``--skip``."""
    return [b for b in available if (not args.only or b in args.only) and b not in args.skip]


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = build_parser(available)
    args = parser.parse_args(argv)

    if args.child:
        return _child(args.child, args.child_out)
    if args.list:
        print("\n".join(available))
        return 0
    unknown = sorted(set(args.only) - set(available))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    for name in sorted(set(args.skip) - set(available)):
        print(f"[benchmarks] note: no benchmark named {name!r} to skip", file=sys.stderr)

    sections: list[tuple[str, list[Result]]] = []
    for short in chosen(args, available):
        print(f"[benchmarks] running {short} …", file=sys.stderr, flush=True)
        results, elapsed = run_one(short, args.timeout)
        print(f"[benchmarks] {short} done in {elapsed:.0f} s", file=sys.stderr, flush=True)
        sections.append((short, results))

    print(f"# python -m benchmarks on {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    print(format_table(sections))
    if args.json:
        payload = {short: [dataclasses.asdict(r) for r in results] for short, results in sections}
        Path(args.json).write_text(json.dumps(payload, indent=2, allow_nan=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
