"""The numbers and comparisons the Why residual page's sentences are formatted from (resnet_viz.experiments.summaries,
resnet_viz.architecture.counting): on small hand-made records whose answers are known, and on the shipped files,
where the answers are recounted here independently of the summary code."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from resnet_viz import paths, trace
from resnet_viz.architecture import counting
from resnet_viz.experiments import summaries as S
from resnet_viz.experiments.config import DATASETS
from resnet_viz.experiments.landscape import LandscapeSummary
from resnet_viz.formatting import fmt_range


def _run(
    plain: bool, depth: int, train: list[float], test: list[float] | None = None, seed: int | None = None
):
    run = {"label": f"{'plain' if plain else 'resnet'}-{depth}", "depth": depth, "plain": plain}
    run |= {"train_error": train, "test_error": test if test is not None else train}
    if seed is not None:
        run["seed"] = seed
    return run


def test_mean_runs_averages_over_seeds_and_reports_the_spread() -> None:
    data = {
        "runs": [
            _run(False, 20, [0.5, 0.2, 0.10], seed=0),
            _run(False, 20, [0.7, 0.4, 0.14], seed=1),
            _run(
                False, 20, [0.6, 0.3], seed=2
            ),  # stopped early: the mean covers the epochs every seed finished
            _run(False, 56, [0.8, 0.1, 0.05], seed=0),
        ]
    }
    by_depth = {r.depth: r for r in S.mean_runs(data)}
    r20 = by_depth[20]
    assert r20.seeds == 3 and len(r20.train_error) == 2
    assert r20.train_error == pytest.approx([0.6, 0.3])
    assert r20.final_train_spread == pytest.approx(0.4 - 0.2)
    assert by_depth[56].seeds == 1 and by_depth[56].final_train_spread == 0
    assert S.shipped_seeds(data) == [0, 1, 2]


def test_single_seed_file_reads_as_before() -> None:
    data = {"settings": {"seed": 7}, "runs": [_run(True, 20, [0.3, 0.1]), _run(True, 56, [0.5, 0.4])]}
    assert S.shipped_seeds(data) == [7]
    (cmp,) = S.depth_comparison(data)
    assert (cmp.shallow, cmp.deep, cmp.epoch, cmp.seeds) == (20, 56, 2, 1)
    assert cmp.order == "higher" and cmp.deep_train == 0.4 and cmp.shallow_train == 0.1


@pytest.mark.parametrize(
    ("deep_final", "order"), [(0.0995, "level"), (0.104, "level"), (0.2, "higher"), (0.05, "lower")]
)
def test_depth_comparison_picks_the_sentence_from_the_data(deep_final: float, order: str) -> None:
    data = {"runs": [_run(False, 20, [0.4, 0.1]), _run(False, 56, [0.6, deep_final])]}
    assert S.depth_comparison(data)[0].order == order


def test_behind_epochs_finds_where_the_deeper_net_trails() -> None:
    data = {
        "runs": [
            _run(False, 20, [0.50, 0.20, 0.10, 0.05, 0.04]),
            _run(False, 56, [0.70, 0.45, 0.12, 0.05, 0.02]),
        ]
    }
    lag = S.behind_epochs(data)
    assert lag.behind == [1, 2, 3] and lag.contiguous and lag.epochs == 5
    assert lag.worst_epoch == 2 and (lag.worst_deep, lag.worst_shallow) == (0.45, 0.20)
    data["runs"][1]["train_error"] = [0.7, 0.1, 0.12, 0.01, 0.02]
    assert S.behind_epochs(data).behind == [1, 3] and not S.behind_epochs(data).contiguous
    assert S.behind_epochs({"runs": data["runs"][:1]}) is None


def _sweep(base: float, blocks: dict[str, float], top5: float = 0.0) -> dict:
    return {
        "baseline": {"top1_error": base, "top5_error": top5},
        "blocks": {k: {"top1_error": v, "top5_error": top5} for k, v in blocks.items()},
    }


def _removal(
    res: dict[str, float], plain: dict[str, float], res_base=0.1, plain_base=0.2, n_test=1000
) -> dict:
    return {
        "settings": {"num_classes": 10, "n_test": n_test},
        "nets": {"resnet-20": _sweep(res_base, res), "plain-20": _sweep(plain_base, plain)},
    }


def test_removal_summary_counts_near_chance_and_names_only_blocks_that_hurt() -> None:
    removal = {
        "settings": {"num_classes": 10, "n_test": 100},
        "nets": {
            "resnet-8": {
                "baseline": {"top1_error": 0.1, "top5_error": 0.0},
                "blocks": {
                    "layer1.0": {"top1_error": 0.1, "top5_error": 0.0},
                    "layer2.0": {"top1_error": 0.15, "top5_error": 0.0},
                    "layer3.0": {"top1_error": 0.11, "top5_error": 0.0},
                },
            },
            "plain-8": {
                "baseline": {"top1_error": 0.2, "top5_error": 0.0},
                "blocks": {
                    "layer1.0": {"top1_error": 0.9, "top5_error": 0.5},
                    "layer2.0": {"top1_error": 0.88, "top5_error": 0.3},
                    "layer3.0": {"top1_error": 0.5, "top5_error": 0.1},
                },
            },
        },
    }
    top1 = S.removal_summary(removal)
    res, plain = top1["resnet-8"], top1["plain-8"]
    assert res.worst == "layer2.0" and res.worst_blocks == [
        "layer2.0",
        "layer3.0",
    ]  # layer1.0 changed nothing
    assert res.worst_rises == pytest.approx([0.05, 0.01]) and res.small == 2
    assert (res.baseline_images, res.wrong["layer2.0"], res.rise_images("layer2.0")) == (10, 15, 5)
    assert plain.near_chance == 2 and plain.rest_min == plain.rest_max == 0.5
    assert plain.mean_rise == pytest.approx((0.7 + 0.68 + 0.3) / 3) and plain.chance == pytest.approx(0.9)
    top5 = S.removal_summary(removal, "top5_error")
    assert top5["resnet-8"].worst is None and top5["resnet-8"].worst_blocks == []
    assert top5["resnet-8"].max_rise == 0  # the page then says "unchanged"
    assert top5["plain-8"].chance == pytest.approx(0.5)
    assert S.removal_summary(removal, num_classes=100)["plain-8"].chance == pytest.approx(0.99)


def test_a_rise_of_exactly_the_threshold_is_not_counted_as_less() -> None:
    """0.043 − 0.023 is 0.01999… in floats: in whole images it is 20 of 1,000, exactly 2 points, not less."""
    assert 0.043 - 0.023 < 0.02  # the float comparison the summary must not make
    summary = S.removal_summary(_removal({"layer2.1": 0.043, "layer2.2": 0.042}, {}, res_base=0.023))[
        "resnet-20"
    ]
    assert summary.rise_images("layer2.1") == 20 and summary.small_rise_images == 20
    assert summary.small == 1  # layer2.2 (19 images) only


def test_errors_must_be_whole_images_of_the_records_test_set() -> None:
    assert S.wrong_images(0.887, 1000) == 887
    with pytest.raises(ValueError):
        S.wrong_images(0.1234, 1000)
    with pytest.raises(ValueError):
        S.removal_summary({"settings": {}, "nets": {"resnet-20": _sweep(0.1, {"layer1.0": 0.2})}})


def test_downsampling_blocks_are_the_stride_2_stage_starts_of_the_model() -> None:
    assert [S.downsamples(b) for b in ("layer1.0", "layer1.8", "layer2.0", "layer2.1", "layer3.0")] == [
        False,
        False,
        True,
        False,
        True,
    ]
    with pytest.raises(ValueError):
        S.downsamples("conv1")
    pytest.importorskip("torch")
    from resnet_viz import experiments as ex

    plain = ex.cifar_net(20, plain=True, width=4)
    names = ex.block_names(plain)
    # a plain block can be deleted exactly where it keeps the shape, i.e. where it does not down-sample
    assert [not ex.removable(plain, b) for b in names] == [S.downsamples(b) for b in names]


def test_hardly_notices_only_when_every_deletion_is_small() -> None:
    all_small = S.removal_summary(_removal({"layer1.0": 0.11, "layer1.1": 0.119}, {}))["resnet-20"]
    one_large = S.removal_summary(_removal({f"layer1.{i}": 0.101 for i in range(9)} | {"layer2.0": 0.7}, {}))
    assert all_small.hardly_notices and all_small.small == 2
    res = one_large["resnet-20"]
    assert res.small == 9 and res.blocks == 10 and not res.hardly_notices  # a majority is not enough


def test_plain_suffers_more_compares_exact_means_in_images() -> None:
    more = S.removal_summary(_removal({"layer1.0": 0.2}, {"layer1.0": 0.31}))  # +100 vs +110 images
    tie = S.removal_summary(_removal({"layer1.0": 0.2, "layer1.1": 0.2}, {"layer1.0": 0.3}))  # +100 vs +100
    assert S.plain_suffers_more(more["plain-20"], more["resnet-20"])
    assert not S.plain_suffers_more(tie["plain-20"], tie["resnet-20"])


@pytest.mark.parametrize(
    ("blocks", "holds"),
    [
        (
            {"layer1.0": 0.119, "layer2.0": 0.9},
            True,
        ),  # 19 images where it does not down-sample: hardly noticed
        ({"layer1.0": 0.12, "layer2.0": 0.1}, False),  # exactly 2 points (20 images): noticed
        ({"layer3.0": 0.95, "layer3.1": 0.1}, True),  # only a down-sampling block hurts: Veit's picture
    ],
)
def test_veit_bound_ignores_only_the_downsampling_blocks(blocks: dict[str, float], holds: bool) -> None:
    res = S.removal_summary(_removal(blocks, {}))["resnet-20"]
    assert S.veit_bound_holds(res) is holds
    if not holds:
        assert res.worst_solid == "layer1.0"  # the sentence names the solid block that broke the bound


def test_one_bound_splits_every_deletion_into_hardly_noticed_or_noticed() -> None:
    """The Veit half and the "hardly notices" reading use one bound: every deletion is counted by exactly one of
    them (no rise between two thresholds is neither), compared in images."""
    blocks = {"layer1.0": 0.119, "layer1.1": 0.12, "layer1.2": 0.5, "layer2.0": 0.9, "layer2.1": 0.1}
    res = S.removal_summary(_removal(blocks, {}))["resnet-20"]
    noticed = [b for b in res.wrong if res.noticed(b)]
    assert noticed == ["layer1.1", "layer1.2", "layer2.0"] and res.small == res.blocks - len(noticed)
    assert res.solid_blocks == ["layer1.0", "layer1.1", "layer1.2", "layer2.1"]
    assert res.solid_noticed == ["layer1.1", "layer1.2"] and not S.veit_bound_holds(res)
    assert not hasattr(S, "VEIT_BOUND_PP")  # no second threshold to fall between


def test_removal_seed_context_picks_the_records_seed() -> None:
    def run(plain: bool, finals: list[float]) -> dict:
        curves = [[0.9, f] for f in finals]
        label = f"{'plain' if plain else 'resnet'}-20"
        mean = [0.9, sum(finals) / len(finals)]
        return {"label": label, "plain": plain, "depth": 20, "train_error": mean, "test_error": mean,
                "per_seed": {"train_error": curves, "test_error": curves}}  # fmt: skip

    degradation = {"seeds": [3, 7], "runs": [run(True, [0.4, 0.2]), run(False, [0.05, 0.03])]}
    removal = {"settings": {"seed": 7}, "nets": {"resnet-20": {}, "plain-20": {}}}
    ctx = S.removal_seed_context(degradation, removal)
    assert ctx.seed == 7 and ctx.seed_test == {"resnet-20": 0.03, "plain-20": 0.2}
    assert ctx.mean_test == pytest.approx({"resnet-20": 0.04, "plain-20": 0.3})
    assert (
        S.removal_seed_context({"seeds": [7], "runs": []}, removal) is None
    )  # one seed: nothing to tell apart
    assert S.removal_seed_context(degradation, {"settings": {"seed": 5}, "nets": {}}) is None


def _candidates(**tried) -> dict:
    return {"candidates": {"chosen": "B", "tried": tried}}


def _cand(p20, p56, r20, r56, spread=0.001) -> dict:
    return {
        "settings": {"width": 4},
        "final_train_error": {"plain-20": p20, "plain-56": p56, "resnet-20": r20, "resnet-56": r56},
        "resnet_seed_spread": spread,
    }


def test_candidates_order_and_the_choosing_rule_on_both_sides() -> None:
    c = S.candidates(
        _candidates(
            A=_cand(0.10, 0.16, 0.05, 0.038),  # meets every condition (gap 1.2 points = 24% of 5%)
            B=_cand(0.10, 0.14, 0.05, 0.038),  # plain gap 4 points: too small
            C=_cand(0.10, 0.30, 0.05, 0.047),  # residual pair level (0.3 points)
            D=_cand(0.10, 0.30, 0.02, 0.005),  # ResNet-20 below 3%: too easy
            E=_cand(0.10, 0.30, 0.05, 0.038, spread=0.02),  # gap inside the seeds' spread
        )
    )
    assert c.chosen == "B" and [x.name for x in c.tried] == list("ABCDE")
    assert [x.meets_conditions for x in c.tried] == [True, False, False, False, False]
    assert [x.plain_order for x in c.tried] == ["higher"] * 5
    assert [x.resnet_order for x in c.tried] == ["lower", "lower", "level", "lower", "lower"]
    assert c.count(True, "higher") == 5 and c.count(False, "level") == 1
    assert S.candidates({"runs": []}) is None


def test_gap_within_seed_spread_on_both_sides_and_in_exact_decimals() -> None:
    c = S.candidates(
        _candidates(
            A=_cand(0.1, 0.3, 0.05, 0.038, spread=0.02),  # gap 1.2 points < spread 2: within
            B=_cand(0.1, 0.3, 0.05, 0.038, spread=0.01),  # gap 1.2 > 1: outside
            C=_cand(
                0.1, 0.3, 0.3, 0.2, spread=0.1
            ),  # gap exactly the spread (0.3 − 0.2 is 0.0999… in floats)
            D=_cand(0.1, 0.3, 0.04, 0.05, spread=0.5),  # the deeper net ends above: no gap to compare
            E=_cand(0.1, 0.3, 0.05, 0.038, spread=None),  # no spread recorded
        )
    )
    assert [S.gap_within_seed_spread(x) for x in c.tried] == [True, False, False, False, False]


def test_shipped_candidates_gap_against_the_spread() -> None:
    """The reader's count, recomputed from the raw record: in 4 of the 5 candidates the residual gap is smaller
    than the residual nets' spread over seeds (A 0.31 vs 0.82, B 0.76 vs 0.95, C 0.17 vs 0.64, D 0.97 vs 2.56)."""
    data = _shipped("degradation.json")
    c = S.candidates(data)
    if c is None:
        pytest.skip("the shipped record has no candidates block")
    raw = data["candidates"]["tried"]
    within = [
        k
        for k, v in raw.items()
        if v["final_train_error"]["resnet-20"] - v["final_train_error"]["resnet-56"] < v["resnet_seed_spread"]
    ]
    assert [x.name for x in c.tried if S.gap_within_seed_spread(x)] == within


