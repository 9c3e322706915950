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

**The budget of one request.** A link can ask for any network at any input size up to 1024: resnet110 at 1024
keeps ~1 GB of float16 maps in one capture (one visit measured +1.6 GB), and its effective receptive field keeps
every activation for the backward pass (+6.1 GB), far more than a replica has. The ``*_bytes`` functions below
estimate, from the network's trace alone (``architecture``: shapes, no weights, nothing run), the memory one
request will take at its peak; the callers compare it with ``$RESNET_VIZ_REQUEST_MB`` before running anything
(:func:`fitting_size` finds the largest input size under it). Each estimate is the sum of

* what the request keeps (a capture's float16 maps; a record's float32 maps),
* the forward's working memory (:func:`working_bytes`): the largest convolution's unfolded input (PyTorch's CPU
  convolution without oneDNN unfolds it, ``C_in·k²`` values per output position), a few of the largest
  activations alive at once, and :data:`REQUEST_OVERHEAD`,
* for a backward pass (a receptive field, Grad-CAM), the activations autograd keeps on the way.

They are upper bounds of the peak RSS each request adds in a fresh process, by 1.1–1.9× on this 2-core Xeon
(``tests/test_request_budget.py`` measures five: a capture, a record, two receptive fields and a Grad-CAM check).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time
from collections.abc import Callable

from resnet_viz.architecture.counting import MATERIALISING_KINDS
from resnet_viz.architecture.trace import Row, Trace, smallest_input, trace

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


# --------------------------------------------------------------------------------------------- request budget
#: Bytes per value: float32 for everything computed, float16 for the maps a capture keeps
#: (``imaging.capture.MAP_DTYPE``; a test checks they agree).
FLOAT_BYTES = 4
KEPT_BYTES = 2
#: Activations of the largest size a forward holds at once besides the unfolded input: a block's input, its branch
#: (a conv's output, then its BN's), the shortcut and the sum.
LIVE_ACTIVATIONS = 4
#: A record keeps at most this many maps of its layer (input, conv, BN, ReLU, output; a block's main, shortcut,
#: projection, output), in float32.
RECORD_MAPS = 6
#: What any request costs besides its arrays: the allocator's and the kernels' own buffers, thread stacks (measured:
#: up to ~25 MB more than the arrays for the smallest requests in a fresh process).
REQUEST_OVERHEAD = 32 * 2**20
#: The input sizes :func:`fitting_size` tries are multiples of this (round numbers on the page; an ImageNet
#: network's feature maps then halve evenly down to layer3).
SIZE_STEP = 16


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _unfolded(row: Row) -> int:
    """Values of a convolution's unfolded input (im2col): ``C_in · k² · H_out · W_out``."""
    return row.input_shape[0] * (row.kernel or 1) ** 2 * _elements(row.output_shape[1:])


def _end(tr: Trace, layer: str | None) -> int:
    """The index of the last trace row a forward up to ``layer`` runs (the last row for None): the end of the
    layer's block for a layer inside one (the whole block runs), of its last block for a stage, else the layer."""
    if layer is None:
        return len(tr.rows) - 1
    names = [r.name for r in tr.rows]
    if layer in names and tr.row(layer).kind == "stage":
        layer = tr.children(layer)[-1].name
    block = max(
        (b.name for b in tr.blocks if layer == b.name or layer.startswith(b.name + ".")),
        key=len,
        default=None,
    )
    if block is not None:
        return names.index(f"{block}.add")
    if layer in names:
        return names.index(layer)
    raise ValueError(f"unknown layer {layer!r} for {tr.arch}")


def _rows_to(tr: Trace, layer: str | None) -> tuple[Row, ...]:
    """The trace's rows a forward up to ``layer`` runs (:func:`_end`)."""
    return tr.rows[: _end(tr, layer) + 1]


def working_bytes(tr: Trace, layer: str | None = None) -> int:
    """The forward's working memory up to ``layer`` (the whole network for None): the largest convolution's
    unfolded input plus :data:`LIVE_ACTIVATIONS` of the largest activation, in float32."""
    rows = [r for r in _rows_to(tr, layer) if r.leaf]
    unfolded = max((_unfolded(r) for r in rows if r.kind == "conv"), default=0)
    largest = max([_elements(tr.input_size), *(_elements(r.output_shape) for r in rows)])
    return (unfolded + LIVE_ACTIVATIONS * largest) * FLOAT_BYTES + REQUEST_OVERHEAD


def capture_bytes(tr: Trace) -> int:
    """One image's capture (``imaging.capture.capture``): conv1's and the max pool's outputs and every block's
    output kept in float16, each block's five mean maps, the logits and the CAM in float32, and the forward's
    working memory."""
    kept = [r for r in tr.rows if r.name in ("relu", "maxpool") or r.kind == "block"]
    maps = sum(_elements(r.output_shape) for r in kept) * KEPT_BYTES
    # per block the input's mean map, and those of the branch, the shortcut, the sum and the output
    means = sum(_elements(r.input_shape[1:]) + 4 * _elements(r.output_shape[1:]) for r in tr.blocks)
    head = 2 * tr.num_classes + _elements(tr.blocks[-1].output_shape[1:])  # logits, probabilities, the CAM
    return maps + (means + head) * FLOAT_BYTES + working_bytes(tr)


