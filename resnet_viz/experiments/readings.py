"""The sentences of the *Why residual* page and its sections, chosen by the data: each function reads a record
(through :mod:`.summaries`, whose named predicates hold the thresholds) and returns the
:class:`~resnet_viz.i18n.Sentence` that states it, a translation key with its numbers already formatted. The page
only words them (``i18n.say``) and lays them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import landscape as ls
from resnet_viz.experiments import paper
from resnet_viz.experiments import summaries as S
from resnet_viz.experiments.config import DATASETS
from resnet_viz.experiments.landscape import LandscapeSummary
from resnet_viz.experiments.summaries import (
    LANDSCAPE_LEVEL_PP,
    NEAR_CHANCE_MARGIN_PP,
    SMALL_RISE_PP,
    BehindEpochs,
    RemovalSummary,
    behind_epochs,
    chance_error,
    depth_comparison,
    gradient_steps_summary,
    gradient_summary,
    nonconvex_gap,
    paper_direction,
    plain_trained_worse,
    shipped_seeds,
)
from resnet_viz.formatting import (
    fmt_code,
    fmt_int,
    fmt_magnitude,
    fmt_magnitude_span,
    fmt_percent,
    fmt_points,
    fmt_range,
    fmt_sig3,
    fmt_signed_points,
)
from resnet_viz.i18n import Sentence


def _items(values: Sequence[object]) -> list[str]:
    """Seeds, steps …, as a list that :func:`~resnet_viz.i18n.say` joins with the language's separator."""
    return [str(v) for v in values]


def metric_name(metric: str) -> Sentence:
    """What a deletion sentence measures, named in it: "top-1 test error" / "top-5 test error"."""
    return Sentence(f"why_residual.metric_{metric}")


def net_name(net: ExperimentNet) -> Sentence:
    """A network's name on the page: ``plain-56`` / ``ResNet-56`` (``why_residual.run_<kind>``)."""
    return Sentence(f"why_residual.run_{net.kind}", {"depth": net.depth})


def shipped_device(record: Mapping[str, Any], missing: str = "?") -> str:
    """The machine a shipped record was made on, as its record names it (``cuda (NVIDIA H200)``), in a code span:
    a name from the record, not a phrase of the sentence, so that its half-width brackets stand apart from a zh
    sentence's full-width punctuation."""
    return fmt_code(str(record.get("device", missing)))


def degradation_intro(data: Mapping[str, Any] | None) -> Sentence:
    """The degradation section's opening, naming the data set the shipped curves were trained on (the shapes
    where the record is absent or names none we know)."""
    dataset = (data or {}).get("settings", {}).get("dataset", "shapes")
    dataset = dataset if dataset in DATASETS else "shapes"
    return Sentence(
        "why_residual.deg_intro",
        {"dataset": Sentence(f"why_residual.deg_data_{dataset}", {"classes": DATASETS[dataset]})},
    )


def degradation_caption(data: Mapping[str, Any]) -> Sentence:
    """How the shipped curves were trained: widths, set sizes, epochs, seeds, time and device."""
    cfg = data["settings"]
    return Sentence(
        "why_residual.deg_caption",
        {
            "width": cfg["width"],
            "w2": 2 * cfg["width"],
            "w4": 4 * cfg["width"],
            "n_train": fmt_int(cfg["n_train"]),
            "n_test": fmt_int(cfg["n_test"]),
            "epochs": cfg["epochs"],
            "seed_list": _items(shipped_seeds(data)),
            "minutes": round(data.get("seconds", 0) / 60),
            "device": shipped_device(data, "cpu"),
            "paper_steps": fmt_int(paper.HE2015_CIFAR_ITERATIONS),
            "paper_width": paper.HE2015_CIFAR_WIDTH,
        },
    )


def degradation_reading(settings: Mapping[str, Any]) -> Sentence:
    """How the shipped run differs from the paper's: width, steps, data."""
    return Sentence(
        "why_residual.deg_reading",
        {
            "width": settings["width"],
            "steps": fmt_int(S.train_steps(settings)),
            "paper_width": paper.HE2015_CIFAR_WIDTH,
            "paper_steps": fmt_int(paper.HE2015_CIFAR_ITERATIONS),
        },
    )


def remedies() -> Sentence:
    """The two remedies, with the paper's Table 6 errors (formatted from :mod:`.paper`)."""
    table = paper.HE2015_TABLE6_ERROR_PCT
    return Sentence(
        "why_residual.remedies",
        {
            "e20": f"{table[20]:.2f}%",
            "e56": f"{table[56]:.2f}%",
            "e110": f"{table[110]:.2f}%",
            "e1202": f"{table[1202]:.2f}%",
            "params1202": f"{paper.HE2015_RESNET1202_PARAMS_M:g}",
        },
    )


def reproduce_sentence(data: Mapping[str, Any]) -> Sentence:
    """What a rerun of ``make_curves.py`` can and cannot promise: the machine the curves were made on, and how far
    apart the seeds of one network already end (the widest final training-error spread of any network)."""
    runs = S.mean_runs(data)
    widest = max(runs, key=lambda r: r.final_train_spread) if runs else None
    key = (
        "why_residual.deg_reproduce" if widest and widest.seeds > 1 else "why_residual.deg_reproduce_one_seed"
    )
    return Sentence(
        key,
        {
            "device": shipped_device(data),
            "jobs": data.get("jobs", 1),
            "torch": data.get("torch", "?"),
            "net": net_name(widest.net) if widest else "",
            "spread": fmt_points(widest.final_train_spread) if widest else "",
            "seeds": widest.seeds if widest else 1,
        },
    )


