"""benchmarks/bench_gpu.py without CUDA: one line, exit status 0 (CI has no GPU; the GPU path runs by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from repo import ROOT

pytestmark = pytest.mark.slow


def test_without_cuda_it_says_so_in_one_line_and_exits_0(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}  # hides any GPU
    env.pop("BENCH_GPU_STAND_IN", None)
    out_json = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_gpu", "--json", str(out_json)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "no CUDA" in lines[0], proc.stdout
    assert json.loads(out_json.read_text())["cuda"] is False
