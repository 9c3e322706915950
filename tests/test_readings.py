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
        "why_residual.rm_res_some_large",
        {
            "net": R.net_name(ExperimentNet(56, False)),
            "small": 3,
            "blocks": 4,
            "thr": "2.0",
            "thr_images": "20",
            "n_test": "1,000",
            "worst": ["a", "b"],
            "metric": R.metric_name("top1_error"),
        },
        then=(Sentence("why_residual.rm_plain_rest", {"rest": 1, "lo": "1%", "hi": "2%"}),),
    )
    en, zh = say(EN, s, "en"), say(ZH, s, "zh")
    assert "⟦" not in en + zh  # the keys exist in both languages
    assert en == EN(
        s.key,
        net=EN("why_residual.run_resnet", depth=56),
        small=3,
        blocks=4,
        thr="2.0",
        thr_images="20",
        n_test="1,000",
        worst="a, b",
        metric=EN("why_residual.metric_top1_error"),
    ) + (" " + EN("why_residual.rm_plain_rest", rest=1, lo="1%", hi="2%"))
    assert zh == ZH(
        s.key,
        net=ZH("why_residual.run_resnet", depth=56),
        small=3,
        blocks=4,
        thr="2.0",
        thr_images="20",
        n_test="1,000",
        worst="a、b",
        metric=ZH("why_residual.metric_top1_error"),
    ) + (ZH("why_residual.rm_plain_rest", rest=1, lo="1%", hi="2%"))
    assert say(EN, Sentence("why_residual.deg_one_seed")) == EN("why_residual.deg_one_seed")


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
        "settings": {"num_classes": 10, "n_test": 1000, "epochs": 2, "n_train": 300, "batch_size": 128},
        "depth": 8,
        "width": 4,
        "nets": {"resnet-8": sweep(res_base, res_blocks), "plain-8": sweep(plain_base, plain_blocks)},
    }


def test_the_residual_reading_on_every_branch() -> None:
    plain = {"layer1.0": 0.9}
    hardly = S.removal_summary(_removal({"layer1.0": 0.11, "layer1.1": 0.119}, plain))["resnet-8"]
    hurt = S.removal_summary(_removal({"layer1.0": 0.11, "layer1.1": 0.119, "layer2.0": 0.3}, plain))[
        "resnet-8"
    ]
    assert hardly.hardly_notices and not hurt.hardly_notices
    assert hardly.net == ExperimentNet(8, plain=False)
    sentences = R.removal_reading({"resnet-8": hardly})
    assert _keys(sentences) == ["rm_res_all_small"]
    assert [say(EN, w) for w in sentences[0].args["worst"]] == ["layer1.1 (+1.9 pp)", "layer1.0 (+1.0 pp)"]
    assert sentences[0].args["thr_images"] == "20" and sentences[0].args["n_test"] == "1,000"
    (hurt_sentence,) = R.removal_reading({"resnet-8": hurt})
    assert hurt_sentence.key.endswith("rm_res_some_large") and hurt_sentence.args["small"] == 2
    none = S.removal_summary(_removal({"layer1.0": 0.1, "layer1.1": 0.09}, {}))
    assert _keys(R.removal_reading(none)) == ["rm_res_reading_none"]


def test_a_sweep_where_nothing_hurts_names_no_block() -> None:
    summaries = S.removal_summary(_removal({"layer1.0": 0.1, "layer1.1": 0.09}, {"layer1.0": 0.2}))
    assert _keys(R.removal_sentences(summaries))[:3] == [
        "rm_summary_none",
        "rm_summary_none",
        "rm_res_reading_none",
    ]
    # no deletion raises the error; some may lower it, so "stays at" would be false
    none = R.removal_sentences(summaries)[0]
    assert "does not raise" in say(EN, none) and "都不会高于" in say(ZH, none, "zh")


def test_plain_reading_adds_the_rest_only_where_some_reach_chance() -> None:
    near = S.removal_summary(_removal({"layer1.0": 0.2}, {"layer1.0": 0.89, "layer1.1": 0.5}))
    (plain,) = [s for s in R.removal_reading(near) if s.key.endswith("rm_plain_reading")]
    assert plain.args["near"] == 1 and [t.key for t in plain.then] == ["why_residual.rm_plain_rest"]
    assert plain.then[0].args == {"rest": 1, "lo": "50.0%", "hi": "50.0%"}
    far = S.removal_summary(_removal({"layer1.0": 0.2}, {"layer1.0": 0.5}))
    (plain,) = [s for s in R.removal_reading(far) if s.key.endswith("rm_plain_reading")]
    assert plain.args["near"] == 0 and plain.then == ()