def candidate_sentences(data: Mapping[str, Any]) -> list[Sentence]:
    """How the shipped setting was chosen, in words (the rule's thresholds from :mod:`.summaries`), and whether
    the ordering of the curves holds in every candidate setting, per family; empty without a candidates block."""
    c = S.candidates(data)
    if c is None:
        return []
    first = c.tried[0]
    names = {
        (plain, deep): net_name(ExperimentNet(first.deep if deep else first.shallow, plain))
        for plain in (True, False)
        for deep in (True, False)
    }
    met = [x.name for x in c.tried if x.meets_conditions]
    out = [
        Sentence(
            "why_residual.deg_candidates",
            {
                "n": len(c.tried),
                "plain_deep": names[True, True],
                "plain_shallow": names[True, False],
                "res_deep": names[False, True],
                "res_shallow": names[False, False],
                "plain_gap": S.CANDIDATE_PLAIN_GAP_PP,
                "res_gap": S.CANDIDATE_RESNET_GAP_PP,
                "res_pct": S.CANDIDATE_RESNET_GAP_PCT,
                "res_min": S.CANDIDATE_RESNET_SHALLOW_MIN_PCT,
                "met": len(met),
                "met_names": met or ["—"],
                "chosen": c.chosen or "—",
            },
        )
    ]
    n = len(c.tried)
    plain_gaps = [x.train(True, x.deep) - x.train(True, x.shallow) for x in c.tried]
    res_gaps = [x.train(False, x.shallow) - x.train(False, x.deep) for x in c.tried]
    plain_higher = c.count(True, "higher")
    out.append(
        Sentence(
            "why_residual.deg_cand_plain_all" if plain_higher == n else "why_residual.deg_cand_plain_some",
            {
                "n": n,
                "k": plain_higher,
                "deep": names[True, True],
                "shallow": names[True, False],
                "range": fmt_range(100 * min(plain_gaps), 100 * max(plain_gaps)),
            },
        )
    )
    res_below = sum(1 for g in res_gaps if g > 0)
    level = c.count(False, "level")
    within = [x.name for x in c.tried if S.gap_within_seed_spread(x)]
    then = []
    if level:
        then.append(
            Sentence("why_residual.deg_cand_res_level", {"k": level, "tol": fmt_points(S.LEVEL_TOLERANCE)})
        )
    if within:
        then.append(Sentence("why_residual.deg_cand_res_spread", {"k": len(within), "n": n, "names": within}))
    out.append(
        Sentence(
            "why_residual.deg_cand_res_all" if res_below == n else "why_residual.deg_cand_res_some",
            {
                "n": n,
                "k": res_below,
                "deep": names[False, True],
                "shallow": names[False, False],
                "range": fmt_range(100 * min(res_gaps), 100 * max(res_gaps)),
            },
            then=tuple(then),
        )
    )
    return out


def live_intro(live: Any, shipped: Mapping[str, Any] | None, device: str, seconds: int) -> Sentence:
    """The live run's opening: what it trains (a :class:`~.config.TrainConfig`), and how that differs from the
    shipped run above (``shipped``: the degradation record), so that it is not read as the same experiment."""
    cfg = (shipped or {}).get("settings", {})
    shipped_data = cfg.get("dataset", "shapes") if cfg.get("dataset") in DATASETS else "shapes"
    return Sentence(
        "why_residual.live_intro",
        {
            "width": live.width,
            "n_train": fmt_int(live.n_train),
            "epochs": live.epochs,
            "data": Sentence(f"why_residual.data_short_{live.dataset}", {"classes": DATASETS[live.dataset]}),
            "shipped_width": cfg.get("width", "?"),
            "shipped_n_train": fmt_int(cfg["n_train"]) if "n_train" in cfg else "?",
            "shipped_epochs": cfg.get("epochs", "?"),
            "shipped_data": Sentence(
                f"why_residual.data_short_{shipped_data}", {"classes": DATASETS[shipped_data]}
            ),
            "device": device,
            "seconds": seconds,
        },
    )


def degradation_sentences(data: Mapping[str, Any]) -> list[Sentence]:
    """What the degradation curves show, one paragraph each: per family the deep vs shallow comparison and what
    it means (the sentence its ``order`` calls for), where the deeper residual net trails, and the seeds' spread."""
    comparisons = depth_comparison(data)
    out = []
    for cmp in comparisons:
        kind = "plain" if cmp.plain else "resnet"
        diff = cmp.deep_train - cmp.shallow_train
        # Under half a percentage point is reported as level, not as "0.0 percentage points lower".
        template = "why_residual.deg_compare_level" if cmp.order == "level" else "why_residual.deg_compare"
        direction = "why_residual.higher" if diff > 0 else "why_residual.lower"
        out.append(
            Sentence(
                template,
                {
                    "epoch": cmp.epoch,
                    "deep": net_name(ExperimentNet(cmp.deep, cmp.plain)),
                    "shallow": net_name(ExperimentNet(cmp.shallow, cmp.plain)),
                    "diff": fmt_points(abs(diff)),
                    "direction": Sentence(direction),
                    "deep_train": fmt_percent(cmp.deep_train),
                    "shallow_train": fmt_percent(cmp.shallow_train),
                    "deep_test": fmt_percent(cmp.deep_test),
                    "shallow_test": fmt_percent(cmp.shallow_test),
                },
            )
        )
        out.append(Sentence(f"why_residual.deg_meaning_{kind}_{cmp.order}"))
        if not cmp.plain:
            lag = behind_epochs(data, plain=False)
            if lag and lag.behind:
                out.append(_behind_sentence(lag))
    if comparisons and comparisons[0].seeds > 1:
        spread = max(c.spread for c in comparisons)
        out.append(
            Sentence("why_residual.deg_spread", {"seeds": comparisons[0].seeds, "spread": fmt_points(spread)})
        )
    elif comparisons:
        out.append(Sentence("why_residual.deg_one_seed"))
    return out


