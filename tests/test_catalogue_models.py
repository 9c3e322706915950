"""The catalogue and the built models against torchvision's and the paper's figures.

Reference numbers are torchvision's (``torchvision.models.resnetNN`` parameter counts) and the paper's (He et al.
2015, Table 1 and §4.2); none of them is a figure produced by our own code. Shape- and count-only checks build
the models on the meta device (no weights allocated), so the whole file runs in a few seconds on 2 cores.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torchvision import models as tvm

import resnet_viz
from resnet_viz import ARCHS, CIFAR_ARCHS, IMAGENET_ARCHS, build_model, get_spec, trace

# torchvision's resnetNN().parameters() totals, and the paper's CIFAR nets with option A (0.27M … 1.7M).
REFERENCE_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
}

# The paper's layer-count arithmetic (seed 001): stem conv + convs per block × blocks + fc.
REFERENCE_FORMULAS = {
    "resnet18": "18 = 1 + 2×(2+2+2+2) + 1",
    "resnet34": "34 = 1 + 2×(3+4+6+3) + 1",
    "resnet50": "50 = 1 + 3×(3+4+6+3) + 1",
    "resnet101": "101 = 1 + 3×(3+4+23+3) + 1",
    "resnet152": "152 = 1 + 3×(3+8+36+3) + 1",
}

ALL_CONFIGS = [(a, p, "3x3") for a in ARCHS for p in (False, True)] + [
    (a, p, "1x1") for a in ("resnet50", "resnet101", "resnet152") for p in (False, True)
]


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in these tests may fetch weights: any attempt fails loudly instead of hitting the network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to download: {args!r}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def meta_model(arch: str, **kw: object) -> nn.Module:
    with torch.device("meta"):
        return build_model(arch, **kw)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------- catalogue


def test_archs_are_the_catalogue() -> None:
    assert IMAGENET_ARCHS == ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
    assert CIFAR_ARCHS == ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
    assert set(ARCHS) == {*IMAGENET_ARCHS, *CIFAR_ARCHS, "resnet34_cifar"}
    assert resnet_viz.ARCHS is ARCHS


@pytest.mark.parametrize("arch", IMAGENET_ARCHS)
def test_imagenet_layer_count_formula(arch: str) -> None:
    assert get_spec(arch).layer_count_formula == REFERENCE_FORMULAS[arch]
    t = trace(arch)
    assert t.layer_count_formula == REFERENCE_FORMULAS[arch]
    assert t.layer_count == int(arch.removeprefix("resnet"))
    # The formula's arithmetic really adds up to the depth it names.
    depth, rhs = REFERENCE_FORMULAS[arch].split(" = ")
    assert eval(rhs.replace("×", "*")) == int(depth)


@pytest.mark.parametrize("arch", CIFAR_ARCHS)
def test_cifar_is_6n_plus_2(arch: str) -> None:
    spec = get_spec(arch)
    n = spec.layers[0]
    assert spec.layers == (n, n, n)
    assert spec.widths == (16, 32, 64)
    assert spec.depth == 6 * n + 2 == int(arch.removeprefix("resnet"))
    assert trace(arch, 32).layer_count == 6 * n + 2


@pytest.mark.parametrize(("arch", "plain", "stride_in"), ALL_CONFIGS)
def test_layer_count_equals_weighted_layers_of_built_model(arch: str, plain: bool, stride_in: str) -> None:
    """The paper's depth = convs + fc of the real model, minus the shortcut (projection) convs."""
    model = meta_model(arch, plain=plain, stride_in=stride_in)
    weighted = [
        name
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and ".downsample" not in name
    ]
    t = trace(arch, get_spec(arch).default_input, plain=plain, stride_in=stride_in)
    assert t.layer_count == len(weighted) == get_spec(arch).depth
    # The rows flagged as counted are exactly those modules.
    assert [r.name for r in t.rows if r.counted] == weighted


# ------------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("arch", list(REFERENCE_PARAMS))
def test_params_match_reference_in_trace_and_model(arch: str) -> None:
    assert trace(arch, get_spec(arch).default_input).total_params == REFERENCE_PARAMS[arch]
    assert n_params(meta_model(arch)) == REFERENCE_PARAMS[arch]


@pytest.mark.parametrize("arch", IMAGENET_ARCHS)
def test_imagenet_params_equal_torchvision_constructor(arch: str) -> None:
    with torch.device("meta"):
        reference = getattr(tvm, arch)()
    assert n_params(reference) == REFERENCE_PARAMS[arch]


@pytest.mark.parametrize(("arch", "plain", "stride_in"), ALL_CONFIGS)
def test_trace_params_equal_built_model(arch: str, plain: bool, stride_in: str) -> None:
    model = meta_model(arch, plain=plain, stride_in=stride_in)
    t = trace(arch, get_spec(arch).default_input, plain=plain, stride_in=stride_in)
    assert t.total_params == n_params(model)
    # Per module as well: every row named like a module carries that module's own parameters.
    modules = dict(model.named_modules())
    for row in t.rows:
        if row.name in modules:
            assert row.params == n_params(modules[row.name]), row.name


