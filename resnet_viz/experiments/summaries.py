"""What the page reads off the shipped records and measurements: every number and every comparison that a
sentence on the *Why residual* page states is computed here, as typed records, with the named predicates (and
their thresholds) that choose between sentences; :mod:`.readings` turns them into sentences, so that the
translations only hold the wording and the page only the layout.

The degradation record may hold one run per network (the file shipped before several seeds were trained) or one
run per network and seed (runs that carry a ``seed`` field): :func:`mean_runs` averages over seeds where there are
several and reports the spread, so every reader below works with both shapes of the file.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments.config import DATASETS

if TYPE_CHECKING:
    from resnet_viz.experiments.landscape import LandscapeSummary

#: Two errors closer than this (a fraction: half a percentage point) are reported as level, not as "0.0 points".
LEVEL_TOLERANCE = 0.005
#: A deletion "reaches chance" when its error is within this many points (a fraction) of the chance error.
NEAR_CHANCE_MARGIN = 0.03
#: A deletion "barely matters" when it raises the error by less than this (a fraction: 2 percentage points).
SMALL_RISE = 0.02

#: (lowest, highest) over seeds.
Span = tuple[float, float]


# ------------------------------------------------------------------------------------------------ degradation


@dataclass(frozen=True)
class MeanRun:
    """One network's curves averaged over the seeds that trained it (fractions per epoch)."""

    label: str
    plain: bool
    depth: int
    seeds: int
    train_error: list[float]
    test_error: list[float]
    final_train_spread: float
    final_test_spread: float

    @property
    def net(self) -> ExperimentNet:
        return ExperimentNet(self.depth, self.plain)


def mean_runs(data: Mapping[str, Any]) -> list[MeanRun]:
    """One record per network (plain/residual × depth), in file order: the per-epoch training and test error
    averaged over the seeds that trained it, cut to the epochs every seed finished, with ``seeds`` (how many) and
    ``final_train_spread`` / ``final_test_spread`` (largest − smallest final error over the seeds; 0 for one seed).
    Runs with ``per_seed`` curves are split into their seeds first; a run without either counts as one seed."""
    groups: dict[tuple[bool, int], list[dict[str, Any]]] = {}
    for run in _seed_runs(data):
        if not run.get("train_error"):
            continue
        groups.setdefault((bool(run["plain"]), int(run["depth"])), []).append(run)
    out = []
    for (plain, depth), runs in groups.items():
        n = min(len(r["train_error"]) for r in runs)
        n = min([n] + [len(r["test_error"]) for r in runs])
        if n == 0:
            continue
        train = [statistics.fmean(r["train_error"][i] for r in runs) for i in range(n)]
        test = [statistics.fmean(r["test_error"][i] for r in runs) for i in range(n)]
        finals_train = [r["train_error"][n - 1] for r in runs]
        finals_test = [r["test_error"][n - 1] for r in runs]
        out.append(
            MeanRun(
                label=runs[0].get("label", ExperimentNet(depth, plain).label),
                plain=plain,
                depth=depth,
                seeds=len(runs),
                train_error=train,
                test_error=test,
                final_train_spread=max(finals_train) - min(finals_train),
                final_test_spread=max(finals_test) - min(finals_test),
            )
        )
    return out