def _behind_sentence(lag: BehindEpochs) -> Sentence:
    """One epoch, a run of epochs (first–last), or epochs scattered (a count)."""
    key = (
        "why_residual.deg_behind_one"
        if len(lag.behind) == 1
        else "why_residual.deg_behind"
        if lag.contiguous
        else "why_residual.deg_behind_scattered"
    )
    return Sentence(
        key,
        {
            "deep": net_name(ExperimentNet(lag.deep, plain=False)),
            "shallow": net_name(ExperimentNet(lag.shallow, plain=False)),
            "first": lag.behind[0],
            "last": lag.behind[-1],
            "count": len(lag.behind),
            "epochs": lag.epochs,
            "worst": lag.worst_epoch,
            "deep_err": fmt_percent(lag.worst_deep),
            "shallow_err": fmt_percent(lag.worst_shallow),
        },
    )


def removal_sentences(
    summaries: Mapping[str, RemovalSummary], removal: Mapping[str, Any] | None = None
) -> list[Sentence]:
    """What the deletion sweep shows, one paragraph each: every network's mean and largest rise, the reading of
    both (every count, range and block name from ``summaries``), how it compares with Veit et al., and (with the
    ``removal`` record) how far our networks are from theirs."""
    out = []
    for summary in summaries.values():
        net = net_name(summary.net)
        base = {
            "base": fmt_percent(summary.baseline),
            "base_images": fmt_int(summary.baseline_images),
            "n_test": fmt_int(summary.n_test),
            "metric": metric_name(summary.metric),
        }
        if not summary.worst:
            out.append(
                Sentence("why_residual.rm_summary_none", {"net": net, "blocks": summary.blocks} | base)
            )
            continue
        out.append(
            Sentence(
                "why_residual.rm_summary",
                {
                    "net": net,
                    "mean": fmt_signed_points(summary.mean_rise),
                    # worst is set only where some deletion raised the error: the largest rise is positive
                    "max": fmt_points(summary.max_rise),
                    "worst": summary.worst,
                    "blocks": summary.blocks,
                }
                | base,
            )
        )
    out += removal_reading(summaries)
    out += veit_comparison(summaries)
    if removal is not None:
        out.append(removal_width_note(removal))
    return out


def veit_comparison(summaries: Mapping[str, RemovalSummary]) -> list[Sentence]:
    """Veit et al.'s observation in its two halves, each chosen by its own predicate: the plain net suffers more
    (:func:`~.summaries.plain_suffers_more`, said only where some net's mean change is a rise,
    :func:`~.summaries.deletions_raise_on_average`), and the residual net barely notices any deletion but a
    down-sampling one (:func:`~.summaries.veit_bound_holds`, with the one bound of the deletion readings,
    :data:`~.summaries.SMALL_RISE_PP`); where it fails, how many such deletions are noticed and the costliest."""
    res, plain = S.removal_pair(summaries)
    out = []
    # "raises … more" / "at least as much" only where the larger of the two mean changes is a rise; where neither
    # net's error rises on average, the first half cannot show (rm_veit_no_rise)
    some_rise = (
        res is not None
        and plain is not None
        and (S.deletions_raise_on_average(plain) or S.deletions_raise_on_average(res))
    )
    first_half = some_rise and plain is not None and res is not None and S.plain_suffers_more(plain, res)
    if res is not None and plain is not None:
        out.append(
            Sentence(
                "why_residual.rm_veit_plain_more"
                if first_half
                else "why_residual.rm_veit_plain_not_more"
                if some_rise and S.deletions_raise_on_average(plain)
                else "why_residual.rm_veit_res_only"
                if some_rise
                else "why_residual.rm_veit_no_rise",
                {
                    "plain": net_name(plain.net),
                    "res": net_name(res.net),
                    "plain_mean": fmt_signed_points(plain.mean_rise),
                    "res_mean": fmt_signed_points(res.mean_rise),
                    "metric": metric_name(res.metric),
                },
            )
        )
    if res is not None:
        if S.veit_bound_holds(res):
            # "as well" only after a first half that held; "the same bound as above" only where the residual reading
            # above stated it (rm_res_reading_none, where no deletion raised the error, states none)
            opening = Sentence(
                "why_residual.rm_veit_other_also" if first_half else "why_residual.rm_veit_other_does"
            )
            out.append(
                Sentence(
                    "why_residual.rm_veit_res_holds" if res.worst else "why_residual.rm_veit_res_untouched",
                    {
                        "opening": opening,
                        "res": net_name(res.net),
                        "bound": SMALL_RISE_PP,
                        "metric": metric_name(res.metric),
                    },
                )
            )
        else:
            solid = res.worst_solid
            assert solid is not None  # the bound fails only where some such deletion raised the error
            out.append(
                Sentence(
                    "why_residual.rm_veit_res_fails",
                    {
                        "res": net_name(res.net),
                        "k": len(res.solid_noticed),
                        "n": len(res.solid_blocks),
                        "block": solid,
                        "rise": fmt_points(res.rise(solid)),
                        "images": fmt_int(res.rise_images(solid)),
                        "n_test": fmt_int(res.n_test),
                        "bound": SMALL_RISE_PP,
                        "metric": metric_name(res.metric),
                    },
                )
            )
    return out


