"""Every ``RESNET_VIZ_*`` knob in one place: read from the environment, parsed and validated once.

============================  ==========  ====================================================================
variable                      default     what it sets
============================  ==========  ====================================================================
``RESNET_VIZ_DEVICE``         (auto)      ``cpu``, ``cuda`` or ``mps``; unset: CUDA, else Apple MPS, else the
                                          CPU
``RESNET_VIZ_OFFLINE``        0           1: never try the network for pretrained weights
``RESNET_VIZ_CAPTURE_MB``     256         the captures every session shares, in MB
                                          (:attr:`Settings.capture_bytes`)
``RESNET_VIZ_REQUEST_MB``     320         the most memory one request may take, in MB
                                          (:attr:`Settings.request_bytes`)
``RESNET_VIZ_CACHE_MB``       32          the bound of each smaller cache (grids, pictures, …), in MB
``RESNET_VIZ_MODELS_MB``      512         the shared networks' weights together, in MB
``RESNET_VIZ_BATCH_MS``       5           how long a forward waits for others of the same network, in ms
``RESNET_VIZ_MAX_BATCH``      8           the most images in one batched forward (1: no batching)
``RESNET_VIZ_ROOMS``          sqlite      class mode's room store: ``sqlite`` (empty too) or
                                          ``redis://host:port/db``
``RESNET_VIZ_DATA_DIR``       (per user)  where the SQLite room store lives; unset:
                                          ``$XDG_DATA_HOME/resnet-viz``, else ``~/.local/share/resnet-viz``
``RESNET_VIZ_ROOM_IDLE_MIN``  180         a room nobody wrote to for this many minutes expires
``RESNET_VIZ_ROOM_STUDENTS``  200         the most students in one room
``RESNET_VIZ_MAX_ROOMS``      500         the most live rooms in one store
============================  ==========  ====================================================================

Why each default is what it is stands beside its field in :class:`Settings`. ``current()`` parses the environment
and caches the result keyed by the ``RESNET_VIZ_*`` variables themselves (a snapshot of a handful of strings), so
a value set later, as the tests do with ``monkeypatch.setenv``, applies at the next call. A bad value never raises:
it falls back to the default with a warning in the log, once per environment. :func:`warn_unknown` (called once
at start-up) names every ``RESNET_VIZ_*`` variable nobody reads, with the known name it is closest to, so a
misspelt ``RESNET_VIZ_MAXBATCH`` does not go silently unused. :func:`data_dir` resolves ``RESNET_VIZ_DATA_DIR``
and its per-user default.

Two more names are read by the developers' tools, not by the app, and are only listed here (:data:`TOOLING`) so
that they are not reported as unknown: ``RESNET_VIZ_CHROMIUM`` (the browser the end-to-end tests and the load
benchmark drive, read by ``devtools/devserver.py``; a path whose check is whether it exists) and
``RESNET_VIZ_UPDATE_GOLDEN`` (``tests/test_dot.py`` rewrites its golden file).

Standard library only: every floor may import it.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "RESNET_VIZ_"
DEVICE_ENV = "RESNET_VIZ_DEVICE"
OFFLINE_ENV = "RESNET_VIZ_OFFLINE"
CAPTURE_MB_ENV = "RESNET_VIZ_CAPTURE_MB"
BATCH_MS_ENV = "RESNET_VIZ_BATCH_MS"
MAX_BATCH_ENV = "RESNET_VIZ_MAX_BATCH"
REQUEST_MB_ENV = "RESNET_VIZ_REQUEST_MB"
CACHE_MB_ENV = "RESNET_VIZ_CACHE_MB"
MODELS_MB_ENV = "RESNET_VIZ_MODELS_MB"
ROOMS_ENV = "RESNET_VIZ_ROOMS"
DATA_DIR_ENV = "RESNET_VIZ_DATA_DIR"
ROOM_IDLE_MIN_ENV = "RESNET_VIZ_ROOM_IDLE_MIN"
ROOM_STUDENTS_ENV = "RESNET_VIZ_ROOM_STUDENTS"
MAX_ROOMS_ENV = "RESNET_VIZ_MAX_ROOMS"

#: Names the developers' tools read (not the app): known, so not reported, but not parsed here.
TOOLING: dict[str, str] = {
    "RESNET_VIZ_CHROMIUM": "the Chromium the browser tests and the load benchmark drive (devtools/devserver.py)",
    "RESNET_VIZ_UPDATE_GOLDEN": "1: tests/test_dot.py rewrites its golden DOT file",
}


@dataclass(frozen=True)
class Settings:
    """The knobs' values, parsed. Each field is one variable: ``RESNET_VIZ_`` + the field's name in capitals."""

    #: ``cpu``, ``cuda`` or ``mps`` (case and spaces ignored); empty: the best device present. Any other value,
    #: like a device this machine lacks, gives the CPU with a warning (``models.device.select_device``): whoever
    #: asked for a device did not want the default's GPU.
    device: str = ""
    #: Never try the network for pretrained weights: a classroom behind a firewall that hangs instead of refusing
    #: would otherwise wait for the connection to time out. Default off: download once, then the cache serves.
    offline: bool = False
    #: The bound of the store of captures every session shares, in MB (0 keeps none): 30 different photos through
    #: resnet34 are 144 MB, through resnet50 380 MB; past the bound the oldest are made again when asked for.
    capture_mb: float = 256
    #: How long the first forward of a batch waits for others of the same network, in ms: a few ms are invisible
    #: to a student and let a class's uploads arriving together share one forward. 0: no waiting.
    batch_ms: float = 5.0
    #: The most images in one batched forward: bounds the transient memory of one forward (activations grow
    #: with the batch). 1 turns batching off (the load benchmark's comparison).
    max_batch: int = 8
    #: The most memory one request may take, in MB, estimated from the network's trace before anything runs
    #: (``resnet_viz.memory``): one image's capture (its kept maps and the forward's working memory), one layer's
    #: record for the inspector, one effective receptive field or Grad-CAM check (a backward pass keeps the
    #: activations on its way). A capture above it runs at the largest input size that fits, an inspector request
    #: above it is refused, each with a notice. 320: every request at a network's own input size fits with room
    #: to spare (the largest, Grad-CAM at resnet152's layer1 at 224, is estimated at 256 MB and measured at
    #: ~190 MB), while ``/feature_maps?net=resnet110&size=1024`` (measured before the budget: +1.6 GB in one
    #: visit, +6.1 GB with its receptive field) runs at 352×352. What a replica needs is about its floor
    #: (imports, models), plus the stores and caches below, plus one budget per concurrent forward
    #: (``models.device.forward_budget``: 2 on a 2-core CPU).
    request_mb: float = 320
    #: The bound of each of the smaller caches, in MB: the preprocessed pictures, the channel grids' PNGs, the
    #: layer statistics, the inspector's records, receptive fields and Grad-CAM checks (six caches). A session
    #: whose entry was let go makes it again when it next needs it. 0 keeps nothing.
    cache_mb: float = 32
    models_mb: float = 512
    #: Class mode's room store: ``sqlite`` (or empty) keeps rooms in ``<data_dir>/rooms.sqlite3``, shared by every
    #: replica on this host with no set-up; ``redis://host:port/db`` keeps them in Redis, for replicas on several
    #: hosts. Anything else falls back to SQLite with a warning.
    rooms: str = "sqlite"
    #: The folder of the SQLite room store; empty: :func:`data_dir` picks the per-user default
    #: (``$XDG_DATA_HOME/resnet-viz``, else ``~/.local/share/resnet-viz``), the XDG place for an app's own data.
    data_dir: str = ""
    #: A room nobody wrote to (no join, answer or teacher action) for this many minutes expires. 180: a double
    #: lesson with a break stays alive (90 min + 20 min + 90 min of a slow class is still touched every few
    #: minutes), while a room forgotten at the end of a morning is gone by the afternoon.
    room_idle_min: float = 180
    #: The most students in one room: 200 covers a full lecture hall (the largest class one projector serves)
    #: and bounds one room's answers at 200 × the lesson's steps rows.
    room_students: int = 200
    #: The most live rooms in one store: 500 rooms of 200 students are 100 000 students at once, far above what
    #: one deployment of this app serves, while a flood of "start a class" clicks stays a few MB of rows.
    max_rooms: int = 500

    @property
    def capture_bytes(self) -> int:
        """:attr:`capture_mb` in bytes (what ``imaging.store.CaptureStore`` takes)."""
        return int(self.capture_mb * 2**20)

    @property
    def request_bytes(self) -> int:
        """:attr:`request_mb` in bytes."""
        return int(self.request_mb * 2**20)

    @property
    def cache_bytes(self) -> int:
        """:attr:`cache_mb` in bytes."""
        return int(self.cache_mb * 2**20)

    @property
    def models_bytes(self) -> int:
        """:attr:`models_mb` in bytes."""
        return int(self.models_mb * 2**20)

    def replica_mb(self, concurrent_forwards: int) -> float:
        """The most memory one replica can hold with these bounds, in MB: its floor (:data:`FLOOR_MB`), the
        capture store, the six small caches, the shared models, and one request budget per concurrent forward
        (``models.device.forward_budget``). deploy/systemd's ``MemoryMax`` must not be below it (a test checks)."""
        caches = 6 * self.cache_mb
        return FLOOR_MB + self.capture_mb + caches + self.models_mb + concurrent_forwards * self.request_mb


