"""Hostile checkpoints (issue 22, D1, D2, D4, D11, D12): each is refused by the pre-scan, before torch.load or
safetensors reads a byte of it, with its own reason; real checkpoints of several networks still load.

"Before any reader" is what keeps the server answering: the scan walks the pickle in Python, opcode by opcode,
so no single C call holds the GIL for long. The tests check it by making torch.load and safetensors' reader
fail if called, and count the opcodes the scan walked (a fixed number, not a time: times are for
``scripts/checkpoint_dos.py``, which measures refusal time, stall and peak RSS).
"""

from __future__ import annotations

import copy
import io
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict

import pytest
import safetensors.torch
import torch
from checkpoint_bombs import (
    RawTensor,
    colliding_int_keys_zip,
    hash_bomb_pickle,
    hash_bomb_zip,
    raw_checkpoint,
    safetensors_many,
    safetensors_with_header,
    stride0_fc_checkpoint,
)
from safetensors.torch import save as save_safetensors

from resnet_viz import build_model
from resnet_viz.architecture.catalogue import ARCHS
from resnet_viz.models import weights
from resnet_viz.models.weights import CheckpointError, load_checkpoint


def _pt(obj, **kw) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


@pytest.fixture
def no_reader(monkeypatch):
    """torch.load and safetensors' reader fail the test if called: a refusal must come from the pre-scan."""

    def refuse(*a, **k):
        raise AssertionError("a hostile file reached the reader")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(safetensors.torch, "load", refuse)


@pytest.fixture
def opcodes(monkeypatch) -> list[int]:
    """How many opcodes the scan walked, in total (pickletools.genops counted)."""
    walked = [0]
    real = pickletools.genops

    def counting(*a, **k):
        for item in real(*a, **k):
            walked[0] += 1
            yield item

    monkeypatch.setattr(pickletools, "genops", counting)
    return walked


def _refused(data: bytes, arch: str = "resnet18", **kw) -> CheckpointError:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(data, arch, **kw)
    return err.value


# --------------------------------------------------------------------------------------------- D1
@pytest.mark.parametrize("depth", [24, 31, 64])
@pytest.mark.parametrize("wrap", ["zip", "legacy pickle"])
def test_the_hash_bomb_is_refused_by_the_scan_after_a_few_opcodes(depth, wrap, no_reader, opcodes):
    """t_i = (t_{i-1}, t_{i-1}) through the memo, t_depth a dict key: 2**depth tuples to hash. Refused once a
    value holds more than MAX_PICKLE_OBJECTS objects, i.e. at level ~20, after about 60 opcodes."""
    data = hash_bomb_zip(depth) if wrap == "zip" else hash_bomb_pickle(depth)
    assert len(data) < 1300
    err = _refused(data)
    assert err.code == "structure", str(err)
    assert "shared" in str(err)
    assert opcodes[0] <= 3 * 21 + 5, opcodes[0]


def test_the_scan_refuses_what_a_state_dict_never_needs(no_reader):
    t = RawTensor((2,), (1,), 2)
    cases = {
        "a tuple as a dict key": {("a", "b"): t},
        "ints that share one hash as keys": {k * (2**61 - 1) + 5: t for k in range(4, 7)},
        "a float as a dict key": {0.5: t},
        "a list referenced twice": (lambda shared: {"a": shared, "b": shared})([t]),
        "a dict referenced twice": (lambda shared: {"a": shared, "b": shared})({"w": t}),
        "nesting 40 deep": _nested(40, t),
    }
    for label, obj in cases.items():
        err = _refused(raw_checkpoint(obj))
        assert err.code == "structure", (label, str(err))


def test_int_keys_that_share_one_hash_are_refused_before_any_dict_is_built(no_reader):
    """100,000 such keys would take torch's unpickler minutes of one C call; the scan refuses them unhashed."""
    err = _refused(colliding_int_keys_zip(100_000))
    assert err.code == "structure" and "int64" in str(err)


def test_twenty_levels_of_nesting_pass_the_scan():
    """A bound, not a ban: 20 levels pass the scan, and the file is then refused for what it holds."""
    assert _refused(raw_checkpoint(_nested(20, RawTensor((2,), (1,), 2)))).code == "not_state_dict"


def _nested(depth: int, leaf: object) -> dict:
    obj: object = leaf
    for _ in range(depth):
        obj = {"x": obj}
    return obj  # type: ignore[return-value]


def test_globals_other_than_the_rebuilders_are_unsafe_and_named_cut(no_reader):
    long_name = "m" * 5000
    pkl = b"\x80\x02c" + long_name.encode() + b"\nf\n" + b")R."  # GLOBAL mmm….f, (), REDUCE
    err = _refused(raw_checkpoint_bytes(pkl))
    assert err.code == "unsafe" and len(str(err)) < 300
    err = _refused(
        _pt({"w": torch.zeros(2), "size": torch.Size([2])})
    )  # torch.Size: allowed by torch, not here
    assert err.code == "unsafe"