def removal_width_note(removal: Mapping[str, Any]) -> Sentence:
    """How our deletion nets differ from Veit et al.'s (depth, width, data, training length; the block is the one
    this app builds, He et al. 2015's), and that the sweep was not rerun at the paper's width. Only what Veit et
    al. state of their network is said of it (its depth and CIFAR-10); the width and the training length are set
    beside the ResNet paper's CIFAR networks."""
    settings = removal["settings"]
    width = int(removal.get("width") or settings.get("width", paper.HE2015_CIFAR_WIDTH))
    return Sentence(
        "why_residual.rm_width",
        {
            "width": width,
            "paper_width": paper.HE2015_CIFAR_WIDTH,
            "depth": removal["depth"],
            "veit_depth": paper.VEIT2016_CIFAR_DEPTH,
            "steps": fmt_int(S.train_steps(settings)),
            "paper_steps": fmt_int(paper.HE2015_CIFAR_ITERATIONS),
        },
    )


def removal_seed_sentence(
    degradation: Mapping[str, Any] | None, removal: Mapping[str, Any]
) -> Sentence | None:
    """The deleted-from networks are one seed's, the degradation table is a mean over seeds: both numbers, so the
    two sections' intact errors are not read as one measurement. None where there is nothing to tell apart."""
    ctx = S.removal_seed_context(degradation, removal)
    if ctx is None:
        return None
    labels = sorted(ctx.seed_test, key=lambda label: ExperimentNet.parse(label).plain)  # residual first
    res, plain = (ExperimentNet.parse(label) for label in labels[:2])
    return Sentence(
        "why_residual.rm_seed",
        {
            "seed": ctx.seed,
            "seeds": _items(ctx.seeds),
            "res": net_name(res),
            "plain": net_name(plain),
            "res_seed": fmt_percent(ctx.seed_test[res.label]),
            "plain_seed": fmt_percent(ctx.seed_test[plain.label]),
            "res_mean": fmt_percent(ctx.mean_test[res.label]),
            "plain_mean": fmt_percent(ctx.mean_test[plain.label]),
        },
    )


def deletion_caption(removal: Mapping[str, Any]) -> Sentence:
    """Under a live deletion: the test set's size, its classes and the top-5 error of guessing."""
    classes = DATASETS.get(removal["settings"].get("dataset", "shapes"), 10)
    return Sentence(
        "why_residual.rm_live_caption",
        {
            "n_test": fmt_int(removal["settings"]["n_test"]),
            "classes": classes,
            "chance5": fmt_percent(chance_error(classes, "top5_error")),
        },
    )


def removal_reading(summaries: Mapping[str, RemovalSummary]) -> list[Sentence]:
    """The reading of the block-deletion sweep: the residual net (hardly notices any deletion / some deletions
    cost more / none changes anything), the plain one (how many deletions reach chance, the others' range), and,
    on the top-1 error only, whether the plain net trained worse (the degradation section compares top-1 errors;
    on a lenient top-5 both intact nets are near 0 and a few images would decide it)."""
    lines = []
    res, plain = S.removal_pair(summaries)
    if res is not None:
        if res.worst:
            worst = [
                Sentence(
                    "why_residual.rm_block_rise", {"block": name, "rise": fmt_signed_points(res.rise(name))}
                )
                for name in res.worst_blocks
            ]
            lines.append(
                Sentence(
                    "why_residual.rm_res_all_small"
                    if res.hardly_notices
                    else "why_residual.rm_res_some_large",
                    {
                        "net": net_name(res.net),
                        "small": res.small,
                        "blocks": res.blocks,
                        "thr": SMALL_RISE_PP,
                        "thr_images": fmt_int(int(res.small_rise_images))
                        if res.small_rise_images.denominator == 1
                        else f"{float(res.small_rise_images):g}",
                        "n_test": fmt_int(res.n_test),
                        "worst": worst,
                        "metric": metric_name(res.metric),
                    },
                )
            )
        else:
            lines.append(
                Sentence(
                    "why_residual.rm_res_reading_none",
                    {"net": net_name(res.net), "blocks": res.blocks, "metric": metric_name(res.metric)},
                )
            )
    if plain is not None:
        rest = ()
        if plain.rest_min is not None and plain.near_chance > 0:
            rest = (
                Sentence(
                    "why_residual.rm_plain_rest",
                    {
                        "rest": plain.blocks - plain.near_chance,
                        "lo": fmt_percent(plain.rest_min),
                        "hi": fmt_percent(plain.rest_max),
                    },
                ),
            )
        # "another matter" only where a deletion costs the plain net something on average
        lines.append(
            Sentence(
                "why_residual.rm_plain_reading"
                if S.deletions_raise_on_average(plain)
                else "why_residual.rm_plain_reading_flat",
                {
                    "net": net_name(plain.net),
                    "near": plain.near_chance,
                    "blocks": plain.blocks,
                    "margin": NEAR_CHANCE_MARGIN_PP,
                    "chance": fmt_percent(plain.chance),
                    "mean": fmt_signed_points(plain.mean_rise),
                    "metric": metric_name(plain.metric),
                },
                then=rest,
            )
        )
    if (
        res is not None
        and plain is not None
        and plain.metric == "top1_error"
        and plain_trained_worse(plain, res)
    ):
        lines.append(
            Sentence(
                "why_residual.rm_weaker",
                {
                    "plain": net_name(plain.net),
                    "plain_base": fmt_percent(plain.baseline),
                    "res_base": fmt_percent(res.baseline),
                    "metric": metric_name(plain.metric),
                },
            )
        )
    return lines