def test_shipped_candidates_recomputed_agree_with_the_record() -> None:
    data = _shipped("degradation.json")
    c = S.candidates(data)
    if c is None:
        pytest.skip("the shipped record has no candidates block")
    recorded = data["candidates"]["tried"]
    assert {x.name: x.meets_conditions for x in c.tried} == {k: v["meets_all"] for k, v in recorded.items()}
    assert c.chosen in {x.name for x in c.tried if x.meets_conditions}
    for x in c.tried:  # the ordering of the shipped curves, recounted from the raw finals
        finals = recorded[x.name]["final_train_error"]
        assert finals["plain-56"] > finals["plain-20"] and finals["resnet-56"] < finals["resnet-20"]


def test_gradient_summary_ranges_over_seeds() -> None:
    flows = [
        SimpleNamespace(plain=(8.0, 4.0, 2.0), residual=(1.0, 2.0, 1.0)),
        SimpleNamespace(plain=(27.0, 9.0, 3.0), residual=(0.5, 0.25, 1.0)),
    ]
    g = S.gradient_summary(flows)
    assert g.seeds == 2 and g.layers == 3
    assert g.first_ratio == (8.0, 54.0)
    assert g.plain_first_last == (4.0, 9.0)
    assert g.growth == pytest.approx((2.0, 3.0))  # (first ÷ last) ** (1 / (layers − 1))
    assert g.res_spread == (2.0, 4.0) and g.plain_spread == (4.0, 9.0)
    with pytest.raises(ValueError):
        S.gradient_summary([])


