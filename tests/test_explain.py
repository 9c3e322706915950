"""Look inside one number: every value rebuilt from its shown terms (every layer kind, several networks), the
receptive fields, Grad-CAM and its randomisation check, and a shared model left exactly as it was."""

from __future__ import annotations

import copy
import dataclasses
import functools

import numpy as np
import pytest
import torch

import resnet_viz
from resnet_viz import get_spec, trace
from resnet_viz.imaging.capture import capture
from resnet_viz.imaging.explain import (
    BN_INITIAL_MEAN,
    BN_INITIAL_VAR,
    RHO_DECIMALS,
    SIMILAR_RHO,
    TOLERANCE,
    GradCam,
    SanityCheck,
    effective_rf,
    explain_at,
    explain_value,
    grad_cam,
    initial_statistics,
    layer_names,
    maps_alike,
    randomized_like,
    record_layer,
    rf_box,
    sanity_check,
    sanity_reading,
    shown_rho,
    spearman,
    trained_statistics,
)
from resnet_viz.models import build_model
from resnet_viz.models.weights import load_random

# A BasicBlock net, a Bottleneck net (projection blocks, v1.5 and v1), a CIFAR net with option-A shortcuts and
# a plain net; small inputs keep the file fast on 2 cores.
CASES = [
    ("resnet18", False, "3x3", 64),
    pytest.param("resnet50", False, "3x3", 64, marks=pytest.mark.slow),
    pytest.param("resnet50", False, "1x1", 48, marks=pytest.mark.slow),
    ("resnet20", False, "3x3", 32),
    ("resnet18", True, "3x3", 64),
    ("resnet20", True, "3x3", 32),
]


@functools.cache
def trained_like(arch: str, plain: bool, stride_in: str) -> torch.nn.Module:
    """A random net whose BatchNorms hold statistics and affine terms like a trained one's, so the BN arithmetic
    is really tested (a fresh net's BN is the identity: mean 0, var 1, γ 1, β 0) and activations keep a trained
    net's size: the running statistics are measured on a batch of images (this test's own copy, in train mode
    once), then γ and β are drawn at random."""
    model = load_random(arch, plain=plain, stride_in=stride_in)
    size = 32 if get_spec(arch).family == "cifar" else 64
    g = torch.Generator().manual_seed(7)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the calibration batch
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, size, size, generator=g))
        for m in bns:
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.copy_(torch.randn(n, generator=g) * 0.2)
    return model.eval()


def _image(seed: int, size: int) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a))


@pytest.mark.parametrize(("arch", "plain", "stride_in", "size"), CASES)
def test_every_layer_is_rebuilt_from_its_terms_at_random_positions(arch, plain, stride_in, size):
    model = trained_like(arch, plain, stride_in)
    x = _image(1, size)
    rng = np.random.default_rng(0)
    kinds, shortcuts = set(), set()
    with torch.inference_mode():
        reference = model(x)
    for name in layer_names(model):
        record = record_layer(model, x, name)
        c_, h_, w_ = record.shape
        for _ in range(3):
            c, i, j = int(rng.integers(c_)), int(rng.integers(h_)), int(rng.integers(w_))
            e = explain_at(record, c, i, j)
            kinds.add(e.kind)
            shortcuts.add(e.shortcut)
            assert e.value == pytest.approx(float(record.arrays["out"][c, i, j]))
            assert _close(e.value, e.reconstructed), (name, c, i, j, e.value, e.reconstructed)
            for term in e.then:  # BN and ReLU after the named conv: the formula against the forward
                assert _close(term.numbers["forward"], term.value), (name, term)
            if e.kind in ("conv", "bn", "relu"):
                keys = [t.key for t in e.steps]
                assert keys.count("channel") == min(8, e.window.values.shape[0])
                # the shown terms add up to the conv's total
                conv_total = next(t.value for t in e.steps if t.key == "conv")
                parts = sum(t.value for t in e.steps if t.key in ("channel", "rest", "bias"))
                assert parts == pytest.approx(conv_total, rel=1e-9, abs=1e-12)
    expected = {"conv", "bn", "relu", "block"} | ({"maxpool"} if hasattr(model, "maxpool") else set())
    assert expected <= kinds
    if plain:
        assert shortcuts == {None, "none"}
    elif arch == "resnet20":
        assert {"identity", "zero_pad"} <= shortcuts and "zero_pad" in kinds
    else:
        assert {"identity", "projection"} <= shortcuts
    assert reference.shape[1] == model.fc.out_features


