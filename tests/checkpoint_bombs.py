"""Hostile checkpoints, built byte by byte for the tests (and the measurement in ``scripts/checkpoint_dos.py``).

Each builder returns the bytes a student could upload. None of them holds code: they attack the reader's time and
memory, which ``torch.load(weights_only=True)`` does not bound by itself (issue 22, D1, D2, D4).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import torch


def _memo_put(i: int) -> bytes:
    return pickle.BINPUT + bytes([i]) if i < 256 else pickle.LONG_BINPUT + struct.pack("<I", i)


def _memo_get(i: int) -> bytes:
    return pickle.BINGET + bytes([i]) if i < 256 else pickle.LONG_BINGET + struct.pack("<I", i)


def hash_bomb_pickle(depth: int) -> bytes:
    """A protocol-2 pickle of ``{t_depth: None}`` with t_0 = () and t_i = (t_{i-1}, t_{i-1}).

    Each t_i pairs t_{i-1} with a memo reference to itself, so the pickle has 3 opcodes per level, but hashing t_depth (as a
    dict key) visits 2**depth tuples, in C, holding the GIL: D=31 froze a server for 18 s, D=64 never ends.
    """
    out = bytearray(pickle.PROTO + b"\x02" + pickle.EMPTY_DICT)
    out += pickle.EMPTY_TUPLE + _memo_put(0)
    for i in range(1, depth + 1):
        # t_{i-1} is on the stack; one more reference to it from the memo, and the pair becomes t_i.
        out += _memo_get(i - 1) + pickle.TUPLE2 + _memo_put(i)
    out += pickle.NONE + pickle.SETITEM + pickle.STOP
    return bytes(out)


def colliding_int_keys_zip(n: int) -> bytes:
    """A dict of ``n`` int keys that all hash alike (k·(2**61 − 1) + 5): inserting them costs n²/2 probes, in C,
    holding the GIL (20,000 keys: 6 s; 100,000: minutes). Written opcode by opcode: building such a dict here
    to pickle it would cost the same time."""
    out = bytearray(pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.MARK)
    for k in range(4, n + 4):
        raw = (k * (2**61 - 1) + 5).to_bytes(16, "little", signed=True)
        out += pickle.LONG1 + bytes([len(raw)]) + raw + pickle.NONE
    out += pickle.SETITEMS + pickle.STOP
    return _torch_zip(bytes(out))


def _torch_zip(data_pkl: bytes, records: dict[str, bytes] | None = None) -> bytes:
    """A torch.save-style zip archive (the same record names torch writes) holding ``data_pkl``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", "little")
        for key, payload in (records or {}).items():
            zf.writestr(f"archive/data/{key}", payload)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def hash_bomb_zip(depth: int) -> bytes:
    """The hash bomb inside a torch.save zip archive (about 1.2 kB at depth 64): what a ``.pt`` upload looks like."""
    return _torch_zip(hash_bomb_pickle(depth))


@dataclass(frozen=True)
class RawTensor:
    """A tensor as torch.save describes it, with every number chosen by hand: a storage of ``numel`` float32
    values under ``key``, viewed from ``offset`` with ``size`` and ``stride``."""

    size: tuple[int, ...]
    stride: tuple[int, ...]
    numel: int
    key: str = "0"
    offset: int = 0

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (_Storage(self.key, self.numel), self.offset, self.size,
                                                  self.stride, False, OrderedDict()))  # fmt: skip


@dataclass(frozen=True)
class _Storage:
    key: str
    numel: int


class _Pickler(pickle.Pickler):
    """torch.save's pickling of storages: a persistent id ``("storage", FloatStorage, key, "cpu", numel)``."""

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def raw_checkpoint(obj: object, records: dict[str, bytes] | None = None) -> bytes:
    """``obj`` (dicts, lists, :class:`RawTensor` …) pickled as torch.save would, in a zip archive with these
    storage records (default: each storage's declared bytes, zeros)."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    if records is None:
        records = {}
        for value in _tensors(obj):
            records.setdefault(value.key, b"\x00" * (4 * value.numel))
    return _torch_zip(buf.getvalue(), records)


def _tensors(obj: object):
    if isinstance(obj, RawTensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _tensors(v)


def stride0_fc_checkpoint(state: dict[str, torch.Tensor], rows: int) -> bytes:
    """``state`` saved with ``fc.weight`` replaced by one element expanded (stride 0) to ``rows`` rows.

    torch.save keeps the one-element storage and the (rows, in_features) size with strides (0, 0): the file stays
    small, but reading it gives an fc head of ``rows`` classes, and building that head allocates
    rows × in_features floats (D2: 2,000,000 classes from 1.1 MB took +1.35 GB).
    """
    state = dict(state)
    in_features = state["fc.weight"].shape[1]
    state["fc.weight"] = torch.zeros(1, 1).expand(rows, in_features)
    state["fc.bias"] = torch.zeros(1).expand(rows)
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def safetensors_many(n: int) -> bytes:
    """A safetensors file of ``n`` one-element float32 tensors (D4: a million of them is 71 MB, under the
    library's own 100 MB header cap, and took 21 s and +1.8 GB to refuse)."""
    header: dict[str, object] = {
        f"t{i}": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(n)
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"\x00" * (4 * n)


def safetensors_with_header(header: dict[str, object], payload: bytes) -> bytes:
    """A safetensors file with exactly this header (for malformed dtype / shape / offsets cases)."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload
