"""The tests that compare floats from torch's kernels with shipped or recorded values (marked
``recorded_floats``) pass on other CPUs than this one: here they are rerun under the kernels of older CPUs.

Three libraries choose their kernels by CPU, each with its own switch: ATen (batch norm, ReLU, sums, norms) by
``ATEN_CPU_CAPABILITY``, oneDNN (the convolutions) by ``ONEDNN_MAX_CPU_ISA``, MKL (the fully connected layer)
by ``MKL_ENABLE_INSTRUCTIONS``. Each switch only caps what the CPU has, so on any machine these runs use
kernels at most as new as asked for: SSE4 (the oldest oneDNN has) and AVX2 (an AMD EPYC before Zen 4, most
laptops). The CPU's own best kernels are the ones the rest of the suite runs with.

The marked tests' bounds were measured across ATEN_CPU_CAPABILITY=default|avx2|avx512 × oneDNN and MKL capped
at SSE4|AVX2|AVX-512 or not capped (AMX here) × 1–2 threads, on a Xeon with AVX-512 and AMX; each test's
comment gives its figures. oneDNN's kernels, which ATEN_CPU_CAPABILITY does not switch, moved plain-56 the
most.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import torch
from repo import ROOT

MARKER = "recorded_floats"

#: name -> the environment that caps each library's kernels
KERNEL_SETS: dict[str, dict[str, str]] = {
    "sse4": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    },
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}

# ATen's levels in order; ATEN_CPU_CAPABILITY names them in lower case ("default" for the plain one).
ATEN_LEVELS = ["DEFAULT", "AVX2", "AVX512"]


def _marked_files() -> list[str]:
    """The test modules that hold a marked test (only these are collected: importing the whole suite to
    deselect most of it would cost more than the marked tests themselves)."""
    return sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").glob("test_*.py")
        if f"pytest.mark.{MARKER}" in path.read_text(encoding="utf-8")
    )


@pytest.mark.recorded_floats
def test_the_kernel_set_asked_for_is_in_force() -> None:
    """Run with the others under each kernel set: ATen's capability is the one asked for, or below it on a CPU
    that lacks it, so a switch that stopped working would show here, not as a silent pass."""
    asked = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    in_force = torch.backends.cpu.get_cpu_capability()
    if asked in ATEN_LEVELS:
        assert ATEN_LEVELS.index(in_force) <= ATEN_LEVELS.index(asked), (asked, in_force)


def test_the_marked_tests_are_found() -> None:
    files = _marked_files()
    assert "tests/test_curves.py" in files and "tests/test_any_cpu.py" in files
    assert len(files) >= 4


@pytest.mark.slow  # a fresh interpreter per kernel set: 14 s and 9 s on 2 cores (load 1), 38 s at load 3
@pytest.mark.parametrize("kernels", list(KERNEL_SETS))
def test_recorded_floats_hold_under_older_kernels(kernels: str) -> None:
    env = {**os.environ, **KERNEL_SETS[kernels]}
    command = [sys.executable, "-m", "pytest", "-m", MARKER, "-q", "-p", "no:cacheprovider", *_marked_files()]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert proc.returncode == 0, f"{kernels}: {summary}\n{proc.stdout[-6000:]}"
    # every marked test ran: none skipped (shipped files absent would skip, not test)
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary, summary
