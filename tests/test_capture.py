"""The one-pass capture: exact residual decomposition, exact CAM, stage/block coverage, and a shared model that
stays untouched while 8 threads capture through it at once."""

from __future__ import annotations

import copy
import functools
import hashlib
import threading

import numpy as np
import pytest
import torch

from resnet_viz import trace
from resnet_viz.imaging.capture import block_parts, capture, shortcut_kind, stage_names
from resnet_viz.models.weights import load_random as _load_random

# BasicBlock and Bottleneck (v1: the stride on the first 1×1, with a projection), plain counterparts, and the
# CIFAR net with its zero-pad shortcut; small inputs keep the file fast on 2 cores.
CASES = [
    ("resnet18", False, "3x3", 64),
    ("resnet18", True, "3x3", 64),
    pytest.param("resnet50", False, "1x1", 48, marks=pytest.mark.slow),  # building resnet50 takes seconds
    ("resnet20", False, "3x3", 32),
    ("resnet20", True, "3x3", 32),
]


@functools.cache
def load_random(arch: str, plain: bool = False, stride_in: str = "3x3") -> torch.nn.Module:
    """One model per configuration for the whole file (building resnet50 costs seconds on a busy machine)."""
    return _load_random(arch, plain=plain, stride_in=stride_in)


def _image(seed: int, size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, size, size, generator=g)


@pytest.mark.parametrize(("arch", "plain", "stride_in", "size"), CASES)
def test_block_parts_reproduce_each_block_and_the_whole_network(arch, plain, stride_in, size):
    model = load_random(arch, plain=plain, stride_in=stride_in)
    x = _image(1, size)
    terms = []
    with torch.inference_mode():
        h = torch.relu(model.bn1(model.conv1(x)))
        if hasattr(model, "maxpool"):
            h = model.maxpool(h)
        for stage in stage_names(model):
            for block in getattr(model, stage):
                parts = block_parts(block, h)
                terms.append(parts)
                expected = block(h.clone())  # the block's own forward (in-place ReLU and +=)
                assert torch.equal(parts.out, expected)
                if parts.shortcut is None:
                    assert plain and torch.equal(parts.sum, parts.main)
                else:
                    assert torch.equal(parts.sum, parts.main + parts.shortcut)
                    if shortcut_kind(block) == "identity":
                        assert parts.shortcut is parts.x
                h = expected
        reference = model(x)[0]
    c = capture(model, x)
    assert torch.equal(torch.from_numpy(c.logits), reference)
    # capture summarises each term on the fly (then adds in place): the same figures as the kept terms
    assert len(c.residuals) == len(terms)
    for r, parts in zip(c.residuals, terms, strict=True):
        for got, term in [(r.x_mean, parts.x), (r.main_mean, parts.main), (r.sum_mean, parts.sum),
                          (r.out_mean, parts.out), (r.shortcut_mean, parts.shortcut)]:  # fmt: skip
            if term is None:
                assert got is None
            else:
                np.testing.assert_allclose(got, term[0].mean(dim=0).numpy(), rtol=1e-5, atol=1e-5)
        assert np.isclose(r.main_norm, float(torch.linalg.vector_norm(parts.main)), rtol=1e-5)
        assert np.isclose(r.x_norm, float(torch.linalg.vector_norm(parts.x)), rtol=1e-5)
        # the chart's ratio compares the two terms of the addition, ‖F(x)‖ / ‖shortcut(x)‖ (same shape), not
        # ‖F(x)‖ / ‖x‖ (another shape on a dashed block); a plain block adds nothing, so it has none
        if parts.shortcut is None:
            assert r.shortcut_norm is None and np.isnan(r.ratio)
        else:
            assert parts.shortcut.shape == parts.main.shape
            sc = float(torch.linalg.vector_norm(parts.shortcut))
            assert np.isclose(r.shortcut_norm, sc, rtol=1e-5)
            assert np.isclose(r.ratio, float(torch.linalg.vector_norm(parts.main)) / sc, rtol=1e-5)


@pytest.mark.parametrize(("arch", "plain", "stride_in", "size"), CASES)
def test_capture_keeps_conv1_maxpool_every_block_with_the_traced_shapes(arch, plain, stride_in, size):
    model = load_random(arch, plain=plain, stride_in=stride_in)
    c = capture(model, _image(2, size))
    tr = trace(arch, size, plain=plain, stride_in=stride_in)
    blocks = [r.name for r in tr.blocks]
    expected = ["conv1", *(["maxpool"] if any(r.name == "maxpool" for r in tr.rows) else []), *blocks]
    assert list(c.layers) == expected
    for name, maps in c.layers.items():
        assert maps.dtype == np.float16
        assert maps.shape == tuple(tr.row(name).output_shape), name
        assert float(maps.min()) >= 0.0  # every kept map follows a ReLU
    assert {s.name for s in tr.stages} == set(c.stage_of)
    for stage in tr.stages:
        assert c.stage_of[stage.name] == f"{stage.name}.{stage.blocks - 1}"
    assert [r.block for r in c.residuals] == blocks
    for r in c.residuals:
        assert r.shortcut == tr.row(r.block).shortcut
        assert r.x_norm > 0 and r.main_norm > 0
        assert np.isnan(r.ratio) if plain else np.isfinite(r.ratio)
        if r.shortcut_mean is not None:
            # mean over channels is linear: the sum's mean is the sum of the means
            np.testing.assert_allclose(r.sum_mean, r.main_mean + r.shortcut_mean, rtol=1e-4, atol=1e-5)
    assert np.isclose(c.probs.sum(), 1.0, atol=1e-5)
    lo = min(float(a.min()) for a in c.layers.values())
    hi = max(float(a.max()) for a in c.layers.values())
    np.testing.assert_allclose(c.global_range, (lo, hi), rtol=1e-3, atol=1e-6)  # kept maps are float16


