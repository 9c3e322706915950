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
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments.config import DATASETS

if TYPE_CHECKING:
    from resnet_viz.experiments.landscape import LandscapeSummary

#: Two errors closer than this (a fraction: half a percentage point) are reported as level, not as "0.0 points".
LEVEL_TOLERANCE = 0.005

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
                order=_order(diff),
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


# ------------------------------------------------------------------------------------------------ the candidates

#: The conditions the shipped degradation setting was chosen by, set before the candidates were trained (final
#: training errors, means over seeds): the plain pair shows degradation clearly ...
CANDIDATE_PLAIN_GAP_PP = 5
#: ... the deeper residual net ends lower by at least this many points, by at least this share (%) of the
#: shallower one's error, and by more than the residual nets' spread over seeds ...
CANDIDATE_RESNET_GAP_PP = 1
CANDIDATE_RESNET_GAP_PCT = 20
#: ... and the task is hard enough that the shallower residual net does not reach (almost) zero.
CANDIDATE_RESNET_SHALLOW_MIN_PCT = 3


def _order(diff: float) -> str:
    """The deeper net's error against the shallower one's: "higher", "lower", or "level" within
    :data:`LEVEL_TOLERANCE`."""
    return "level" if abs(diff) < LEVEL_TOLERANCE else ("higher" if diff > 0 else "lower")


@dataclass(frozen=True)
class Candidate:
    """One candidate setting of the degradation experiment, as its record describes it."""

    name: str
    settings: dict[str, Any]
    shallow: int
    deep: int
    #: final training errors (fractions; means over seeds) by network label
    final_train: dict[str, float]
    #: the residual nets' final training-error spread over seeds (None where not recorded)
    resnet_spread: float | None
    #: the deep net's final training error against the shallow one's, per family (see :func:`_order`)
    plain_order: str
    resnet_order: str

    def train(self, plain: bool, depth: int) -> float:
        return self.final_train[ExperimentNet(depth, plain).label]

    @property
    def meets_conditions(self) -> bool:
        """The choosing rule, recomputed from the errors: see the CANDIDATE_* thresholds."""
        plain_gap = self.train(True, self.deep) - self.train(True, self.shallow)
        res_shallow = self.train(False, self.shallow)
        res_gap = res_shallow - self.train(False, self.deep)
        return (
            plain_gap >= CANDIDATE_PLAIN_GAP_PP / 100
            and res_gap >= CANDIDATE_RESNET_GAP_PP / 100
            and res_gap >= CANDIDATE_RESNET_GAP_PCT / 100 * res_shallow
            and (self.resnet_spread is None or res_gap > self.resnet_spread)
            and res_shallow >= CANDIDATE_RESNET_SHALLOW_MIN_PCT / 100
        )


def _exact(value: float) -> Fraction:
    """A recorded error as the decimal the record wrote (``0.00815`` is 815/100000, not the nearest binary float):
    the candidates keep means over seeds rounded to a few decimals, not counts of images, so this is the exact
    comparison they allow."""
    return Fraction(repr(value))


def gap_within_seed_spread(c: Candidate) -> bool:
    """In candidate ``c`` the deeper residual net ends below the shallower one by less than the residual nets'
    spread over seeds (the largest minus the smallest final training error of one network): the mean gap is
    smaller than how far single seeds of one network already end apart. False where the spread is not recorded or
    the deeper net does not end below."""
    if c.resnet_spread is None:
        return False
    gap = _exact(c.train(False, c.shallow)) - _exact(c.train(False, c.deep))
    return 0 < gap < _exact(c.resnet_spread)


@dataclass(frozen=True)
class Candidates:
    """The candidate settings a degradation record was chosen from, and how the ordering fared in them."""

    chosen: str | None
    tried: list[Candidate]

    def count(self, plain: bool, order: str) -> int:
        """In how many candidates the family's deeper net ends ``order`` ("higher", "lower", "level")."""
        return sum(1 for c in self.tried if (c.plain_order if plain else c.resnet_order) == order)