def _flows(plain_first_last: list[float], res_spread: list[float]) -> list:
    """One flow per seed of three layers: the plain one with that first ÷ last ratio (from 1 up, also its
    spread), the residual one flat but for its middle layer (its spread)."""
    return [
        SimpleNamespace(plain=(fl, 1.0, 1.0), residual=(1.0, rs, 1.0))
        for fl, rs in zip(plain_first_last, res_spread)
    ]


@pytest.mark.parametrize(
    ("first_last", "explodes"),
    [([10.0, 500.0], True), ([9.99, 500.0], False), ([0.5, 2.0], False)],  # every seed at the bound, or not
)
def test_plain_explodes_only_at_the_bound_in_every_seed(first_last: list[float], explodes: bool) -> None:
    assert S.plain_explodes(S.gradient_summary(_flows(first_last, [2.0, 2.0]))) is explodes


@pytest.mark.parametrize(
    ("plain_spread", "res_spread", "order"),
    [
        ([960.0, 11000.0], [7.8, 22.0], "far"),  # ResNet-56's measured ranges: 960 ≥ 10 × 22
        ([219.0, 300.0], [7.8, 22.0], "less"),  # 219 < 10 × 22: less, not far less
        ([220.0, 300.0], [7.8, 22.0], "far"),  # exactly the factor
        ([9.8, 11.0], [3.8, 4.5], "less"),  # ResNet-20's
        ([9.8, 11.0], [3.8, 9.8], "overlap"),  # the residual largest meets the plain smallest
        ([9.8, 11.0], [10.0, 20.0], "overlap"),  # the residual smallest inside the plain range
        ([9.8, 11.0], [11.0, 20.0], "overlap"),  # the residual smallest meets the plain largest
        ([9.8, 11.0], [11.5, 20.0], "more"),  # the residual range wholly above the plain one
    ],
)
def test_spread_order_on_every_branch(plain_spread: list[float], res_spread: list[float], order: str) -> None:
    g = S.gradient_summary(_flows(plain_spread, res_spread))
    assert (g.plain_spread, g.res_spread) == (tuple(plain_spread), tuple(res_spread))
    assert S.spread_order(g) == order


