"""Typed model sources: the one rule for pretrained weights, the preprocessing a source asks for, the shared
source for a choice, and the session memories (offline server, uploaded checkpoint). Nothing touches the
network: torchvision's weights metadata is read, no file is downloaded."""

from __future__ import annotations

import io

import pytest
import torch
from torchvision import models as tvm

from resnet_viz.architecture import catalogue
from resnet_viz.architecture.catalogue import ARCHS
from resnet_viz.imaging import images, preprocessing
from resnet_viz.models import build_model, sources, weights
from resnet_viz.models.sources import ModelSource, OfflineMemory, Preprocessing


def test_one_rule_decides_where_pretrained_weights_exist():
    offered = []
    for arch in ARCHS:
        for plain in (False, True):
            for stride_in in ("3x3", "1x1"):
                has = catalogue.has_pretrained(arch, plain=plain, stride_in=stride_in)
                try:
                    weights.pretrained_weights(arch, plain=plain, stride_in=stride_in)
                    loader_has = True
                except weights.WeightsError as err:
                    loader_has = False
                    assert err.code == "no_pretrained" and str(err) == catalogue.pretrained_problem(
                        arch, plain=plain, stride_in=stride_in
                    )
                assert has == loader_has, (arch, plain, stride_in)
                if not has:  # the builder refuses the same networks (before anything could be downloaded)
                    with pytest.raises(ValueError, match="pretrained weights"):
                        build_model(arch, plain=plain, stride_in=stride_in, weights="DEFAULT")
                elif not plain and stride_in == "3x3":
                    offered.append(arch)
    assert offered == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert catalogue.has_pretrained("resnet18", stride_in="1x1")  # BasicBlock nets have no stride placement


def test_sources_are_frozen_hashable_values():
    a, b = sources.pretrained_source("resnet50"), sources.pretrained_source("resnet50")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.kind == "pretrained" and a.id == "pretrained:ResNet50_Weights.IMAGENET1K_V2"
    assert a.categories is not None and len(a.categories) == 1000 and a.categories[281] == "tabby"
    assert a.top1 == tvm.ResNet50_Weights.DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    randoms = {
        sources.random_source("resnet50"),
        sources.random_source("resnet50", plain=True),
        sources.random_source("resnet50", stride_in="1x1"),
    }
    assert len(randoms) == 3 and a not in randoms
    with pytest.raises(AttributeError):
        a.kind = "random"  # type: ignore[misc]


def test_pretrained_preprocessing_is_the_weights_own_and_matches_their_transforms():
    src = sources.pretrained_source("resnet50")
    prep = src.preprocessing(64)  # the sidebar's size does not matter for pretrained weights
    assert prep == Preprocessing(232, 224, catalogue.IMAGENET_MEAN, catalogue.IMAGENET_STD, "bilinear", True)
    assert sources.pretrained_source("resnet18").preprocessing(64).resize == 256  # V1 weights: 256 → 224
    img = images.load_sample("coffee")
    ours = preprocessing.preprocess(img, prep)
    theirs = preprocessing.preprocess_steps(img, transforms=tvm.ResNet50_Weights.DEFAULT.transforms())
    assert torch.equal(ours.tensor, theirs.tensor) and ours.settings == theirs.settings


def test_sidebar_preprocessing_follows_the_network_family():
    assert sources.random_source("resnet18").preprocessing(64) == Preprocessing(
        73, 64, catalogue.IMAGENET_MEAN, catalogue.IMAGENET_STD
    )
    assert sources.random_source("resnet20").preprocessing(32) == Preprocessing(
        32, 32, catalogue.CIFAR10_MEAN, catalogue.CIFAR10_STD
    )
    assert not sources.random_source("resnet20").preprocessing(32).from_weights


