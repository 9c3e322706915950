"""Without a browser the e2e tests skip outside CI (naming the install command) and fail under CI=true.

Checked by running one e2e test in a child pytest with the browser pointed at a path that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from repo import ROOT

pytestmark = pytest.mark.slow


def _run_without_browser(ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["RESNET_VIZ_CHROMIUM"] = str(ROOT / "no-such-chromium")
    if ci is not None:
        env["CI"] = ci
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/e2e/test_pages.py",
           "-k", "test_every_page_renders and home"]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_no_browser_outside_ci_skips_with_the_install_command():
    out = _run_without_browser(None)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "1 skipped" in out.stdout
    assert "sudo apt-get install chromium" in out.stdout
    assert '.venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest' in out.stdout


def test_no_browser_in_ci_fails():
    out = _run_without_browser("true")
    assert out.returncode != 0, out.stdout[-2000:]
    assert "CI=true" in out.stdout and "skipped" not in out.stdout