def candidates(data: Mapping[str, Any] | None) -> Candidates | None:
    """The ``candidates`` block of a degradation record (every setting tried before the shipped one was chosen,
    with its final training errors), read per candidate: the deep-vs-shallow order in each family, compared as
    :func:`depth_comparison` compares the shipped curves. None where the record has no such block."""
    block = (data or {}).get("candidates")
    if not block or not block.get("tried"):
        return None
    tried = []
    for name, entry in block["tried"].items():
        finals = {k: float(v) for k, v in entry["final_train_error"].items()}
        depths = sorted({ExperimentNet.parse(label).depth for label in finals})
        shallow, deep = depths[0], depths[-1]
        spread = entry.get("resnet_seed_spread")
        plain_diff = finals[ExperimentNet(deep, True).label] - finals[ExperimentNet(shallow, True).label]
        res_diff = finals[ExperimentNet(deep, False).label] - finals[ExperimentNet(shallow, False).label]
        tried.append(
            Candidate(
                name=name,
                settings=dict(entry.get("settings", {})),
                shallow=shallow,
                deep=deep,
                final_train=finals,
                resnet_spread=float(spread) if spread is not None else None,
                plain_order=_order(plain_diff),
                resnet_order=_order(res_diff),
            )
        )
    return Candidates(chosen=block.get("chosen"), tried=tried)


# ------------------------------------------------------------------------------------------------ block deletion

#: A deletion "reaches chance" when its error is within this many percentage points of the chance error.
NEAR_CHANCE_MARGIN_PP = 3
#: The one bound of the deletion readings: a deletion is "hardly noticed" when it raises the error by less than this
#: many percentage points (on the shipped 1,000 test images: fewer than 20 images), and "noticed" from there on.
#: Veit et al.'s residual network barely noticed any deletion except at the down-sampling blocks; ours counts as
#: behaving the same way only if every deletion of a block that does not down-sample is hardly noticed. (One bound,
#: not one for each sentence, so that no rise is neither "hardly noticed" nor "noticed".)
SMALL_RISE_PP = 2
_BLOCK_NAME = re.compile(r"layer(\d+)\.(\d+)")


def chance_error(num_classes: int, metric: str = "top1_error") -> float:
    """The error of guessing: 1 − 1/classes for top-1, 1 − 5/classes for top-5 (0 where there are ≤ 5 classes)."""
    return float(_chance(num_classes, metric))


def _chance(num_classes: int, metric: str) -> Fraction:
    k = 5 if metric == "top5_error" else 1
    return max(Fraction(0), 1 - Fraction(k, num_classes))


def downsamples(block: str) -> bool:
    """Whether a block of the paper's CIFAR nets halves the grid: the first block of every stage but the first
    (He et al. 2015 §4.2: "subsampling is performed by convolutions with a stride of 2" where a stage starts).
    ``layer2.0`` and ``layer3.0`` do; ``layer1.0`` does not (the stem already gives it its stage's grid and
    channels, so its shortcut is the identity)."""
    match = _BLOCK_NAME.fullmatch(block)
    if match is None:
        raise ValueError(f"not a block name of a CIFAR net: {block!r} (layer2.0 …)")
    return int(match[1]) > 1 and int(match[2]) == 0


def wrong_images(error: float, n_test: int) -> int:
    """An error rate recorded on ``n_test`` images as the number of images it counts (``ValueError`` where it is
    not a whole number of them: the record and its ``n_test`` do not belong together)."""
    count = error * n_test
    if abs(count - round(count)) > 1e-6 * max(1, n_test):
        raise ValueError(f"an error of {error} is not a whole number of {n_test} test images")
    return round(count)