@pytest.mark.parametrize("arch", ARCHS)
def test_plain_drops_exactly_the_projections(arch: str) -> None:
    residual = meta_model(arch)
    plain = meta_model(arch, plain=True)
    projection = sum(n_params(m) for name, m in residual.named_modules() if name.endswith(".downsample"))
    assert n_params(plain) == n_params(residual) - projection
    assert trace(arch, 32, plain=True).total_params == n_params(plain)


# -------------------------------------------------------------------------------------------- shortcuts


def _downsample_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_modules() if name.endswith(".downsample")]


@pytest.mark.parametrize("arch", ["resnet18", "resnet34"])
def test_basicblock_projections(arch: str) -> None:
    assert _downsample_names(meta_model(arch)) == [
        "layer2.0.downsample",
        "layer3.0.downsample",
        "layer4.0.downsample",
    ]
    model = meta_model(arch)
    for name in ("layer2.0", "layer3.0", "layer4.0"):
        conv = model.get_submodule(f"{name}.downsample.0")
        assert conv.kernel_size == (1, 1) and conv.stride == (2, 2)


@pytest.mark.parametrize("arch", ["resnet50", "resnet101", "resnet152"])
@pytest.mark.parametrize("stride_in", ["3x3", "1x1"])
def test_bottleneck_projections(arch: str, stride_in: str) -> None:
    model = meta_model(arch, stride_in=stride_in)
    assert _downsample_names(model) == [f"layer{i}.0.downsample" for i in (1, 2, 3, 4)]
    first = model.get_submodule("layer1.0.downsample.0")
    assert (first.in_channels, first.out_channels, first.stride) == (64, 256, (1, 1))


@pytest.mark.parametrize("arch", CIFAR_ARCHS)
def test_cifar_option_a_shortcut_has_no_parameters(arch: str) -> None:
    model = build_model(arch)
    names = _downsample_names(model)
    assert names == ["layer2.0.downsample", "layer3.0.downsample"]
    x = torch.randn(2, 16, 8, 8)
    shortcut = model.get_submodule("layer2.0.downsample")
    assert n_params(shortcut) == 0
    y = shortcut(x)
    # Option A (paper §3.3): identity on the subsampled pixels, zeros for the 16 new channels.
    assert y.shape == (2, 32, 4, 4)
    kept = [c for c in range(32) if y[:, c].abs().sum() > 0]
    assert len(kept) == 16
    assert torch.equal(y[:, kept], x[:, :, ::2, ::2])


@pytest.mark.parametrize("arch", ARCHS)
def test_plain_model_has_no_shortcut_modules(arch: str) -> None:
    model = meta_model(arch, plain=True)
    assert _downsample_names(model) == []
    assert all(getattr(m, "downsample", None) is None for m in model.modules())


def _zero_last_bn_of_every_block(model: nn.Module) -> int:
    count = 0
    for m in model.modules():
        last = getattr(m, "bn3", None) if hasattr(m, "conv3") else getattr(m, "bn2", None)
        if last is not None and hasattr(m, "conv1"):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            count += 1
    return count


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20"])
def test_plain_forward_really_skips_the_addition(arch: str) -> None:
    """With the last BN of every block zeroed, a residual block is relu(shortcut(x)) but a plain one outputs 0."""
    torch.manual_seed(0)
    residual = build_model(arch)
    plain = build_model(arch, plain=True)
    assert _zero_last_bn_of_every_block(residual) == sum(get_spec(arch).layers)
    assert _zero_last_bn_of_every_block(plain) == sum(get_spec(arch).layers)
    size = 32 if get_spec(arch).family == "imagenet" else 16
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        # layer1 of BasicBlock nets is all identity shortcuts: the residual layer1 passes its input through.
        stem = residual.relu(residual.bn1(residual.conv1(x)))
        if hasattr(residual, "maxpool"):
            stem = residual.maxpool(stem)
        out = residual.layer1(stem)
        if get_spec(arch).block == "basic":
            assert torch.equal(out, stem)
        assert out.abs().sum() > 0
        # The plain layer1 has nothing but its (zeroed) main branch: exactly zero.
        assert torch.count_nonzero(plain.layer1(stem)) == 0
        # So the plain network's scores are just the fc bias, whatever the image.
        logits = plain(x)
        assert torch.allclose(logits, plain.fc.bias.expand_as(logits))
        assert not torch.allclose(residual(x), residual.fc.bias.expand_as(logits))


# ------------------------------------------------------------------------------------------- v1 / v1.5


