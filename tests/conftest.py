"""Shared test set-up: one torch thread count, where the repository is, and one way to make an AppTest.

* ``ROOT``/``APP`` come from ``tests/repo.py`` (import them from there at module level: ``from repo import ROOT``);
  the ``repo_root`` fixture serves ``ROOT``.
* ``app_test`` makes a fresh, not yet run, ``streamlit.testing.v1.AppTest`` of app.py (or of a function), with an
  address and session state set before its first run. Every page test makes its AppTests with it.
* ``offline``: no download of pretrained weights (``RESNET_VIZ_OFFLINE=1``, an empty ``TORCH_HOME``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from repo import APP, ROOT

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def app_test() -> Callable[..., Any]:
    """``app_test(timeout=120, query={...}, state={...}, script=None) -> AppTest``, not run yet.

    ``query`` is written into the address (``at.query_params``), ``state`` into ``at.session_state`` in its order,
    both before the first run. ``script`` makes an AppTest of that function instead of app.py. ``timeout`` is the
    AppTest's ``default_timeout`` in seconds (a run on a busy 2-core machine can take minutes)."""
    from streamlit.testing.v1 import AppTest

    def make(
        *,
        timeout: float = 120,
        query: Mapping[str, str] | None = None,
        state: Mapping[str, Any] | None = None,
        script: Callable[[], None] | None = None,
    ) -> AppTest:
        if script is not None:
            at = AppTest.from_function(script, default_timeout=timeout)
        else:
            at = AppTest.from_file(str(APP), default_timeout=timeout)
        if query:
            at.query_params.update(query)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        return at

    return make


@pytest.fixture
def offline(monkeypatch, tmp_path) -> None:
    """No network for weights: "pretrained" falls back to random weights with its message."""
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test, the suite's own count restored after. For tiny nets and batches (width
    4–16, batches of 4–64) a second thread gains nothing, and on a busy 2-core machine its barrier waits made a
    1 s test take 45 s. Modules of such tests use it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