@dataclass(frozen=True)
class RemovalSummary:
    """One network's block-deletion sweep, read for the page. Every comparison is made in whole test images
    (``*_images``); the fractions beside them are for display."""

    net: ExperimentNet
    metric: str
    n_test: int
    baseline_images: int
    #: per deletable block, in network order: the test images it gets wrong once the block is deleted
    wrong: dict[str, int]
    #: the block that costs most; None when no deletion raised the error (so no arbitrary block is named)
    worst: str | None
    #: up to three blocks whose deletion raised the error, largest first
    worst_blocks: list[str]
    #: deletions within NEAR_CHANCE_MARGIN_PP of chance, the chance error, and the error range of the others
    near_chance: int
    chance: float
    rest_min: float | None
    rest_max: float | None
    #: deletions that raise the error by less than SMALL_RISE_PP
    small: int

    @property
    def blocks(self) -> int:
        return len(self.wrong)

    @property
    def baseline(self) -> float:
        return self.baseline_images / self.n_test

    def rise_images(self, block: str) -> int:
        """How many more test images are wrong once ``block`` is deleted (negative: fewer)."""
        return self.wrong[block] - self.baseline_images

    def rise(self, block: str) -> float:
        return self.rise_images(block) / self.n_test

    @property
    def worst_rises(self) -> list[float]:
        return [self.rise(b) for b in self.worst_blocks]

    @property
    def max_rise(self) -> float:
        return max(self.rise(b) for b in self.wrong)

    @property
    def mean_rise(self) -> float:
        return float(self.exact_mean_rise)

    @property
    def exact_mean_rise(self) -> Fraction:
        """The mean rise over the deletable blocks, exactly (images ÷ blocks ÷ test images)."""
        return Fraction(sum(self.rise_images(b) for b in self.wrong), self.blocks * self.n_test)

    @property
    def small_rise_images(self) -> Fraction:
        """:data:`SMALL_RISE_PP` in test images (20 of 1,000)."""
        return Fraction(SMALL_RISE_PP * self.n_test, 100)

    @property
    def hardly_notices(self) -> bool:
        """Every deletion costs less than :data:`SMALL_RISE_PP` points: the network hardly notices losing any one
        block. (A majority is not enough: one deletion that takes the net to chance is noticed.)"""
        return self.small == self.blocks

    @property
    def worst_solid(self) -> str | None:
        """The costliest deletion of a block that does not down-sample (None where every such deletion leaves the
        error as it was, or there is none)."""
        solid = [b for b in self.wrong if not downsamples(b) and self.rise_images(b) > 0]
        return max(solid, key=lambda b: self.rise_images(b)) if solid else None

    @property
    def solid_blocks(self) -> list[str]:
        """The deletable blocks that do not down-sample, in network order."""
        return [b for b in self.wrong if not downsamples(b)]

    def noticed(self, block: str) -> bool:
        """Deleting ``block`` raises the error by :data:`SMALL_RISE_PP` points or more (compared in images)."""
        return self.rise_images(block) >= self.small_rise_images

    @property
    def solid_noticed(self) -> list[str]:
        """The blocks that do not down-sample and whose deletion is noticed (:meth:`noticed`), in network order."""
        return [b for b in self.solid_blocks if self.noticed(b)]


def removal_summary(
    removal: Mapping[str, Any], metric: str = "top1_error", num_classes: int | None = None
) -> dict[str, RemovalSummary]:
    """Per network of a removal record, by the record's label (``"resnet-56"``): the errors counted in test images
    (the record's ``settings.n_test``), the block that costs most (``worst``; None when no deletion raised the
    error) and up to three such blocks, largest first (``worst_blocks``; only blocks whose deletion raised the
    error at all), how many deletions land within :data:`NEAR_CHANCE_MARGIN_PP` of chance and the error range of
    the others, and how many raise the error by less than :data:`SMALL_RISE_PP` points (compared in images, so
    that a rise of exactly 2.0 points is not counted as less because of float rounding)."""
    settings = removal.get("settings", {})
    if "n_test" not in settings:
        raise ValueError("a removal record needs settings.n_test to count its errors in images")
    n_test = int(settings["n_test"])
    classes = int(
        num_classes or settings.get("num_classes") or DATASETS.get(settings.get("dataset", "shapes"), 10)
    )
    chance = _chance(classes, metric)
    near_floor = chance - Fraction(NEAR_CHANCE_MARGIN_PP, 100)
    small_bound = Fraction(SMALL_RISE_PP, 100)
    out = {}
    for label, sweep in removal["nets"].items():
        base = wrong_images(sweep["baseline"][metric], n_test)
        wrong = {name: wrong_images(r[metric], n_test) for name, r in sweep["blocks"].items()}
        if not wrong:  # nothing deletable: nothing to summarise
            continue
        order = list(wrong)
        ranked = sorted(wrong, key=lambda name: (-wrong[name], order.index(name)))
        near = [name for name in ranked if Fraction(wrong[name], n_test) >= near_floor]
        rest = [wrong[name] / n_test for name in ranked if name not in near]
        out[label] = RemovalSummary(
            net=ExperimentNet.parse(label),
            metric=metric,
            n_test=n_test,
            baseline_images=base,
            wrong=wrong,
            worst=ranked[0] if wrong[ranked[0]] > base else None,
            worst_blocks=[name for name in ranked[:3] if wrong[name] > base],
            near_chance=len(near),
            chance=float(chance),
            rest_min=min(rest) if rest else None,
            rest_max=max(rest) if rest else None,
            small=sum(1 for w in wrong.values() if Fraction(w - base, n_test) < small_bound),
        )
    return out


