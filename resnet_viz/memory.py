"""A long-running server's memory: the garbage collector's heap frozen after start-up, and glibc's allocator
kept near what the process holds, not at its busiest moment.

**The collector.** Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``), and
a full collection walks every object the collector tracks: with torch, torchvision (which imports sympy and
torch._dynamo) and the app loaded, ~420,000 objects and ~210 ms of CPU on this 2-core machine, on every rerun of
every session, holding the GIL. In the 30-session load test that was the largest single cost of the server
(py-spy: 38 % of its samples). :func:`freeze_heap` moves what start-up made into the collector's permanent
generation (``gc.freeze()``, made for this), so the collection after a rerun walks only what the rerun made.
Frozen objects are still freed by reference counting, but cycles among them are not collected while they are
frozen: a session alive at the moment of freezing (the first one, whose first run imports everything) would keep
its state, and what it holds, after it ends. So :func:`refreeze_if_due` thaws, collects and freezes again every
:data:`REFREEZE_S` seconds (one full collection, ~210 ms, per period instead of per rerun); a session that ended
is freed at the next collection after the rerun of any session, or within that period.

**The allocator.**
A Streamlit server runs each session's script in a thread of its own. glibc's ``malloc`` gives threads that
allocate at the same time arenas of their own (up to 8 per core) and keeps what is freed inside them for reuse,
so a server that once had 30 sessions rendering at once stays near that peak long after they have gone, and
the forward passes' large buffers are kept too once glibc's sliding mmap threshold has grown past them. Two
documented calls bound it (mallopt(3), malloc_trim(3)); setting ``MALLOC_ARENA_MAX`` in the environment does
the first, but the README's ``streamlit run app.py`` should not depend on it. Nothing happens where the C library
is not glibc (macOS, musl): both functions then return False. Measured with ``python -m benchmarks --only load``
(server RSS rows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time

#: mallopt(3) parameter numbers (glibc's malloc.h).
M_ARENA_MAX = -8
#: Arenas for the whole process: the main one and one more, so threads allocating at once still rarely wait.
ARENAS = 2


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (only glibc has it)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        return libc
    except (OSError, AttributeError):
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let glibc make at most ``arenas`` malloc arenas from now on (threads share them). True if applied."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, max(1, int(arenas))) == 1)


def trim() -> bool:
    """Give the freed memory at the top and inside glibc's heaps back to the system. True if any was returned
    (False also where the C library is not glibc)."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0) == 1)


#: How often the frozen heap is thawed, collected and frozen again (see the module docstring).
REFREEZE_S = 300.0
_freeze_lock = threading.Lock()
_frozen_at: float | None = None


def freeze_heap() -> int:
    """Collect once, then freeze every object the collector tracks (``gc.freeze``); returns how many are frozen.
    Call it when start-up is done (the heavy modules imported): later full collections skip them."""
    with _freeze_lock:
        return _refreeze()


def _refreeze() -> int:  # with _freeze_lock held
    global _frozen_at
    gc.unfreeze()  # what an earlier freeze held is collected now if it has become garbage since
    gc.collect()
    gc.freeze()
    _frozen_at = time.monotonic()
    return gc.get_freeze_count()


def refreeze_if_due(period_s: float = REFREEZE_S) -> bool:
    """:func:`freeze_heap` again if it last ran ``period_s`` or more ago (never if it has not run at all).
    Cheap to call on every rerun; one thread refreezes, the others go on without waiting. True if it refroze."""
    if _frozen_at is None or time.monotonic() - _frozen_at < period_s:
        return False
    if not _freeze_lock.acquire(blocking=False):
        return False
    try:  # checked again: another thread may have refrozen between the first check and the lock
        if time.monotonic() - _frozen_at < period_s:
            return False
        _refreeze()
        return True
    finally:
        _freeze_lock.release()