def record_bytes(tr: Trace, layer: str) -> int:
    """One layer's record for the inspector (``imaging.explain.record_layer``): up to :data:`RECORD_MAPS` float32
    maps of the largest activation in the layer's block, and the working memory of the forward up to it."""
    rows = _rows_to(tr, layer)
    block = [r for r in rows if r.leaf][-8:]  # the layer's block (or the stem): its few last steps
    largest = max(_elements(r.output_shape) for r in block)
    return RECORD_MAPS * largest * FLOAT_BYTES + working_bytes(tr, layer)


def erf_bytes(tr: Trace, layer: str, weight_bytes: int = 0) -> int:
    """One effective receptive field (``imaging.explain.effective_rf``): every activation up to ``layer`` (autograd
    keeps what the backward pass needs; counted as ``architecture.counting.activation_bytes`` counts them) and the
    input's gradient, the working memory, and ``weight_bytes`` of weights it copies (its BN-folded weights:
    ``imaging.explain.receptive.folded_weight_bytes``)."""
    rows = [r for r in _rows_to(tr, layer) if r.leaf]
    kinds = MATERIALISING_KINDS
    kept = sum(_elements(r.output_shape) for r in rows if r.kind in kinds or r.shortcut == "zero_pad")
    return (kept + 2 * _elements(tr.input_size)) * FLOAT_BYTES + working_bytes(tr, layer) + weight_bytes


def gradcam_bytes(tr: Trace, stage: str) -> int:
    """One Grad-CAM at a stage's or block's output (``imaging.explain.grad_cam``; the sanity check runs two, one
    after the other): the forward up to it, then a forward with gradients through every later block, where
    autograd keeps each conv's and BN's output (the model's own parameters require gradients, so every input of
    theirs is kept), half as much again for the backward's gradients (measured: resnet50 and resnet110 peak 7 %
    and 4 % above the outputs alone), and the feature map with its gradient."""
    end = _end(tr, stage)
    after = [r for r in tr.rows[end + 1 :] if r.leaf and r.kind in MATERIALISING_KINDS]
    kept = 3 * sum(_elements(r.output_shape) for r in after) // 2 + 2 * _elements(tr.rows[end].output_shape)
    return kept * FLOAT_BYTES + working_bytes(tr)


def fitting_size(estimate: Callable[[int], int], requested: int, budget: int, smallest: int) -> int | None:
    """The largest input size ≤ ``requested`` whose ``estimate`` (bytes, given the size) is within ``budget``:
    ``requested`` itself when it fits, else a multiple of :data:`SIZE_STEP` (binary search: the estimates grow
    with the size); None when not even ``smallest`` fits."""
    if estimate(requested) <= budget:
        return requested
    lo, hi = -(-smallest // SIZE_STEP), (requested - 1) // SIZE_STEP  # candidates lo·STEP … hi·STEP
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if estimate(mid * SIZE_STEP) <= budget:
            best, lo = mid * SIZE_STEP, mid + 1
        else:
            hi = mid - 1
    if best is None and smallest < requested and estimate(smallest) <= budget:
        best = smallest
    return best


@functools.lru_cache(maxsize=512)
def fitting_capture_size(arch: str, plain: bool, stride_in: str, requested: int, budget: int) -> int | None:
    """:func:`fitting_size` for a capture of ``arch`` (memoised: the page asks on every rerun)."""
    return fitting_size(
        lambda size: capture_bytes(trace(arch, size, plain=plain, stride_in=stride_in)),
        requested, budget, smallest_input(arch),
    )  # fmt: skip


@functools.lru_cache(maxsize=512)
def fitting_record_size(
    arch: str, plain: bool, stride_in: str, layer: str, requested: int, budget: int
) -> int | None:
    """:func:`fitting_size` for an inspector's record of ``layer`` (memoised)."""
    return fitting_size(
        lambda size: record_bytes(trace(arch, size, plain=plain, stride_in=stride_in), layer),
        requested, budget, smallest_input(arch),
    )  # fmt: skip


@functools.lru_cache(maxsize=512)
def fitting_gradcam_size(
    arch: str, plain: bool, stride_in: str, stage: str, requested: int, budget: int
) -> int | None:
    """:func:`fitting_size` for a Grad-CAM at ``stage`` (memoised)."""
    return fitting_size(
        lambda size: gradcam_bytes(trace(arch, size, plain=plain, stride_in=stride_in), stage),
        requested, budget, smallest_input(arch),
    )  # fmt: skip


@functools.lru_cache(maxsize=512)
def fitting_erf_size(
    arch: str, plain: bool, stride_in: str, layer: str, weight_bytes: int, requested: int, budget: int
) -> int | None:
    """:func:`fitting_size` for an effective receptive field of ``layer`` (memoised)."""
    return fitting_size(
        lambda size: erf_bytes(trace(arch, size, plain=plain, stride_in=stride_in), layer, weight_bytes),
        requested, budget, smallest_input(arch),
    )  # fmt: skip
