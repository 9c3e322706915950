"""The captures a server keeps for its sessions: one read-only copy per image, bounded in bytes, freed with its
last session.

``st.cache_data`` kept every capture as pickled bytes and unpickled a fresh copy on every rerun of every session
(a resnet34 capture is 4.8 MB of float16; 30 sessions rerunning at once held 30 copies), bounded only by a count,
and kept a capture long after the session that asked for it had gone. :class:`CaptureStore` instead:

* keeps one :class:`~resnet_viz.imaging.capture.Capture` per key and hands the *same* object to every session
  asking for it; its arrays are made read-only first, so no session can change what another sees;
* makes a key once even when several sessions ask at the same moment (the others wait for it);
* records which sessions (``owner``) use each capture; :meth:`release` (the session has ended) drops the
  session, and a capture no session uses any more is freed at once; a session holds at most ``per_owner``
  captures (its most recent: flipping between a few photos reruns nothing), older ones are let go the same way;
* keeps the total under ``max_bytes`` at every moment, evicting the least recently used captures first (a
  session whose capture was evicted makes it again on its next rerun: one forward pass). No value is exempt: one
  larger than the whole bound is handed to its caller, and to the callers waiting for the same key, but not kept
  (it used to be kept "because its session needs it", so one large request could hold any amount; the callers
  bound each request's size before asking, ``resnet_viz.memory``).

The same class bounds the page's other caches by bytes (channel grids' PNGs, preprocessed pictures, the
inspector's records): :func:`nbytes` counts numpy arrays, ``bytes`` and Pillow images.

Plain threading, nothing of Streamlit (``resnet_viz.ui.feature_maps`` owns one store per process and ties owners to sessions);
tested in ``tests/test_store.py``. Why not ``functools.lru_cache`` or cachetools: neither bounds by bytes *and*
tracks who still uses an entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np
from PIL import Image

from resnet_viz.settings import DEFAULTS

#: How many captures one session holds on to (its most recent).
DEFAULT_PER_OWNER = 4
#: The default bound of a store, in MB: ``$RESNET_VIZ_CAPTURE_MB``'s default (why: :mod:`resnet_viz.settings`).
DEFAULT_MAX_MB = DEFAULTS.capture_mb


def _parts(value: Any) -> list[Any]:
    """Every numpy array, ``bytes`` and Pillow image inside ``value`` (dataclasses, dicts, lists and tuples,
    walked)."""
    if isinstance(value, (np.ndarray, bytes, bytearray, Image.Image)):
        return [value]
    if is_dataclass(value) and not isinstance(value, type):
        return [a for f in fields(value) for a in _parts(getattr(value, f.name))]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _parts(v)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _parts(v)]
    return []


def _arrays(value: Any) -> list[np.ndarray]:
    """Every numpy array inside ``value`` (dataclasses, dicts, lists and tuples, walked)."""
    return [a for a in _parts(value) if isinstance(a, np.ndarray)]


def _size(part: Any) -> int:
    if isinstance(part, np.ndarray):
        return part.nbytes
    if isinstance(part, Image.Image):  # its pixel buffer: width × height × bands × bytes per band
        return part.width * part.height * len(part.getbands()) * (4 if part.mode in ("I", "F") else 1)
    return len(part)


def nbytes(value: Any) -> int:
    """The bytes of the numpy arrays, ``bytes`` and Pillow images inside ``value`` (what a kept value costs; the
    rest, a few numbers and names, is small)."""
    return sum(_size(p) for p in _parts(value))


def freeze(value: Any) -> Any:
    """Make every numpy array inside ``value`` read-only (in place) and return ``value``."""
    for a in _arrays(value):
        a.flags.writeable = False
    return value


@dataclass(frozen=True)
class StoreStats:
    """A store's state: entries and bytes kept, and what it has done so far."""

    entries: int
    bytes: int
    max_bytes: int
    owners: int
    made: int
    hits: int
    evicted: int
    released: int
    #: values handed out but not kept, each larger than the whole bound
    refused: int = 0


@dataclass(eq=False)
class _Pending:  # one key being made: its callers wait on ``done``, then read the value (kept or not)
    done: threading.Event = field(default_factory=threading.Event)
    made: bool = False
    value: Any = None