@pytest.mark.parametrize(
    ("res_first_last", "reached"),
    [
        ([16.2, 9.88, 4.99, 11.2], 2),  # ResNet-56's measured first ÷ last conv (seeds 0–3): 16.2 and 11.2
        ([10.0, 9.99], 1),  # exactly the bound counts, just below does not
        ([9.99, 1.0], 0),
    ],
)
def test_residual_reaches_explosion_counts_the_seeds_at_the_bound(
    res_first_last: list[float], reached: int
) -> None:
    flows = [SimpleNamespace(plain=(1000.0, 1.0, 1.0), residual=(r, 1.0, 1.0)) for r in res_first_last]
    g = S.gradient_summary(flows)
    assert g.res_first_last == (min(res_first_last), max(res_first_last))
    assert S.residual_reaches_explosion(g) == reached


def test_fmt_range() -> None:
    assert fmt_range(7.82, 21.94) == "7.8–22"
    assert fmt_range(110.2, 570.6) == "110–570"
    assert fmt_range(3.01, 3.04) == "3"
    assert fmt_range(946.0, 10645.0) == "950–11,000"


def test_train_steps() -> None:
    assert S.train_steps({"epochs": 12, "n_train": 3000, "batch_size": 32}) == 12 * math.ceil(3000 / 32)