def _seed_runs(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per network and seed. A run with ``per_seed`` curves (``{"train_error": [seed0, seed1, …], …}``,
    the file scripts/make_curves.py writes for several seeds) is split into its seeds; any other run is one."""
    out = []
    for run in data.get("runs", []):
        per_seed = run.get("per_seed")
        if not per_seed or not per_seed.get("train_error"):
            out.append(run)
            continue
        for i, (train, test) in enumerate(zip(per_seed["train_error"], per_seed.get("test_error", []))):
            out.append({**run, "seed": i, "train_error": train, "test_error": test})
    return out


def shipped_seeds(data: Mapping[str, Any]) -> list[int]:
    """The random seeds of a degradation record: the runs' ``seed`` fields where they carry one, else the
    settings' ``seeds`` list or single ``seed``."""
    if data.get("seeds"):
        return [int(x) for x in data["seeds"]]
    seeds = sorted({int(r["seed"]) for r in data.get("runs", []) if "seed" in r})
    if seeds:
        return seeds
    settings = data.get("settings", {})
    if "seeds" in settings:
        return [int(x) for x in settings["seeds"]]
    return [int(settings.get("seed", 0))]


def train_steps(settings: Mapping[str, Any]) -> int:
    """SGD steps of one training run: epochs × batches per epoch (the last, partial batch counts)."""
    return int(settings["epochs"]) * math.ceil(int(settings["n_train"]) / int(settings["batch_size"]))


def _family(data: Mapping[str, Any], plain: bool) -> list[MeanRun]:
    return sorted((r for r in mean_runs(data) if r.plain == plain), key=lambda r: r.depth)


@dataclass(frozen=True)
class DepthComparison:
    """A family's deepest vs shallowest network at the last epoch both finished (fractions; means over seeds)."""

    plain: bool
    shallow: int
    deep: int
    epoch: int
    seeds: int
    shallow_train: float
    deep_train: float
    shallow_test: float
    deep_test: float
    #: the larger of the two networks' final training-error spreads over seeds
    spread: float
    #: "higher", "lower" or "level": the deep network's training error against the shallow one's
    order: str


def depth_comparison(data: Mapping[str, Any]) -> list[DepthComparison]:
    """From a degradation record: per family (plain, resnet), the deepest vs the shallowest network's errors at
    the last epoch they both finished (fractions; means over seeds where there are several, with the spread).
    ``order`` is "higher", "lower" or "level" (the deep network's training error against the shallow one's,
    level within :data:`LEVEL_TOLERANCE`), so the page picks its sentence from the data. Empty where a family
    has fewer than two finished networks."""
    out = []
    for plain in (True, False):
        runs = _family(data, plain)
        if len(runs) < 2:
            continue
        shallow, deep = runs[0], runs[-1]
        n = min(len(shallow.train_error), len(deep.train_error))
        diff = deep.train_error[n - 1] - shallow.train_error[n - 1]
        out.append(
            DepthComparison(
                plain=plain,
                shallow=shallow.depth,
                deep=deep.depth,
                epoch=n,
                seeds=min(shallow.seeds, deep.seeds),
                shallow_train=shallow.train_error[n - 1],
                deep_train=deep.train_error[n - 1],
                shallow_test=shallow.test_error[n - 1],
                deep_test=deep.test_error[n - 1],
                spread=max(shallow.final_train_spread, deep.final_train_spread),
                order="level" if abs(diff) < LEVEL_TOLERANCE else ("higher" if diff > 0 else "lower"),
            )
        )
    return out


@dataclass(frozen=True)
class BehindEpochs:
    """Where a family's deeper network trains worse than its shallower one."""

    shallow: int
    deep: int
    #: epochs compared
    epochs: int
    #: the 1-based epochs in which the deeper network's training error is higher by ≥ LEVEL_TOLERANCE
    behind: list[int]
    #: the epochs behind form one run (the usual picture): first..last is then exact
    contiguous: bool
    worst_epoch: int
    worst_deep: float
    worst_shallow: float


def behind_epochs(data: Mapping[str, Any], plain: bool = False) -> BehindEpochs | None:
    """Where the deeper network of a family trains worse than the shallower one: the 1-based epochs in which its
    (mean) training error is higher by at least :data:`LEVEL_TOLERANCE`, the epoch of the largest gap with both
    errors there, and how many epochs were compared. None where the family has fewer than two networks."""
    runs = _family(data, plain)
    if len(runs) < 2:
        return None
    shallow, deep = runs[0], runs[-1]
    n = min(len(shallow.train_error), len(deep.train_error))
    gaps = [deep.train_error[i] - shallow.train_error[i] for i in range(n)]
    behind = [i + 1 for i, g in enumerate(gaps) if g >= LEVEL_TOLERANCE]
    worst = max(range(n), key=lambda i: gaps[i])
    return BehindEpochs(
        shallow=shallow.depth,
        deep=deep.depth,
        epochs=n,
        behind=behind,
        contiguous=behind == list(range(behind[0], behind[0] + len(behind))) if behind else True,
        worst_epoch=worst + 1,
        worst_deep=deep.train_error[worst],
        worst_shallow=shallow.train_error[worst],
    )


# ------------------------------------------------------------------------------------------------ block deletion


def chance_error(num_classes: int, metric: str = "top1_error") -> float:
    """The error of guessing: 1 − 1/classes for top-1, 1 − 5/classes for top-5 (0 where there are ≤ 5 classes)."""
    k = 5 if metric == "top5_error" else 1
    return max(0.0, 1 - k / num_classes)


@dataclass(frozen=True)
class RemovalSummary:
    """One network's block-deletion sweep, read for the page (errors and rises are fractions)."""

    net: ExperimentNet
    baseline: float
    mean_rise: float
    max_rise: float
    #: the block that costs most; None when no deletion raised the error (so no arbitrary block is named)
    worst: str | None
    #: up to three blocks whose deletion raised the error, largest first, and their rises
    worst_blocks: list[str]
    worst_rises: list[float]
    blocks: int
    #: deletions within NEAR_CHANCE_MARGIN of chance, the chance error, and the error range of the others
    near_chance: int
    chance: float
    rest_min: float | None
    rest_max: float | None
    #: deletions that raise the error by less than SMALL_RISE
    small: int

    @property
    def hardly_notices(self) -> bool:
        """Most deletions (at least half, counted in blocks) cost less than :data:`SMALL_RISE`."""
        return 2 * self.small >= self.blocks


def removal_summary(
    removal: Mapping[str, Any], metric: str = "top1_error", num_classes: int | None = None
) -> dict[str, RemovalSummary]:
    """Per network of a removal record, by the record's label (``"resnet-56"``): the intact error, the mean /
    largest increase over deletable blocks, the block that costs most (``worst``; None when no deletion raised the
    error, so that no arbitrary block is named) and up to three such blocks, largest first (``worst_blocks``,
    ``worst_rises``; only blocks whose deletion raised the error at all), how many deletions land within
    :data:`NEAR_CHANCE_MARGIN` of chance and the error range of the others, and how many raise the error by less
    than :data:`SMALL_RISE`."""
    settings = removal.get("settings", {})
    classes = int(
        num_classes or settings.get("num_classes") or DATASETS.get(settings.get("dataset", "shapes"), 10)
    )
    chance = chance_error(classes, metric)
    out = {}
    for label, sweep in removal["nets"].items():
        base = sweep["baseline"][metric]
        errors = {name: r[metric] for name, r in sweep["blocks"].items()}
        rises = {name: e - base for name, e in errors.items()}
        ranked = sorted(rises, key=lambda name: (-rises[name], list(rises).index(name)))
        near = [name for name in ranked if errors[name] >= chance - NEAR_CHANCE_MARGIN]
        rest = [errors[name] for name in ranked if name not in near]
        out[label] = RemovalSummary(
            net=ExperimentNet.parse(label),
            baseline=base,
            mean_rise=sum(rises.values()) / len(rises),
            max_rise=rises[ranked[0]],
            worst=ranked[0] if rises[ranked[0]] > 0 else None,
            worst_blocks=[name for name in ranked[:3] if rises[name] > 0],
            worst_rises=[rises[name] for name in ranked[:3] if rises[name] > 0],
            blocks=len(rises),
            near_chance=len(near),
            chance=chance,
            rest_min=min(rest) if rest else None,
            rest_max=max(rest) if rest else None,
            small=sum(1 for r in rises.values() if r < SMALL_RISE),
        )
    return out


def plain_trained_worse(plain: RemovalSummary, res: RemovalSummary) -> bool:
    """The intact plain net's error is higher than the residual one's by at least :data:`LEVEL_TOLERANCE`."""
    return plain.baseline - res.baseline >= LEVEL_TOLERANCE


def reproduces_veit(summaries: Mapping[str, RemovalSummary]) -> bool:
    """Veit et al.'s observation: deleting a block costs the residual net less, on average, than the plain one
    (a missing network counts as no rise)."""
    means = mean_rises(summaries)
    return means.get("resnet", 0.0) < means.get("plain", 0.0)


def mean_rises(summaries: Mapping[str, RemovalSummary]) -> dict[str, float]:
    """The mean rise by kind (``"plain"``, ``"resnet"``)."""
    return {v.net.kind: v.mean_rise for v in summaries.values()}


# ------------------------------------------------------------------------------------------------ gradients


@dataclass(frozen=True)
class KindSteps:
    """One kind's (plain or residual) ranges over seeds at every checkpoint of a gradient-steps record."""

    #: conv1's ÷ the last conv's gradient norm
    first_last: list[Span]
    #: conv1's weight norm, and its growth from init
    conv1_weight: list[Span]
    conv1_growth: list[Span]


@dataclass(frozen=True)
class GradientStepsSummary:
    steps: list[int]
    seeds: list[int]
    plain: KindSteps
    residual: KindSteps
    #: at init, plain ÷ residual gradient norm at conv1
    init_plain_over_residual: Span


def gradient_steps_summary(record: Mapping[str, Any]) -> GradientStepsSummary:
    """From a gradient-steps record (``gradient_steps.json`` or a live run in its format): per kind (plain,
    residual) and checkpoint the range over seeds of conv1's ÷ the last conv's gradient norm, the range of conv1's
    weight-norm growth from init to each checkpoint, and at init the range of plain ÷ residual at conv1."""
    steps = list(record["settings"]["steps"])
    seeds = record["per_seed"]

    def span(values: list[float]) -> Span:
        return (min(values), max(values))

    def kind_steps(kind: str) -> KindSteps:
        return KindSteps(
            first_last=[
                span([s[kind]["grad"][i][0] / s[kind]["grad"][i][-1] for s in seeds])
                for i in range(len(steps))
            ],
            conv1_weight=[span([s[kind]["conv1_weight"][i] for s in seeds]) for i in range(len(steps))],
            conv1_growth=[
                span([s[kind]["conv1_weight"][i] / s[kind]["conv1_weight"][0] for s in seeds])
                for i in range(len(steps))
            ],
        )

    return GradientStepsSummary(
        steps=steps,
        seeds=[s["seed"] for s in seeds],
        plain=kind_steps("plain"),
        residual=kind_steps("residual"),
        init_plain_over_residual=span(
            [s["plain"]["grad"][0][0] / s["residual"]["grad"][0][0] for s in seeds]
        ),
    )


class _Flow(Protocol):
    plain: Sequence[float]
    residual: Sequence[float]


@dataclass(frozen=True)
class GradientSummary:
    """Ranges (min, max) over several gradient-flow measurements (one per seed)."""

    seeds: int
    #: the plain network's first-layer gradient ÷ the residual one's
    first_ratio: Span
    #: the plain network's first ÷ last conv
    plain_first_last: Span
    #: largest ÷ smallest gradient norm of each network
    plain_spread: Span
    res_spread: Span
    #: the plain network's mean growth factor per layer towards the input
    growth: Span
    layers: int


def gradient_summary(flows: Sequence[_Flow]) -> GradientSummary:
    """Over several gradient-flow measurements (one per seed): the ranges (min, max) of the plain network's
    first-layer ÷ the residual one's, the plain network's first ÷ last conv, the largest ÷ smallest gradient norm
    of each network, and the plain network's mean growth factor per layer towards the input
    ((first ÷ last) ** (1 / (layers − 1)), Yang et al. 2019's per-layer explosion rate)."""
    if not flows:
        raise ValueError("gradient_summary needs at least one measurement")

    def rng(values: list[float]) -> Span:
        return (min(values), max(values))

    growth = [(f.plain[0] / f.plain[-1]) ** (1 / max(1, len(f.plain) - 1)) for f in flows]
    return GradientSummary(
        seeds=len(flows),
        first_ratio=rng([f.plain[0] / f.residual[0] for f in flows]),
        plain_first_last=rng([f.plain[0] / f.plain[-1] for f in flows]),
        plain_spread=rng([max(f.plain) / min(f.plain) for f in flows]),
        res_spread=rng([max(f.residual) / min(f.residual) for f in flows]),
        growth=rng(growth),
        layers=len(flows[0].plain),
    )


# ------------------------------------------------------------------------------------------------ loss landscapes

#: Percentage points within which two non-convex shares count as level.
LANDSCAPE_LEVEL_PP = 5.0


def paper_direction(plain: LandscapeSummary, res: LandscapeSummary) -> str:
    """How our pair compares with Li et al. at a depth where they found the plain surface chaotic: "as" (the
    plain surface is less convex by more than :data:`LANDSCAPE_LEVEL_PP` points), "level" or "unlike"."""
    diff = nonconvex_gap(plain, res)
    return "as" if diff > LANDSCAPE_LEVEL_PP else "level" if diff >= -LANDSCAPE_LEVEL_PP else "unlike"


def nonconvex_gap(plain: LandscapeSummary, res: LandscapeSummary) -> float:
    """How much more of the plain surface is non-convex than of the residual one, in percentage points."""
    return 100 * (plain.nonconvex_share - res.nonconvex_share)
