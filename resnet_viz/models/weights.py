"""Where a network's weights come from: torchvision's ImageNet weights, a seeded random start, or a user's file.

* Pretrained weights come through torchvision's weights API (``weights.url``, ``.meta["categories"]``,
  ``.transforms()``) and live in torch's hub cache (``torch.hub.get_dir()/checkpoints``), the same file
  ``torchvision.models.resnet50(weights="DEFAULT")`` would use. The cache is checked first, so an offline
  classroom with a filled cache (``python -m resnet_viz download-weights resnet50``) never touches the network,
  and an offline machine with an empty cache fails in a few seconds with :class:`WeightsError` ``offline``.
  The file is then read with ``torch.load(weights_only=True)``: torchvision's own loader uses
  weights_only disabled, which would unpickle whatever file sits in the cache.
* Random weights are torchvision's initialisation under a fixed seed, so every session, rerun and process sees
  the same "untrained" network (and cached activations stay valid when a cached model is rebuilt).
* A user's checkpoint (``.pt``/``.pth`` state_dict, or ``.safetensors``) is loaded into a *fresh* model of that
  session only; its format is decided by its content. No code in it ever runs: ``torch.load(weights_only=True)``
  (never ``mmap``), or safetensors, which has no code path at all.
* ``weights_only`` stops code, not work: a 1 kB pickle can make the unpickler hash a tuple that shares itself
  2**64 times, in C, holding the GIL, which stops every session of the server. So no byte of an upload reaches
  an unpickler (or safetensors' reader) before a pre-scan has bounded what reading it can cost: the pickle is
  walked opcode by opcode with :mod:`pickletools` (never executed) and must be a plain tree of dicts, lists,
  tuples, numbers, strings and tensors; every tensor must fit its stored bytes, and the bytes the file declares
  must fit in the file (:func:`scan_torch_checkpoint`, :func:`scan_safetensors_header`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import pickletools
import socket
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models as tvm

from resnet_viz import settings
from resnet_viz.architecture.catalogue import pretrained_problem
from resnet_viz.errors import UserError
from resnet_viz.formatting import fmt_bytes, fmt_int, fmt_shape
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build, unseeded_build

#: Seconds to wait for the weights server before calling the machine offline.
CONNECT_TIMEOUT_S = 3.0
#: Seed of the "random weights" networks: the same untrained filters everywhere.
RANDOM_SEED = 0
#: The largest checkpoint accepted (resnet152's state_dict is ~230 MB).
MAX_CHECKPOINT_BYTES = 400 * 1024 * 1024
#: The most classes a checkpoint's head may have: the head is built before the file's weights are copied in, so
#: its size must be bounded before it is allocated (ImageNet-21k has 21,841 classes; 100,000 × 2048 floats is
#: 780 MiB, about the largest file accepted).
MAX_CLASSES = 100_000
#: Bounds of the pre-scan of a torch pickle. resnet152's state_dict is 31,570 opcodes and 115 kB of pickle, four
#: levels deep; a wrapper with an optimizer's state (Adam) makes that 2.4 times as many opcodes.
MAX_PICKLE_OPS = 500_000
MAX_PICKLE_BYTES = 32 * 2**20
MAX_PICKLE_DEPTH = 32
#: The most objects a pickled value may hold, counting a shared tuple once per place it is used: what hashing,
#: comparing or walking it costs. A tree without sharing holds fewer objects than the pickle has opcodes.
MAX_PICKLE_OBJECTS = 2 * MAX_PICKLE_OPS
#: The most dimensions of one tensor (a convolution's weight has 4).
MAX_TENSOR_DIMS = 16
#: The largest safetensors header read. resnet152's is 85 kB; safetensors itself allows 100 MB, room for a million
#: one-element entries (71 MB), which took 21 s and 1.8 GB to refuse.
MAX_SAFETENSORS_HEADER_BYTES = 4 * 2**20
#: A checkpoint may hold this many times the network's own tensors (an optimizer's state beside the model's).
TENSORS_PER_NETWORK_TENSOR = 4
#: Key names in messages are cut to this many characters (one key of 200,070 characters was echoed in full).
MAX_KEY_CHARS = 80


class WeightsError(UserError):
    """Pretrained weights cannot be had. ``code`` names the reason; ``params`` fill the localized message
    ``feature_maps.weights_error_<code>``."""

    I18N_PREFIX = "feature_maps.weights_error_"
    CODES = ("no_pretrained", "offline", "download", "corrupt")


class CheckpointError(UserError):
    """A user's checkpoint cannot be used. ``code`` names the reason; ``params`` fill the localized message
    ``feature_maps.ckpt_error_<code>``."""

    I18N_PREFIX = "feature_maps.ckpt_error_"
    OUTSIDE = ("key", "missing", "unexpected")  # key names read from the student's file
    CODES = (
        "empty",
        "too_large",
        "not_checkpoint",
        "unsafe",
        "unreadable",
        "not_state_dict",
        "keys",
        "shape",
        "structure",
        "too_many_tensors",
        "tensor_data",
        "data_size",
        "no_classes",
        "too_many_classes",
    )


# --------------------------------------------------------------------------------------------- recipes
#: The networks whose every torchvision weight set the ResNet → ConvNeXt page compares: ResNet-50's V1 (the 2015-style
#: recipe) and V2 (torchvision's 2021 recipe) on one architecture, and ConvNeXt-T's own.
RECIPE_NETWORKS = ("resnet50", "convnext_tiny")


@dataclass(frozen=True)
class RecipeWeights:
    """One weight set torchvision ships, as its enum's ``meta`` says (read, never typed): the network, the enum
    member (``ResNet50_Weights.IMAGENET1K_V2``), ImageNet-1K top-1 and top-5 (torchvision's own evaluation), the
    recipe's address, and whether its file is in torch's hub cache now (nothing is downloaded to find out)."""

    arch: str
    name: str
    weights: str
    acc1: float
    acc5: float
    recipe: str
    cached: bool
    resize: int = 0  # the side its transforms() resize to before the centre crop (V1 256, V2 232)
    crop: int = 0  # the centre crop's side (224)


def weights_file(w: tvm.WeightsEnum) -> Path:
    """Where torch's hub keeps the file of weight set ``w`` (the URL's file name under ``checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(w.url).path)


