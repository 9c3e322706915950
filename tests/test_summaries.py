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


def test_removal_summary_counts_near_chance_and_names_only_blocks_that_hurt() -> None:
    removal = {
        "settings": {"num_classes": 10},
        "nets": {
            "resnet-8": {
                "baseline": {"top1_error": 0.1, "top5_error": 0.0},
                "blocks": {
                    "a": {"top1_error": 0.1, "top5_error": 0.0},
                    "b": {"top1_error": 0.15, "top5_error": 0.0},
                    "c": {"top1_error": 0.11, "top5_error": 0.0},
                },
            },
            "plain-8": {
                "baseline": {"top1_error": 0.2, "top5_error": 0.0},
                "blocks": {
                    "a": {"top1_error": 0.9, "top5_error": 0.5},
                    "b": {"top1_error": 0.88, "top5_error": 0.3},
                    "c": {"top1_error": 0.5, "top5_error": 0.1},
                },
            },
        },
    }
    top1 = S.removal_summary(removal)
    res, plain = top1["resnet-8"], top1["plain-8"]
    assert res.worst == "b" and res.worst_blocks == [
        "b",
        "c",
    ]  # "a" changed nothing: not named as damage
    assert res.worst_rises == pytest.approx([0.05, 0.01]) and res.small == 2
    assert plain.near_chance == 2 and plain.rest_min == plain.rest_max == 0.5
    assert plain.mean_rise == pytest.approx((0.7 + 0.68 + 0.3) / 3) and plain.chance == pytest.approx(0.9)
    top5 = S.removal_summary(removal, "top5_error")
    assert (
        top5["resnet-8"].worst is None
        and top5["resnet-8"].worst_blocks == []
        and top5["resnet-8"].max_rise == 0
    )  # the page then says "unchanged"
    assert top5["plain-8"].chance == pytest.approx(0.5)
    assert S.removal_summary(removal, num_classes=100)["plain-8"].chance == pytest.approx(0.99)


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
    for label, got in S.removal_summary(removal).items():
        sweep = removal["nets"][label]
        base = sweep["baseline"]["top1_error"]
        errors = [b["top1_error"] for b in sweep["blocks"].values()]
        assert got.blocks == len(errors)
        assert got.near_chance == sum(e >= (1 - 1 / classes) - S.NEAR_CHANCE_MARGIN for e in errors)
        assert got.small == sum(e - base < S.SMALL_RISE for e in errors)
        assert got.mean_rise == pytest.approx(sum(errors) / len(errors) - base)
        if got.worst:
            assert sweep["blocks"][got.worst]["top1_error"] == max(errors)


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