@pytest.mark.parametrize(
    ("plain", "key"),
    [
        ({"layer1.0": 0.9}, "rm_plain_reading"),  # +70 points on average: another matter
        ({"layer1.0": 0.201}, "rm_plain_reading"),  # one image more is a rise
        ({"layer1.0": 0.2}, "rm_plain_reading_flat"),  # no change
        ({"layer1.0": 0.19}, "rm_plain_reading_flat"),  # a fall
    ],
)
def test_plain_reading_calls_plain_another_matter_only_where_deletions_cost_it(plain: dict, key: str) -> None:
    summaries = S.removal_summary(_removal({"layer1.0": 0.1}, plain))
    (reading,) = [s for s in R.removal_reading(summaries) if "rm_plain_reading" in s.key]
    assert reading.key.endswith(key)
    en, zh = say(EN, reading, "en"), say(ZH, reading, "zh")
    assert ("another matter" in en) == ("完全不同" in zh) == (key == "rm_plain_reading")


def test_plain_trained_worse_at_the_tolerance() -> None:
    worse = S.removal_summary(_removal({"layer1.0": 0.2}, {"layer1.0": 0.9}, res_base=0.1, plain_base=0.105))
    level = S.removal_summary(_removal({"layer1.0": 0.2}, {"layer1.0": 0.9}, res_base=0.1, plain_base=0.104))
    assert S.plain_trained_worse(worse["plain-8"], worse["resnet-8"])  # 5 of 1,000 images: the tolerance
    assert not S.plain_trained_worse(level["plain-8"], level["resnet-8"])
    assert "rm_weaker" in _keys(R.removal_reading(worse)) and "rm_weaker" not in _keys(
        R.removal_reading(level)
    )


@pytest.mark.parametrize(
    ("res", "plain", "keys"),
    [
        (
            {"layer1.0": 0.119, "layer2.0": 0.5},
            {"layer1.0": 0.9},
            ["rm_veit_plain_more", "rm_veit_res_holds"],
        ),
        ({"layer1.0": 0.5}, {"layer1.0": 0.21}, ["rm_veit_plain_not_more", "rm_veit_res_fails"]),
        ({"layer1.0": 0.16}, {"layer1.0": 0.9}, ["rm_veit_plain_more", "rm_veit_res_fails"]),
    ],
)
def test_veit_is_read_in_two_halves(res: dict, plain: dict, keys: list[str]) -> None:
    removal = _removal(res, plain)
    sentences = R.removal_sentences(S.removal_summary(removal), removal)
    assert _keys(sentences)[-3:] == [*keys, "rm_width"]
    if "rm_veit_res_fails" in keys:
        fails = next(s for s in sentences if s.key.endswith("rm_veit_res_fails"))
        assert fails.args["block"] == "layer1.0" and fails.args["bound"] == S.SMALL_RISE_PP
        assert (fails.args["k"], fails.args["n"]) == (1, 1)
    width = sentences[-1].args
    assert (width["width"], width["depth"], width["paper_width"], width["veit_depth"]) == (4, 8, 16, 110)
    assert (width["steps"], width["paper_steps"]) == ("6", "64,000")  # 2 epochs × ⌈300 / 128⌉ batches