def test_blocks_values_are_the_networks_own_forward():
    """The walk's block outputs equal torchvision's own block forward (in-place ReLU, ``out += identity``)."""
    for arch, size in (("resnet18", 64), ("resnet20", 32)):
        model = trained_like(arch, False, "3x3")
        x = _image(2, size)
        with torch.inference_mode():
            h = torch.relu(model.bn1(model.conv1(x)))
            if hasattr(model, "maxpool"):
                h = model.maxpool(h)
            for stage in ("layer1", "layer2", "layer3", "layer4"):
                for i, block in enumerate(getattr(model, stage, [])):
                    h = block(h.clone())
                    record = record_layer(model, x, f"{stage}.{i}")
                    assert np.array_equal(record.arrays["out"], h[0].numpy())


def test_a_projection_shows_the_sampled_pixel_and_option_a_its_zero_padded_channels():
    model = trained_like("resnet18", False, "3x3")
    x = _image(3, 64)
    e = explain_value(model, x, "layer2.0", 5, 3, 2)
    assert e.shortcut == "projection"
    sample = next(t for t in e.steps if t.key == "sample")
    assert (sample.numbers["row"], sample.numbers["col"], sample.numbers["c_in"]) == (6, 4, 64)
    proj = next(t for t in e.steps if t.key == "projection")
    assert (proj.numbers["c_in"], proj.numbers["c_out"]) == (64, 128)

    cifar = trained_like("resnet20", False, "3x3")  # layer2.0: 16 → 32 channels, 8 zero channels each side
    y = _image(4, 32)
    padded = explain_value(cifar, y, "layer2.0", 3, 1, 1)
    zero = next(t for t in padded.steps if t.key == "zero_pad")
    assert zero.value == 0.0 and (zero.numbers["first"], zero.numbers["last"]) == (8, 23)
    kept = explain_value(cifar, y, "layer2.0", 10, 1, 1)
    sample = next(t for t in kept.steps if t.key == "sample")
    record = record_layer(cifar, y, "layer2.0")
    assert sample.value == pytest.approx(float(record.arrays["in"][2, 2, 2]))
    assert sample.numbers["channel"] == 2