# --- the shipped files, recounted here without the summary code


def _shipped(name: str) -> dict:
    path = paths.CURVES_DIR / name
    if not path.exists():
        pytest.skip(f"{name} is not shipped in this checkout")  # the repository ships both; CI has them
    return json.loads(path.read_text(encoding="utf-8"))


def test_shipped_removal_counts() -> None:
    removal = _shipped("removal.json")
    classes = DATASETS.get(removal["settings"].get("dataset", "shapes"), 10)
    n = removal["settings"]["n_test"]
    for label, got in S.removal_summary(removal).items():
        sweep = removal["nets"][label]
        base = round(sweep["baseline"]["top1_error"] * n)
        wrong = [round(b["top1_error"] * n) for b in sweep["blocks"].values()]
        assert got.blocks == len(wrong) and got.baseline_images == base
        chance_wrong = (classes - 1) * n / classes
        assert got.near_chance == sum(w >= chance_wrong - S.NEAR_CHANCE_MARGIN_PP * n / 100 for w in wrong)
        assert got.small == sum(100 * (w - base) < S.SMALL_RISE_PP * n for w in wrong)
        assert got.mean_rise == pytest.approx(sum(wrong) / len(wrong) / n - base / n)
        if got.worst:
            assert round(sweep["blocks"][got.worst]["top1_error"] * n) == max(wrong)


