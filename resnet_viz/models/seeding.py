"""One discipline for seeded initialisation: every seeded build in the process goes through :func:`seeded`.

torch's default generator is process-wide, and torchvision's and our models draw their initial weights from it.
Two sessions that seed it and build a model at the same time would interleave their draws, and "seed 0" would not
always mean the same weights. So there is one lock for the whole package (re-entrant, so a seeded build may call
another), and the generator's state is forked and restored around it, so nobody else's random stream moves.
A build whose random start is overwritten at once (a checkpoint, pretrained or trained weights) still draws from
the generator: it goes through :func:`unseeded_build`, under the same lock. tests/test_seeding.py builds from 8
threads at once and checks every seeded state_dict against its single-threaded build.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

_SEED_LOCK = threading.RLock()

T = TypeVar("T")


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside: torch's global CPU generator is seeded with ``seed`` and no other thread can draw from it here."""
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def seeded_build(seed: int, build: Callable[[], T]) -> T:
    """``build()`` under :func:`seeded`: the same ``seed`` gives the same weights, whatever other threads do."""
    with seeded(seed):
        return build()


def unseeded_build(build: Callable[[], T]) -> T:
    """``build()`` for a model whose random start is replaced at once (a checkpoint, pretrained or trained
    weights). Its initialisers still draw from the global generator: under the lock, so the draws cannot land
    between another thread's seeding and its build, and inside ``fork_rng``, so nobody's stream moves."""
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        return build()
