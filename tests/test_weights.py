"""Weights: seeded random init, checkpoints loaded safely (and refused clearly), the pretrained cache and the
download-weights CLI. Nothing here touches the network: downloads are monkeypatched, the hub dir is a tmp dir."""

from __future__ import annotations

import functools
import io
import os
import pickle
import time

import pytest
import torch
from safetensors.torch import save as save_safetensors
from torchvision import models as tvm

from resnet_viz import build_model, cli, settings
from resnet_viz.imaging.capture import capture
from resnet_viz.models import weights
from resnet_viz.models.weights import CheckpointError, WeightsError, load_checkpoint


@functools.cache
def source_model() -> torch.nn.Module:
    """A resnet18 whose weights differ from the app's seeded random ones (so a match proves the file was read)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        return build_model("resnet18")


def _pt(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _image() -> torch.Tensor:
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(7))


def test_random_weights_are_the_same_in_every_build():
    a, b = weights.load_random("resnet20"), weights.load_random("resnet20")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert not torch.equal(a.conv1.weight, weights.load_random("resnet20", plain=True).layer1[0].conv1.weight)


def _variants(state: dict[str, torch.Tensor]) -> dict[str, bytes]:
    prefixed = {f"module.{k}": v for k, v in state.items()}
    return {
        "plain .pt": _pt(state),
        "safetensors": save_safetensors({k: v.contiguous() for k, v in state.items()}),
        "state_dict wrapper + module.": _pt({"state_dict": prefixed, "epoch": 3}),
        "model wrapper": _pt({"model": state, "optimizer": {"lr": torch.tensor(0.1)}}),
        "legacy (non-zip) torch.save": _legacy(state),
    }


def _legacy(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


@pytest.mark.slow
def test_a_saved_checkpoint_gives_the_same_top5_as_its_model_in_every_format():
    src = source_model()
    x = _image()
    want = capture(src, x)
    for label, data in _variants(src.state_dict()).items():
        model, info = load_checkpoint(data, "resnet18")
        assert model is not src and not model.training, label
        got = capture(model, x)
        assert got.top(5) == want.top(5), label
        assert torch.equal(torch.from_numpy(got.logits), torch.from_numpy(want.logits)), label
        assert info.num_classes == 1000 and len(info.sha256) == 64
    assert load_checkpoint(_variants(src.state_dict())["safetensors"], "resnet18")[1].format == "safetensors"
    assert load_checkpoint(_pt({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}),
                           "resnet18")[1].stripped_prefix  # fmt: skip


def test_ten_class_checkpoint_builds_a_ten_class_network():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        small = build_model("resnet18", num_classes=10)
    model, info = load_checkpoint(_pt(small.state_dict()), "resnet18")
    assert info.num_classes == 10 and model.fc.out_features == 10
    x = _image()
    assert capture(model, x).top(5) == capture(small, x).top(5)


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["raw pickle", "torch.save zip", "payload inside a state_dict"])
def test_a_pickle_with_a_code_payload_never_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    payload = _Payload(str(marker))
    if how == "raw pickle":
        data = pickle.dumps(payload, protocol=2)
    elif how == "torch.save zip":
        data = _pt(payload)
    else:
        data = _pt({"conv1.weight": torch.zeros(1), "evil": payload})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(data, "resnet18")
    assert err.value.code == "unsafe"
    assert not marker.exists()


def test_damaged_and_foreign_files_get_their_own_reason():
    good = _pt(source_model().state_dict())
    cases = {
        b"": "empty",
        b"just some text, named model.pt": "not_checkpoint",
        os.urandom(4096).replace(
            b"PK", b"pk"
        ): None,  # random bytes: refused, reason depends on the first byte
        good[: len(good) // 2]: "unreadable",  # a truncated zip archive
        b"PK\x03\x04" + b"\x00" * 100: "unreadable",
        (40).to_bytes(8, "little") + b'{"a": {"dtype": "F32", "shape": [9]' + b"x" * 40: "unreadable",
        _pt([1, 2, 3]): "not_state_dict",
        _pt({"a": "b"}): "not_state_dict",
    }
    for data, code in cases.items():
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(data, "resnet18")
        if code is not None:
            assert err.value.code == code, (data[:20], err.value.code, str(err.value))
        else:
            assert err.value.code in ("not_checkpoint", "unreadable", "unsafe")


def test_a_checkpoint_of_another_network_says_which_keys_and_shapes():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        r34 = build_model("resnet34").state_dict()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(_pt(r34), "resnet18")
    assert err.value.code == "keys"
    assert err.value.params["n_unexpected"] > 0 and err.value.params["n_missing"] == 0
    assert any(k.startswith("layer1.2.") for k in err.value.params["unexpected"])

    state = dict(source_model().state_dict())
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(_pt(state), "resnet18")
    assert err.value.code == "shape" and err.value.params["key"] == "layer2.0.conv1.weight"
    assert "(128, 64, 3, 3)" in err.value.params["expected"]

    with pytest.raises(CheckpointError) as err:  # a CIFAR net's weights into an ImageNet net
        load_checkpoint(_pt(weights.load_random("resnet20").state_dict()), "resnet18")
    assert err.value.code == "keys" and err.value.params["n_missing"] > 0


def test_pretrained_exists_only_for_the_residual_v15_imagenet_nets():
    assert weights.pretrained_weights("resnet50") is tvm.ResNet50_Weights.DEFAULT
    for arch, kw in [("resnet20", {}), ("resnet34_cifar", {}), ("resnet18", {"plain": True}),
                     ("resnet50", {"stride_in": "1x1"})]:  # fmt: skip
        with pytest.raises(WeightsError) as err:
            weights.pretrained_weights(arch, **kw)
        assert err.value.code == "no_pretrained"


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_offline_with_an_empty_cache_fails_fast_without_downloading(empty_hub, monkeypatch):
    monkeypatch.setenv(settings.OFFLINE_ENV, "1")

    def no_download(*a, **k):
        raise AssertionError("must not download")

    monkeypatch.setattr(weights, "_download", no_download)
    t0 = time.perf_counter()
    with pytest.raises(WeightsError) as err:
        weights.load_pretrained("resnet18")
    assert err.value.code == "offline" and time.perf_counter() - t0 < 2
    assert str(empty_hub) in err.value.params["path"]
    assert weights.cache_path("resnet18").name == os.path.basename(tvm.ResNet18_Weights.DEFAULT.url)


def test_download_weights_cli_fills_the_cache_once(empty_hub, monkeypatch, capsys):
    calls = []

    def fake_download(url, dst, hash_prefix, progress):
        calls.append((url, hash_prefix))
        torch.save(source_model().state_dict(), dst)

    monkeypatch.setattr(weights, "_download", fake_download)
    monkeypatch.setattr(weights, "online", lambda url, timeout=3.0: True)
    assert cli.main(["download-weights", "resnet18", "--quiet"]) == 0
    url = tvm.ResNet18_Weights.DEFAULT.url
    assert calls == [(url, os.path.basename(url).split("-")[1].split(".")[0])]
    assert weights.is_cached("resnet18") and "downloaded" in capsys.readouterr().out
    assert cli.main(["download-weights", "resnet18", "--quiet"]) == 0
    assert len(calls) == 1 and "already cached" in capsys.readouterr().out
    model = weights.load_pretrained("resnet18")  # read back with weights_only=True
    assert torch.equal(model.fc.weight, source_model().fc.weight)


def test_download_weights_cli_refuses_cifar_and_unknown_networks(empty_hub, monkeypatch, capsys):
    monkeypatch.setattr(weights, "_download", lambda *a, **k: pytest.fail("must not download"))
    assert cli.main(["download-weights", "resnet20"]) == 2
    assert "no pretrained weights" in capsys.readouterr().err
    assert cli.main(["download-weights", "resnet18", "resnet999"]) == 2
    assert "unknown network" in capsys.readouterr().err
    assert not (empty_hub / "checkpoints").exists()


def test_a_checkpoint_with_nan_or_inf_loads_with_a_warning_naming_the_tensors():
    model = build_model("resnet20")
    state = model.state_dict()
    state["layer2.1.conv1.weight"][0, 0, 0, 0] = float("nan")
    state["fc.bias"][3] = float("-inf")
    with pytest.warns(RuntimeWarning, match=r"layer2\.1\.conv1\.weight, fc\.bias hold NaN or Inf"):
        _, info = load_checkpoint(_pt(state), "resnet20")
    assert info.nonfinite == ("layer2.1.conv1.weight", "fc.bias")
    _, clean = load_checkpoint(_pt(build_model("resnet20").state_dict()), "resnet20")
    assert clean.nonfinite == ()