@pytest.mark.parametrize(
    ("res", "plain", "key", "opening", "first_key"),
    [
        (
            {"layer1.0": 0.119, "layer2.0": 0.5},
            {"layer1.0": 0.9},
            "rm_veit_res_holds",
            "rm_veit_other_also",
            "rm_veit_plain_more",
        ),
        (
            {"layer1.0": 0.119, "layer2.0": 0.5},
            {"layer1.0": 0.21},
            "rm_veit_res_holds",
            "rm_veit_other_does",
            "rm_veit_plain_not_more",
        ),
        (
            {"layer1.0": 0.1, "layer1.1": 0.09},
            {"layer1.0": 0.9},
            "rm_veit_res_untouched",
            "rm_veit_other_also",
            "rm_veit_plain_more",
        ),
        (  # both mean changes below 0 (−0.5 and −1.0 points): neither net's error rises on average
            {"layer1.0": 0.1, "layer1.1": 0.09},
            {"layer1.0": 0.19},
            "rm_veit_res_untouched",
            "rm_veit_other_does",
            "rm_veit_no_rise",
        ),
        (  # the plain net's mean change is the larger (−0.1 against −0.5 points), but no rise either
            {"layer1.0": 0.095},
            {"layer1.0": 0.199},
            "rm_veit_res_untouched",
            "rm_veit_other_does",
            "rm_veit_no_rise",
        ),
    ],
)
def test_the_other_half_is_worded_from_both_predicates(
    res: dict, plain: dict, key: str, opening: str, first_key: str
) -> None:
    """ "As well" only after a first half that held; "the same bound as above" only where the residual reading
    above stated a bound (it states none where no deletion raised the error); "raises … on average" only where
    some net's mean change is a rise."""
    summaries = S.removal_summary(_removal(res, plain))
    first, other = R.veit_comparison(summaries)
    assert first.key.endswith(first_key)
    first_en, first_zh = say(EN, first, "en"), say(ZH, first, "zh")
    no_rise = first_key == "rm_veit_no_rise"
    assert ("of neither network" in first_en) == ("不会使任何一个网络" in first_zh) == no_rise
    assert other.key.endswith(key) and other.args["opening"].key.endswith(opening)
    en, zh = say(EN, other, "en"), say(ZH, other, "zh")
    assert ("as well" in en) == ("也成立" in zh) == opening.endswith("also")
    stated = any(
        s.key.endswith(("rm_res_all_small", "rm_res_some_large")) for s in R.removal_reading(summaries)
    )
    assert ("as above" in en) == ("与上面" in zh) == stated == key.endswith("holds")


def test_veit_fails_counts_every_noticed_solid_block_with_the_one_bound() -> None:
    """Not only the worst: how many blocks that do not down-sample are noticed, by the same bound as "hardly
    noticed" (a rise of exactly SMALL_RISE_PP points is noticed, 1 image less is not)."""
    res = {"layer1.0": 0.12, "layer1.1": 0.119, "layer1.2": 0.5, "layer2.0": 0.9, "layer2.1": 0.1}
    removal = _removal(res, {"layer1.0": 0.9})
    summaries = S.removal_summary(removal)
    fails = next(s for s in R.veit_comparison(summaries) if s.key.endswith("rm_veit_res_fails"))
    assert (fails.args["k"], fails.args["n"], fails.args["block"], fails.args["rise"]) == (
        2,
        4,
        "layer1.2",
        "40.0",
    )
    reading = next(s for s in R.removal_reading(summaries) if s.key.endswith("rm_res_some_large"))
    assert reading.args["small"] == 2 and reading.args["thr"] == fails.args["bound"]  # the one bound, both


def test_the_deletion_sentences_name_their_metric_and_weaker_is_top1_only() -> None:
    """In top-5 mode every deletion sentence says "top-5" (the seed note above it quotes top-1 errors), and "the
    plain net trained worse" is not read off top-5 errors."""
    removal = _removal({"layer1.0": 0.2, "layer1.1": 0.5}, {"layer1.0": 0.9}, res_base=0.1, plain_base=0.2)
    for sweep in removal["nets"].values():
        sweep["baseline"]["top5_error"] = sweep["baseline"]["top1_error"] / 2
        for r in sweep["blocks"].values():
            r["top5_error"] = r["top1_error"] / 2
    top1 = R.removal_sentences(S.removal_summary(removal, "top1_error"), removal)
    top5 = R.removal_sentences(S.removal_summary(removal, "top5_error"), removal)
    assert "rm_weaker" in _keys(top1) and "rm_weaker" not in _keys(top5)
    for lang, tr, unit in (("en", EN, " pp"), ("zh", ZH, " 个百分点")):
        for s in top5:
            if not s.key.endswith("rm_width"):
                text = say(tr, s, lang)
                assert "top-5" in text and "top-1" not in text, text
        raises = say(tr, top1[0], lang).split(unit)[0]  # up to the first rise: "raises … by up to 40.0"
        assert raises.endswith("40.0") and "+" not in raises


def test_removal_seed_sentence_only_where_there_are_seeds_to_tell_apart() -> None:
    def run(plain: bool, finals: list[float]) -> dict:
        curves = [[0.9, f] for f in finals]
        mean = [0.9, sum(finals) / len(finals)]
        label = f"{'plain' if plain else 'resnet'}-8"
        return {"label": label, "plain": plain, "depth": 8, "train_error": mean, "test_error": mean,
                "per_seed": {"train_error": curves, "test_error": curves}}  # fmt: skip

    degradation = {"seeds": [0, 1], "runs": [run(True, [0.4, 0.2]), run(False, [0.05, 0.03])]}
    removal = _removal({"layer1.0": 0.1}, {"layer1.0": 0.9}) | {"settings": {"seed": 0, "n_test": 1000}}
    sentence = R.removal_seed_sentence(degradation, removal)
    assert sentence.args["res_seed"] == "5.0%" and sentence.args["plain_mean"] == "30.0%"
    assert "0, 1:" in say(EN, sentence, "en") and "0、1" in say(
        ZH, sentence, "zh"
    )  # the language's separator
    assert R.removal_seed_sentence({"seeds": [0], "runs": degradation["runs"]}, removal) is None