def recipe_weights(arch: str) -> tuple[RecipeWeights, ...]:
    """Every ImageNet weight set torchvision ships for ``arch`` (one of :data:`RECIPE_NETWORKS`), oldest first."""
    if arch not in RECIPE_NETWORKS:
        raise ValueError(f"no recipe comparison for {arch!r}; choose one of {', '.join(RECIPE_NETWORKS)}")
    out = []
    for w in tvm.get_model_weights(arch):
        metrics = w.meta["_metrics"]["ImageNet-1K"]
        preprocess = w.transforms()  # torchvision's ImageClassification: resize, then centre crop
        out.append(RecipeWeights(arch, w.name, f"{type(w).__name__}.{w.name}", float(metrics["acc@1"]),
                                 float(metrics["acc@5"]), str(w.meta.get("recipe", "")),
                                 weights_file(w).is_file(), int(preprocess.resize_size[0]),
                                 int(preprocess.crop_size[0])))  # fmt: skip
    return tuple(out)


def ensure_weights_file(arch: str, name: str, *, progress: bool = True) -> Path:
    """The path of weight set ``name`` (``IMAGENET1K_V1``) of ``arch``, downloaded once into torch's hub cache
    with torch.hub's SHA-256 prefix check, as :func:`ensure_pretrained` does for the default set."""
    w = tvm.get_model_weights(arch)[name]
    path = weights_file(w)
    if path.is_file():
        return path
    if not online(w.url):
        raise WeightsError("offline", f"no internet connection and no cached {arch} {name} (expected {path})",
                           arch=arch, path=str(path))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name.split(".")[0]
    try:
        _download(w.url, path, stem.rsplit("-", 1)[-1] if "-" in stem else None, progress)
    except (OSError, RuntimeError) as exc:
        raise WeightsError(
            "download", f"downloading {w.url} failed: {exc}", arch=arch, error=str(exc)
        ) from None
    return path


def load_weights_file(arch: str, name: str) -> nn.Module:
    """``arch`` (``resnet50``) with its cached weight set ``name`` (``IMAGENET1K_V1``), in eval mode on the CPU.
    Never downloads: ``WeightsError("offline")`` where the file is not in the cache (``download-weights
    --recipes`` fills it). Read with ``torch.load(weights_only=True)``, as :func:`load_pretrained` reads."""
    w = tvm.get_model_weights(arch)[name]
    path = weights_file(w)
    if not path.is_file():
        raise WeightsError(
            "offline", f"{arch} {name} is not cached (expected {path})", arch=arch, path=str(path)
        )
    model = unseeded_build(lambda: tvm.get_model(arch, weights=None))
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # a damaged cache file: say where it is so it can be deleted
        raise WeightsError("corrupt", f"the cached weights file {path} is damaged ({exc}); delete it",
                           path=str(path)) from None  # fmt: skip
    return model.eval()