def plain_trained_worse(plain: RemovalSummary, res: RemovalSummary) -> bool:
    """The intact plain net gets more test images wrong than the residual one, by at least
    :data:`LEVEL_TOLERANCE` of the test set (5 of 1,000 images)."""
    return Fraction(plain.baseline_images - res.baseline_images, plain.n_test) >= Fraction(
        str(LEVEL_TOLERANCE)
    )


def plain_suffers_more(plain: RemovalSummary, res: RemovalSummary) -> bool:
    """One half of Veit et al.'s observation: on average a deletion costs the plain net more test images than it
    costs the residual one (exact means, in images)."""
    return plain.exact_mean_rise > res.exact_mean_rise


#: The smallest mean rise the page can show as a rise: its points are printed with one decimal, so a mean below
#: 0.05 points (1 image in 2,000) prints as "0.0" and a sentence may not call it a rise.
SHOWN_RISE = Fraction(1, 2000)


def deletions_raise_on_average(summary: RemovalSummary) -> bool:
    """On average a deletion raises the network's error by at least what the page can show as a rise
    (:data:`SHOWN_RISE`, exact, in images). Where it does not, a sentence may not say that a deletion "raises" or
    "costs" anything on average."""
    return summary.exact_mean_rise >= SHOWN_RISE


def veit_bound_holds(res: RemovalSummary) -> bool:
    """The other half: every deletion of a block that does not down-sample raises the residual net's error by less
    than :data:`SMALL_RISE_PP` points, the bound of "hardly noticed" (Veit et al. 2016 §4.1 found only the
    down-sampling blocks to matter). Compared in test images."""
    return not res.solid_noticed


def removal_pair(
    summaries: Mapping[str, RemovalSummary],
) -> tuple[RemovalSummary | None, RemovalSummary | None]:
    """(residual, plain) of a removal summary, either None where the record lacks it."""
    res = next((v for v in summaries.values() if not v.net.plain), None)
    plain = next((v for v in summaries.values() if v.net.plain), None)
    return res, plain


@dataclass(frozen=True)
class SeedContext:
    """The deletion experiment's networks are one seed's; the degradation table is a mean over seeds."""

    seed: int
    seeds: list[int]
    #: by network label: that seed's final test error, and the mean over seeds
    seed_test: dict[str, float]
    mean_test: dict[str, float]


def removal_seed_context(
    degradation: Mapping[str, Any] | None, removal: Mapping[str, Any]
) -> SeedContext | None:
    """Which seed's trained networks the deletion record measured (its ``settings.seed``: the shipped weights are
    that seed's) and, from the degradation record, that seed's final test error beside the mean over all seeds,
    per network of the removal record. None where the degradation record has one seed only (nothing to tell
    apart) or lacks that seed's curves."""
    if not degradation:
        return None
    seeds = shipped_seeds(degradation)
    seed = int(removal.get("settings", {}).get("seed", 0))
    if len(seeds) < 2 or seed not in seeds:
        return None
    finals: dict[str, float] = {}
    for run in degradation.get("runs", []):
        label = run.get("label", ExperimentNet(int(run["depth"]), bool(run["plain"])).label)
        curves = (run.get("per_seed") or {}).get("test_error")
        if curves:  # one curve per seed, in the order of the record's seeds
            if len(curves) == len(seeds):
                finals[label] = curves[seeds.index(seed)][-1]
        elif int(run.get("seed", -1)) == seed and run.get("test_error"):
            finals[label] = run["test_error"][-1]
    means = {r.label: r.test_error[-1] for r in mean_runs(degradation)}
    if any(label not in finals or label not in means for label in removal["nets"]):
        return None
    seed_test = {label: finals[label] for label in removal["nets"]}
    mean_test = {label: means[label] for label in removal["nets"]}
    return SeedContext(seed=seed, seeds=seeds, seed_test=seed_test, mean_test=mean_test)


# ------------------------------------------------------------------------------------------------ gradients