def test_shipped_degradation_comparisons() -> None:
    data = _shipped("degradation.json")
    for cmp in S.depth_comparison(data):
        finals = {}
        for depth in (cmp.shallow, cmp.deep):
            runs = [r for r in data["runs"] if r["plain"] == cmp.plain and r["depth"] == depth]
            # one curve per seed: the per-seed curves where the file has them, else each run's own
            curves = [
                c for r in runs for c in (r.get("per_seed") or {}).get("train_error") or [r["train_error"]]
            ]
            finals[depth] = sum(c[cmp.epoch - 1] for c in curves) / len(curves)
            assert cmp.seeds <= len(curves)
        assert cmp.deep_train == pytest.approx(finals[cmp.deep])
        # the file's own mean curve agrees to its rounding
        deep_run = next(r for r in data["runs"] if r["plain"] == cmp.plain and r["depth"] == cmp.deep)
        assert cmp.deep_train == pytest.approx(deep_run["train_error"][cmp.epoch - 1], abs=1e-4)
        diff = finals[cmp.deep] - finals[cmp.shallow]
        assert cmp.order == ("level" if abs(diff) < 0.005 else "higher" if diff > 0 else "lower")


# --- the architecture numbers other pages quote


def test_listing_of_the_notes_adds_the_block_conv_biases() -> None:
    tr = trace("resnet34_cifar", 32)
    convs, biases = counting.listing_conv_biases(tr)
    # the listing's BasicBlocks: 2 biased 3×3 convs per block, one bias per output channel
    assert convs == 2 * sum(tr.layers)
    assert biases == sum(2 * n * w for n, w in zip(tr.layers, (64, 128, 256, 512)))
    # the listing itself, rebuilt from its source (seed 004): nn.Conv2d keeps bias=True unless told otherwise
    torch = pytest.importorskip("torch")
    from resnet_viz.models.build import build_model

    ours = sum(p.numel() for p in build_model("resnet34_cifar").parameters())
    assert ours == tr.total_params
    with_bias = ours + sum(
        m.out_channels
        for name, m in build_model("resnet34_cifar").named_modules()
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and name.startswith("layer")
    )
    assert tr.total_params + biases == with_bias


def test_stage_growth_and_bn_elementwise() -> None:
    tr = trace("resnet34", 224)
    stages = [r for r in counting.count_table(tr, "stage") if r.kind == "stage"]
    growth = counting.stage_param_growth(tr)
    assert len(growth) == len(stages) - 1
    assert growth == pytest.approx([b.params / a.params for a, b in zip(stages, stages[1:])])
    assert not all(abs(g - 4) < 0.5 for g in growth)  # "about 4× per stage" is false; per block it is 4×
    row, elements = counting.bn_elementwise(tr)
    assert row.macs == 2 * row.output_shape[0]  # torchinfo's convention, which the totals follow
    assert elements == math.prod(row.output_shape)


def test_mean_runs_reads_per_seed_curves() -> None:
    """The multi-seed file keeps the mean in ``train_error`` and each seed's curve under ``per_seed``."""
    run = _run(False, 20, [0.5, 0.25])
    run["per_seed"] = {"train_error": [[0.6, 0.3], [0.4, 0.2]], "test_error": [[0.5, 0.3], [0.5, 0.1]]}
    data = {"seeds": [3, 4], "runs": [run]}
    (r,) = S.mean_runs(data)
    assert r.seeds == 2 and r.train_error == pytest.approx([0.5, 0.25])
    assert r.final_train_spread == pytest.approx(0.1) and r.final_test_spread == pytest.approx(0.2)
    assert S.shipped_seeds(data) == [3, 4]


# --- gradients during training


def _steps_record(init: list[float], one: list[float], last: list[float]) -> dict:
    """A gradient-steps record whose plain first ÷ last ratios are ``init``, ``one`` and ``last`` per seed."""
    seeds = []
    for i, (a, b, c) in enumerate(zip(init, one, last)):
        grads = [[a, 1.0], [b, 1.0], [c, 1.0]]
        kind = {"grad": grads, "conv1_weight": [1.0, 2.0, 3.0], "loss": [1.0, 1.0, 1.0]}
        seeds.append({"seed": i, "plain": kind, "residual": kind})
    return {"settings": {"steps": [0, 1, 100], "depth": 20}, "per_seed": seeds}


