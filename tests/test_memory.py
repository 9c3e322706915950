"""resnet_viz.memory: the collector's heap frozen after start-up (so Streamlit's full collection after every rerun
walks only what the rerun made), thawed and collected again on a period, and glibc's allocator calls."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
import textwrap

import pytest

from resnet_viz import memory


@pytest.mark.slow  # a fresh interpreter importing torch and torchvision: seconds, more on busy cores
def test_freezing_leaves_a_full_collection_only_the_new_objects() -> None:
    """In a fresh interpreter with torch and torchvision loaded (hundreds of thousands of tracked objects), a full
    collection after freeze_heap walks only what was made after it."""
    code = textwrap.dedent("""
        import gc, torchvision.models
        from resnet_viz import memory
        before = len(gc.get_objects())
        frozen = memory.freeze_heap()
        young = [[i] for i in range(1000)]
        print(before, frozen, len(gc.get_objects()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, frozen, tracked_after = (int(v) for v in out.split())
    assert before > 100_000  # what a full collection walked on every rerun
    assert frozen >= 0.9 * before
    assert 1000 <= tracked_after < 10_000  # now: the new objects, not the heap


def test_refreeze_waits_for_its_period_and_collects_frozen_garbage() -> None:
    class Node:
        pass

    try:
        memory.freeze_heap()
        assert not memory.refreeze_if_due(period_s=3600)
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, alive when the heap is frozen
        memory.freeze_heap()
        import weakref

        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is not None  # frozen: a plain collection does not see it
        assert memory.refreeze_if_due(period_s=0)
        assert gone() is None  # the periodic refreeze does
    finally:
        gc.unfreeze()


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="glibc's allocator calls: Linux with glibc only"
)
def test_the_glibc_calls_are_found_and_applied() -> None:
    assert memory.limit_arenas(memory.ARENAS)
    blocks = [bytearray(256 * 1024) for _ in range(200)]  # 50 MB on the heap, then freed
    del blocks
    assert isinstance(memory.trim(), bool)
