"""Batched forwards across sessions (resnet_viz/imaging/batching.py): each caller gets its own slice, equal to
its own unbatched forward to float tolerance, and requests that must not mix (another model, another input size)
never share a batch."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from resnet_viz.imaging.batching import ForwardBatcher
from resnet_viz.imaging.capture import capture, capture_batch
from resnet_viz.models.weights import load_random


def _images(n: int, size: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 3, size, size, generator=g) for _ in range(n)]


def _submit_all(batcher, jobs, key="k"):
    """Every (model, image) from its own thread, released at the same moment; results in job order."""
    results: list = [None] * len(jobs)
    errors: list = []
    start = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        model, image = jobs[i]
        start.wait()
        try:
            results[i] = batcher.submit(key, model, image)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def _assert_same_capture(batched, alone) -> None:
    assert list(batched.layers) == list(alone.layers)
    for name, a in alone.layers.items():
        b = batched.layers[name]
        assert b.shape == a.shape and b.dtype == a.dtype
        scale = float(np.abs(a.astype(np.float32)).max()) or 1.0
        # float16 storage: one unit in the last place of the largest value, plus summation-order noise
        np.testing.assert_allclose(b.astype(np.float32), a.astype(np.float32), rtol=0, atol=2e-3 * scale)
    np.testing.assert_allclose(batched.logits, alone.logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batched.cam, alone.cam, rtol=1e-4, atol=1e-3)
    assert batched.cam_class == alone.cam_class
    for rb, ra in zip(batched.residuals, alone.residuals, strict=True):
        assert rb.block == ra.block and rb.shortcut == ra.shortcut
        np.testing.assert_allclose(rb.out_mean, ra.out_mean, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(rb.main_norm, ra.main_norm, rtol=1e-4)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_each_session_gets_its_own_unbatched_result(arch):
    model = load_random(arch).eval()
    images = _images(6, 64, seed=1)
    alone = [capture(model, img) for img in images]
    batcher = ForwardBatcher(capture_batch, window_ms=300, max_batch=8)
    results, errors = _submit_all(batcher, [(model, img) for img in images])
    assert not errors
    stats = batcher.stats()
    assert stats.images == 6 and stats.forwards < 6 and stats.largest >= 2  # really batched
    for got, want in zip(results, alone, strict=True):
        _assert_same_capture(got, want)
    # the images differ, so a swapped slice would be caught: every capture's logits are distinct
    assert len({r.logits.tobytes() for r in results}) == 6


def _recording_batcher(max_batch: int = 64, window_ms: float = 300):
    seen: list[tuple[int, int]] = []  # (id of the model, batch size) of every forward run

    def run(model, images):
        seen.append((id(model), images.shape[0]))
        return [(model, float(img.sum())) for img in images]

    return ForwardBatcher(run, window_ms=window_ms, max_batch=max_batch), seen


def test_other_models_and_sizes_never_share_a_batch():
    batcher, seen = _recording_batcher()
    a, b = object(), object()
    imgs = _images(8, 8, seed=2) + _images(4, 16, seed=3)
    jobs = (
        [(a, imgs[i]) for i in range(4)] + [(b, imgs[i]) for i in range(4, 8)] + [(a, im) for im in imgs[8:]]
    )
    results, errors = _submit_all(batcher, jobs)
    assert not errors
    for (model, image), (got_model, got_sum) in zip(jobs, results, strict=True):
        assert got_model is model and got_sum == pytest.approx(float(image.sum()))
    assert sum(n for _, n in seen) == 12 and len(seen) >= 3  # a, b and the 16-pixel images at least


def test_max_batch_bounds_every_batch():
    batcher, seen = _recording_batcher(max_batch=3)
    model = object()
    results, errors = _submit_all(batcher, [(model, img) for img in _images(10, 8, seed=4)])
    assert not errors and all(r is not None for r in results)
    assert max(n for _, n in seen) <= 3 and sum(n for _, n in seen) == 10


def test_a_failed_forward_reaches_every_caller_of_its_batch_and_the_next_batch_runs():
    calls = []

    def run(model, images):
        calls.append(images.shape[0])
        if len(calls) == 1:
            raise MemoryError("out of memory")
        return list(range(images.shape[0]))

    batcher = ForwardBatcher(run, window_ms=300)
    results, errors = _submit_all(batcher, [(None, img) for img in _images(4, 8)])
    assert len(errors) + sum(r is not None for r in results) == 4
    assert errors and all(isinstance(e, MemoryError) for e in errors)
    assert batcher.submit("k", None, _images(1, 8)[0]) == 0  # nothing left open or stuck


def test_gate_is_held_around_each_forward():
    gate = threading.BoundedSemaphore(1)
    held: list[bool] = []

    def run(model, images):
        held.append(not gate.acquire(blocking=False))  # already held by the batcher
        return [0] * images.shape[0]

    batcher = ForwardBatcher(run, window_ms=0, gate=lambda: gate)
    assert batcher.submit("k", None, _images(1, 8)[0]) == 0
    assert held == [True]


def test_bad_arguments():
    with pytest.raises(ValueError):
        ForwardBatcher(lambda m, x: [], window_ms=-1)
    with pytest.raises(ValueError):
        ForwardBatcher(lambda m, x: [], max_batch=0)
    with pytest.raises(ValueError, match="one image at a time"):
        ForwardBatcher(lambda m, x: []).submit("k", None, torch.zeros(2, 3, 8, 8))
