"""The sentences the data chooses (resnet_viz.experiments.readings), each predicate on both of its branches, how a
Sentence is worded (i18n.say), and the one reader of the shipped files (resnet_viz.experiments.shipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import landscape as ls
from resnet_viz.experiments import readings as R
from resnet_viz.experiments import shipped
from resnet_viz.experiments import summaries as S
from resnet_viz.i18n import Sentence, say, translator

EN, ZH = translator("en"), translator("zh")


def _keys(sentences: list[Sentence]) -> list[str]:
    return [s.key.split(".", 1)[1] for s in sentences]


# ------------------------------------------------------------------------------------------------ wording


def test_say_words_nested_sentences_lists_and_continuations_per_language() -> None:
    s = Sentence(
        "why_residual.rm_res_reading",
        {
            "net": R.net_name(ExperimentNet(56, False)),
            "small": 3,
            "blocks": 4,
            "thr": "2.0",
            "worst": ["a", "b"],
        },
        then=(Sentence("why_residual.rm_plain_rest", {"rest": 1, "lo": "1%", "hi": "2%"}),),
    )
    en, zh = say(EN, s, "en"), say(ZH, s, "zh")
    assert en == EN(
        s.key, net=EN("why_residual.run_resnet", depth=56), small=3, blocks=4, thr="2.0", worst="a, b"
    ) + (" " + EN("why_residual.rm_plain_rest", rest=1, lo="1%", hi="2%"))
    assert zh == ZH(
        s.key, net=ZH("why_residual.run_resnet", depth=56), small=3, blocks=4, thr="2.0", worst="a、b"
    ) + (ZH("why_residual.rm_plain_rest", rest=1, lo="1%", hi="2%"))
    assert say(EN, Sentence("why_residual.rm_reading")) == EN("why_residual.rm_reading")


def test_net_name() -> None:
    assert say(EN, R.net_name(ExperimentNet(20, True))) == EN("why_residual.run_plain", depth=20)


# ------------------------------------------------------------------------------------------------ degradation


def _run(plain: bool, depth: int, train: list[float]) -> dict:
    return {"label": ExperimentNet(depth, plain).label, "plain": plain, "depth": depth} | {
        "train_error": train,
        "test_error": train,
    }


def test_degradation_sentences_follow_the_order_and_the_lag() -> None:
    level = {"runs": [_run(False, 20, [0.5, 0.1]), _run(False, 56, [0.7, 0.102])]}
    assert _keys(R.degradation_sentences(level)) == [
        "deg_compare_level",
        "deg_meaning_resnet_level",
        "deg_behind_one",  # epoch 1 only
        "deg_one_seed",
    ]
    higher = {"runs": [_run(True, 20, [0.5, 0.2, 0.1]), _run(True, 56, [0.6, 0.1, 0.3])]}
    (cmp, meaning, one_seed) = R.degradation_sentences(higher)
    assert cmp.key.endswith("deg_compare") and cmp.args["direction"].key.endswith(".higher")
    assert cmp.args["diff"] == "20.0" and cmp.args["deep_train"] == "30.0%"
    assert meaning.key.endswith("deg_meaning_plain_higher") and one_seed.key.endswith("deg_one_seed")
    lower = {"runs": [_run(False, 20, [0.5, 0.2, 0.1]), _run(False, 56, [0.6, 0.1, 0.05])]}
    assert R.degradation_sentences(lower)[0].args["direction"].key.endswith(".lower")


@pytest.mark.parametrize(
    ("deep", "key"),
    [
        ([0.7, 0.45, 0.12, 0.05, 0.02], "deg_behind"),  # epochs 1–3: one run
        ([0.7, 0.1, 0.12, 0.01, 0.02], "deg_behind_scattered"),  # epochs 1 and 3
        ([0.7, 0.1, 0.05, 0.01, 0.02], "deg_behind_one"),
    ],
)
def test_the_lag_sentence(deep: list[float], key: str) -> None:
    data = {"runs": [_run(False, 20, [0.50, 0.20, 0.10, 0.05, 0.04]), _run(False, 56, deep)]}
    assert key in _keys(R.degradation_sentences(data))


def test_no_lag_sentence_where_the_deep_net_is_never_behind() -> None:
    data = {"runs": [_run(False, 20, [0.5, 0.2]), _run(False, 56, [0.4, 0.1])]}
    assert not any("behind" in k for k in _keys(R.degradation_sentences(data)))


def test_seeds_spread_sentence() -> None:
    run = _run(False, 20, [0.5, 0.25])
    run["per_seed"] = {"train_error": [[0.6, 0.3], [0.4, 0.2]], "test_error": [[0.5, 0.3], [0.5, 0.1]]}
    deep = _run(False, 56, [0.5, 0.2])
    deep["per_seed"] = {"train_error": [[0.5, 0.2], [0.5, 0.2]], "test_error": [[0.5, 0.2], [0.5, 0.2]]}
    last = R.degradation_sentences({"runs": [run, deep]})[-1]
    assert last.key.endswith("deg_spread") and last.args == {"seeds": 2, "spread": "10.0"}


def test_degradation_intro_names_a_known_data_set_only() -> None:
    assert R.degradation_intro({"settings": {"dataset": "pairs"}}).args["dataset"].args == {"classes": 20}
    assert (
        R.degradation_intro({"settings": {"dataset": "cifar"}})
        .args["dataset"]
        .key.endswith("deg_data_shapes")
    )
    assert R.degradation_intro(None).args["dataset"].key.endswith("deg_data_shapes")


# ------------------------------------------------------------------------------------------------ deletion


def _removal(res_blocks: dict[str, float], plain_blocks: dict[str, float], res_base=0.1, plain_base=0.2):
    def sweep(base: float, blocks: dict[str, float]) -> dict:
        return {"baseline": {"top1_error": base}, "blocks": {k: {"top1_error": v} for k, v in blocks.items()}}

    return {
        "settings": {"num_classes": 10},
        "nets": {"resnet-8": sweep(res_base, res_blocks), "plain-8": sweep(plain_base, plain_blocks)},
    }


def test_hardly_notices_on_both_sides_of_half() -> None:
    plain = {"a": 0.9, "b": 0.5}
    hardly = S.removal_summary(_removal({"a": 0.11, "b": 0.2}, plain))["resnet-8"]  # 1 of 2 small: half
    hurt = S.removal_summary(_removal({"a": 0.11, "b": 0.2, "c": 0.3}, plain))["resnet-8"]  # 1 of 3
    assert hardly.hardly_notices and not hurt.hardly_notices
    assert hardly.net == ExperimentNet(8, plain=False)
    sentences = R.removal_reading({"resnet-8": hardly})
    assert _keys(sentences) == ["rm_res_reading"] and sentences[0].args["worst"] == [
        "b (+10.0 pp)",
        "a (+1.0 pp)",
    ]
    assert _keys(R.removal_reading({"resnet-8": hurt})) == ["rm_res_reading_hurt"]


def test_a_sweep_where_nothing_hurts_names_no_block() -> None:
    summaries = S.removal_summary(_removal({"a": 0.1, "b": 0.09}, {"a": 0.2}))
    assert _keys(R.removal_sentences(summaries))[:3] == [
        "rm_summary_none",
        "rm_summary_none",
        "rm_res_reading_none",
    ]


def test_plain_reading_adds_the_rest_only_where_some_reach_chance() -> None:
    near = S.removal_summary(_removal({"a": 0.2}, {"a": 0.89, "b": 0.5}))
    (plain,) = [s for s in R.removal_reading(near) if s.key.endswith("rm_plain_reading")]
    assert plain.args["near"] == 1 and [t.key for t in plain.then] == ["why_residual.rm_plain_rest"]
    assert plain.then[0].args == {"rest": 1, "lo": "50.0%", "hi": "50.0%"}
    far = S.removal_summary(_removal({"a": 0.2}, {"a": 0.5}))
    (plain,) = [s for s in R.removal_reading(far) if s.key.endswith("rm_plain_reading")]
    assert plain.args["near"] == 0 and plain.then == ()


def test_plain_trained_worse_at_the_tolerance() -> None:
    worse = S.removal_summary(_removal({"a": 0.2}, {"a": 0.9}, res_base=0.1, plain_base=0.11))
    level = S.removal_summary(_removal({"a": 0.2}, {"a": 0.9}, res_base=0.1, plain_base=0.104))
    assert S.plain_trained_worse(worse["plain-8"], worse["resnet-8"])
    assert not S.plain_trained_worse(level["plain-8"], level["resnet-8"])
    assert "rm_weaker" in _keys(R.removal_reading(worse)) and "rm_weaker" not in _keys(
        R.removal_reading(level)
    )


def test_reproduces_veit_on_both_branches() -> None:
    yes = S.removal_summary(_removal({"a": 0.12}, {"a": 0.9}))
    no = S.removal_summary(_removal({"a": 0.5}, {"a": 0.21}))
    assert S.reproduces_veit(yes) and not S.reproduces_veit(no)
    assert R.removal_sentences(yes)[-1] == Sentence("why_residual.rm_reading")
    last = R.removal_sentences(no)[-1]
    assert last.key.endswith("rm_reading_not") and last.args == {"res_mean": "+40.0", "plain_mean": "+1.0"}


def test_deletion_caption() -> None:
    cap = R.deletion_caption({"settings": {"dataset": "pairs", "n_test": 500}})
    assert cap.args == {"n_test": 500, "classes": 20, "chance5": "75.0%"}


# ------------------------------------------------------------------------------------------------ landscapes


def _surface(net: str, nonconvex: float, at_half: float | None = 2.0, width: int = 16) -> dict:
    summary = ls.LandscapeSummary(
        origin_loss=0.05,
        at_distance={"0.25": 1.0, "0.5": at_half, "1": 9.0},
        max_loss=10.0,
        nonconvex_share=nonconvex,
        clearly_nonconvex_share=nonconvex / 2,
        points_tested=9,
    )
    return {"net": net, "summary": summary.to_dict(), "settings": {"training": {"width": width}}}


@pytest.mark.parametrize(
    ("plain_share", "key"), [(0.5, "as"), (0.33, "level"), (0.27, "level"), (0.2, "unlike")]
)
def test_paper_direction_around_its_level(plain_share: float, key: str) -> None:
    plain, res = _surface("plain56", plain_share), _surface("resnet56", 0.3)
    p, r = (ls.LandscapeSummary.from_dict(s["summary"]) for s in (plain, res))
    assert S.paper_direction(p, r) == key
    assert f"paper_deep_{key}" in _keys(R.landscape_sentences([plain, res]))


def test_landscape_sentences() -> None:
    plain, res = _surface("plain56", 0.5, at_half=20.0), _surface("resnet56", 0.1, at_half=2.0)
    rise, convex, paper, caveats = R.landscape_sentences([plain, res])
    assert rise.args["steeper"] == R.net_name(ExperimentNet(56, True)) and rise.args["ratio"] == "10"
    assert convex.args["p_share"] == "50.0%" and caveats.args == {"width": 16, "paper_width": ls.PAPER_WIDTH}
    shallow = R.landscape_sentences([_surface("plain20", 0.5, at_half=None), _surface("resnet20", 0.1)])
    assert _keys(shallow) == ["read_convex", "paper_shallow", "read_caveats"]  # no distance 0.5: no rise
    assert R.landscape_sentences([plain]) == []  # not a pair


def test_landscape_summary_keeps_the_json_form() -> None:
    grid = _surface("plain56", 0.5)["summary"]
    assert list(grid) == [
        "origin_loss",
        "at_distance",
        "max_loss",
        "nonconvex_share",
        "clearly_nonconvex_share",
        "points_tested",
    ]
    assert ls.LandscapeSummary.from_dict(grid).to_dict() == grid
    line = ls.LandscapeSummary(origin_loss=1.0, at_distance={"0.25": None}, max_loss=2.0)
    assert line.to_dict() == {"origin_loss": 1.0, "at_distance": {"0.25": None}, "max_loss": 2.0}


# ------------------------------------------------------------------------------------------------ the shipped files


def test_the_reader_says_none_for_absent_or_broken_files(tmp_path: Path) -> None:
    assert shipped.degradation(tmp_path) is None and shipped.removal(tmp_path) is None
    assert shipped.gradient_steps(tmp_path) is None and shipped.landscapes(tmp_path) == {}
    (tmp_path / paths.REMOVAL_FILE).write_text("{not json", encoding="utf-8")
    assert shipped.removal(tmp_path) is None
    paths.landscape_path("plain56", tmp_path).write_text(json.dumps({"net": "plain56"}), encoding="utf-8")
    assert shipped.landscape("plain56", tmp_path) is None  # no losses: not a surface
    assert shipped.landscape("vgg16", tmp_path) is None  # not a network name
    assert shipped.weights_sha256("resnet56", tmp_path) is None and shipped.trained_nets(tmp_path) == []
    with pytest.raises(OSError):
        shipped.training_config(tmp_path)


def test_the_reader_reads_the_shipped_files() -> None:
    if not (paths.CURVES_DIR / paths.REMOVAL_FILE).exists():
        pytest.skip("the shipped curves are not in this checkout")
    removal = shipped.removal()
    assert removal == json.loads((paths.CURVES_DIR / paths.REMOVAL_FILE).read_text(encoding="utf-8"))
    assert {S.removal_summary(removal)[k].net.label for k in removal["nets"]} == set(removal["nets"])
    assert shipped.training_config() == ls.shipped_config()
    for net, surface in shipped.landscapes().items():
        assert ExperimentNet.parse(surface["net"]) == net
        assert shipped.weights_sha256(net) == surface["weights_sha256"]