@pytest.mark.parametrize(
    ("init", "one", "course"),
    [
        ([100.0, 10.0], [0.5, 9.99], "fades"),  # at least 10 at init in every seed, below 10 after one step
        ([100.0, 10.0], [0.5, 10.0], "persists"),  # one seed still at 10
        ([100.0, 9.99], [0.5, 0.5], "none"),  # one seed never exploded
    ],
)
def test_explosion_course_on_every_branch(init: list[float], one: list[float], course: str) -> None:
    summary = S.gradient_steps_summary(_steps_record(init, one, [0.01, 0.01]))
    assert S.explosion_course(summary) == course


def test_input_side_starved_at_its_threshold() -> None:
    starved = S.gradient_steps_summary(_steps_record([100.0], [1.0], [0.0999]))
    not_starved = S.gradient_steps_summary(_steps_record([100.0], [1.0], [0.1]))
    assert S.input_side_starved(starved) and not S.input_side_starved(not_starved)
    assert (
        S.first_step_index([0, 1, 10]) == 1
        and S.first_step_index([0, 10]) == 1
        and S.first_step_index([0]) == 0
    )


def _residual_record(res_init: list[float], res_last: list[float], plain_last: list[float]) -> dict:
    rec = _steps_record([100.0] * len(res_last), [1.0] * len(res_last), plain_last)
    for seed, init, last in zip(rec["per_seed"], res_init, res_last):
        seed["residual"] = {"grad": [[init, 1.0], [5.0, 1.0], [last, 1.0]], "conv1_weight": [1.0] * 3}
    return rec


def test_residual_low_seeds_counts_whole_seeds_at_the_threshold() -> None:
    low = S.gradient_steps_summary(_residual_record([5.0] * 4, [0.0999, 0.1, 5.0, 0.01], [0.001] * 4))
    assert S.residual_low_seeds(low) == 2  # 0.0999 and 0.01; 0.1 is not below 1/10
    none = S.gradient_steps_summary(_residual_record([5.0] * 2, [0.1, 5.0], [0.001] * 2))
    assert S.residual_low_seeds(none) == 0


def test_plain_below_residual_only_when_the_whole_plain_range_is_below() -> None:
    below = S.gradient_steps_summary(_residual_record([5.0] * 2, [0.02, 4.2], [0.0014, 0.0108]))
    touching = S.gradient_steps_summary(_residual_record([5.0] * 2, [0.0108, 4.2], [0.0014, 0.0108]))
    assert S.plain_below_residual(below) and not S.plain_below_residual(touching)


def test_residual_explosion_seeds_counts_the_seeds_at_the_bound() -> None:
    # the shipped ResNet-56's ratios at initialisation: seeds 0 and 2 reach 10, seeds 1 and 3 do not
    s = S.gradient_steps_summary(_residual_record([10.10, 7.77, 10.05, 8.80], [1.0] * 4, [0.001] * 4))
    assert S.residual_explosion_seeds(s) == 2
    at = S.gradient_steps_summary(_residual_record([10.0, 9.99], [1.0] * 2, [0.001] * 2))
    assert S.residual_explosion_seeds(at) == 1
    below = S.gradient_steps_summary(_residual_record([9.99, 7.0], [1.0] * 2, [0.001] * 2))
    assert S.residual_explosion_seeds(below) == 0


def test_residual_explosion_seeds_after_step_counts_the_first_step() -> None:
    # the shipped ResNet-56 after one step: seed 3 goes from 8.80 at initialisation to 10.54
    rec = _residual_record([10.10, 7.77, 10.05, 8.80], [1.0] * 4, [0.001] * 4)
    for seed, one in zip(rec["per_seed"], [8.91, 3.62, 9.69, 10.54]):
        seed["residual"]["grad"][1] = [one, 1.0]
    s = S.gradient_steps_summary(rec)
    assert S.residual_explosion_seeds(s) == 2 and S.residual_explosion_seeds_after_step(s) == 1
    at = S.gradient_steps_summary(_residual_record([10.0, 10.0], [1.0] * 2, [0.001] * 2))
    assert S.residual_explosion_seeds_after_step(at) == 0  # the helper's step-one ratio is 5: below