@dataclass(frozen=True)
class KindSteps:
    """One kind's (plain or residual) ranges over seeds at every checkpoint of a gradient-steps record."""

    #: conv1's ÷ the last conv's gradient norm: the range over seeds, and each seed's value (in the record's order)
    first_last: list[Span]
    first_last_seeds: list[list[float]]
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
        ratios = [[s[kind]["grad"][i][0] / s[kind]["grad"][i][-1] for s in seeds] for i in range(len(steps))]
        return KindSteps(
            first_last=[span(r) for r in ratios],
            first_last_seeds=ratios,
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


#: The plain net's gradient has "exploded towards the input" when conv1 gets at least this many times the last
#: conv's gradient norm, in every seed; below it, it has not.
EXPLOSION_RATIO = 10


def first_step_index(steps: Sequence[int]) -> int:
    """The checkpoint after one SGD step (or, without one, the first checkpoint after initialisation)."""
    return steps.index(1) if 1 in steps else min(1, len(steps) - 1)


def explosion_course(s: GradientStepsSummary) -> str:
    """What happens to the plain net's explosion towards the input, over every seed of the record:
    "none" (conv1 ÷ last conv is below :data:`EXPLOSION_RATIO` at initialisation in some seed: nothing to follow),
    "fades" (at least the ratio in every seed at initialisation, below it in every seed after the first step) or
    "persists" (still at least the ratio in some seed after the first step)."""
    init, one = s.plain.first_last[0], s.plain.first_last[first_step_index(s.steps)]
    if init[0] < EXPLOSION_RATIO:
        return "none"
    return "fades" if one[1] < EXPLOSION_RATIO else "persists"


def input_side_starved(s: GradientStepsSummary) -> bool:
    """At the last checkpoint the plain net's conv1 gets less than 1/:data:`EXPLOSION_RATIO` of its last conv's
    gradient norm in every seed: the imbalance has turned round, the input side now gets the small gradients."""
    return s.plain.first_last[-1][1] < 1 / EXPLOSION_RATIO


def residual_low_seeds(s: GradientStepsSummary) -> int:
    """In how many seeds the residual net's conv1 gets less than 1/:data:`EXPLOSION_RATIO` of its last conv's
    gradient norm at the last checkpoint (a count of seeds, so that "in some seed" is never read as most of them)."""
    return sum(1 for r in s.residual.first_last_seeds[-1] if r < 1 / EXPLOSION_RATIO)


def plain_below_residual(s: GradientStepsSummary) -> bool:
    """At the last checkpoint the plain net's conv1 ÷ last-conv ratio is below the residual net's in every pair of
    seeds: the plain net's whole range lies below the residual net's lowest seed."""
    return s.plain.first_last[-1][1] < s.residual.first_last[-1][0]


def residual_explosion_seeds(s: GradientStepsSummary) -> int:
    """In how many seeds the *residual* net's conv1 gets at least :data:`EXPLOSION_RATIO` × its last conv's gradient
    norm at initialisation: where it does, it reaches the bound this page calls an explosion, as the plain net does
    (if by far less)."""
    return sum(1 for r in s.residual.first_last_seeds[0] if r >= EXPLOSION_RATIO)


def residual_explosion_seeds_after_step(s: GradientStepsSummary) -> int:
    """In how many seeds the *residual* net's conv1 still gets at least :data:`EXPLOSION_RATIO` × its last conv's
    gradient norm after the first step (:func:`first_step_index`): where it does, what fades after one step is the
    plain net's explosion, not the residual net's ratio."""
    return sum(1 for r in s.residual.first_last_seeds[first_step_index(s.steps)] if r >= EXPLOSION_RATIO)


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
    #: the residual network's first ÷ last conv: the range, and each seed's value
    res_first_last: Span
    res_first_last_seeds: list[float]
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
        res_first_last=rng([f.residual[0] / f.residual[-1] for f in flows]),
        res_first_last_seeds=[f.residual[0] / f.residual[-1] for f in flows],
        growth=rng(growth),
        layers=len(flows[0].plain),
    )


#: The plain network's layer-to-layer spread (largest ÷ smallest gradient norm) is "far" larger than the residual
#: one's only when its smallest over the seeds is at least this many times the residual network's largest.
FAR_SPREAD_FACTOR = 10