@pytest.mark.parametrize(
    ("arch", "stride_in", "size"), [("resnet18", "3x3", 64), ("resnet50", "1x1", 48), ("resnet20", "3x3", 32)]
)
def test_cam_is_exact_mean_plus_bias_is_the_logit(arch, stride_in, size):
    model = copy.deepcopy(load_random(arch, stride_in=stride_in))
    torch.nn.init.normal_(model.fc.bias)  # a non-zero bias, so the test sees it
    c = capture(model, _image(3, size))
    assert c.cam_class == int(np.argmax(c.logits))
    assert c.cam.shape == c.layers[c.stage_of[stage_names(model)[-1]]].shape[1:]
    assert np.isclose(float(c.cam.mean()) + c.fc_bias, float(c.logits[c.cam_class]), rtol=1e-4, atol=1e-4)


def _all_hooks(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )


def _state_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_eight_threads_on_one_shared_model_get_what_each_gets_alone(one_torch_thread):
    # Bit-equal digests need the same kernels alone and in threads: with more than one intra-op thread, a forward
    # that finds torch's pool busy (another thread's forward in it) runs its conv split differently, and the last
    # bits differ (seen in the full suite on 2 cores). One thread makes the comparison about sharing, not kernels.
    model = load_random("resnet18")
    training, before = model.training, _state_digest(model)
    images = [_image(100 + i, 48) for i in range(8)]
    alone = [capture(model, img).digest() for img in images]
    assert len(set(alone)) == 8  # different images, different activations

    results: list[str | None] = [None] * 8
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = capture(model, images[i]).digest()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert results == alone
    assert _all_hooks(model) == 0
    assert model.training == training
    assert _state_digest(model) == before


def test_capture_rejects_a_batch_or_a_wrong_shape():
    model = load_random("resnet20")
    with pytest.raises(ValueError):
        capture(model, torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError):
        capture(model, torch.zeros(1, 1, 32, 32))


@pytest.mark.parametrize("mode", ["channel", "layer", "global"])
def test_palette_grid_png_shows_what_render_grid_shows(mode):
    import io

    from PIL import Image

    from resnet_viz.render import tiling
    from resnet_viz.render.tiling import grid_png

    c = capture(load_random("resnet18"), _image(9, 64))
    maps = c.layers["layer1.0"]
    for k in (None, 5):
        data, index = grid_png(maps, mode=mode, cmap="magma", k=k, global_range=c.global_range)
        rgb, expected_index = tiling.render_grid(
            maps, mode=mode, cmap="magma", k=k, global_range=c.global_range
        )
        assert index == [int(i) for i in expected_index]
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
        assert decoded.shape == rgb.shape
        assert np.abs(decoded - rgb.astype(int)).max() <= 8  # 255 palette levels instead of 256
    big, _ = grid_png(maps, k=4, cols=2, min_width=300)
    assert Image.open(io.BytesIO(big)).width >= 300


def test_layer_stats_match_tilings_channel_stats():
    from resnet_viz.imaging.capture import layer_stats
    from resnet_viz.render import tiling

    c = capture(load_random("resnet20"), _image(11, 32))
    for maps in c.layers.values():
        ref = tiling.channel_stats(maps.astype(np.float32))
        got = layer_stats(maps)
        assert got.shape == (maps.shape[0], 3)
        np.testing.assert_allclose(got[:, 0], [r["mean"] for r in ref], rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(got[:, 1], [r["max"] for r in ref], rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(got[:, 2], [r["zero_fraction"] for r in ref], atol=1e-6)


def test_recolored_png_equals_a_grid_encoded_in_that_colormap():
    import io

    from PIL import Image

    from resnet_viz.render.tiling import grid_png, recolor_png

    maps = capture(load_random("resnet20"), _image(12, 32)).layers["layer2.0"]
    viridis, _ = grid_png(maps, cmap="viridis", k=8)
    for cmap in ("magma", "gray", "RdBu"):
        direct, _ = grid_png(maps, cmap=cmap, k=8)
        swapped = recolor_png(viridis, cmap)
        a = np.asarray(Image.open(io.BytesIO(swapped)).convert("RGB"))
        b = np.asarray(Image.open(io.BytesIO(direct)).convert("RGB"))
        assert np.array_equal(a, b), cmap
    with pytest.raises(ValueError):
        recolor_png(b"not a png", "magma")
