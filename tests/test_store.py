"""The capture store: one shared read-only value per key, made once however many ask at once, bounded in bytes
(least recently used out), a few per session, and freed with the last session that used it."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np
import pytest

from resnet_viz.imaging.store import CaptureStore, freeze, nbytes

MB = 2**20


@dataclass(frozen=True)
class Fake:  # shaped like a Capture: arrays in a dict, a list of dataclasses and a field
    layers: dict
    parts: list
    logits: np.ndarray


@dataclass(frozen=True)
class Part:
    mean: np.ndarray


def fake(mb: float, seed: int = 0) -> Fake:
    n = int(mb * MB) // 2
    rng = np.random.default_rng(seed)
    return Fake(
        {"a": rng.random(n // 2).astype(np.float16), "b": np.zeros(n - n // 2, np.float16)},
        [Part(np.zeros(0, np.float32))],
        np.zeros(0, np.float32),
    )


def test_nbytes_counts_bytes_and_pictures_too() -> None:
    """The page's other caches keep PNG bytes and Pillow images: they count by their bytes, not as nothing."""
    from PIL import Image

    png, picture = b"x" * 1000, Image.new("RGB", (20, 10))
    assert nbytes((png, [1, 2])) == 1000
    assert nbytes({"p": picture, "a": np.zeros(5, np.float32)}) == 20 * 10 * 3 + 20
    assert nbytes(Image.new("F", (4, 4))) == 64


def test_nbytes_and_freeze_walk_every_array() -> None:
    value = fake(1)
    assert nbytes(value) == MB
    freeze(value)
    with pytest.raises(ValueError, match="read-only"):
        value.layers["a"][0] = 1
    with pytest.raises(ValueError, match="read-only"):
        value.parts[0].mean[...] = 1


def test_one_value_per_key_shared_and_read_only() -> None:
    store = CaptureStore()
    made = []
    first = store.get("k", owner=1, make=lambda: made.append(1) or fake(1))
    second = store.get("k", owner=2, make=lambda: made.append(2) or fake(1))
    assert first is second and made == [1]
    assert not first.layers["a"].flags.writeable
    s = store.stats()
    assert (s.entries, s.bytes, s.owners, s.made, s.hits) == (1, MB, 2, 1, 1)


def test_a_key_asked_for_at_once_is_made_once() -> None:
    store = CaptureStore()
    made, results = [], []
    start = threading.Barrier(8)

    def make():
        made.append(1)
        time.sleep(0.05)  # long enough for every other thread to arrive while it is being made
        return fake(0.1)

    def ask(owner: int) -> None:
        start.wait()
        results.append(store.get("same", owner, make))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert all(r is results[0] for r in results) and len(results) == 8
    assert store.stats().owners == 8


def test_a_failed_make_is_not_kept_and_the_next_caller_tries_again() -> None:
    store = CaptureStore()

    def boom():
        raise MemoryError("out of memory on the device")

    with pytest.raises(MemoryError):
        store.get("k", 1, boom)
    assert store.stats().entries == 0
    assert store.get("k", 1, lambda: fake(0.1)).layers["a"].size > 0


def test_the_byte_bound_evicts_the_least_recently_used() -> None:
    store = CaptureStore(max_bytes=3 * MB, per_owner=10)
    for key in ("a", "b", "c"):
        store.get(key, owner=1, make=lambda: fake(1))
    store.get("a", owner=1, make=lambda: pytest.fail("a is kept"))  # a is now the most recent
    store.get("d", owner=1, make=lambda: fake(1))
    s = store.stats()
    assert (s.entries, s.bytes, s.evicted) == (3, 3 * MB, 1)
    made = []
    store.get("b", owner=1, make=lambda: made.append("b") or fake(1))  # b was the oldest: made again
    store.get("a", owner=1, make=lambda: made.append("a") or fake(1))
    assert made == ["b"]
    assert store.stats().bytes <= 3 * MB


def test_a_value_larger_than_the_bound_is_handed_out_but_never_kept() -> None:
    """No exemption for the newest value: one over the whole bound goes to its caller and is not kept (it used to
    be kept alone, over the bound, for as long as its session lived); what was kept stays."""
    store = CaptureStore(max_bytes=1 * MB)
    store.get("small", 1, lambda: fake(0.5))
    big = store.get("big", 2, lambda: fake(2))
    assert big.layers["a"].size and not big.layers["a"].flags.writeable
    s = store.stats()
    assert (s.entries, s.bytes, s.refused, s.evicted) == (1, MB // 2, 1, 0)  # the small one, under the bound
    made = []
    store.get("big", 2, lambda: made.append(1) or fake(2))
    assert made == [1]  # made again: it was not kept
    assert store.stats().bytes <= store.max_bytes


def test_callers_waiting_for_a_value_too_large_to_keep_get_it_too() -> None:
    store = CaptureStore(max_bytes=1 * MB)
    made, results = [], []
    start = threading.Barrier(4)

    def make():
        made.append(1)
        time.sleep(0.05)  # the other threads arrive while it is being made
        return fake(2)

    def ask(owner: int) -> None:
        start.wait()
        results.append(store.get("big", owner, make))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len(results) == 4 and all(r is results[0] for r in results)
    assert store.stats().entries == 0


def test_the_bound_holds_at_every_moment_whatever_the_order() -> None:
    store = CaptureStore(max_bytes=3 * MB, per_owner=100)
    rng = np.random.default_rng(0)
    for i in range(60):
        store.get(f"k{rng.integers(20)}", int(rng.integers(5)), lambda i=i: fake(float(rng.uniform(0.1, 4))))
        assert store.stats().bytes <= 3 * MB


def test_release_frees_what_only_that_session_used() -> None:
    store = CaptureStore()
    store.get("shared", 1, lambda: fake(1))
    store.get("shared", 2, lambda: fake(1))
    store.get("own", 1, lambda: fake(2))
    store.release(1)
    s = store.stats()
    assert (s.entries, s.bytes, s.owners, s.released) == (1, MB, 1, 1)
    store.release(2)
    assert store.stats().entries == store.stats().bytes == 0


def test_a_session_holds_only_its_most_recent_few() -> None:
    store = CaptureStore(per_owner=2)
    for key in ("a", "b", "c"):
        store.get(key, 1, lambda: fake(1))
    store.get("a2", 2, lambda: fake(1))
    store.get("b", 2, lambda: fake(1))  # b is also session 2's: session 1 letting go of it does not free it
    store.get("d", 1, lambda: fake(1))  # session 1 now holds c, d; b stays for session 2
    s = store.stats()
    assert s.entries == 4 and s.bytes == 4 * MB  # a2, b (session 2), c, d (session 1)
    made = []
    store.get("a", 1, lambda: made.append("a") or fake(1))
    assert made == ["a"]


def test_release_inside_the_lock_queues_instead_of_blocking() -> None:
    """The app ties an owner to a session by a weakref finalizer, which may run in any thread at any allocation,
    including one holding the store's own lock: release must never block, and what it frees goes at the next
    call."""
    store = CaptureStore()

    class Session:
        pass

    session = Session()
    weakref.finalize(session, store.release, "session")
    store.get("k", "session", lambda: fake(1))
    finished = threading.Event()

    def collect_inside_the_lock() -> None:
        nonlocal session
        with store._lock:  # as if the collector ran while get() held the lock
            session = None
            gc.collect()
        finished.set()

    t = threading.Thread(target=collect_inside_the_lock)
    t.start()
    t.join(5)
    assert finished.is_set()
    assert store.stats().entries == 0  # freed by the next call