def test_shipped_devices_are_code_spans() -> None:
    """A device as its record names it ("cuda (NVIDIA H200)") stands in a code span, so its half-width brackets
    are not read as part of a zh sentence's punctuation."""
    data = {
        "device": "cuda (NVIDIA H200)",
        "runs": [],
        "settings": {"width": 4, "n_train": 10, "n_test": 5, "epochs": 1},
    }
    caption = R.degradation_caption(data)
    assert caption.args["device"] == "`cuda (NVIDIA H200)`"
    assert "在 `cuda (NVIDIA H200)` 上" in say(ZH, caption, "zh")
    assert R.reproduce_sentence(data).args["device"] == "`cuda (NVIDIA H200)`"


def test_deletion_caption() -> None:
    cap = R.deletion_caption({"settings": {"dataset": "pairs", "n_test": 1000}})
    assert cap.args == {"n_test": "1,000", "classes": 20, "chance5": "75.0%"}
    assert "随机猜测的误差为 75.0%" in say(ZH, cap, "zh")  # the error of guessing, with no "only" (也只有)


# ------------------------------------------------------------------------------------------------ landscapes


def _surface(net: str, nonconvex: float, at_half: float | None = 2.0, width: int = 16) -> dict:
    summary = ls.LandscapeSummary(
        origin_loss=0.05,
        at_distance={"0.25": 1.0, "0.5": at_half, "1": 9.0},
        max_loss=10.0,
        nonconvex_share=nonconvex,
        clearly_nonconvex_share=nonconvex / 2,
        points_tested=100,
    )
    training = {"width": width, "dataset": "pairs"}
    return {"net": net, "summary": summary.to_dict(), "settings": {"training": training}}


@pytest.mark.parametrize(
    ("plain_share", "key"), [(0.5, "as"), (0.35, "level"), (0.25, "level"), (0.24, "unlike")]
)
def test_paper_direction_around_its_level(plain_share: float, key: str) -> None:
    plain, res = _surface("plain56", plain_share), _surface("resnet56", 0.3)
    p, r = (ls.LandscapeSummary.from_dict(s["summary"]) for s in (plain, res))
    assert S.paper_direction(p, r) == key  # 5 points of 100 either way is still level
    assert f"paper_deep_{key}" in _keys(R.landscape_sentences([plain, res]))


def test_landscape_sentences() -> None:
    plain, res = _surface("plain56", 0.5, at_half=20.0), _surface("resnet56", 0.1, at_half=2.0)
    rise, convex, paper, absolute, caveats = R.landscape_sentences([plain, res])
    assert rise.args["steeper"] == R.net_name(ExperimentNet(56, True)) and rise.args["ratio"] == "10"
    assert convex.args["p_share"] == "50.0%" and caveats.args == {"width": 16, "paper_width": ls.PAPER_WIDTH}
    assert (
        absolute.key.endswith("read_bowl") and absolute.args["count"] == 10 and absolute.args["classes"] == 20
    )
    shallow = R.landscape_sentences([_surface("plain20", 0.5, at_half=None), _surface("resnet20", 0.1)])
    assert _keys(shallow) == ["read_convex", "paper_shallow", "read_bowl", "read_caveats"]  # no rise at 0.5
    assert R.landscape_sentences([plain]) == []  # not a pair


