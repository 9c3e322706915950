"""What the page reads off the shipped records: depth comparisons and removal summaries."""

from __future__ import annotations

from typing import Any


def depth_comparison(data: dict[str, Any]) -> list[dict[str, Any]]:
    """From a degradation record: per family (plain, resnet), the deepest vs the shallowest network's errors at
    the last epoch they both finished (fractions). Empty where a family has fewer than two finished runs."""
    out = []
    for plain in (True, False):
        runs = sorted(
            (r for r in data["runs"] if r["plain"] == plain and r["train_error"]), key=lambda r: r["depth"]
        )
        if len(runs) < 2:
            continue
        shallow, deep = runs[0], runs[-1]
        n = min(len(shallow["train_error"]), len(deep["train_error"]))
        out.append(
            {
                "plain": plain,
                "shallow": shallow["depth"],
                "deep": deep["depth"],
                "epoch": n,
                "shallow_train": shallow["train_error"][n - 1],
                "deep_train": deep["train_error"][n - 1],
                "shallow_test": shallow["test_error"][n - 1],
                "deep_test": deep["test_error"][n - 1],
            }
        )
    return out


def removal_summary(removal: dict[str, Any], metric: str = "top1_error") -> dict[str, dict[str, Any]]:
    """Per network of a removal record: the intact error and the mean / largest increase over deletable blocks."""
    out = {}
    for label, sweep in removal["nets"].items():
        base = sweep["baseline"][metric]
        rises = {name: r[metric] - base for name, r in sweep["blocks"].items()}
        worst = max(rises, key=rises.get)
        out[label] = {
            "baseline": base,
            "mean_rise": sum(rises.values()) / len(rises),
            "max_rise": rises[worst],
            "worst": worst,
            "blocks": len(rises),
        }
    return out


def gradient_steps_summary(record: dict[str, Any]) -> dict[str, Any]:
    """From a gradient-steps record (``gradient_steps.json`` or a live run in its format): per kind (plain,
    residual) and checkpoint the range over seeds of conv1's ÷ the last conv's gradient norm, the range of conv1's
    weight-norm growth from init to each checkpoint, and at init the range of plain ÷ residual at conv1."""
    steps = list(record["settings"]["steps"])
    seeds = record["per_seed"]

    def span(values: list[float]) -> tuple[float, float]:
        return (min(values), max(values))

    out: dict[str, Any] = {"steps": steps, "seeds": [s["seed"] for s in seeds]}
    for kind in ("plain", "residual"):
        out[kind] = {
            "first_last": [
                span([s[kind]["grad"][i][0] / s[kind]["grad"][i][-1] for s in seeds])
                for i in range(len(steps))
            ],
            "conv1_weight": [span([s[kind]["conv1_weight"][i] for s in seeds]) for i in range(len(steps))],
            "conv1_growth": [
                span([s[kind]["conv1_weight"][i] / s[kind]["conv1_weight"][0] for s in seeds])
                for i in range(len(steps))
            ],
        }
    out["init_plain_over_residual"] = span(
        [s["plain"]["grad"][0][0] / s["residual"]["grad"][0][0] for s in seeds]
    )
    return out
