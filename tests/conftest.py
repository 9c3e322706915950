"""Shared test set-up: keep torch to a predictable thread count so the suite behaves the same on 2 cores."""

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def repo_root() -> str:
    return ROOT


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test, the suite's own count restored after. For tiny nets and batches (width
    4–16, batches of 4–64) a second thread gains nothing, and on a busy 2-core machine its barrier waits made a
    1 s test take 45 s. Modules of such tests use it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