@pytest.mark.parametrize(
    ("share", "at_half", "key"),
    [
        (0.1, 2.0, "read_bowl"),
        (0.11, 2.0, "read_not_bowl_nonconvex"),  # only the convexity test fails
        (0.05, 24.3, "read_not_bowl_loss"),  # only the loss test fails
        (0.5, 24.3, "read_not_bowl"),  # both fail
        (0.05, None, None),
    ],
)
def test_the_residual_surface_is_called_a_bowl_only_when_it_is_one(share, at_half, key) -> None:
    surface = _surface("resnet56", share, at_half=at_half)
    got = R.landscape_absolute(surface, ls.LandscapeSummary.from_dict(surface["summary"]))
    assert (got.key.split(".")[1] if got else None) == key
    if key in ("read_not_bowl", "read_not_bowl_loss"):
        assert got.args["times"] == "8.1" and got.args["chance"] == "3.00"  # 24.3 ÷ ln 20
    if key is not None:  # the threshold, from code, in the sentence; "far from nearly convex" nowhere
        for lang, tr in (("en", EN), ("zh", ZH)):
            text = say(tr, got, lang)
            assert f"{S.BOWL_NONCONVEX_MAX_PCT}%" in text and "far from" not in text and "远不是" not in text
    if key == "read_not_bowl_loss":  # what a bowl's loss must be is this page's test, not a fact about bowls
        assert "this page's test for a bowl asks for a loss below it" in say(EN, got, "en")
        assert "本页判定“碗”时要求那里的损失低于它" in say(ZH, got, "zh")


def test_not_a_bowl_claims_nothing_the_other_sentences_do_not_show() -> None:
    """Its heading is true whatever the pair shows: even where the residual surface is the *more* non-convex one
    (paper_deep_unlike), it does not call it "less chaotic"."""
    plain, res = _surface("plain56", 0.2, at_half=20.0), _surface("resnet56", 0.5, at_half=20.0)
    sentences = R.landscape_sentences([plain, res])
    assert {"paper_deep_unlike", "read_not_bowl"} <= set(_keys(sentences))
    for lang, tr in (("en", EN), ("zh", ZH)):
        text = say(tr, next(s for s in sentences if s.key.endswith("read_not_bowl")), lang)
        assert "less chaotic" not in text.lower() and "不那么杂乱" not in text


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


# ------------------------------------------------------------------------------------------------ the rest


def test_candidate_sentences_say_all_or_some() -> None:
    def cand(p20, p56, r20, r56):
        return {"final_train_error": {"plain-20": p20, "plain-56": p56, "resnet-20": r20, "resnet-56": r56},
                "resnet_seed_spread": 0.001, "settings": {}}  # fmt: skip

    everywhere = {
        "candidates": {
            "chosen": "A",
            "tried": {"A": cand(0.1, 0.3, 0.05, 0.038), "B": cand(0.1, 0.2, 0.05, 0.048)},
        }
    }
    rule, plain, res = R.candidate_sentences(everywhere)
    assert rule.args["n"] == 2 and rule.args["met"] == 1 and rule.args["met_names"] == ["A"]
    assert plain.key.endswith("deg_cand_plain_all") and plain.args["range"] == "10–20"
    assert res.key.endswith("deg_cand_res_all") and [t.key for t in res.then] == [
        "why_residual.deg_cand_res_level"
    ]  # both gaps (1.2 and 0.2 points) exceed the 0.1-point spread: no "by less than the spread"
    within = {"candidates": {"chosen": "A", "tried": {
        "A": cand(0.1, 0.3, 0.05, 0.038) | {"resnet_seed_spread": 0.02},  # 1.2 < 2 points
        "B": cand(0.1, 0.2, 0.06, 0.03),  # 3 > 0.1 points
    }}}  # fmt: skip
    _, _, res = R.candidate_sentences(within)
    assert [t.key for t in res.then] == ["why_residual.deg_cand_res_spread"]
    assert res.then[0].args == {"k": 1, "n": 2, "names": ["A"]}
    somewhere = {
        "candidates": {
            "chosen": "A",
            "tried": {"A": cand(0.1, 0.3, 0.05, 0.038), "B": cand(0.2, 0.1, 0.04, 0.05)},
        }
    }
    _, plain, res = R.candidate_sentences(somewhere)
    assert plain.key.endswith("deg_cand_plain_some") and plain.args["k"] == 1
    assert res.key.endswith("deg_cand_res_some") and res.then == ()
    assert R.candidate_sentences({"runs": []}) == []


def test_reproduce_sentence_names_the_widest_seed_spread_or_says_there_is_one_seed() -> None:
    run = _run(True, 56, [0.5, 0.4])
    run["per_seed"] = {"train_error": [[0.5, 0.3], [0.5, 0.5]], "test_error": [[0.5, 0.3], [0.5, 0.5]]}
    several = R.reproduce_sentence(
        {"device": "cuda", "jobs": 12, "torch": "2.x", "runs": [run, _run(True, 20, [0.5, 0.1])]}
    )
    assert (
        several.key.endswith("deg_reproduce")
        and several.args["spread"] == "20.0"
        and several.args["seeds"] == 2
    )
    one = R.reproduce_sentence({"runs": [_run(True, 20, [0.5, 0.1])]})
    assert one.key.endswith("deg_reproduce_one_seed")