@pytest.mark.parametrize("arch", ["resnet50", "resnet101", "resnet152"])
def test_stride_placement_v1_and_v15(arch: str) -> None:
    v1 = meta_model(arch, stride_in="1x1")
    v15 = meta_model(arch, stride_in="3x3")
    for stage in ("layer2", "layer3", "layer4"):
        assert v1.get_submodule(f"{stage}.0.conv1").stride == (2, 2)
        assert v1.get_submodule(f"{stage}.0.conv2").stride == (1, 1)
        assert v15.get_submodule(f"{stage}.0.conv1").stride == (1, 1)
        assert v15.get_submodule(f"{stage}.0.conv2").stride == (2, 2)
    # Everywhere else no conv of either strides except the stem and the projections.
    for model in (v1, v15):
        strided = {
            name
            for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and m.stride != (1, 1)
            and not name.startswith(("layer2.0", "layer3.0", "layer4.0"))
        }  # fmt: skip
        assert strided == {"conv1"}


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet20"])
def test_stride_in_changes_nothing_for_basicblock(arch: str) -> None:
    a = {n: (m.stride if isinstance(m, nn.Conv2d) else None) for n, m in meta_model(arch).named_modules()}
    b = {
        n: (m.stride if isinstance(m, nn.Conv2d) else None)
        for n, m in meta_model(arch, stride_in="1x1").named_modules()
    }
    assert a == b


# ------------------------------------------------------------------------------------------ real models


def test_seed004_network_maps_32x32_batch_to_10_scores() -> None:
    spec = get_spec("resnet34_cifar")
    assert (spec.layers, spec.widths, spec.num_classes) == ((3, 4, 6, 3), (64, 128, 256, 512), 10)
    model = build_model("resnet34_cifar")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert model.maxpool.kernel_size == 3 and model.maxpool.stride == 1
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", IMAGENET_ARCHS)
def test_state_dict_round_trip_with_torchvision(arch: str) -> None:
    """Ours → torchvision's resnetNN → ours, strict, with identical outputs (so the pretrained weights fit).

    The receiving models are built on the meta device and take the tensors with ``assign=True``: the load still
    checks every key and shape strictly, and it saves two random initialisations of up to 60 M weights.
    """
    torch.manual_seed(0)
    ours = build_model(arch)
    with torch.device("meta"):
        theirs = getattr(tvm, arch)()
        back = build_model(arch)
    theirs.load_state_dict(ours.state_dict(), strict=True, assign=True)
    theirs.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
        # Give torchvision's copy a new classifier, then load it back: ours follows, so the weights travelled.
        theirs.fc.weight = nn.Parameter(theirs.fc.weight * 2.0)
        back.load_state_dict(theirs.state_dict(), strict=True, assign=True)
        back.eval()
        assert torch.equal(back(x), theirs(x))
        assert not torch.equal(back(x), ours(x))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == list(back.state_dict())


def test_num_classes_replaces_the_classifier() -> None:
    model = meta_model("resnet18", num_classes=7)
    assert model.fc.out_features == 7
    assert meta_model("resnet20", num_classes=100).fc.out_features == 100


def test_build_model_returns_eval_mode_on_cpu() -> None:
    model = build_model("resnet20")
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"arch": "resnet19"}, r"unknown architecture 'resnet19'.*resnet18"),
        ({"arch": "resnet18", "stride_in": "2x2"}, r"stride_in must be '3x3'.*'1x1'"),
        ({"arch": "resnet18", "num_classes": 0}, r"num_classes must be a positive integer"),
        ({"arch": "resnet18", "num_classes": True}, r"num_classes must be a positive integer"),
        ({"arch": "resnet20", "weights": "DEFAULT"}, r"resnet20 has no pretrained weights"),
        ({"arch": "resnet34_cifar", "weights": "DEFAULT"}, r"no pretrained weights"),
        ({"arch": "resnet18", "plain": True, "weights": "DEFAULT"}, r"pretrained weights exist only"),
        ({"arch": "resnet50", "stride_in": "1x1", "weights": "DEFAULT"}, r"pretrained weights exist only"),
        ({"arch": "resnet18", "weights": "IMAGENET9K"}, r"unknown weights 'IMAGENET9K'.*IMAGENET1K_V1"),
        ({"arch": "resnet18", "weights": "DEFAULT", "num_classes": 10}, r"1000 classes, not 10"),
    ],
)
def test_build_model_errors(kwargs: dict, pattern: str) -> None:
    arch = kwargs.pop("arch")
    with pytest.raises(ValueError, match=pattern):
        build_model(arch, **kwargs)


def test_get_spec_unknown_lists_every_name() -> None:
    with pytest.raises(ValueError) as info:
        get_spec("vgg16")
    assert all(re.search(rf"\b{a}\b", str(info.value)) for a in ARCHS)
