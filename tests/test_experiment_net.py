"""The one name of the Why-residual experiments' networks (resnet_viz.architecture.experiment_net) and the shipped
files' spellings it reads: every spelling parses to the same network, the names come back out, bad input is a
ValueError."""

from __future__ import annotations

import pytest

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet

RES56, PLAIN56 = ExperimentNet(56, plain=False), ExperimentNet(56, plain=True)


@pytest.mark.parametrize(
    ("text", "net"),
    [
        ("resnet56", RES56),
        ("resnet-56", RES56),
        ("ResNet-56", RES56),
        ("RESNET56", RES56),
        (" resnet56 ", RES56),
        ("plain56", PLAIN56),
        ("plain-56", PLAIN56),
        ("Plain-56", PLAIN56),
        ("resnet-8", ExperimentNet(8, plain=False)),
        ("plain110", ExperimentNet(110, plain=True)),
    ],
)
def test_every_spelling_parses(text: str, net: ExperimentNet) -> None:
    assert ExperimentNet.parse(text) == net


def test_key_label_and_kind() -> None:
    assert (RES56.key, RES56.label, RES56.kind, str(RES56)) == ("resnet56", "resnet-56", "resnet", "resnet56")
    assert (PLAIN56.key, PLAIN56.label, PLAIN56.kind, str(PLAIN56)) == (
        "plain56",
        "plain-56",
        "plain",
        "plain56",
    )


@pytest.mark.parametrize(
    "net", [ExperimentNet(d, p) for d in (8, 20, 32, 44, 56, 110) for p in (False, True)]
)
def test_round_trips(net: ExperimentNet) -> None:
    assert ExperimentNet.parse(net.key) == ExperimentNet.parse(net.label) == net
    assert ExperimentNet.parse(net) is net  # already parsed: returned as it is
    assert hash(ExperimentNet.parse(net.key)) == hash(net)  # usable as a dict key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "resnet",
        "plain",
        "56",
        "resnet57",
        "plain-21",
        "resnet18",
        "resnet 56",
        "resnet--56",
        "vgg56",
        "resnet-56x",
    ],
)
def test_bad_spellings_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        ExperimentNet.parse(text)


@pytest.mark.parametrize("bad", [None, 56, 5.6, b"resnet56"])
def test_non_strings_raise_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        ExperimentNet.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("depth", [0, 2, 7, 21, -4])
def test_a_depth_that_is_not_6n_plus_2_is_refused(depth: int) -> None:
    with pytest.raises(ValueError):
        ExperimentNet(depth, plain=False)


def test_frozen_and_ordered() -> None:
    with pytest.raises(AttributeError):
        RES56.depth = 20  # type: ignore[misc]
    nets = sorted([RES56, ExperimentNet(20, plain=True), PLAIN56, ExperimentNet(20, plain=False)])
    assert [n.key for n in nets] == ["resnet20", "plain20", "resnet56", "plain56"]


def test_the_shipped_file_names_come_from_the_key() -> None:
    assert [n.key for n in paths.TRAINED_NETS] == ["resnet56", "plain56", "resnet20", "plain20"]
    assert paths.net_weights_path(PLAIN56).name == "plain56.safetensors"
    assert paths.trained_weights_path("plain", 56) == paths.net_weights_path(PLAIN56)
    assert (
        paths.landscape_path("plain-56") == paths.landscape_path(PLAIN56) == paths.landscape_path("plain56")
    )
    assert paths.landscape_path(RES56).name == "landscape_resnet56.json"
    with pytest.raises(ValueError):
        paths.trained_weights_path("vgg", 56)