def test_gradient_steps_reading_follows_the_course() -> None:
    def record(one: float, last: float) -> dict:
        kind = {
            "grad": [[100.0, 1.0], [one, 1.0], [last, 1.0]],
            "conv1_weight": [1.0, 5.0, 6.0],
            "loss": [1.0] * 3,
        }
        return {"settings": {"steps": [0, 1, 100], "depth": 20}, "per_seed": [{"seed": 0, "plain": kind, "residual": kind}]}  # fmt: skip

    assert _keys(R.gradient_steps_reading(record(0.5, 0.01))) == [
        "course_fades",
        "stays_starved",
        "who_argues",
    ]
    # beside the plain net's starved input side, the residual net's own ratio there: low too, or not
    starved = R.gradient_steps_reading(record(0.5, 0.01))[1]
    assert [t.key for t in starved.then] == ["why_residual_training.res_also_low"]  # the same curves: 0.01
    (also_low,) = starved.then
    assert (also_low.args["k"], also_low.args["n"]) == (1, 1)
    assert "does not tie it to the explosion" in say(EN, also_low)
    assert [t.key for t in also_low.then] == ["why_residual_training.plain_not_below_res"]  # equal, not below
    healthy = record(0.5, 0.01)
    healthy["per_seed"][0]["residual"] = {
        "grad": [[5.0, 1.0]] * 3,
        "conv1_weight": [1.0] * 3,
        "loss": [1.0] * 3,
    }
    fades_healthy, starved = R.gradient_steps_reading(healthy)[:2]
    assert [t.key for t in starved.then] == ["why_residual_training.res_not_low"]
    assert (starved.args["plain_ff"], starved.args["res_ff"], starved.args["res_ff0"]) == ("0.01", "5", "5")
    # the residual net's own ratio at initialisation, beside the faded explosion: 5 is below the bound, 100 not
    assert [t.key for t in fades_healthy.then] == ["why_residual_training.res_init_below"]
    (reaches,) = R.gradient_steps_reading(record(0.5, 0.01))[0].then
    assert reaches.key.endswith("res_init_reaches") and (reaches.args["k"], reaches.args["n"]) == (1, 1)
    # and after the first step: below the bound here (0.5), at it in a seed whose residual ratio stays at 10
    assert [t.key for t in reaches.then] == ["why_residual_training.res_one_below"]
    stays = record(0.5, 0.01)
    stays["per_seed"][0]["residual"] = {
        "grad": [[100.0, 1.0], [10.0, 1.0], [0.01, 1.0]],
        "conv1_weight": [1.0] * 3,
    }
    (res_init,) = R.gradient_steps_reading(stays)[0].then
    (one,) = res_init.then
    assert one.key.endswith("res_one_reaches") and (one.args["k"], one.args["n"]) == (1, 1)
    assert "at or above 10× in 1 of 1 seeds" in say(EN, one) and "有 1 个不低于 10 倍" in say(ZH, one, "zh")
    assert "what fades is plain-20's explosion" in say(EN, one)
    for lang, tr in (("en", EN), ("zh", ZH)):
        assert "only" not in say(tr, reaches, lang) and "只有" not in say(tr, reaches, lang)
    # the residual net ends low in a seed, but above the plain net's whole range
    above = record(0.5, 0.01)
    above["per_seed"] = [
        {
            **above["per_seed"][0],
            "residual": {"grad": [[5.0, 1.0], [5.0, 1.0], [0.05, 1.0]], "conv1_weight": [1.0] * 3},
        }
    ]
    (also_low,) = R.gradient_steps_reading(above)[1].then
    assert also_low.key.endswith("res_also_low")
    assert [t.key for t in also_low.then] == ["why_residual_training.plain_below_res"]
    assert _keys(R.gradient_steps_reading(record(0.5, 0.5))) == [
        "course_fades",
        "stays_not_starved",
        "who_argues",
    ]
    not_starved = R.gradient_steps_reading(record(0.5, 0.5))[1]
    assert "in at least one seed" in say(EN, not_starved) and "至少在一个随机种子中" in say(
        ZH, not_starved, "zh"
    )
    assert _keys(R.gradient_steps_reading(record(50.0, 0.01))) == ["course_persists", "who_argues"]
    fades = R.gradient_steps_reading(record(0.5, 0.01))[0]
    assert fades.args["ratio"] == S.EXPLOSION_RATIO and fades.args["step_one"] == 1
    differ = R.gradient_sections_differ(
        record(0.5, 0.01) | {"settings": {"depth": 56, "batch_size": 16, "dataset": "pairs"}},
        16,
        (0, 1, 2, 3),
    )
    assert (
        differ.args["classes"] == 20 and differ.args["live_classes"] == 10 and differ.args["live_seeds"] == 4
    )