def test_bad_arguments_name_the_valid_range():
    model = load_random("resnet18")
    x = _image(5, 64)
    with pytest.raises(ValueError, match="unknown layer 'layer9.0'"):
        explain_value(model, x, "layer9.0", 0, 0, 0)
    with pytest.raises(ValueError, match="channel 64 .* from 0 to 63"):
        explain_value(model, x, "conv1", 64, 0, 0)
    with pytest.raises(ValueError, match="row -1 .* from 0 to 31"):
        explain_value(model, x, "conv1", 0, -1, 0)
    with pytest.raises(ValueError, match="col 2 .* from 0 to 1"):
        explain_value(model, x, "layer4.1", 0, 0, 2)
    with pytest.raises(ValueError, match="row 1.5"):
        explain_value(model, x, "layer4.1", 0, 1.5, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown stage"):
        grad_cam(model, x, "layer7")
    with pytest.raises(ValueError, match="shape"):
        explain_value(model, x[0], "conv1", 0, 0, 0)


def test_the_effective_rf_lies_inside_the_theoretical_box():
    model = trained_like("resnet18", False, "3x3")
    x = _image(6, 64)
    tr = trace("resnet18", 64)
    for layer, c in (
        ("conv1", 3),
        ("maxpool", 0),
        ("layer1.1.conv2", 7),
        ("layer2.0", 1),
        ("layer2.0.downsample.0", 9),
    ):
        # the channel's largest value: a position a ReLU lets through, so its gradient is not zero
        out = record_layer(model, x, layer).arrays["out"][c]
        i, j = (int(v) for v in np.unravel_index(np.argmax(out), out.shape))
        erf = effective_rf(model, x, layer, c, i, j)
        box = rf_box(tr, layer, i, j)
        assert erf.shape == (64, 64) and erf.max() > 0
        outside = erf.copy()
        outside[box.top : box.bottom, box.left : box.right] = 0
        assert outside.max() == 0, layer  # nothing outside the theoretical receptive field
        assert box.size == tr.row(layer).receptive_field
    # a 1×1 stride-2 projection reads exactly one pixel of its input: its box is the input block's box, moved
    assert rf_box(tr, "layer2.0.downsample.0", 2, 6).size == tr.row("layer1.1").receptive_field


def test_the_folded_effective_rf_is_the_gradient_through_the_model_itself():
    """effective_rf folds each BN into its conv before the layer's block; the gradient is the same as autograd
    through the model's own modules (up to float32 rounding)."""
    model = trained_like("resnet18", False, "3x3")
    x = _image(11, 64)
    for layer in ("layer3.1", "layer2.0.conv2"):
        out = record_layer(model, x, layer).arrays["out"][4]
        i, j = (int(v) for v in np.unravel_index(np.argmax(out), out.shape))
        leaf = x.clone().requires_grad_(True)
        with torch.enable_grad():
            h = model.maxpool(torch.relu(model.bn1(model.conv1(leaf))))
            for stage in ("layer1", "layer2", "layer3"):
                for b, block in enumerate(getattr(model, stage)):
                    if f"{stage}.{b}" == layer:
                        break
                    if layer.startswith(f"{stage}.{b}."):
                        h = block.conv2(torch.relu(block.bn1(block.conv1(h))))  # conv2 alone, before bn2
                        break
                    h = block(h)
                else:
                    continue
                break
            if layer == "layer3.1":
                h = model.layer3[1](h)
            (grad,) = torch.autograd.grad(h[0, 4, i, j], leaf)
        expected = grad[0].abs().sum(dim=0).numpy()
        np.testing.assert_allclose(
            effective_rf(model, x, layer, 4, i, j), expected, rtol=1e-3, atol=1e-5 * expected.max()
        )


@pytest.mark.recorded_floats
def test_the_fold_cache_follows_the_weights_and_holds_one_model():
    """effective_rf keeps one model's folded weights between calls; a change to the weights in place is seen (the
    folds are made anew, not read stale), and a second model replaces the first instead of piling up."""
    from resnet_viz.imaging import explain

    model = copy.deepcopy(trained_like("resnet18", False, "3x3"))
    x = _image(12, 64)

    def through_modules() -> np.ndarray:
        leaf = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(model.layer3(model.layer2(model.layer1(
                model.maxpool(torch.relu(model.bn1(model.conv1(leaf))))
            )))[0, 2, 1, 1], leaf)  # fmt: skip
        return grad[0].abs().sum(dim=0).numpy()

    before = effective_rf(model, x, "layer3.1", 2, 1, 1)
    np.testing.assert_allclose(before, through_modules(), rtol=1e-3, atol=1e-5 * before.max())
    with torch.no_grad():
        model.layer1[0].conv1.weight.mul_(-3.0)
        model.layer2[0].bn1.running_var.mul_(4.0)
    after = effective_rf(model, x, "layer3.1", 2, 1, 1)
    expected = through_modules()
    # The changed weights put some ReLU inputs within rounding of zero, so which side of the kink they land on
    # depends on the CPU's kernels: folded vs unfolded differ by at most 3.5e-7 × max with
    # ATEN_CPU_CAPABILITY=default and 2.07e-3 × max with avx2 or avx512 (1 and 2 threads alike, on a Xeon with
    # AVX-512; 11.7% of the pixels past rtol=1e-3). Stale folds would be off by 0.69 × max, so a bound of
    # 1e-2 × max (5× the worst measured) still tells fresh folds from stale ones by a factor of 70.
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-2 * expected.max())
    assert abs(after.sum() - expected.sum()) <= 1e-3 * expected.sum()  # 5.3e-5 at worst, measured as above
    assert not np.allclose(after, before, rtol=1e-2)

    model = None  # the cached folds of a model nobody holds must go with it, not wait for eviction
    other = copy.deepcopy(trained_like("resnet18", False, "3x3"))
    effective_rf(other, x, "layer2.1", 0, 0, 0)
    assert len(explain._fold_cache) == explain.FOLD_CACHE_MODELS == 1
    del other
    import gc

    gc.collect()
    assert len(explain._fold_cache) == 0  # a freed model frees its folded weights


def test_grad_cam_at_the_last_stage_is_the_cam_and_earlier_stages_work():
    model = trained_like("resnet18", False, "3x3")
    x = _image(8, 64)
    cap = capture(model, x)
    last = grad_cam(model, x, "layer4")
    assert last.target == cap.cam_class
    # global average pooling + fc: Grad-CAM at the last stage is the CAM up to a positive scale
    expected = np.maximum(cap.cam, 0)
    if expected.max() > 0:
        np.testing.assert_allclose(last.heat, expected / expected.max(), atol=5e-3)
    for stage, side in (("layer1", 16), ("layer2", 8), ("layer3.1", 4)):
        g = grad_cam(model, x, stage, target=3)
        assert g.cam.shape == (side, side) and g.target == 3 and (g.cam >= 0).all()