def test_the_shared_source_for_a_choice():
    assert sources.shared_source("resnet34", choice="pretrained").kind == "pretrained"
    for arch, kw in (("resnet20", {}), ("resnet50", {"stride_in": "1x1"}), ("resnet34", {"plain": True})):
        src = sources.shared_source(arch, choice="pretrained", **kw)
        assert src == sources.random_source(arch, **kw), arch
    assert sources.shared_source("resnet34", choice="checkpoint").kind == "random"
    with pytest.raises(ValueError, match="unknown weights source"):
        sources.shared_source("resnet34", choice="imagenet")
    with pytest.raises(ValueError, match="per session"):
        sources.load_shared(ModelSource("checkpoint", "resnet20", id="ckpt:0"))
    model = sources.load_shared(sources.random_source("resnet20"))
    ref = weights.load_random("resnet20")
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in model.state_dict().items())


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_offline_memory_remembers_an_offline_server_for_a_while():
    clock = _Clock()
    memory = OfflineMemory(retry_s=300, clock=clock)
    tries = []

    def attempt(code: str = "offline") -> None:
        with memory.watch("resnet50"):
            tries.append(code)
            raise weights.WeightsError(code, "no network", arch="resnet50", path="/x")

    with pytest.raises(weights.WeightsError) as first:
        attempt()
    clock.now += 299
    with pytest.raises(weights.WeightsError) as again:
        attempt()
    assert len(tries) == 1  # remembered: the body did not run (no waiting for the network)
    assert again.value.code == "offline" and again.value.params == first.value.params
    assert memory.remembered("resnet18") is None
    clock.now += 2
    with pytest.raises(weights.WeightsError):
        attempt()
    assert len(tries) == 2  # after the retry time, the network is tried again (and remembered again)
    clock.now += 10
    with pytest.raises(weights.WeightsError):
        attempt()
    assert len(tries) == 2
    other = OfflineMemory(clock=clock)
    with pytest.raises(weights.WeightsError):
        with other.watch("resnet50"):
            raise weights.WeightsError("download", "failed", arch="resnet50", error="boom")
    assert other.remembered("resnet50") is None  # only "offline" is remembered


def _checkpoint(arch: str, seed: int) -> bytes:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = build_model(arch).state_dict()
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_checkpoint_slot_loads_each_file_once_and_keeps_the_last_good_one(monkeypatch):
    slot = sources.CheckpointSlot()
    good = _checkpoint("resnet20", 5)
    slot.offer("mine.pt", good, "resnet20")
    model, src = slot.current("resnet20")
    assert src.kind == "checkpoint" and src.file_name == "mine.pt" and src.id.startswith("ckpt:")
    assert src.checkpoint is not None and src.checkpoint.num_classes == 10 and slot.error is None
    calls = []
    real = weights.load_checkpoint
    monkeypatch.setattr(weights, "load_checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    slot.offer("mine.pt", good, "resnet20")
    assert calls == []  # the same file for the same network: not read again

    slot.offer("notes.pt", b"not a checkpoint at all", "resnet20")
    name, err = slot.error
    assert name == "notes.pt" and isinstance(err, weights.CheckpointError) and err.code == "not_checkpoint"
    assert err.__traceback__ is None  # kept in session state without the frames that raised it
    assert slot.current("resnet20")[0] is model  # the previous checkpoint stays in use
    assert slot.current("resnet32") is None and slot.current("resnet20", plain=True) is None


def test_the_caches_tell_sources_images_and_pipelines_apart():
    """ui.feature_maps hashes a source by its key (not its 1000 class names): still one hash per distinct value."""
    import hashlib

    from streamlit.runtime.caching.cache_type import CacheType
    from streamlit.runtime.caching.hashing import update_hash

    from resnet_viz.ui import feature_maps as caches

    def digest(value) -> str:
        hasher = hashlib.new("md5")
        update_hash(value, hasher, CacheType.DATA, hash_funcs=caches._HASH_FUNCS)
        return hasher.hexdigest()

    pre, rnd = sources.pretrained_source("resnet50"), sources.random_source("resnet50")
    keys = [
        caches.CaptureKey(pre, "a" * 64, pre.preprocessing(224)),
        caches.CaptureKey(rnd, "a" * 64, rnd.preprocessing(224)),
        caches.CaptureKey(rnd, "b" * 64, rnd.preprocessing(224)),
        caches.CaptureKey(rnd, "a" * 64, rnd.preprocessing(96)),
        caches.CaptureKey(sources.random_source("resnet50", plain=True), "a" * 64, rnd.preprocessing(224)),
    ]
    assert len({digest(k) for k in keys}) == len(keys)
    assert digest(keys[0]) == digest(caches.CaptureKey(sources.pretrained_source("resnet50"), "a" * 64,
                                                          pre.preprocessing(224)))  # fmt: skip
    assert len({digest(s) for s in (pre, rnd, sources.random_source("resnet18"))}) == 3
    assert digest(pre.preprocessing(1)) != digest(rnd.preprocessing(224))