def test_shipped_gradient_steps_are_read_seed_by_seed() -> None:
    """The shipped record: ResNet-56 ends below 1/10 in a count of seeds (not "some"), plain-56's whole range lies
    below its lowest seed, and at initialisation it reaches the explosion bound in the seeds it does."""
    record = shipped.gradient_steps()
    s = S.gradient_steps_summary(record)
    fades, starved = R.gradient_steps_reading(record)[:2]
    (res_init,) = fades.then
    assert res_init.args["k"] == S.residual_explosion_seeds(s) and res_init.args["n"] == len(
        record["per_seed"]
    )
    assert res_init.key.endswith("res_init_reaches" if S.residual_explosion_seeds(s) else "res_init_below")
    (one,) = res_init.then
    assert one.args["k"] == S.residual_explosion_seeds_after_step(s)
    assert one.key.endswith(
        "res_one_reaches" if S.residual_explosion_seeds_after_step(s) else "res_one_below"
    )
    (also_low,) = starved.then
    assert also_low.key.endswith("res_also_low") and also_low.args["k"] == S.residual_low_seeds(s)
    assert [t.key for t in also_low.then] == ["why_residual_training.plain_below_res"]
    en = say(EN, starved)
    assert f"in {S.residual_low_seeds(s)} of {len(s.seeds)} seeds" in en and "in some seed" not in en


@pytest.mark.parametrize(
    ("plain", "residual", "keys"),
    [
        (
            (1000.0, 1.0, 1.0),
            (1.0, 20.0, 1.0),
            ["grad_reading_explodes", "grad_res_below", "grad_res_far", "grad_reading_rest"],
        ),
        (
            (1000.0, 1.0, 1.0),
            (12.0, 1.0, 1.0),  # the residual net's first layer at 12× its last conv: the bound reached
            ["grad_reading_explodes", "grad_res_reaches", "grad_res_far", "grad_reading_rest"],
        ),
        (
            (15.0, 1.0, 1.0),
            (1.0, 8.0, 1.0),
            ["grad_reading_explodes", "grad_res_below", "grad_res_less", "grad_reading_rest"],
        ),
        (
            (9.8, 1.0, 1.0),
            (1.0, 4.5, 1.0),
            ["grad_reading_grows", "grad_res_below", "grad_res_less", "grad_reading_rest"],
        ),
        (
            (9.8, 1.0, 1.0),
            (1.0, 20.0, 1.0),  # the residual spread (20) above the plain one (9.8)
            ["grad_reading_grows", "grad_res_below", "grad_res_more", "grad_reading_rest"],
        ),
        (
            (0.5, 1.0, 1.0),
            (1.0, 2.0, 1.0),
            ["grad_reading_not", "grad_res_below", "grad_res_overlap", "grad_reading_rest"],
        ),
    ],
)
def test_gradient_flow_reading_is_worded_by_the_measured_ratios(plain, residual, keys) -> None:
    from types import SimpleNamespace as Flow

    reading = R.gradient_flow_reading([Flow(plain=plain, residual=residual)])
    assert [reading.key.split(".")[1], *(t.key.split(".")[1] for t in reading.then)] == keys
    en, zh = say(EN, reading), say(ZH, reading, "zh")
    assert ("**explodes**" in en) == ("**爆炸**" in zh) == (keys[0] == "grad_reading_explodes")
    if keys[0] == "grad_reading_not":  # not "does not grow … in every seed", which reads as "in no seed"
        assert "in at least one seed the plain network's gradient does not grow" in en
        assert "至少在一个随机种子中普通网络的梯度没有朝输入方向增大" in zh
    bound_en, bound_zh = say(EN, reading.then[0]), say(ZH, reading.then[0], "zh")
    reaches = keys[1] == "grad_res_reaches"
    assert ("in 1 of 1 seeds" in bound_en) == ("有 1 个" in bound_zh) == reaches
    assert ("in every seed" in bound_en) == ("每个随机种子中都低于" in bound_zh) == (not reaches)
    res_en, res_zh = say(EN, reading.then[1]), say(ZH, reading.then[1], "zh")
    assert (
        ("more than the plain" in res_en) == ("反而比普通网络更大" in res_zh) == (keys[2] == "grad_res_more")
    )
    far = keys[2] == "grad_res_far"
    assert (
        ("far less" in res_en.split("which this page")[0]) == ("小得多" in res_zh.split("本页只有")[0]) == far
    )