def plain_explodes(g: GradientSummary) -> bool:
    """At initialisation the plain network's first conv gets at least :data:`EXPLOSION_RATIO` × its last conv's
    gradient norm in every seed: the page's one bound for an explosion towards the input."""
    return g.plain_first_last[0] >= EXPLOSION_RATIO


def residual_reaches_explosion(g: GradientSummary) -> int:
    """In how many seeds the *residual* network's first conv gets at least :data:`EXPLOSION_RATIO` × its last
    conv's gradient norm at initialisation: the page's bound for an explosion, reached by the residual net too
    (a count of seeds, so that the plain net's "in every seed" is not read as the residual net's "in none")."""
    return sum(1 for r in g.res_first_last_seeds if r >= EXPLOSION_RATIO)


def spread_order(g: GradientSummary) -> str:
    """How the plain network's layer-to-layer spread compares with the residual one's, over every seed: "far"
    (the plain network's smallest is at least :data:`FAR_SPREAD_FACTOR` × the residual one's largest), "less"
    (the residual network's largest is below the plain one's smallest), "more" (the residual network's smallest is
    above the plain one's largest) or "overlap" (the ranges meet)."""
    if g.plain_spread[0] >= FAR_SPREAD_FACTOR * g.res_spread[1]:
        return "far"
    if g.res_spread[1] < g.plain_spread[0]:
        return "less"
    return "more" if g.res_spread[0] > g.plain_spread[1] else "overlap"


# ------------------------------------------------------------------------------------------------ loss landscapes

#: Percentage points within which two non-convex shares count as level.
LANDSCAPE_LEVEL_PP = 5
#: A surface is "nearly convex, a bowl" (Li et al.'s picture of their ResNet-56) here only if at most this share
#: (%) of its tested points is locally non-convex ...
BOWL_NONCONVEX_MAX_PCT = 10
#: ... and at this distance its loss is still below the loss of guessing (ln of the number of classes).
BOWL_DISTANCE = "0.5"


def nonconvex_points(s: LandscapeSummary) -> int:
    """How many of the tested grid points are locally non-convex (the summary keeps the share)."""
    if s.nonconvex_share is None or not s.points_tested:
        raise ValueError("a slice has no curvature test: no non-convex points to count")
    count = s.nonconvex_share * s.points_tested
    if abs(count - round(count)) > 1e-6 * s.points_tested:
        raise ValueError(f"a share of {s.nonconvex_share} is not a whole number of {s.points_tested} points")
    return round(count)


def paper_direction(plain: LandscapeSummary, res: LandscapeSummary) -> str:
    """How our pair compares with Li et al. at a depth where they found the plain surface chaotic: "as" (more of
    the plain surface's tested points are non-convex, by more than :data:`LANDSCAPE_LEVEL_PP` points of them),
    "level" or "unlike". Compared in grid points, not in float shares."""
    gap = Fraction(nonconvex_points(plain), plain.points_tested) - Fraction(
        nonconvex_points(res), res.points_tested
    )
    bound = Fraction(LANDSCAPE_LEVEL_PP, 100)
    return "as" if gap > bound else "level" if gap >= -bound else "unlike"


def nonconvex_gap(plain: LandscapeSummary, res: LandscapeSummary) -> float:
    """How much more of the plain surface is non-convex than of the residual one, in percentage points."""
    return 100 * (nonconvex_points(plain) / plain.points_tested - nonconvex_points(res) / res.points_tested)


def steeper_kind(plain_loss: float, res_loss: float) -> str:
    """Which surface's loss is higher at a given distance: "plain" or "resnet" (a tie names the residual one, so
    the sentence never calls the plain surface steeper without cause)."""
    return "plain" if plain_loss > res_loss else "resnet"


def chance_loss(num_classes: int) -> float:
    """The cross-entropy of guessing uniformly among ``num_classes`` classes: ln C."""
    return math.log(num_classes)


def nearly_convex(s: LandscapeSummary) -> bool:
    """At most :data:`BOWL_NONCONVEX_MAX_PCT` % of the tested points are locally non-convex (counted in points)."""
    return 100 * nonconvex_points(s) <= BOWL_NONCONVEX_MAX_PCT * s.points_tested


def below_chance_at_bowl_distance(s: LandscapeSummary, num_classes: int) -> bool:
    """At :data:`BOWL_DISTANCE` the loss is below that of guessing (False where the slice has no loss there)."""
    at = s.at_distance.get(BOWL_DISTANCE)
    return at is not None and at < chance_loss(num_classes)