def gradient_steps_sentence(record: Mapping[str, Any]) -> Sentence:
    """What a gradient-steps record shows (the shipped seeds or a live run): the ranges over its seeds at init,
    after one step (or the first checkpoint after init) and at the last checkpoint."""
    s = gradient_steps_summary(record)
    steps = s.steps
    one = S.first_step_index(steps)
    return Sentence(
        "why_residual_training.result",
        {
            "depth": record["settings"]["depth"],
            "seeds": _items(s.seeds),
            "init_ratio": fmt_magnitude_span(s.init_plain_over_residual),
            "plain_ff0": fmt_magnitude_span(s.plain.first_last[0]),
            "growth": fmt_magnitude_span(s.plain.conv1_growth[one]),
            "res_growth": fmt_magnitude_span(s.residual.conv1_growth[one]),
            "w0": fmt_magnitude_span(s.plain.conv1_weight[0]),
            "w1": fmt_magnitude_span(s.plain.conv1_weight[one]),
            "step_one": steps[one],
            "plain_ff1": fmt_magnitude_span(s.plain.first_last[one]),
            "last": steps[-1],
            "plain_ff_last": fmt_magnitude_span(s.plain.first_last[-1]),
            "res_ff0": fmt_magnitude_span(s.residual.first_last[0]),
            "res_ff_last": fmt_magnitude_span(s.residual.first_last[-1]),
        },
    )


def gradient_steps_reading(record: Mapping[str, Any]) -> list[Sentence]:
    """What the gradient-steps record means, each sentence chosen by a named predicate: whether the plain net's
    explosion towards the input fades after the first step (:func:`~.summaries.explosion_course`, threshold
    :data:`~.summaries.EXPLOSION_RATIO`), whether by the last checkpoint its input side gets the small gradients
    (:func:`~.summaries.input_side_starved`) and, beside it, the residual net's own ratio there (in how many seeds
    it too falls below that bound, :func:`~.summaries.residual_low_seeds`, and whether the plain net's range still
    lies below the residual one's, :func:`~.summaries.plain_below_residual`), then who argues what (He et al. 2015,
    Yang et al. 2019). Where the explosion fades, the residual net's own ratio at initialisation beside it: in how
    many seeds it reaches the same bound (:func:`~.summaries.residual_explosion_seeds`) and in how many it does
    after the first step (:func:`~.summaries.residual_explosion_seeds_after_step`)."""
    s = gradient_steps_summary(record)
    depth = record["settings"]["depth"]
    one = S.first_step_index(s.steps)
    seeds = len(s.seeds)
    args = {
        "depth": depth,
        "ratio": S.EXPLOSION_RATIO,
        "step_one": s.steps[one],
        "last": s.steps[-1],
        "n": seeds,
    }
    ranges = {
        "plain_ff": fmt_magnitude_span(s.plain.first_last[-1]),
        "res_ff": fmt_magnitude_span(s.residual.first_last[-1]),
        "plain_ff0": fmt_magnitude_span(s.plain.first_last[0]),
        "res_ff0": fmt_magnitude_span(s.residual.first_last[0]),
    }
    course = S.explosion_course(s)
    if course == "fades":
        reached = S.residual_explosion_seeds(s)
        still = S.residual_explosion_seeds_after_step(s)
        after_step = Sentence(
            "why_residual_training.res_one_reaches" if still else "why_residual_training.res_one_below",
            args
            | ranges
            | {
                "k": still,
                "res_ff1": fmt_magnitude_span(s.residual.first_last[one]),
                "plain_ff1": fmt_magnitude_span(s.plain.first_last[one]),
            },
        )
        res_init = Sentence(
            "why_residual_training.res_init_reaches" if reached else "why_residual_training.res_init_below",
            args | ranges | {"k": reached},
            then=(after_step,),
        )
        out = [Sentence("why_residual_training.course_fades", args, then=(res_init,))]
    else:
        out = [Sentence(f"why_residual_training.course_{course}", args)]
    if course == "fades":
        if S.input_side_starved(s):
            low = S.residual_low_seeds(s)
            if low:
                beside = Sentence(
                    "why_residual_training.res_also_low",
                    args | ranges | {"k": low},
                    then=(
                        Sentence(
                            "why_residual_training.plain_below_res"
                            if S.plain_below_residual(s)
                            else "why_residual_training.plain_not_below_res",
                            args | ranges,
                        ),
                    ),
                )
            else:
                beside = Sentence("why_residual_training.res_not_low", args | ranges)
            out.append(Sentence("why_residual_training.stays_starved", args | ranges, then=(beside,)))
        else:
            out.append(Sentence("why_residual_training.stays_not_starved", args))
    out.append(Sentence("why_residual_training.who_argues", {"depth": depth}))
    return out


