"""The sentences of the *Why residual* page and its sections, chosen by the data: each function reads a record
(through :mod:`.summaries`, whose named predicates hold the thresholds) and returns the
:class:`~resnet_viz.i18n.Sentence` that states it, a translation key with its numbers already formatted. The page
only words them (``i18n.say``) and lays them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import landscape as ls
from resnet_viz.experiments.config import DATASETS
from resnet_viz.experiments.landscape import LandscapeSummary
from resnet_viz.experiments.summaries import (
    LANDSCAPE_LEVEL_PP,
    NEAR_CHANCE_MARGIN,
    SMALL_RISE,
    BehindEpochs,
    RemovalSummary,
    behind_epochs,
    chance_error,
    depth_comparison,
    gradient_steps_summary,
    gradient_summary,
    mean_rises,
    nonconvex_gap,
    paper_direction,
    plain_trained_worse,
    reproduces_veit,
    shipped_seeds,
)
from resnet_viz.formatting import (
    fmt_list,
    fmt_magnitude_span,
    fmt_percent,
    fmt_points,
    fmt_range,
    fmt_sig3,
    fmt_signed_points,
)
from resnet_viz.i18n import Sentence


def net_name(net: ExperimentNet) -> Sentence:
    """A network's name on the page: ``plain-56`` / ``ResNet-56`` (``why_residual.run_<kind>``)."""
    return Sentence(f"why_residual.run_{net.kind}", {"depth": net.depth})


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
            "n_train": cfg["n_train"],
            "n_test": cfg["n_test"],
            "epochs": cfg["epochs"],
            "seed_list": fmt_list(shipped_seeds(data)),
            "minutes": round(data.get("seconds", 0) / 60),
            "device": data.get("device", "cpu"),
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


def removal_sentences(summaries: Mapping[str, RemovalSummary]) -> list[Sentence]:
    """What the deletion sweep shows, one paragraph each: every network's mean and largest rise, the reading of
    both (every count, range and block name from ``summaries``), and whether Veit et al.'s observation holds."""
    out = []
    for summary in summaries.values():
        net = net_name(summary.net)
        if not summary.worst:
            out.append(
                Sentence(
                    "why_residual.rm_summary_none",
                    {"net": net, "blocks": summary.blocks, "base": fmt_percent(summary.baseline)},
                )
            )
            continue
        out.append(
            Sentence(
                "why_residual.rm_summary",
                {
                    "net": net,
                    "mean": fmt_signed_points(summary.mean_rise),
                    "max": fmt_signed_points(summary.max_rise),
                    "worst": summary.worst,
                    "blocks": summary.blocks,
                    "base": fmt_percent(summary.baseline),
                },
            )
        )
    out += removal_reading(summaries)
    if reproduces_veit(summaries):
        out.append(Sentence("why_residual.rm_reading"))
    else:
        means = mean_rises(summaries)
        out.append(
            Sentence(
                "why_residual.rm_reading_not",
                {
                    "res_mean": fmt_signed_points(means.get("resnet", 0.0)),
                    "plain_mean": fmt_signed_points(means.get("plain", 0.0)),
                },
            )
        )
    return out


def deletion_caption(removal: Mapping[str, Any]) -> Sentence:
    """Under a live deletion: the test set's size, its classes and the top-5 error of guessing."""
    classes = DATASETS.get(removal["settings"].get("dataset", "shapes"), 10)
    return Sentence(
        "why_residual.rm_live_caption",
        {
            "n_test": removal["settings"]["n_test"],
            "classes": classes,
            "chance5": fmt_percent(chance_error(classes, "top5_error")),
        },
    )