def looks_like_a_bowl(s: LandscapeSummary, num_classes: int) -> bool:
    """Li et al.'s picture of a residual surface: :func:`nearly_convex` and, at :data:`BOWL_DISTANCE`, a loss below
    that of guessing (:func:`below_chance_at_bowl_distance`)."""
    return nearly_convex(s) and below_chance_at_bowl_distance(s, num_classes)


# ------------------------------------------------------------------------------------------------ identity at init

#: With ``zero_init_residual`` a block "outputs ReLU of its shortcut" when ‖block(x) − ReLU(shortcut(x))‖ is at
#: most this share of the largest ‖x‖ (float rounding; measured, it is exactly 0).
IDENTITY_TOLERANCE = 1e-6


class _BlockRow(Protocol):
    name: str
    input_norm: float
    output_minus_shortcut: float


def outputs_its_shortcut(rows: Sequence[_BlockRow]) -> bool:
    """Every measured block's output equals ReLU(shortcut(x)) within :data:`IDENTITY_TOLERANCE`."""
    scale = max((r.input_norm for r in rows), default=0.0)
    return all(r.output_minus_shortcut <= IDENTITY_TOLERANCE * scale for r in rows)


# ------------------------------------------------------------------------------------------------ shattered gradients
# Balduzzi et al. 2017: the lag-1 autocorrelation of dy/dx along the input (resnet_viz.experiments.shattered) is
# ≈ 0 for white noise and close to 1 for a random walk (brown noise). The page names a curve by where its mean over
# the seeds falls, and compares two networks only beyond their spread over the seeds.

#: A network's gradient is "close to white noise" where the mean lag-1 autocorrelation over the seeds lies within
#: ±WHITE_LAG1 (white noise of 256 samples stays within about ±0.125 in 95% of draws: 2/√256) ...
WHITE_LAG1 = 0.2
#: ... and "smooth, like a random walk" where it is at least BROWN_LAG1 (a random walk of 256 steps has a lag-1
#: autocorrelation of about 0.98; between the two bounds the page says "partly correlated").
BROWN_LAG1 = 0.8


@dataclass(frozen=True)
class Lag1Spread:
    """One network's lag-1 autocorrelations over several seeds: mean, lowest, highest."""

    mean: float
    low: float
    high: float
    seeds: int


def lag1_spread(values: Sequence[float]) -> Lag1Spread:
    """The mean, lowest and highest of several seeds' lag-1 autocorrelations."""
    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise ValueError("lag1_spread needs at least one finite value")
    return Lag1Spread(statistics.fmean(vals), min(vals), max(vals), len(vals))


def noise_colour(s: Lag1Spread) -> str:
    """ "white" (mean lag-1 within ±:data:`WHITE_LAG1`), "brown" (at least :data:`BROWN_LAG1`) or "between"."""
    if abs(s.mean) <= WHITE_LAG1:
        return "white"
    return "brown" if s.mean >= BROWN_LAG1 else "between"


def correlation_order(plain: Lag1Spread, res: Lag1Spread) -> str:
    """Which network's gradient is more correlated *beyond the seed spread*: "residual" where the residual
    network's lowest lag-1 over the seeds is above the plain network's highest, "plain" the other way round, and
    "overlap" where the two ranges meet (then the page says no more than that)."""
    if res.low > plain.high:
        return "residual"
    if plain.low > res.high:
        return "plain"
    return "overlap"


def closer_to_white(plain: Lag1Spread, res: Lag1Spread) -> str:
    """Which network's gradient is closer to white noise: the one whose mean lag-1 is nearer 0 ("plain" or
    "residual"; a tie, which measured floats never give, counts for neither and raises)."""
    if abs(plain.mean) == abs(res.mean):
        raise ValueError("the two networks are equally far from white noise")
    return "plain" if abs(plain.mean) < abs(res.mean) else "residual"


def normalisation_shatters(with_norm: Lag1Spread, without_norm: Lag1Spread) -> bool:
    """Whether normalisation is what shatters the plain network's gradient here: with it the gradient is close to
    white noise, without it more correlated than that beyond the seed spread (lowest without > highest with)."""
    return noise_colour(with_norm) == "white" and without_norm.low > with_norm.high