def test_gradient_flow_numbers_use_the_magnitude_formatter_and_projections_only_where_there_are_some() -> (
    None
):
    from types import SimpleNamespace as Flow

    def flow(arch: str) -> Flow:
        return Flow(
            arch=arch,
            seed=0,
            batch_size=16,
            input_size=32,
            plain=(1250.3, 3.0, 0.37),
            residual=(2.0, 1.0, 0.5),
        )

    summary, _ = R.gradient_flow_sentences([flow("resnet56")], "ResNet-56")
    assert summary.args["plain_first"] == "1,250" and summary.args["plain_spread"] == "3,379"
    assert "e+" not in say(EN, summary)
    cifar = R.gradient_method([flow("resnet56"), flow("resnet56")], "ResNet-56")
    imagenet = R.gradient_method([flow("resnet34")], "ResNet-34")
    assert cifar.then == () and [t.key for t in imagenet.then] == ["why_residual.grad_method_projections"]
    assert "0、0" in say(ZH, cifar, "zh") and "0, 0" in say(EN, cifar, "en")


def test_identity_sentence_says_every_block_outputs_its_shortcut_only_when_measured_so() -> None:
    from types import SimpleNamespace as Row

    zero = [
        Row(
            name="layer1.0", input_norm=10.0, residual_norm=0.0, output_minus_shortcut=0.0, shortcut_norm=10.0
        )
    ]
    default = [
        Row(name="layer1.0", input_norm=10.0, residual_norm=4.0, output_minus_shortcut=3.0, shortcut_norm=8.0)
    ]
    ok = R.identity_sentence(zero, default)
    assert ok.key.endswith("id_result") and ok.args["typical"] == "4" and ok.args["typical_s"] == "8"
    broken = zero + [
        Row(name="layer2.0", input_norm=5.0, residual_norm=1.0, output_minus_shortcut=0.5, shortcut_norm=5.0)
    ]
    not_ok = R.identity_sentence(broken, default)
    assert not_ok.key.endswith("id_result_not") and not_ok.args["where"] == "layer2.0"


def test_live_intro_and_remedies_take_their_numbers_from_code() -> None:
    from resnet_viz.experiments import LIVE_CONFIG, paper

    intro = R.live_intro(
        LIVE_CONFIG,
        {"settings": {"dataset": "pairs", "width": 4, "n_train": 20000, "epochs": 12}},
        "cpu",
        103,
    )
    assert intro.args["data"].key.endswith(f"data_short_{LIVE_CONFIG.dataset}")
    assert (
        intro.args["shipped_data"].key.endswith("data_short_pairs")
        and intro.args["shipped_n_train"] == "20,000"
    )
    remedies = R.remedies().args
    assert remedies["e1202"] == f"{paper.HE2015_TABLE6_ERROR_PCT[1202]:.2f}%" and remedies["e110"] == "6.43%"
    for lang, tr in (("en", EN), ("zh", ZH)):
        assert "7.93%" in say(tr, R.remedies(), lang)


@pytest.mark.parametrize(
    ("res", "plain", "first_key"),
    [
        # ResNet's mean change is a rise (+5.0 points), plain-8's a fall (−1.0): not "at least as much as plain-8's"
        ({"layer1.0": 0.15}, {"layer1.0": 0.19}, "rm_veit_res_only"),
        # plain-8's mean rise is 1 image in 3,000 (0.03 points, shown as 0.0): not a rise the page can show
        ({"layer1.0": 0.1}, {"layer1.0": 0.201, "layer1.1": 0.2, "layer1.2": 0.2}, "rm_veit_no_rise"),
        # … and at 1 image in 1,000 (0.1 points) it is one
        ({"layer1.0": 0.1}, {"layer1.0": 0.201}, "rm_veit_plain_more"),
    ],
)
def test_a_mean_change_is_called_a_rise_only_where_the_page_shows_one(
    res: dict, plain: dict, first_key: str
) -> None:
    first, _ = R.veit_comparison(S.removal_summary(_removal(res, plain)))
    assert first.key.endswith(first_key)
    en, zh = say(EN, first, "en"), say(ZH, first, "zh")
    if first_key == "rm_veit_res_only":
        assert "but not that of" in en and "却不会使" in zh and "−1.0" in en and "+5.0" in en