# --------------------------------------------------------------------------------------------- pretrained
def pretrained_weights(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> tvm.WeightsEnum:
    """torchvision's default ImageNet weights for ``arch`` (e.g. ``ResNet50_Weights.IMAGENET1K_V2``).

    Only the residual v1.5 ImageNet networks have them (the one rule:
    :func:`resnet_viz.architecture.catalogue.pretrained_problem`); anything else raises
    ``WeightsError("no_pretrained")``.
    """
    problem = pretrained_problem(arch, plain=plain, stride_in=stride_in)
    if problem is not None:
        raise WeightsError("no_pretrained", problem, arch=arch)
    return tvm.get_model_weights(arch).DEFAULT


def weights_name(arch: str) -> str:
    """E.g. ``ResNet50_Weights.IMAGENET1K_V2``: the id of the pretrained weights in caches and on the page."""
    w = pretrained_weights(arch)
    return f"{type(w).__name__}.{w.name}"


def cache_path(arch: str) -> Path:
    """Where torch's hub keeps the weights file (the URL's file name under ``torch.hub.get_dir()/checkpoints``)."""
    url = pretrained_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def is_cached(arch: str) -> bool:
    try:
        return cache_path(arch).is_file()
    except WeightsError:
        return False


def online(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether the weights server answers a TCP connection within ``timeout`` (no global socket timeout is set:
    this runs inside a server shared by many sessions)."""
    if settings.current().offline:  # RESNET_VIZ_OFFLINE
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(url: str, dst: Path, hash_prefix: str | None, progress: bool) -> None:
    """torch.hub's own downloader: a temporary file, a SHA-256 prefix check, an atomic move, a progress bar."""
    torch.hub.download_url_to_file(url, str(dst), hash_prefix=hash_prefix, progress=progress)


def check_obtainable(arch: str) -> bool:
    """True if the weights are cached, False if they must be downloaded and the server answers;
    ``WeightsError("offline")`` if neither (in a few seconds at most, so a page can say so before it waits)."""
    path = cache_path(arch)
    if path.is_file():
        return True
    if not online(pretrained_weights(arch).url):
        raise WeightsError(
            "offline",
            f"no internet connection and no cached weights for {arch} (expected {path}); "
            f"run `python -m resnet_viz download-weights {arch}` on a connected machine",
            arch=arch,
            path=str(path),
        )
    return False


def ensure_pretrained(arch: str, *, progress: bool = True) -> Path:
    """The path of ``arch``'s pretrained weights file, downloading it once if it is not cached yet."""
    path = cache_path(arch)
    if check_obtainable(arch):
        return path
    url = pretrained_weights(arch).url
    path.parent.mkdir(parents=True, exist_ok=True)
    # torchvision names its files <name>-<first 8+ hex digits of the SHA-256>.pth, which torch.hub checks.
    stem = path.name.split(".")[0]
    hash_prefix = stem.rsplit("-", 1)[-1] if "-" in stem else None
    try:
        _download(url, path, hash_prefix, progress)
    except (OSError, RuntimeError) as exc:
        raise WeightsError(
            "download", f"downloading {url} failed: {exc}", arch=arch, error=str(exc)
        ) from None
    return path


def load_pretrained(arch: str, *, progress: bool = True) -> nn.Module:
    """``arch`` with torchvision's default ImageNet weights, in eval mode on the CPU (downloads once)."""
    path = ensure_pretrained(arch, progress=progress)
    model = unseeded_build(lambda: build_model(arch))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # a damaged cache file: say where it is so it can be deleted
        raise WeightsError(
            "corrupt", f"the cached weights file {path} is damaged ({exc}); delete it", path=str(path)
        ) from None
    return model.eval()


def load_random(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> nn.Module:
    """``arch`` with torchvision's random initialisation under :data:`RANDOM_SEED` (the same everywhere)."""
    return seeded_build(RANDOM_SEED, lambda: build_model(arch, plain=plain, stride_in=stride_in))


# --------------------------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: the file's format, its SHA-256 (the id of these weights in caches), its wrapper."""

    sha256: str
    format: str  # "torch" | "safetensors"
    wrapper: str | None = None  # "state_dict" | "model" | None
    stripped_prefix: bool = False
    num_classes: int = 1000
    tensors: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Tensors holding NaN or ±Inf (loaded as they are; the page warns, naming them): every activation they
    #: reach is NaN, so the maps and predictions would silently mean nothing.
    nonfinite: tuple[str, ...] = field(default_factory=tuple)


def checkpoint_format(data: bytes) -> str | None:
    """``"torch"`` (a zip archive of torch.save, or the legacy pickle format), ``"safetensors"``, or None.

    Decided by content: a zip local-file header, a pickle protocol byte, or safetensors' little-endian
    header length followed by a JSON object.
    """
    if data[:4] == b"PK\x03\x04":
        return "torch"
    if len(data) >= 10:
        n = int.from_bytes(data[:8], "little")
        if 2 <= n <= len(data) - 8 and data[8:9] == b"{":
            return "safetensors"
    if data[:1] == b"\x80" and len(data) > 2 and 2 <= data[1] <= 5:
        return "torch"
    return None


# --------------------------------------------------------------------------------------------- the pre-scan
def cut_key(key: object, limit: int = MAX_KEY_CHARS) -> str:
    """A key name as messages show it: at most ``limit`` characters, the cut marked with "…"."""
    text = str(key)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _structure(detail: str) -> CheckpointError:
    return CheckpointError(
        "structure", f"the file is not a plain state_dict ({detail}); refused before reading it"
    )


#: The legacy storage classes a state_dict's tensors are saved with, and their element sizes in bytes.
_STORAGE_ITEMSIZE = {
    f"torch.{name}Storage": size
    for name, size in {
        "Float": 4, "Double": 8, "Half": 2, "BFloat16": 2,
        "Long": 8, "Int": 4, "Short": 2, "Char": 1, "Byte": 1, "Bool": 1,
    }.items()
}  # fmt: skip
_REBUILD_TENSOR = "torch._utils._rebuild_tensor_v2"
_REBUILD_PARAMETER = "torch._utils._rebuild_parameter"
_ORDERED_DICT = "collections.OrderedDict"
#: Every global a state_dict's pickle needs; any other (a class, a function, builtins.open …) is refused.
_ALLOWED_GLOBALS = frozenset({_REBUILD_TENSOR, _REBUILD_PARAMETER, _ORDERED_DICT, *_STORAGE_ITEMSIZE})
#: What the legacy (non-zip) format's first pickle holds.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ATOM_OPS = frozenset(
    {"BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING",
     "NONE", "NEWTRUE", "NEWFALSE"}
)  # fmt: skip
_MUTABLE = frozenset({"list", "dict", "odict"})


class _Value:
    """What a pickle opcode would have built, without building it: a kind, the few facts the checks need,
    how many objects it holds (``objects``, a shared tuple counted at every use) and its nesting ``depth``."""

    __slots__ = ("depth", "kind", "objects", "value")

    def __init__(self, kind: str, value: Any = None, objects: int = 1, depth: int = 0) -> None:
        #: atom | global | tuple | list | dict | odict | storage | tensor
        self.kind = kind
        #: atom: the value; global: its dotted name; tuple: its items; storage: (key, bytes, itemsize, numel);
        #: tensor: the CheckpointError saying how it does not fit its storage, or None
        self.value = value
        self.objects = objects
        self.depth = depth


@dataclass
class TorchScan:
    """What the pre-scan of a torch file found: its tensors and the bytes their storages declare."""

    tensors: int = 0
    storage_bytes: dict[str, int] = field(default_factory=dict)
    ops: int = 0

    @property
    def declared_bytes(self) -> int:
        return sum(self.storage_bytes.values())


class _PickleScan:
    """Walks one pickle with :func:`pickletools.genops` (which decodes opcodes and never executes them) and
    keeps, per stack entry, only what the checks need. Mirrors what torch's weights_only unpickler would build,
    and refuses what a state_dict does not need:

    * globals other than the tensor and storage rebuilders and ``OrderedDict`` (``unsafe``);
    * a list or dict referenced twice, a dict key that is not a string or a number, a value holding more than
      :data:`MAX_PICKLE_OBJECTS` objects (the hash bomb: a tuple that shares itself), nesting deeper than
      :data:`MAX_PICKLE_DEPTH`, more than :data:`MAX_PICKLE_OPS` opcodes, any opcode torch's own
      weights_only unpickler has no use for (``structure``);
    * more than ``max_tensors`` tensors (``too_many_tensors``), a tensor whose elements are not laid out
      one after another in its storage (stride 0, overlap, gaps) or do not fit in it (``tensor_data``).
    """

    def __init__(self, scan: TorchScan, max_tensors: int) -> None:
        self.scan = scan
        self.max_tensors = max_tensors

    def run(self, stream: io.BytesIO) -> _Value:
        stack: list[_Value] = []
        marks: list[list[_Value]] = []
        memo: dict[int, _Value] = {}
        unplaced: list[CheckpointError] = []  # tensors that do not fit, not yet stored under a key
        scan = self.scan
        try:
            for opcode, arg, _pos in pickletools.genops(stream):
                scan.ops += 1
                if scan.ops > MAX_PICKLE_OPS:
                    raise _structure(f"more than {fmt_int(MAX_PICKLE_OPS)} pickle opcodes")
                name = opcode.name
                if name in _ATOM_OPS:
                    stack.append(_Value("atom", arg))
                elif name in ("BINPUT", "LONG_BINPUT"):
                    memo[arg] = stack[-1]
                elif name in ("BINGET", "LONG_BINGET"):
                    shared = memo[arg]
                    if shared.kind in _MUTABLE:
                        raise _structure("a list or dict is referenced twice")
                    stack.append(shared)
                elif name == "MARK":
                    marks.append(stack)
                    stack = []
                elif name in ("EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
                    if name == "TUPLE":
                        items, stack = stack, marks.pop()
                    else:
                        n = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}[name]
                        items = stack[len(stack) - n :] if n else []
                        if len(items) != n:
                            raise IndexError("stack underflow")
                        del stack[len(stack) - n :]
                    stack.append(self._container("tuple", items, items))
                elif name == "EMPTY_LIST":
                    stack.append(_Value("list"))
                elif name in ("APPEND", "APPENDS"):
                    if name == "APPEND":
                        items = [stack.pop()]
                    else:
                        items, stack = stack, marks.pop()
                    self._grow(stack[-1], "list", items)
                elif name == "EMPTY_DICT":
                    stack.append(_Value("dict"))
                elif name in ("SETITEM", "SETITEMS"):
                    if name == "SETITEM":
                        items = stack[-2:]
                        if len(items) != 2:
                            raise IndexError("stack underflow")
                        del stack[-2:]
                    else:
                        items, stack = stack, marks.pop()
                    if len(items) % 2:
                        raise _structure("a dict item without a value")
                    for key, value in zip(items[::2], items[1::2], strict=True):
                        if not _plain_key(key):
                            raise _structure("a dict key that is not a string or an int64")
                        if value.kind == "tensor" and value.value is not None:
                            err, shown = value.value, cut_key(key.value)
                            raise CheckpointError(
                                "tensor_data", f"{shown}: {err}", **{**err.params, "key": shown}
                            )
                    self._grow(stack[-1], "dict", items)
                elif name == "GLOBAL":
                    module, _, attr = str(arg).partition(" ")
                    full = f"{module}.{attr}"
                    if full not in _ALLOWED_GLOBALS:
                        raise CheckpointError(
                            "unsafe",
                            f"the file holds Python objects other than tensors; refused ({cut_key(full)})",
                        )
                    stack.append(_Value("global", full))
                elif name == "REDUCE":
                    args = stack.pop()
                    func = stack.pop()
                    made = self._reduce(func, args)
                    if made.kind == "tensor" and made.value is not None:
                        unplaced.append(made.value)
                    stack.append(made)
                elif name == "BUILD":
                    state = stack.pop()
                    if stack[-1].kind != "odict" or state.kind != "dict":
                        raise _structure("BUILD of something other than an OrderedDict's attributes")
                    self._grow(stack[-1], "odict", [state])
                elif name == "BINPERSID":
                    stack.append(self._storage(stack.pop()))
                elif name == "PROTO":
                    pass
                elif name == "STOP":
                    if len(stack) != 1 or marks:
                        raise _structure("a pickle that does not end with one value")
                    break
                else:
                    raise _structure(f"the pickle opcode {name}")
        except (IndexError, KeyError):
            raise CheckpointError("unreadable", "not a readable PyTorch file (a damaged pickle)") from None
        except ValueError as exc:  # genops: a truncated or unknown opcode
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(
                "unreadable", f"not a readable PyTorch file ({cut_key(exc, 200)})"
            ) from None
        else:
            if not stack:
                raise CheckpointError("unreadable", "not a readable PyTorch file (the pickle has no end)")
        if unplaced:  # a tensor that does not fit, kept in a list or a tuple rather than under a key
            raise unplaced[0]
        return stack[0]

    def _container(self, kind: str, children: list[_Value], value: Any = None) -> _Value:
        objects = 1 + sum(c.objects for c in children)
        depth = 1 + max((c.depth for c in children), default=0)
        return self._checked(_Value(kind, value, objects, depth))

    def _grow(self, target: _Value, kind: str, children: list[_Value]) -> None:
        if target.kind != kind and not (kind == "dict" and target.kind == "odict"):
            raise _structure(f"adding items to a {target.kind}")
        target.objects += sum(c.objects for c in children)
        target.depth = max(target.depth, 1 + max((c.depth for c in children), default=0))
        self._checked(target)

    @staticmethod
    def _checked(v: _Value) -> _Value:
        if v.objects > MAX_PICKLE_OBJECTS:
            raise _structure(
                f"a value of more than {fmt_int(MAX_PICKLE_OBJECTS)} objects, made of shared parts"
            )
        if v.depth > MAX_PICKLE_DEPTH:
            raise _structure(f"containers nested more than {MAX_PICKLE_DEPTH} deep")
        return v

    def _storage(self, pid: _Value) -> _Value:
        """``("storage", <FloatStorage…>, key, location, numel)`` (zip), or the legacy format's six-tuple
        ending with None: a storage of ``numel`` elements under ``key``."""
        items = pid.value if pid.kind == "tuple" else None
        if not items or len(items) not in (5, 6) or items[0].value != "storage" or items[0].kind != "atom":
            raise _structure("a persistent id other than a storage")
        kind, key, location, numel = items[1], items[2], items[3], items[4]
        if len(items) == 6 and items[5].value is not None:
            raise _structure("a storage view")
        if not (
            kind.kind == "global"
            and kind.value in _STORAGE_ITEMSIZE
            and all(v.kind == "atom" for v in (key, location, numel))
            and isinstance(key.value, str)
            and isinstance(location.value, str)
            and _is_count(numel.value)
        ):
            raise _structure("a malformed storage id")
        itemsize = _STORAGE_ITEMSIZE[kind.value]
        nbytes = numel.value * itemsize
        known = self.scan.storage_bytes.setdefault(key.value, nbytes)
        if known != nbytes:
            raise _structure("one storage declared with two sizes")
        return _Value("storage", (key.value, nbytes, itemsize, numel.value))

    def _reduce(self, func: _Value, args: _Value) -> _Value:
        if func.kind != "global" or args.kind != "tuple":
            raise _structure("a call of something other than a known function")
        items: list[_Value] = args.value
        if func.value == _ORDERED_DICT:
            if items:
                raise _structure("an OrderedDict made from arguments")
            return _Value("odict")
        if func.value == _REBUILD_PARAMETER:
            if len(items) != 3 or items[0].kind != "tensor":
                raise _structure("a parameter that is not made of a tensor")
            return items[0]
        if func.value == _REBUILD_TENSOR:
            self.scan.tensors += 1
            if self.scan.tensors > self.max_tensors:
                raise CheckpointError(
                    "too_many_tensors",
                    f"the file holds more than {self.max_tensors} tensors",
                    limit=fmt_int(self.max_tensors),
                )
            return _Value("tensor", _tensor_problem(items))
        raise _structure(f"a call of {cut_key(func.value)}")


def _plain_key(key: _Value) -> bool:
    """A dict key whose hash cannot be made expensive: a string (hashed with a per-process secret), an int of
    at most 64 bits (a few share each hash: ints equal modulo 2**61 - 1 collide, so 10**5 chosen big ints would
    make one dict cost 10**10 probes), a bool or None. A state_dict's keys are strings; an optimizer's, ints."""
    value = key.value
    return key.kind == "atom" and (
        isinstance(value, str | bytes | bool)
        or value is None
        or (type(value) is int and -(2**63) <= value < 2**63)
    )


def _is_count(value: object) -> bool:
    """A non-negative int that fits in an int64 (a size, an offset, a number of elements)."""
    return type(value) is int and 0 <= value < 2**63


def _tensor_problem(items: list[_Value]) -> CheckpointError | None:
    """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])``: None if the
    tensor's elements lie one after another inside its storage (any order of dimensions: channels_last is
    fine), else the ``tensor_data`` error (its key is filled in where the tensor is stored)."""
    if len(items) not in (6, 7):
        raise _structure("a tensor rebuilt with other arguments")
    storage, offset, size, stride = items[:4]
    dims = size.value if size.kind == "tuple" else None
    steps = stride.value if stride.kind == "tuple" else None
    if (
        storage.kind != "storage"
        or offset.kind != "atom"
        or not _is_count(offset.value)
        or dims is None
        or steps is None
        or len(dims) != len(steps)
        or len(dims) > MAX_TENSOR_DIMS
        or not all(v.kind == "atom" and _is_count(v.value) for v in (*dims, *steps))
        or items[5].kind != "odict"
        or items[5].objects != 1  # backward hooks: none are ever saved
        or (len(items) == 7 and items[6].kind not in ("dict", "odict"))
    ):
        raise _structure("a tensor rebuilt with malformed arguments")
    shape = tuple(v.value for v in dims)
    strides = tuple(v.value for v in steps)
    numel = math.prod(shape)
    _key, _nbytes, _itemsize, stored = storage.value
    dense = numel == 0 or _dense(shape, strides)
    if dense and offset.value + numel <= stored:
        return None
    return CheckpointError(
        "tensor_data",
        f"a tensor of shape {shape} and strides {strides} needs {numel} values one after another, "
        f"and its storage holds {stored - min(offset.value, stored)} from its offset",
        key="–",
        shape=fmt_shape(shape) if shape else "()",
        needed=fmt_int(numel),
        stored=fmt_int(stored - min(offset.value, stored)),
    )


def _dense(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether the elements fill a block of ``prod(shape)`` values exactly once, in some order of dimensions
    (what torch calls non-overlapping and dense): no stride 0 (an expanded tensor), no overlap, no gap."""
    expected = 1
    for size, step in sorted((p for p in zip(shape, strides, strict=True) if p[0] != 1), key=lambda p: p[1]):
        if step != expected:
            return False
        expected *= size
    return True


def _zip_directory_size(data: bytes) -> tuple[int, int]:
    """(entries, central directory bytes) as the end records of a zip archive declare them, the larger of the
    classic and the zip64 record's (torch writes both); read before any zip reader walks the directory."""
    start = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if start < 0 or start + 22 > len(data):
        raise CheckpointError("unreadable", "not a readable PyTorch file (no end of zip directory)")
    entries, cd_size = struct.unpack_from("<HI", data, start + 10)
    locator = start - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        (declared_at,) = struct.unpack_from("<Q", data, locator + 8)
        for at in {declared_at, locator - 56}:  # where the locator says; where Python's zipfile looks
            if 0 <= at <= len(data) - 56 and data[at : at + 4] == b"PK\x06\x06":
                n64, size64 = struct.unpack_from("<QQ", data, at + 32)
                entries, cd_size = max(entries, n64), max(cd_size, size64)
    return entries, cd_size


def scan_torch_checkpoint(data: bytes, *, max_tensors: int) -> TorchScan:
    """Pre-scan a torch.save file (zip archive or legacy pickle stream) without unpickling anything.

    Refuses with :class:`CheckpointError` (``unsafe``, ``structure``, ``too_many_tensors``, ``tensor_data``,
    ``data_size``, ``unreadable``) whatever would make ``torch.load(weights_only=True)`` run code, work or
    allocate beyond what the file's size accounts for. Costs one pass over the pickle in Python (under 0.1 s
    for resnet152): no single C call with the GIL held, so other sessions keep running meanwhile.
    """
    scan = TorchScan()
    walker = _PickleScan(scan, max_tensors)
    if data[:4] != b"PK\x03\x04":
        stream = io.BytesIO(data)
        magic = walker.run(stream)
        if magic.value != _LEGACY_MAGIC:
            raise CheckpointError("unreadable", "not a readable PyTorch file (not torch.save's magic number)")
        for _ in range(4):  # protocol version, system info, the object, the storage keys
            walker.run(stream)
        _check_declared_bytes(scan, len(data))
        return scan
    entries, cd_size = _zip_directory_size(data)
    max_entries = max_tensors + 16  # storages, data.pkl, version, byteorder …
    if entries > max_entries or cd_size > max_entries * 1024:
        raise CheckpointError(
            "too_many_tensors", f"the archive declares {entries} entries", limit=fmt_int(max_tensors)
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            records = {i.filename: i.file_size for i in zf.infolist()}
            unpacked = sum(records.values())
            if unpacked > len(data):  # a compressed record would unpack to more than the upload
                raise CheckpointError(
                    "data_size",
                    f"the archive unpacks to {unpacked} bytes, more than the file's {len(data)}",
                    declared=fmt_bytes(unpacked),
                    size=fmt_bytes(len(data)),
                )
            # torch's reader takes the archive's folder from its first record, as here.
            root = next(iter(records), "").split("/", 1)[0]
            pkl = records.get(f"{root}/data.pkl")
            if pkl is None:
                raise CheckpointError("unreadable", "not a readable PyTorch file (no data.pkl)")
            if pkl > MAX_PICKLE_BYTES:
                raise _structure(f"a pickle of {fmt_bytes(pkl)}")
            walker.run(io.BytesIO(zf.read(f"{root}/data.pkl")))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise CheckpointError("unreadable", f"not a readable PyTorch file ({cut_key(exc, 200)})") from None
    _check_declared_bytes(scan, len(data))
    for key, nbytes in scan.storage_bytes.items():
        if records.get(f"{root}/data/{key}", -1) < nbytes:
            raise CheckpointError(
                "unreadable", f"not a readable PyTorch file (storage {cut_key(key)} is short)"
            )
    return scan


def _check_declared_bytes(scan: TorchScan, file_bytes: int) -> None:
    """The storages' bytes must fit in the file: torch allocates them as declared before reading them."""
    if scan.declared_bytes > file_bytes:
        raise CheckpointError(
            "data_size",
            f"the tensors declare {scan.declared_bytes} bytes, more than the file's {file_bytes}",
            declared=fmt_bytes(scan.declared_bytes),
            size=fmt_bytes(file_bytes),
        )


#: safetensors' dtypes and their element sizes in bytes.
_SAFETENSORS_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
}  # fmt: skip


def scan_safetensors_header(data: bytes, *, max_tensors: int) -> dict[str, tuple[int, ...]]:
    """Read and check a safetensors header before safetensors materialises anything: its size (at most
    :data:`MAX_SAFETENSORS_HEADER_BYTES`), its entry count (at most ``max_tensors``, the network's own),
    and each entry's dtype, shape and byte offsets, which must agree and lie inside the file.
    Returns each tensor's shape by name."""
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > MAX_SAFETENSORS_HEADER_BYTES:
        raise _structure(f"a safetensors header of {fmt_bytes(n)}")
    body = len(data) - 8 - n
    try:
        header = json.loads(data[8 : 8 + n])
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(
            "unreadable", f"not a readable safetensors file ({cut_key(exc, 200)})"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError("unreadable", "not a readable safetensors file (the header is not an object)")
    header.pop("__metadata__", None)
    if len(header) > max_tensors:
        raise CheckpointError(
            "too_many_tensors", f"the file holds {len(header)} tensors", limit=fmt_int(max_tensors)
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for key, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (
            dtype not in _SAFETENSORS_ITEMSIZE
            or not isinstance(shape, list)
            or len(shape) > MAX_TENSOR_DIMS
            or not all(_is_count(d) for d in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)
        ):
            raise CheckpointError(
                "unreadable", f"not a readable safetensors file (the entry {cut_key(key)} is malformed)"
            )
        numel = math.prod(shape)
        begin, end = offsets
        stored = (end - begin) // _SAFETENSORS_ITEMSIZE[dtype] if begin <= end else 0
        if not begin <= end <= body or end - begin != numel * _SAFETENSORS_ITEMSIZE[dtype]:
            raise CheckpointError(
                "tensor_data",
                f"{cut_key(key)} of shape {tuple(shape)} needs {numel} values; its bytes hold {stored}",
                key=cut_key(key),
                shape=fmt_shape(tuple(shape)) if shape else "()",
                needed=fmt_int(numel),
                stored=fmt_int(stored),
            )
        shapes[key] = tuple(shape)
    return shapes


@functools.lru_cache(maxsize=64)
def network_tensor_count(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> int:
    """How many entries ``arch``'s state_dict has (resnet152: 932), counted on a model built on the meta
    device: no memory, no initialisation, about 0.2 s once per network. (torch's device context is the calling
    thread's own: other sessions building models meanwhile still get CPU tensors.)"""
    with torch.device("meta"):
        model = unseeded_build(lambda: build_model(arch, plain=plain, stride_in=stride_in))
    return len(model.state_dict())


def _read_state(data: bytes, fmt: str, *, network_tensors: int) -> Any:
    """The file's object, read only after its pre-scan passed.

    Why a pre-scan and not a child process with CPU and memory limits: the scan is strict enough that what
    passes it costs reading at most the file's own bytes (a tree of at most :data:`MAX_PICKLE_OPS` objects,
    every tensor inside its declared storage, every storage inside the file), so nothing is left for limits to
    catch; a child process would add a second or more per upload (starting Python and torch) and a second copy
    of every checkpoint in memory, for every student.
    """
    if fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load as load_safetensors

        scan_safetensors_header(data, max_tensors=network_tensors)
        try:
            return load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
            raise CheckpointError(
                "unreadable", f"not a readable safetensors file: {cut_key(exc, 200)}"
            ) from None
    import pickle

    scan_torch_checkpoint(data, max_tensors=TENSORS_PER_NETWORK_TENSOR * network_tensors + 64)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global that is not a tensor or a plain container: code never runs.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            "unsafe", f"the file holds Python objects other than tensors; refused ({cut_key(first, 200)})"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, ValueError … for damaged archives
        raise CheckpointError(
            "unreadable", f"not a readable PyTorch file ({type(exc).__name__}: {cut_key(exc, 200)})"
        ) from None


def _unwrap(obj: Any) -> tuple[dict[str, torch.Tensor], str | None]:
    wrapper = None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                obj, wrapper = inner, key
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError("not_state_dict", "the file does not hold a state_dict (a dict of tensors)")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError("not_state_dict", "the file does not hold a state_dict (a dict of tensors)")
    return state, wrapper


def _head_classes(fc_weight: object) -> int | None:
    """The number of classes of the head ``fc.weight`` (None where it is not a matrix: the shape check then
    names it); 0 and more than :data:`MAX_CLASSES` are refused before the head is built."""
    if not (isinstance(fc_weight, torch.Tensor) and fc_weight.ndim == 2):
        return None
    classes = int(fc_weight.shape[0])
    if classes == 0:
        raise CheckpointError("no_classes", "fc.weight has 0 rows: a classifier of no classes")
    if classes > MAX_CLASSES:
        raise CheckpointError(
            "too_many_classes",
            f"fc.weight has {classes} rows; at most {MAX_CLASSES} classes are accepted",
            classes=fmt_int(classes),
            limit=fmt_int(MAX_CLASSES),
        )
    return classes


def load_checkpoint(
    data: bytes, arch: str, *, plain: bool = False, stride_in: str = "3x3"
) -> tuple[nn.Module, CheckpointInfo]:
    """A fresh ``arch`` (eval mode, CPU) holding the weights in ``data``; :class:`CheckpointError` otherwise.

    Accepts a bare state_dict, a ``{"state_dict": …}`` or ``{"model": …}`` wrapper, and keys with the
    ``module.`` prefix DataParallel adds. The number of classes is read from ``fc.weight``. The file is
    pre-scanned before any reader sees it (:func:`scan_torch_checkpoint`, :func:`scan_safetensors_header`), so a
    hostile file costs milliseconds and no more memory than its own size.
    """
    if not data:
        raise CheckpointError("empty", "the file is empty")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            "too_large",
            f"the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_CHECKPOINT_BYTES / 2**20:.0f} MB",
            size_mb=round(len(data) / 2**20),
            limit_mb=MAX_CHECKPOINT_BYTES // 2**20,
        )
    fmt = checkpoint_format(data)
    if fmt is None:
        raise CheckpointError(
            "not_checkpoint", "not a PyTorch (.pt/.pth) or safetensors file (judged by its content)"
        )
    state, wrapper = _unwrap(
        _read_state(data, fmt, network_tensors=network_tensor_count(arch, plain=plain, stride_in=stride_in))
    )
    stripped = False
    if any(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        stripped = True
    num_classes = _head_classes(state.get("fc.weight"))
    model = unseeded_build(
        lambda: build_model(arch, plain=plain, stride_in=stride_in, num_classes=num_classes)
    )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        # Key names come from the file: cut, as a student's file could hold a key of 200,000 characters.
        shown_missing = ", ".join(cut_key(k) for k in missing[:4])
        shown_unexpected = ", ".join(cut_key(k) for k in unexpected[:4])
        raise CheckpointError(
            "keys",
            f"the keys do not fit {arch}: {len(missing)} missing (e.g. {shown_missing or '-'}), "
            f"{len(unexpected)} unexpected (e.g. {shown_unexpected or '-'})",
            arch=arch,
            n_missing=len(missing),
            n_unexpected=len(unexpected),
            missing=tuple(cut_key(k) for k in missing[:4]),
            unexpected=tuple(cut_key(k) for k in unexpected[:4]),
        )
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise CheckpointError(
                "shape",
                f"{key} has shape {tuple(state[key].shape)} in the file but {tuple(ref.shape)} in {arch}",
                arch=arch,
                key=key,
                got=str(tuple(state[key].shape)),
                expected=str(tuple(ref.shape)),
            )
    bad = [k for k, v in state.items() if not (v.is_floating_point() or k.endswith("num_batches_tracked"))]
    if bad:
        raise CheckpointError("not_state_dict", f"{bad[0]} is not a floating-point tensor")
    nonfinite = tuple(
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    )
    if nonfinite:
        warnings.warn(
            f"the checkpoint's tensors {', '.join(nonfinite)} hold NaN or Inf values",
            RuntimeWarning,
            stacklevel=2,
        )
    model.load_state_dict(state, strict=True)
    info = CheckpointInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        wrapper=wrapper,
        stripped_prefix=stripped,
        num_classes=int(model.fc.out_features),
        tensors=len(state),
        nonfinite=nonfinite,
    )
    return model.eval(), info