def gradient_sections_differ(
    record: Mapping[str, Any], live_batch: int, live_seeds: Sequence[int]
) -> Sentence:
    """Why the range at initialisation here is not the one the live measurement above gives for the same
    depth: other images, other labels, another classifier (so other random draws of the weights)."""
    cfg = record["settings"]
    return Sentence(
        "why_residual_training.vs_live",
        {
            "depth": cfg["depth"],
            "live_classes": DATASETS["shapes"],
            "live_batch": live_batch,
            "classes": DATASETS.get(cfg.get("dataset", "pairs"), DATASETS["pairs"]),
            "batch": cfg["batch_size"],
            "seeds": len(record.get("per_seed", [])),
            "live_seeds": len(live_seeds),
        },
    )


def gradient_flow_sentences(flows: Sequence[Any], arch_name: str) -> list[Sentence]:
    """The first seed's gradient norms (first layer, last conv, spread) and the ranges over all seeds
    (``arch_name``: the network's title in the page's language)."""
    flow, g = flows[0], gradient_summary(flows)
    return [
        Sentence(
            "why_residual.grad_summary",
            {
                "seed": flow.seed,
                "plain_first": fmt_magnitude(flow.plain[0]),
                "plain_last": fmt_magnitude(flow.plain[-1]),
                "plain_spread": fmt_magnitude(max(flow.plain) / min(flow.plain)),
                "res_first": fmt_magnitude(flow.residual[0]),
                "res_last": fmt_magnitude(flow.residual[-1]),
                "res_spread": fmt_magnitude(max(flow.residual) / min(flow.residual)),
            },
        ),
        Sentence(
            "why_residual.grad_seeds",
            {
                "seeds": g.seeds,
                "arch": arch_name,
                "first_ratio": fmt_range(*g.first_ratio),
                "growth": fmt_range(*g.growth, digits=3),
                "plain_first_last": fmt_range(*g.plain_first_last),
                "plain_spread": fmt_range(*g.plain_spread),
                "res_spread": fmt_range(*g.res_spread),
            },
        ),
    ]


def gradient_flow_reading(flows: Sequence[Any]) -> Sentence:
    """How to read the gradient-flow measurements, worded by them: whether the plain network's gradient explodes
    towards the input (by the page's one bound, :func:`~.summaries.plain_explodes`), grows, or not in every seed;
    in how many seeds the residual network reaches the same bound (:func:`~.summaries.residual_reaches_explosion`);
    how the residual network's layer-to-layer spread compares with the plain one's
    (:func:`~.summaries.spread_order`, "far" only from :data:`~.summaries.FAR_SPREAD_FACTOR`); then what it does
    not show (He et al. 2015 §4.1, Yang et al. 2019)."""
    g = gradient_summary(flows)
    growth = "explodes" if S.plain_explodes(g) else "grows" if g.plain_first_last[0] > 1 else "not"
    args = {"ratio": S.EXPLOSION_RATIO, "factor": S.FAR_SPREAD_FACTOR}
    reached = S.residual_reaches_explosion(g)
    res_bound = Sentence(
        "why_residual.grad_res_reaches" if reached else "why_residual.grad_res_below",
        args | {"k": reached, "n": g.seeds, "res_first_last": fmt_magnitude_span(g.res_first_last)},
    )
    return Sentence(
        f"why_residual.grad_reading_{growth}",
        args,
        then=(
            res_bound,
            Sentence(f"why_residual.grad_res_{S.spread_order(g)}", args),
            Sentence("why_residual.grad_reading_rest"),
        ),
    )


def gradient_method(flows: Sequence[Any], arch_name: str = "") -> Sentence:
    """How the gradient-flow measurements were taken: batch, seeds and input size; and, only for a network with
    projection shortcuts (option B: the ImageNet nets), that their 1×1 convs are left out of the comparison
    (``arch_name``: the network's title in the page's language)."""
    projections = get_spec(flows[0].arch).shortcut_option == "B"
    return Sentence(
        "why_residual.grad_method",
        {
            "batch": flows[0].batch_size,
            "seed_list": _items([f.seed for f in flows]),
            "size": flows[0].input_size,
        },
        then=(Sentence("why_residual.grad_method_projections", {"net": arch_name}),) if projections else (),
    )


def identity_sentence(rows_zero: Sequence[Any], rows_default: Sequence[Any]) -> Sentence:
    """‖F(x)‖ at initialisation (``BlockIdentity`` rows): with ``zero_init_residual`` the largest ‖F(x)‖ and
    the largest ‖output − ReLU(shortcut)‖ (the sentence that says every block outputs ReLU of its shortcut only
    where :func:`~.summaries.outputs_its_shortcut` holds), and with the default initialisation the mean ‖F(x)‖
    beside the mean ‖shortcut(x)‖."""
    worst = max(rows_zero, key=lambda r: r.output_minus_shortcut)
    return Sentence(
        "why_residual.id_result" if S.outputs_its_shortcut(rows_zero) else "why_residual.id_result_not",
        {
            "blocks": len(rows_zero),
            "max_f": f"{max(r.residual_norm for r in rows_zero):.3g}",
            "max_out": f"{worst.output_minus_shortcut:.3g}",
            "where": worst.name,
            "typical": f"{sum(r.residual_norm for r in rows_default) / len(rows_default):.3g}",
            "typical_s": f"{sum(r.shortcut_norm for r in rows_default) / len(rows_default):.3g}",
        },
    )