def test_the_sanity_check_compares_with_a_seeded_random_network():
    model = trained_like("resnet18", False, "3x3")
    x = _image(9, 64)
    rand_a = randomized_like(lambda: build_model("resnet18"), seed=1)
    rand_b = randomized_like(lambda: build_model("resnet18"), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(rand_a.state_dict().values(), rand_b.state_dict().values()))
    same = sanity_check(model, model, x, "layer3")
    assert same.rho == pytest.approx(1.0)
    check = sanity_check(model, rand_a, x, "layer3")
    assert check.randomized.target == check.trained.target
    assert -1.0 <= check.rho < 1.0


def test_the_sanity_check_ranks_the_maps_magnitudes_as_adebayo_et_al_do():
    """Two random networks gave signed maps of opposite sign (ρ ≈ −0.9: the image's structure, mirrored), which
    a signed ρ reads as "different". The check's ρ compares |map| (Adebayo et al. 2018); the signed one is kept."""
    model = trained_like("resnet18", False, "3x3")
    x = _image(9, 64)
    rand = randomized_like(lambda: build_model("resnet18"), seed=1)
    check = sanity_check(model, rand, x, "layer2")
    assert check.rho == pytest.approx(spearman(np.abs(check.trained.raw), np.abs(check.randomized.raw)))
    assert check.rho_signed == pytest.approx(spearman(check.trained.raw, check.randomized.raw))
    # a map and its mirror image in sign: alike in magnitude, opposite when signed
    flipped = dataclasses.replace(check.trained, raw=-check.trained.raw)
    mirrored = SanityCheck(check.trained, flipped, rho=spearman(np.abs(check.trained.raw), np.abs(flipped.raw)),
                           rho_signed=spearman(check.trained.raw, flipped.raw))  # fmt: skip
    assert mirrored.rho == pytest.approx(1.0) and mirrored.rho_signed == pytest.approx(-1.0)


def _check(rho: float) -> SanityCheck:
    cam = GradCam("layer1", 0, np.zeros((2, 2), np.float32), np.zeros(1, np.float32), np.zeros((2, 2), np.float32),
                  0.0)  # fmt: skip
    return SanityCheck(cam, cam, rho=rho)


def test_maps_alike_above_the_threshold_only():
    assert maps_alike(SIMILAR_RHO + 0.01)
    assert not maps_alike(SIMILAR_RHO)  # "above": the threshold itself is not alike
    assert not maps_alike(SIMILAR_RHO - 0.01)
    assert not maps_alike(-0.9)  # a strongly negative ρ is not "alike"
    assert not maps_alike(float("nan"))


def test_the_sanity_reading_is_given_for_trained_weights_only():
    high, low, none = _check(SIMILAR_RHO + 0.3), _check(SIMILAR_RHO - 0.3), _check(float("nan"))
    assert [sanity_reading(c, trained=False) for c in (high, low, none)] == ["untrained"] * 3
    assert sanity_reading(high, trained=True) == "alike"
    assert sanity_reading(low, trained=True) == "different"
    assert sanity_reading(none, trained=True) == "undefined"


def test_trained_statistics_are_read_off_the_weights_loaded():
    fresh = load_random("resnet20")
    assert not trained_statistics(fresh)  # seeded random weights: every BN at μ = 0, σ² = 1
    assert not trained_statistics(randomized_like(lambda: build_model("resnet20"), seed=1))
    assert trained_statistics(trained_like("resnet20", False, "3x3"))
    one = copy.deepcopy(fresh)
    one.layer3[2].bn2.running_var[5] = 1.5  # one channel of one BN moved, as a training step would
    assert trained_statistics(one)
    bn = fresh.layer1[0].bn1
    assert initial_statistics(bn.running_mean.numpy(), bn.running_var.numpy())
    assert initial_statistics(np.full(4, BN_INITIAL_MEAN), np.full(4, BN_INITIAL_VAR))
    assert not initial_statistics(np.array([0.0, 0.1]), np.ones(2))
    assert not initial_statistics(np.zeros(2), np.array([1.0, 0.9]))


