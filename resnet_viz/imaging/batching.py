"""Batched forwards across sessions: requests for the same network arriving close together run as one batch.

When a class uploads at once, 30 sessions each ask for one forward of the same shared model. Run one after
another, each pays the Python and per-layer overhead of a whole forward; run as one batch of N, the per-layer
work is done once and the kernels see N images at a time. :class:`ForwardBatcher` collects the requests that
share a key (network, weights source, device, input size: the caller's key, plus the model object and the
image's shape, so two different models or sizes never mix) and runs them together:

* the first request of a key opens a batch and waits up to ``window_ms`` for others (or until ``max_batch``);
* it then waits for the forward gate (``gate``, e.g. the server's semaphore); requests arriving meanwhile still
  join, so under load the batches grow by themselves while a lone request pays only the window;
* the batch runs once (``run_batch(model, images)`` → one result per image), and every caller gets its own
  result back; an exception reaches every caller of that batch.

Nothing here knows Streamlit or torch models beyond calling ``run_batch``; it is plain threading, tested with
threads submitting at once (``tests/test_batching.py``). Why not a library: torch has no request batcher, and
serving frameworks (TorchServe, Triton) are separate servers; this is ~60 lines of one lock and two events.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch

from resnet_viz.settings import DEFAULTS

R = TypeVar("R")

#: How long the first request of a batch waits for others, and the largest batch, by default:
#: ``$RESNET_VIZ_BATCH_MS`` and ``$RESNET_VIZ_MAX_BATCH``'s defaults (why: :mod:`resnet_viz.settings`).
DEFAULT_WINDOW_MS = DEFAULTS.batch_ms
DEFAULT_MAX_BATCH = DEFAULTS.max_batch


@dataclass(eq=False)
class _Batch:
    model: Any
    images: list[torch.Tensor] = field(default_factory=list)
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    results: Sequence[Any] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchStats:
    """What the batcher has done so far: forwards run and images served (images / forwards = mean batch)."""

    forwards: int
    images: int
    largest: int


class ForwardBatcher(Generic[R]):
    """Merge single-image forwards of the same model into batches (see the module docstring)."""

    def __init__(
        self,
        run_batch: Callable[[Any, torch.Tensor], Sequence[R]],
        *,
        window_ms: float = DEFAULT_WINDOW_MS,
        max_batch: int = DEFAULT_MAX_BATCH,
        gate: Callable[[], contextlib.AbstractContextManager] | None = None,
    ) -> None:
        if window_ms < 0 or max_batch < 1:
            raise ValueError("window_ms must be ≥ 0 and max_batch ≥ 1")
        self._run = run_batch
        self._window_s = window_ms / 1000
        self._max = int(max_batch)
        self._gate = gate or contextlib.nullcontext
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Batch] = {}
        self._forwards = self._images = self._largest = 0

    def stats(self) -> BatchStats:
        with self._lock:
            return BatchStats(self._forwards, self._images, self._largest)

    def submit(self, key: Hashable, model: Any, image: torch.Tensor) -> R:
        """The result of ``run_batch`` for ``image`` (1, C, H, W), computed in a batch with its neighbours."""
        if image.ndim < 1 or image.shape[0] != 1:
            raise ValueError(f"submit one image at a time (1, …), not a tensor of shape {tuple(image.shape)}")
        full_key = (key, id(model), tuple(image.shape), image.dtype, image.device)
        with self._lock:
            batch = self._open.get(full_key)
            leader = batch is None
            if leader:
                batch = self._open[full_key] = _Batch(model)
            index = len(batch.images)
            batch.images.append(image)
            if len(batch.images) >= self._max:
                self._close(full_key, batch)
        if leader:
            self._lead(full_key, batch)
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        assert batch.results is not None
        return batch.results[index]

    def _close(self, full_key: Hashable, batch: _Batch) -> None:
        # (called with the lock held) no more requests join this batch
        if self._open.get(full_key) is batch:
            del self._open[full_key]
        batch.full.set()

    def _lead(self, full_key: Hashable, batch: _Batch) -> None:
        try:
            batch.full.wait(self._window_s)
            with self._gate():
                with self._lock:
                    self._close(full_key, batch)
                    images = list(batch.images)
                    self._forwards += 1
                    self._images += len(images)
                    self._largest = max(self._largest, len(images))
                stacked = images[0] if len(images) == 1 else torch.cat(images)
                results = self._run(batch.model, stacked)
                if len(results) != len(images):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(images)} images")
                batch.results = results
        except BaseException as exc:  # every caller of this batch sees the failure (e.g. CUDA out of memory)
            batch.error = exc
            with self._lock:
                self._close(full_key, batch)
        finally:
            batch.done.set()