def landscape_sentences(shown: Sequence[Mapping[str, Any]]) -> list[Sentence]:
    """What a plain/residual pair of shipped surfaces shows, worded by comparing their numbers: which loss rises
    faster, how convex each is, how that compares with Li et al., and the caveats. Empty without a pair."""
    by_kind = {ExperimentNet.parse(s["net"]).kind: s for s in shown}
    if set(by_kind) != {"plain", "resnet"}:
        return []
    plain, res = by_kind["plain"], by_kind["resnet"]
    p, r = LandscapeSummary.from_dict(plain["summary"]), LandscapeSummary.from_dict(res["summary"])
    names = {
        "plain": net_name(ExperimentNet.parse(plain["net"])),
        "resnet": net_name(ExperimentNet.parse(res["net"])),
    }
    out = []
    d = f"{ls.DISTANCES[1]:g}"
    p_at, r_at = p.at_distance.get(d), r.at_distance.get(d)
    if p_at is not None and r_at is not None:
        steeper = S.steeper_kind(p_at, r_at)
        flatter = "resnet" if steeper == "plain" else "plain"
        out.append(
            Sentence(
                "landscape.read_rise",
                {
                    "r": d,
                    "steeper": names[steeper],
                    "flatter": names[flatter],
                    "steep_loss": fmt_sig3(max(p_at, r_at)),
                    "flat_loss": fmt_sig3(min(p_at, r_at)),
                    "ratio": f"{max(p_at, r_at) / min(p_at, r_at):.2g}",
                    "p_origin": fmt_sig3(p.origin_loss),
                    "r_origin": fmt_sig3(r.origin_loss),
                },
            )
        )
    out.append(
        Sentence(
            "landscape.read_convex",
            {
                "plain": names["plain"],
                "resnet": names["resnet"],
                "p_share": fmt_percent(p.nonconvex_share),
                "r_share": fmt_percent(r.nonconvex_share),
                "p_clear": fmt_percent(p.clearly_nonconvex_share),
                "r_clear": fmt_percent(r.clearly_nonconvex_share),
            },
        )
    )
    depth = ExperimentNet.parse(plain["net"]).depth
    if depth < ls.PAPER_CHAOTIC_DEPTH:
        out.append(Sentence("landscape.paper_shallow", {"depth": depth}))
    else:
        diff = nonconvex_gap(p, r)
        out.append(
            Sentence(
                f"landscape.paper_deep_{paper_direction(p, r)}",
                {"diff": f"{abs(diff):.1f}", "level": f"{LANDSCAPE_LEVEL_PP:g}"},
            )
        )
    absolute = landscape_absolute(res, r)
    if absolute is not None:
        out.append(absolute)
    out.append(
        Sentence(
            "landscape.read_caveats",
            {"width": plain["settings"]["training"]["width"], "paper_width": ls.PAPER_WIDTH},
        )
    )
    return out


def landscape_absolute(surface: Mapping[str, Any], s: LandscapeSummary) -> Sentence | None:
    """Where the residual surface stands on its own, not only against the plain one: its non-convex points and
    its loss at :data:`~.summaries.BOWL_DISTANCE` against the loss of guessing; "a bowl" only where
    :func:`~.summaries.looks_like_a_bowl` holds, and otherwise worded by the test that failed
    (:func:`~.summaries.nearly_convex`, :func:`~.summaries.below_chance_at_bowl_distance`, or both). None where the surface lacks what it needs (no curvature test
    or no loss at that distance)."""
    at = s.at_distance.get(S.BOWL_DISTANCE)
    if at is None or s.nonconvex_share is None or not s.points_tested:
        return None
    training = surface.get("settings", {}).get("training", {})
    classes = int(training.get("num_classes") or DATASETS.get(training.get("dataset", "shapes"), 10))
    chance = S.chance_loss(classes)
    convex, below = S.nearly_convex(s), S.below_chance_at_bowl_distance(s, classes)
    key = (
        "landscape.read_bowl"
        if convex and below
        else "landscape.read_not_bowl_loss"  # only the loss test failed
        if convex
        else "landscape.read_not_bowl_nonconvex"  # only the convexity test failed
        if below
        else "landscape.read_not_bowl"  # both failed
    )
    return Sentence(
        key,
        {
            "net": net_name(ExperimentNet.parse(surface["net"])),
            "share": fmt_percent(s.nonconvex_share),
            "count": S.nonconvex_points(s),
            "tested": s.points_tested,
            "max_pct": S.BOWL_NONCONVEX_MAX_PCT,
            "r": S.BOWL_DISTANCE,
            "loss": fmt_sig3(at),
            "classes": classes,
            "chance": f"{chance:.2f}",
            "times": f"{at / chance:.2g}"
            if at / chance < 100
            else fmt_int(round(at / chance)),  # never 1e+02
        },
    )