def test_shipped_gradient_steps_fade_and_starve() -> None:
    """What the page says of the shipped record, recounted from its raw norms."""
    record = _shipped("gradient_steps.json")
    one = record["settings"]["steps"].index(1)
    ratios = [[g[0] / g[-1] for g in s["plain"]["grad"]] for s in record["per_seed"]]
    assert all(r[0] >= S.EXPLOSION_RATIO and r[one] < S.EXPLOSION_RATIO for r in ratios)
    assert S.explosion_course(S.gradient_steps_summary(record)) == "fades"
    assert all(r[-1] < 1 / S.EXPLOSION_RATIO for r in ratios) == S.input_side_starved(
        S.gradient_steps_summary(record)
    )
    # the residual net, recounted: how many seeds end below 1/10, how many reach 10 at initialisation
    res = [[g[0] / g[-1] for g in s["residual"]["grad"]] for s in record["per_seed"]]
    summary = S.gradient_steps_summary(record)
    assert S.residual_low_seeds(summary) == sum(r[-1] < 1 / S.EXPLOSION_RATIO for r in res)
    assert S.residual_explosion_seeds(summary) == sum(r[0] >= S.EXPLOSION_RATIO for r in res)
    assert S.residual_explosion_seeds_after_step(summary) == sum(r[one] >= S.EXPLOSION_RATIO for r in res)
    assert S.plain_below_residual(summary) == (max(r[-1] for r in ratios) < min(r[-1] for r in res))


# --- loss landscapes


def _land(share: float, tested: int = 100, at_half: float | None = 2.0) -> LandscapeSummary:
    return LandscapeSummary(
        origin_loss=0.05,
        at_distance={"0.25": 1.0, "0.5": at_half, "1": 9.0},
        max_loss=10.0,
        nonconvex_share=share,
        clearly_nonconvex_share=share / 2,
        points_tested=tested,
    )


def test_nonconvex_points_are_whole_grid_points() -> None:
    assert S.nonconvex_points(_land(0.42911153119092627, 529)) == 227
    with pytest.raises(ValueError):
        S.nonconvex_points(_land(0.123, 100))


@pytest.mark.parametrize(
    ("share", "at_half", "bowl"),
    [
        (0.10, 2.9, True),  # at most 10% non-convex and below ln 20 ≈ 3.0
        (0.11, 2.9, False),  # one point too many
        (0.05, 3.1, False),  # convex enough, but the loss at 0.5 is above guessing
        (0.05, None, False),  # no loss at that distance: no claim
    ],
)
def test_looks_like_a_bowl_on_both_conditions(share: float, at_half: float | None, bowl: bool) -> None:
    assert S.looks_like_a_bowl(_land(share, at_half=at_half), 20) is bowl


@pytest.mark.parametrize(
    ("share", "at_half", "convex", "below"),
    [(0.10, 2.9, True, True), (0.11, 2.9, False, True), (0.05, 3.1, True, False), (0.05, None, True, False)],
)
def test_the_two_bowl_tests_apart(share: float, at_half: float | None, convex: bool, below: bool) -> None:
    s = _land(share, at_half=at_half)
    assert (S.nearly_convex(s), S.below_chance_at_bowl_distance(s, 20)) == (convex, below)


def test_steeper_kind_and_a_tie() -> None:
    assert S.steeper_kind(2.0, 1.0) == "plain" and S.steeper_kind(1.0, 2.0) == "resnet"
    assert S.steeper_kind(1.0, 1.0) == "resnet"


def test_shipped_residual_surface_is_no_bowl() -> None:
    surface = _shipped("landscape_resnet56.json")
    s = LandscapeSummary.from_dict(surface["summary"])
    classes = DATASETS[surface["settings"]["training"]["dataset"]]
    count = round(s.nonconvex_share * s.points_tested)
    assert not S.looks_like_a_bowl(s, classes)
    assert 100 * count > S.BOWL_NONCONVEX_MAX_PCT * s.points_tested or s.at_distance["0.5"] >= math.log(
        classes
    )


# --- identity at init


def test_outputs_its_shortcut_within_its_tolerance() -> None:
    rows = [SimpleNamespace(name="layer1.0", input_norm=100.0, output_minus_shortcut=0.0)]
    assert S.outputs_its_shortcut(rows)
    rows.append(SimpleNamespace(name="layer2.0", input_norm=50.0, output_minus_shortcut=1e-3))
    assert not S.outputs_its_shortcut(rows)