def removal_reading(summaries: Mapping[str, RemovalSummary]) -> list[Sentence]:
    """The reading of the block-deletion sweep: the residual net (hardly notices / hurt / unchanged), the plain
    one (how many deletions reach chance, the others' range), and whether the plain net trained worse."""
    lines = []
    res = next((v for v in summaries.values() if not v.net.plain), None)
    plain = next((v for v in summaries.values() if v.net.plain), None)
    if res is not None:
        if res.worst:
            worst = [
                f"{name} ({fmt_signed_points(rise)} pp)"
                for name, rise in zip(res.worst_blocks, res.worst_rises)
            ]
            lines.append(
                Sentence(
                    "why_residual.rm_res_reading"
                    if res.hardly_notices
                    else "why_residual.rm_res_reading_hurt",
                    {
                        "net": net_name(res.net),
                        "small": res.small,
                        "blocks": res.blocks,
                        "thr": fmt_points(SMALL_RISE),
                        "worst": worst,
                    },
                )
            )
        else:
            lines.append(
                Sentence("why_residual.rm_res_reading_none", {"net": net_name(res.net), "blocks": res.blocks})
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
        lines.append(
            Sentence(
                "why_residual.rm_plain_reading",
                {
                    "net": net_name(plain.net),
                    "near": plain.near_chance,
                    "blocks": plain.blocks,
                    "margin": fmt_points(NEAR_CHANCE_MARGIN),
                    "chance": fmt_percent(plain.chance),
                    "mean": fmt_signed_points(plain.mean_rise),
                },
                then=rest,
            )
        )
    if res is not None and plain is not None and plain_trained_worse(plain, res):
        lines.append(
            Sentence(
                "why_residual.rm_weaker",
                {
                    "plain": net_name(plain.net),
                    "plain_base": fmt_percent(plain.baseline),
                    "res_base": fmt_percent(res.baseline),
                },
            )
        )
    return lines


def gradient_steps_sentence(record: Mapping[str, Any]) -> Sentence:
    """What a gradient-steps record shows (the shipped seeds or a live run): the ranges over its seeds at init,
    after one step (or the first checkpoint after init) and at the last checkpoint."""
    s = gradient_steps_summary(record)
    steps = s.steps
    one = steps.index(1) if 1 in steps else min(1, len(steps) - 1)
    return Sentence(
        "why_residual_training.result",
        {
            "depth": record["settings"]["depth"],
            "seeds": fmt_list(s.seeds),
            "init_ratio": fmt_magnitude_span(s.init_plain_over_residual),
            "plain_ff0": fmt_magnitude_span(s.plain.first_last[0]),
            "growth": fmt_magnitude_span(s.plain.conv1_growth[one]),
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


def gradient_flow_sentences(flows: Sequence[Any], arch_name: str) -> list[Sentence]:
    """The first seed's gradient norms (first layer, last conv, spread) and the ranges over all seeds
    (``arch_name``: the network's title in the page's language)."""
    flow, g = flows[0], gradient_summary(flows)
    return [
        Sentence(
            "why_residual.grad_summary",
            {
                "seed": flow.seed,
                "plain_first": f"{flow.plain[0]:.3g}",
                "plain_last": f"{flow.plain[-1]:.3g}",
                "plain_spread": f"{max(flow.plain) / min(flow.plain):.3g}",
                "res_first": f"{flow.residual[0]:.3g}",
                "res_last": f"{flow.residual[-1]:.3g}",
                "res_spread": f"{max(flow.residual) / min(flow.residual):.3g}",
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


def gradient_method(flows: Sequence[Any]) -> Sentence:
    """How the gradient-flow measurements were taken: batch, seeds and input size."""
    return Sentence(
        "why_residual.grad_method",
        {
            "batch": flows[0].batch_size,
            "seed_list": fmt_list(f.seed for f in flows),
            "size": flows[0].input_size,
        },
    )


def identity_sentence(rows_zero: Sequence[Any], rows_default: Sequence[Any]) -> Sentence:
    """‖F(x)‖ at initialisation: the largest over the blocks with ``zero_init_residual``, the largest output −
    shortcut, and the mean with the default initialisation (``BlockIdentity`` rows)."""
    return Sentence(
        "why_residual.id_result",
        {
            "blocks": len(rows_zero),
            "max_f": f"{max(r.residual_norm for r in rows_zero):.3g}",
            "max_out": f"{max(r.output_minus_shortcut for r in rows_zero):.3g}",
            "typical": f"{sum(r.residual_norm for r in rows_default) / len(rows_default):.3g}",
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
        steeper = "plain" if p_at > r_at else "resnet"
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
    out.append(
        Sentence(
            "landscape.read_caveats",
            {"width": plain["settings"]["training"]["width"], "paper_width": ls.PAPER_WIDTH},
        )
    )
    return out