# ------------------------------------------------------------------------------------------------ shattered gradients


def fmt_lag1(value: float) -> str:
    """A lag-1 autocorrelation as the page writes it: two decimals, a true minus sign."""
    return f"{value:+.2f}".replace("-", "−")


def lag1_text(s: S.Lag1Spread) -> Sentence:
    """ "+0.65 (seeds: +0.48 to +0.69)": a network's mean lag-1 over the seeds with its range."""
    return Sentence(
        "shattered.lag_spread",
        {"mean": fmt_lag1(s.mean), "low": fmt_lag1(s.low), "high": fmt_lag1(s.high), "n": s.seeds},
    )


def colour_name(s: S.Lag1Spread) -> Sentence:
    """ "close to white noise" / "smooth, like a random walk" / "partly correlated" (:func:`~.summaries.noise_colour`)."""
    return Sentence(f"shattered.colour_{S.noise_colour(s)}")


def _pair(plain: Sequence[float], res: Sequence[float]) -> tuple[S.Lag1Spread, S.Lag1Spread]:
    return S.lag1_spread(plain), S.lag1_spread(res)


def toy_reading(sweep: Any) -> Sentence:
    """What the toy shows at its deepest depth (a ``ToySweep``): both networks' lag-1 with their spread and colour,
    and which is more correlated beyond the seed spread (:func:`~.summaries.correlation_order`)."""
    depth = max(sweep.depths)
    plain, res = _pair([r.lag1 for r in sweep.of(depth, False)], [r.lag1 for r in sweep.of(depth, True)])
    return Sentence(
        f"shattered.toy_reading_{S.correlation_order(plain, res)}",
        {
            "depth": depth,
            "plain": lag1_text(plain),
            "res": lag1_text(res),
            "plain_colour": colour_name(plain),
            "res_colour": colour_name(res),
        },
    )


def toy_norm_reading(with_norm: Any, without_norm: Any) -> Sentence:
    """What switching normalisation off does to the deepest plain toy (two ``ToySweep`` records), chosen by
    :func:`~.summaries.normalisation_shatters`. Only where normalisation is what shatters it does the page go on to
    a replication without normalisation (one possible reason it fails); where normalisation alone does not decide
    it, that sentence would not follow."""
    depth = max(with_norm.depths)
    on = S.lag1_spread([r.lag1 for r in with_norm.of(depth, False)])
    off = S.lag1_spread([r.lag1 for r in without_norm.of(depth, False)])
    shatters = S.normalisation_shatters(on, off)
    return Sentence(
        f"shattered.{'norm_shatters' if shatters else 'norm_not_alone'}",
        {"depth": depth, "on": lag1_text(on), "off": lag1_text(off), "off_colour": colour_name(off)},
        then=(Sentence("shattered.norm_replication"),) if shatters else (),
    )


def path_reading(sweep: Any, depth: int) -> Sentence | None:
    """The image path at initialisation (a ``PathSweep``) for plain-``depth`` against ResNet-``depth``, chosen by
    :func:`~.summaries.correlation_order`; None where the sweep lacks either network."""
    plain_runs, res_runs = sweep.of(f"plain{depth}"), sweep.of(f"resnet{depth}")
    if not plain_runs or not res_runs:
        return None
    plain, res = _pair([r.lag1 for r in plain_runs], [r.lag1 for r in res_runs])
    return Sentence(
        f"shattered.path_reading_{S.correlation_order(plain, res)}",
        {
            "depth": depth,
            "plain": lag1_text(plain),
            "res": lag1_text(res),
            "plain_colour": colour_name(plain),
            "res_colour": colour_name(res),
        },
    )


def trained_reading(runs: Sequence[Any]) -> Sentence | None:
    """The shipped trained plain/residual pair (``PathGradients`` with ``trained``), one value each (one set of
    weights, so no spread): their lag-1 and colour, said without a comparison beyond a spread it does not have."""
    by = {("plain" if r.plain else "resnet"): r for r in runs if r.trained}
    if set(by) != {"plain", "resnet"}:
        return None
    p, r = (S.lag1_spread([by[k].lag1]) for k in ("plain", "resnet"))
    return Sentence(
        "shattered.trained_reading",
        {
            "depth": int(by["plain"].net.removeprefix("plain")),
            "plain": fmt_lag1(p.mean),
            "res": fmt_lag1(r.mean),
            "plain_colour": colour_name(p),
            "res_colour": colour_name(r),
            "width": by["plain"].width,
        },
    )


def degradation_link(data: Mapping[str, Any] | None) -> Sentence:
    """The link back to the degradation curves: whether the shipped plain pair degrades (the deeper plain net ends
    with the higher training error, :func:`~.summaries.depth_comparison`'s order), then the honest account."""
    plain = next((c for c in depth_comparison(data) if c.plain), None) if data else None
    rest = (Sentence("shattered.account"),)
    if plain is None:
        return Sentence("shattered.link_missing", then=rest)
    return Sentence(
        "shattered.link_degrades" if plain.order == "higher" else "shattered.link_not",
        {
            "deep": plain.deep,
            "shallow": plain.shallow,
            "deep_train": fmt_percent(plain.deep_train),
            "shallow_train": fmt_percent(plain.shallow_train),
        },
        then=rest,
    )