def test_spearman_uses_average_ranks_for_ties():
    a, b = np.array([1.0, 2.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0, 40.0])
    ranks_a, ranks_b = np.array([1.0, 2.5, 2.5, 4.0]), np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, b) == pytest.approx(np.corrcoef(ranks_a, ranks_b)[0, 1])
    assert spearman(b, -b) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.zeros(4), b))


def test_the_shared_model_is_left_exactly_as_it_was():
    model = trained_like("resnet18", False, "3x3")
    before = copy.deepcopy(model.state_dict())
    flags = [p.requires_grad for p in model.parameters()]
    x = _image(10, 64)
    explain_value(model, x, "layer2.0", 0, 0, 0)
    effective_rf(model, x, "layer3.0", 0, 1, 1)
    grad_cam(model, x, "layer2")
    assert not model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def _snapshot(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], list[bool]]:
    """Everything a forward could change: the state (BN running statistics and batch counts) and every flag."""
    return copy.deepcopy(model.state_dict()), [m.training for m in model.modules()]


def test_a_model_in_training_mode_is_explained_as_it_predicts_and_left_as_it_was():
    # issue 22, D13: in training mode BN used (and updated) batch statistics, so the model changed under the
    # caller and the explanation's BN arithmetic (running statistics) did not match the value it explained.
    evaluated = trained_like("resnet18", False, "3x3")
    model = copy.deepcopy(evaluated).train()
    model.layer1.eval()  # mixed flags: each module's own flag must come back, not one for all
    before = _snapshot(model)
    x = _image(11, 64)
    for layer, position in (("layer2.0.bn1", (3, 2, 1)), ("layer2.0", (5, 3, 2)), ("conv1", (0, 4, 4))):
        got = explain_value(model, x, layer, *position)
        want = explain_value(evaluated, x, layer, *position)
        assert got.value == want.value and got.reconstructed == want.reconstructed, layer
        assert [t.value for t in got.steps] == [t.value for t in want.steps], layer
        assert _close(got.value, got.reconstructed), layer
    grad_cam(model, x, "layer2")
    effective_rf(model, x, "layer2.0", 0, 1, 1)
    after = _snapshot(model)
    assert after[1] == before[1]  # the flags, module by module
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])  # running stats, batch counts


def test_a_failing_explanation_still_restores_training_mode():
    model = copy.deepcopy(trained_like("resnet18", False, "3x3")).train()
    with pytest.raises(ValueError, match="class 5000 is out of range"):  # raised inside, in eval mode
        grad_cam(model, _image(12, 64), "layer2", target=5000)
    assert all(m.training for m in model.modules())


def test_wrong_kinds_of_model_or_image_name_what_was_expected():
    # issue 22, D14: these raised AttributeError from deep inside the walk.
    model = trained_like("resnet18", False, "3x3")
    x = _image(13, 64)
    with pytest.raises(ValueError, match=r"image as a torch\.Tensor .*not ndarray"):
        explain_value(model, x.numpy(), "conv1", 0, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"image as a torch\.Tensor"):
        grad_cam(model, x[0].tolist(), "layer2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"image as a torch\.Tensor"):
        effective_rf(model, x.numpy(), "layer2.0", 0, 0, 0)  # type: ignore[arg-type]
    not_resnets = [
        torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()),
        torch.nn.Linear(4, 2),
        "resnet18",
    ]
    for other in not_resnets:
        with pytest.raises(ValueError, match="expected a ResNet .*not (Sequential|Linear|str)"):
            explain_value(other, x, "conv1", 0, 0, 0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a ResNet"):
            grad_cam(other, x, "layer2")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="expected a ResNet"):
            layer_names(other)  # type: ignore[arg-type]


def test_explain_value_is_exported_lazily():
    assert resnet_viz.explain_value is explain_value


def test_maps_alike_reads_rho_as_it_is_shown():
    """ρ = 0.504 is printed "0.50": the verdict must not call it "above 0.5"."""
    just_above = SIMILAR_RHO + 0.4 * 10**-RHO_DECIMALS
    assert shown_rho(just_above) == f"{SIMILAR_RHO:.{RHO_DECIMALS}f}"
    assert not maps_alike(just_above)
    assert maps_alike(SIMILAR_RHO + 0.6 * 10**-RHO_DECIMALS)
    assert shown_rho(float("nan")) == "–"