def raw_checkpoint_bytes(pkl: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_the_opcode_bound(monkeypatch, no_reader, opcodes):
    monkeypatch.setattr(weights, "MAX_PICKLE_OPS", 1000)
    err = _refused(raw_checkpoint({f"k{i}": i for i in range(2000)}))
    assert err.code == "structure" and "opcodes" in str(err)
    assert opcodes[0] == 1001


def test_a_shared_small_tuple_is_fine_as_adam_with_two_groups_shares_its_betas():
    model = build_model("resnet20")
    params = list(model.parameters())
    adam = torch.optim.Adam([{"params": params[:5], "weight_decay": 0.0}, {"params": params[5:]}])
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    adam.step()
    packed = adam.state_dict()
    assert (
        packed["param_groups"][0]["betas"] is packed["param_groups"][1]["betas"]
    )  # pickled once, then a BINGET
    data = _pt({"model": model.state_dict(), "optimizer": packed, "epoch": 7})
    loaded, info = load_checkpoint(data, "resnet20")
    assert info.wrapper == "model"
    assert torch.equal(loaded.fc.weight, model.fc.weight)


# --------------------------------------------------------------------------------------------- real files
def _variants(model: torch.nn.Module) -> dict[str, bytes]:
    state = model.state_dict()
    channels_last = {
        k: v.to(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in state.items()
    }
    assert not channels_last["conv1.weight"].is_contiguous()
    params = {**dict(model.named_parameters()), **dict(model.named_buffers())}  # nn.Parameter objects
    trained = copy.deepcopy(model)  # the optimizer's state comes from a copy: the saved weights stay the same
    sgd = torch.optim.SGD(trained.parameters(), lr=0.1, momentum=0.9)
    trained(torch.randn(2, 3, 32, 32)).sum().backward()
    sgd.step()
    return {
        "state_dict (with _metadata)": _pt(state),
        "legacy format": _pt(state, _use_new_zipfile_serialization=False),
        "channels_last convolutions": _pt(channels_last),
        "half precision": _pt({k: v.half() if v.is_floating_point() else v for k, v in state.items()}),
        "parameters and buffers": _pt(params),
        "SGD checkpoint wrapper": _pt({"state_dict": state, "optimizer": sgd.state_dict(), "epoch": 90}),
        "module. prefix": _pt(OrderedDict((f"module.{k}", v) for k, v in state.items())),
        "safetensors": save_safetensors({k: v.contiguous() for k, v in state.items()}),
    }


@pytest.mark.parametrize(
    ("arch", "plain"),
    [
        ("resnet20", False),
        ("resnet20", True),
        pytest.param("resnet18", False, marks=pytest.mark.slow),
        pytest.param("resnet34_cifar", False, marks=pytest.mark.slow),
    ],
)
def test_real_checkpoints_of_several_networks_still_load(arch, plain):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        source = build_model(arch, plain=plain)
    want = {k: v.clone() for k, v in source.state_dict().items()}
    assert hasattr(source.state_dict(), "_metadata")
    for label, data in _variants(source).items():
        model, info = load_checkpoint(data, arch, plain=plain)
        got = model.state_dict()
        tol = 1e-3 if label == "half precision" else 0.0
        for k, v in want.items():
            assert torch.allclose(got[k].float(), v.float(), atol=tol, rtol=tol), (label, k)
        assert info.tensors == len(want), label


@pytest.mark.slow
def test_a_torchvision_resnet50_state_dict_loads():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        source = build_model("resnet50")
    model, info = load_checkpoint(_pt(source.state_dict()), "resnet50")
    assert torch.equal(model.layer4[2].conv3.weight, source.layer4[2].conv3.weight)
    assert info.tensors == 320


def test_the_network_tensor_count_is_the_state_dicts():
    for arch in ("resnet18", "resnet50", "resnet20", "resnet110"):
        assert weights.network_tensor_count(arch) == len(build_model(arch).state_dict()), arch
    assert weights.network_tensor_count("resnet152") == 932
    assert all(weights.network_tensor_count(a) <= 932 for a in ARCHS)


# --------------------------------------------------------------------------------------------- D2
def test_a_stride0_head_of_two_million_classes_is_refused_before_it_is_built(no_reader):
    state = weights.load_random("resnet18").state_dict()
    err = _refused(stride0_fc_checkpoint(state, 2_000_000))
    assert err.code == "tensor_data"
    assert err.params["key"] == "fc.weight"
    assert err.params["needed"] == "1,024,000,000" and err.params["stored"] == "1"


@pytest.mark.parametrize(
    ("label", "tensor"),
    [
        ("expanded rows (stride 0)", RawTensor((1000, 512), (0, 1), 512)),
        ("overlapping rows", RawTensor((4, 8), (4, 1), 20)),
        ("a gap between rows (a slice)", RawTensor((4, 8), (16, 1), 64)),
        ("storage smaller than its elements", RawTensor((1000, 512), (512, 1), 1)),
        ("offset past the storage", RawTensor((10,), (1,), 10, offset=5)),
    ],
)
def test_tensors_that_do_not_fit_their_storage_are_refused(label, tensor, no_reader):
    err = _refused(raw_checkpoint({"fc.weight": tensor}))
    assert err.code == "tensor_data", (label, str(err))
    assert err.params["key"] == "fc.weight"


def test_storages_larger_than_the_file_are_refused(no_reader):
    """A storage declared as a billion floats, with a 4-byte record: torch would allocate 4 GB first."""
    err = _refused(raw_checkpoint({"w": RawTensor((1,), (1,), 10**9)}, records={"0": b"\0" * 4}))
    assert err.code == "data_size" and err.params["size"].endswith("B")
    # a deflated record that would unpack to far more than the upload
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        zf.writestr("archive/data/0", b"\0" * 50_000_000)
    assert len(buf.getvalue()) < 200_000
    assert _refused(buf.getvalue()).code == "data_size"


def test_too_many_tensors_or_zip_entries_are_refused(no_reader):
    limit = weights.TENSORS_PER_NETWORK_TENSOR * weights.network_tensor_count("resnet20") + 64
    many = {f"t{i}": RawTensor((1,), (1,), 1, key=str(i)) for i in range(limit + 1)}
    err = _refused(raw_checkpoint(many), "resnet20")
    assert err.code == "too_many_tensors" and err.params["limit"] == f"{limit:,}"


def _with_classes(classes: int) -> bytes:
    state = build_model("resnet20").state_dict()
    state["fc.weight"] = torch.zeros(classes, 64)
    state["fc.bias"] = torch.zeros(classes)
    return _pt(state)


def test_a_head_of_zero_classes_gets_its_own_message():
    """D11: it was a ValueError from the model builder, shown as the generic crash box."""
    err = _refused(_with_classes(0), "resnet20")
    assert err.code == "no_classes"


def test_a_head_of_too_many_classes_is_refused_before_it_is_built(monkeypatch):
    monkeypatch.setattr(weights, "MAX_CLASSES", 20)
    built = []
    monkeypatch.setattr(weights, "build_model", lambda *a, **k: built.append(k) or build_model(*a, **k))
    err = _refused(_with_classes(21), "resnet20")
    assert err.code == "too_many_classes" and err.params == {"classes": "21", "limit": "20"}
    assert not [
        k for k in built if "num_classes" in k
    ]  # the head was never built (the count's build has none)
    assert load_checkpoint(_with_classes(20), "resnet20")[1].num_classes == 20


# --------------------------------------------------------------------------------------------- D4
def test_a_safetensors_file_of_a_hundred_thousand_tensors_is_refused_from_its_header(no_reader):
    """Issue 22's file had a million; a tenth of it is already past the header bound (and quicker to build)."""
    data = safetensors_many(100_000)
    assert struct.unpack_from("<Q", data)[0] > weights.MAX_SAFETENSORS_HEADER_BYTES
    err = _refused(data)
    assert err.code == "structure" and "header" in str(err)


def test_safetensors_with_more_entries_than_the_network_is_refused_before_reading(no_reader):
    n = weights.network_tensor_count("resnet20")
    err = _refused(safetensors_many(n + 1), "resnet20")
    assert err.code == "too_many_tensors" and err.params["limit"] == str(n)


@pytest.mark.parametrize(
    ("entry", "payload", "code"),
    [
        ({"dtype": "F32", "shape": [1000, 512], "data_offsets": [0, 4]}, b"\0" * 4, "tensor_data"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, b"\0" * 4, "tensor_data"),  # past the end
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, b"\0" * 8, "tensor_data"),
        ({"dtype": "X99", "shape": [2], "data_offsets": [0, 8]}, b"\0" * 8, "unreadable"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, b"\0" * 8, "unreadable"),
        ({"dtype": "F32", "shape": [2]}, b"\0" * 8, "unreadable"),
    ],
)
def test_safetensors_entries_must_agree_with_their_bytes(entry, payload, code, no_reader):
    err = _refused(safetensors_with_header({"fc.weight": entry}, payload))
    assert err.code == code, str(err)


def test_a_nested_json_header_is_unreadable_not_a_crash(no_reader):
    raw = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    data = struct.pack("<Q", len(raw)) + raw
    assert _refused(data).code == "unreadable"


# --------------------------------------------------------------------------------------------- D12
def test_long_key_names_are_cut_in_the_error():
    state = dict(build_model("resnet20").state_dict())
    state["x" * 200_070] = torch.zeros(1)
    err = _refused(_pt(state), "resnet20")
    assert err.code == "keys" and err.params["n_unexpected"] == 1
    (shown,) = err.params["unexpected"]
    assert len(shown) <= weights.MAX_KEY_CHARS and shown.endswith("…")
    assert len(str(err)) < 500
    for lang in ("en", "zh"):
        from resnet_viz.i18n import translator

        assert len(err.message(translator(lang))) < 600