#: The defaults, for the modules whose own defaults these are (``imaging.store``, ``imaging.batching``).
#: A replica's memory before any session: the imports (torch, torchvision, Streamlit; ~0.7 GB of RSS, ~0.3 GB
#: of it shared libraries) and the Streamlit server, measured at ~0.8 GB by tests/rss_probe.py (its first line).
FLOOR_MB = 800

DEFAULTS = Settings()


# --------------------------------------------------------------------------------------------- parsers
# Each takes the variable's text and returns the value, or raises ValueError saying what was expected.
_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"", "0", "false", "no", "n", "off"})


def _device(text: str) -> str:
    return text.strip().lower()


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("expected 1 or 0 (or true/false, yes/no, on/off)")


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected {expected}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text, "a number ≥ 0")
    if value < 0:
        raise ValueError("expected a number ≥ 0")
    return value


def _positive(text: str) -> float:
    value = _number(text, "a number > 0")
    if value <= 0:
        raise ValueError("expected a number > 0")
    return value


def _rooms(text: str) -> str:
    word = text.strip()
    if word.lower() in ("", "sqlite"):
        return "sqlite"
    if word.startswith(("redis://", "rediss://", "unix://")):
        return word
    raise ValueError("expected sqlite or a redis:// address (redis://host:port/db)")


def _folder(text: str) -> str:
    return os.path.expanduser(text.strip())


def _positive_int(text: str) -> int:
    value = _number(text, "a whole number ≥ 1")
    if value != int(value) or value < 1:
        raise ValueError("expected a whole number ≥ 1")
    return int(value)


#: variable -> (field of :class:`Settings`, parser)
KNOBS: dict[str, tuple[str, Callable[[str], Any]]] = {
    DEVICE_ENV: ("device", _device),
    OFFLINE_ENV: ("offline", _flag),
    CAPTURE_MB_ENV: ("capture_mb", _non_negative),
    BATCH_MS_ENV: ("batch_ms", _non_negative),
    MAX_BATCH_ENV: ("max_batch", _positive_int),
    REQUEST_MB_ENV: ("request_mb", _positive),
    CACHE_MB_ENV: ("cache_mb", _non_negative),
    MODELS_MB_ENV: ("models_mb", _non_negative),
    ROOMS_ENV: ("rooms", _rooms),
    DATA_DIR_ENV: ("data_dir", _folder),
    ROOM_IDLE_MIN_ENV: ("room_idle_min", _positive),
    ROOM_STUDENTS_ENV: ("room_students", _positive_int),
    MAX_ROOMS_ENV: ("max_rooms", _positive_int),
}


def _snapshot() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))


@functools.lru_cache(maxsize=16)
def _parse(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    env = dict(snapshot)
    values: dict[str, Any] = {}
    for name, (attr, parse) in KNOBS.items():
        if name not in env:
            continue
        try:
            values[attr] = parse(env[name])
        except ValueError as err:
            default = getattr(DEFAULTS, attr)
            log.warning("%s=%r is not valid (%s); using the default, %r", name, env[name], err, default)
    return Settings(**values)


def current() -> Settings:
    """The settings of the environment as it is now (parsed once per distinct set of ``RESNET_VIZ_*`` values)."""
    return _parse(_snapshot())


def data_dir(s: Settings | None = None) -> str:
    """The folder of the app's own data (the SQLite room store): ``RESNET_VIZ_DATA_DIR``, else
    ``$XDG_DATA_HOME/resnet-viz``, else ``~/.local/share/resnet-viz`` (the XDG base directory default)."""
    chosen = (s or current()).data_dir
    if chosen:
        return chosen
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "resnet-viz")


def warn_unknown() -> list[str]:
    """Log a warning for each ``RESNET_VIZ_*`` variable (in any case) that nothing reads, naming the known
    variable it is closest to when one is close (a misspelling); returns the unknown names."""
    known = [*KNOBS, *TOOLING]
    by_suffix = {name.removeprefix(PREFIX): name for name in known}
    unknown = sorted(name for name in os.environ if name.upper().startswith(PREFIX) and name not in known)
    for name in unknown:
        close = difflib.get_close_matches(name.upper().removeprefix(PREFIX), by_suffix, n=1, cutoff=0.6)
        hint = f"; did you mean {by_suffix[close[0]]}?" if close else ""
        log.warning(
            "%s is not a resnet-viz setting and is ignored%s (known: %s)", name, hint, ", ".join(KNOBS)
        )
    return unknown