@dataclass(eq=False)
class _Entry:
    value: Any
    size: int
    owners: set[Hashable] = field(default_factory=set)


class CaptureStore:
    """One shared, read-only value per key, bounded in bytes and freed with its last owner (module docstring)."""

    def __init__(
        self,
        max_bytes: int = DEFAULTS.capture_bytes,
        per_owner: int = DEFAULT_PER_OWNER,
        sizeof: Callable[[Any], int] = nbytes,
    ) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self.per_owner = max(1, int(per_owner))
        self._sizeof = sizeof  # what a value costs (the shared models' store counts their tensors)
        self._by_owner: dict[Hashable, OrderedDict[Hashable, None]] = {}  # each owner's keys, oldest first
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # least recently used first
        self._making: dict[Hashable, _Pending] = {}
        self._ended: deque[Hashable] = deque()  # owners released while the lock was held (see release)
        self._bytes = 0
        self._made = self._hits = self._evicted = self._released = self._refused = 0

    def get(self, key: Hashable, owner: Hashable, make: Callable[[], Any]) -> Any:
        """The value of ``key``, made by ``make()`` if no one has it, and noted as used by ``owner``.

        Callers asking for a key being made wait for it and get the same value, kept or not (a value larger than
        the whole bound is handed out but not kept); if ``make`` raises, the error reaches the caller that made it
        and the waiting ones try again themselves (an out-of-memory on one device is not cached)."""
        while True:
            with self._lock:
                self._drain()
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    self._own(key, owner)
                    self._hits += 1
                    return entry.value
                pending = self._making.get(key)
                if pending is None:
                    pending = self._making[key] = _Pending()
                    break
            pending.done.wait()
            if pending.made:
                with self._lock:
                    self._hits += 1
                    if key in self._entries:
                        self._own(key, owner)
                return pending.value
        try:
            value = freeze(make())
        except BaseException:
            with self._lock:
                del self._making[key]
            pending.done.set()
            raise
        with self._lock:
            entry = _Entry(value, self._sizeof(value))
            self._made += 1
            if entry.size <= self.max_bytes:
                self._entries[key] = entry
                self._bytes += entry.size
                self._own(key, owner)
                self._evict_over_budget()
            else:
                self._refused += 1
            del self._making[key]
            self._drain()
        pending.value, pending.made = value, True
        pending.done.set()
        return value

    def _own(self, key: Hashable, owner: Hashable) -> None:  # with the lock held
        self._entries[key].owners.add(owner)
        keys = self._by_owner.setdefault(owner, OrderedDict())
        keys[key] = None
        keys.move_to_end(key)
        while len(keys) > self.per_owner:
            self._disown(next(iter(keys)), owner)

    def _disown(self, key: Hashable, owner: Hashable) -> None:  # with the lock held
        keys = self._by_owner.get(owner)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._by_owner[owner]
        entry = self._entries.get(key)
        if entry is not None:
            entry.owners.discard(owner)
            if not entry.owners:
                self._remove(key)
                self._released += 1

    def _remove(self, key: Hashable) -> None:  # with the lock held
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        for owner in entry.owners:
            keys = self._by_owner.get(owner)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._by_owner[owner]

    def _evict_over_budget(self) -> None:  # with the lock held
        # oldest first, the value just made included if it alone is over the bound: no exemption
        for key in list(self._entries):
            if self._bytes <= self.max_bytes:
                return
            self._remove(key)
            self._evicted += 1

    def release(self, owner: Hashable) -> None:
        """``owner`` (a session) has ended: forget it, and free the values no one uses any more.

        Safe to call from a garbage-collector callback at any moment, even in a thread inside this store's lock:
        it never blocks. The owner is queued, and freed now if the lock is free, else by whoever holds it before
        letting go."""
        self._ended.append(owner)
        if self._lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._lock.release()

    def _drain(self) -> None:  # with the lock held
        while self._ended:
            owner = self._ended.popleft()
            for key in list(self._by_owner.get(owner, ())):
                self._disown(key, owner)

    def stats(self) -> StoreStats:
        with self._lock:
            self._drain()
            return StoreStats(
                entries=len(self._entries), bytes=self._bytes, max_bytes=self.max_bytes, owners=len(self._by_owner),
                made=self._made, hits=self._hits, evicted=self._evicted, released=self._released,
                refused=self._refused,
            )  # fmt: skip
