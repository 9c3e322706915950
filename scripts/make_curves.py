"""Produce the precomputed data the "Why residual" page ships (assets/curves/), reproducibly.

    python scripts/make_curves.py --device cuda --jobs 12 --no-gradients   # the shipped curves (GPU, ≈ 2 min)
    python scripts/make_curves.py --gradients-only                         # gradient_steps.json (CPU, ≈ 6 min)
    python scripts/make_curves.py --quick --out /tmp/curves   # a shortened run through the same code path

Writes, under --out:
* degradation.json   — settings, seeds, device and software versions, and per network the mean errors per epoch
  over the seeds plus every seed's own curves (``per_seed``);
* removal.json       — Veit et al.'s experiment on the trained 56-layer nets of the first seed: test errors with
  each block deleted;
* resnet56.safetensors, plain56.safetensors — those nets' weights (so the page can delete blocks live, offline);
* gradient_steps.json — gradient norms per main-path conv of plain-56 and ResNet-56 at init and after 1, 10 and
  100 SGD steps (:func:`resnet_viz.experiments.gradient_steps`), one record per seed.

Everything is decided by the settings and seeds recorded in the files; the data is generated from the seed by
resnet_viz.experiments.generate, so no data file is needed. What a rerun can promise (as the page's "Settings, seed
and how to reproduce" says): the same generated data and the same settings. What it cannot: the same curves. The
shipped ones were trained on a GPU, several training processes at a time (device, jobs and versions are recorded in
degradation.json); a CPU rounds differently, and nothing here switches on PyTorch's deterministic algorithms, so two
GPU runs may differ too. Small differences grow during training: the seeds of one network already end far apart
in training error (the page gives the widest spread). So a rerun's single seeds may land anywhere in such a range
and its means move with them; the page compares means, and the candidate settings show how the ordering fared from
one setting to another.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resnet_viz import experiments as ex
from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet

#: The settings of the shipped curves: the 20-class relational "pairs" data set (20,000 training images, up to two
#: occluding strokes each), width 4 (a quarter of the paper's 16/32/64 channels: narrow enough that ResNet-20 cannot
#: fit the task and depth pays), batches of 128 as in the paper, 12 epochs (1,884 steps per network) with the
#: paper's two learning-rate drops. Chosen from five candidate settings tried on a GPU (see docs/experiments.md), as the one
#: where the curves show both halves of the paper's Figure 6.
SHIPPED = ex.TrainConfig(
    depths=(20, 56),
    dataset="pairs",
    width=4,
    n_train=20000,
    n_test=1000,
    image_size=32,
    noise=0.1,
    strokes=2,
    epochs=12,
    batch_size=128,
    lr=0.1,
    momentum=0.9,
    weight_decay=1e-4,
    lr_drops=(0.5, 0.75),
    augment=True,
    seed=0,
)
#: Every network is trained once per seed (data, initial weights and batch order all follow the seed).
SEEDS: tuple[int, ...] = (0, 1, 2)
#: gradient_steps.json: the paper's width (16/32/64), batches of 16, seeds 0–3; the page's live run is seed 0.
GRADIENT_STEPS = {"depth": 56, "width": 16, "batch_size": 16, "steps": ex.DEFAULT_STEPS, "lr": 0.1}
GRADIENT_SEEDS: tuple[int, ...] = (0, 1, 2, 3)

#: A shortened run through the same code path (tests and a quick look): a few batches, one epoch, two seeds.
QUICK = dataclasses.replace(SHIPPED, n_train=128, n_test=64, epochs=1, batch_size=32)
QUICK_SEEDS: tuple[int, ...] = (0, 1)
QUICK_GRADIENT_STEPS = {**GRADIENT_STEPS, "width": 4, "batch_size": 8, "steps": (0, 1, 2)}
QUICK_GRADIENT_SEEDS: tuple[int, ...] = (0,)

DEFAULT_OUT = paths.CURVES_DIR
_DIGITS = 5


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DIGITS)
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def write_json(path: Path, data: dict) -> None:
    """Indented JSON with every list of numbers on one line (compact, still readable and diffable)."""
    text = json.dumps(_round(data), indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s+([-0-9.eE,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    path.write_text(text + "\n", encoding="utf-8")


def software() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def describe(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def _mean(rows: list[list[float]]) -> list[float]:
    n = min(len(r) for r in rows)
    return [sum(r[i] for r in rows) / len(rows) for i in range(n)]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run_jobs(jobs: list[tuple], n_jobs: int, log) -> list[Any]:
    """Run ``(fn, args, kwargs)`` jobs, in this process (n_jobs 1) or one spawned process per job."""
    if n_jobs <= 1:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
        futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]
        out = []
        for i, f in enumerate(futures):
            out.append(f.result())
            log(f"job {i + 1}/{len(futures)} done")
        return out


def _gradient_job(seed: int, device: str, threads: int, settings: dict[str, Any]) -> ex.GradientSteps:
    torch.set_num_threads(threads)
    return ex.gradient_steps(seed=seed, device=device, **settings)


def _write_gradients(out: Path, grads: list[ex.GradientSteps], meta: dict[str, Any]) -> None:
    record = ex.gradient_steps_record(grads)
    per_seed = record.pop("per_seed")
    write_json(out / paths.GRADIENT_STEPS_FILE, {**record, **meta, "per_seed": per_seed})


def write_gradient_steps(
    out: Path, settings: dict[str, Any], seeds: tuple[int, ...], device: str, jobs: int, threads: int
) -> None:
    """gradient_steps.json alone: :func:`resnet_viz.experiments.gradient_steps` for every seed."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    grads = _run_jobs([(_gradient_job, (s, device, threads, dict(settings)), {}) for s in seeds], jobs, print)
    meta = {"script": "scripts/make_curves.py", "device": describe(device), **software(), "jobs": jobs}
    _write_gradients(
        out, grads, {**meta, "threads": threads, "seconds": round(time.perf_counter() - start, 1)}
    )


def make_curves(
    config: ex.TrainConfig,
    out: Path,
    *,
    seeds: tuple[int, ...] = SEEDS,
    gradient_settings: dict[str, Any] | None = None,
    gradient_seeds: tuple[int, ...] = GRADIENT_SEEDS,
    device: str = "cpu",
    jobs: int = 1,
    threads: int = 1,
    note: str | None = None,
    log=print,
) -> dict:
    """Train every network of ``config`` once per seed, write degradation.json, the first seed's 56-layer weights,
    removal.json and (unless ``gradient_settings`` is None) gradient_steps.json. Returns the degradation dict."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    depth = max(config.depths)
    tmp = Path(tempfile.mkdtemp(prefix="curves-"))
    train_jobs = []
    for seed in seeds:
        cfg = dataclasses.replace(config, seed=seed)
        for label, d, plain in config.runs:
            keep = seed == seeds[0] and d == depth
            weights = str(tmp / f"{label}.safetensors") if keep else None
            kwargs = {"device": device, "threads": threads, "weights_path": weights}
            if jobs > 1:
                kwargs["log"] = _stderr
            train_jobs.append((ex.train_network, (cfg, d, plain), kwargs))
    grad_jobs = []
    if gradient_settings is not None:
        for seed in gradient_seeds:
            grad_jobs.append((_gradient_job, (seed, device, threads, dict(gradient_settings)), {}))
    results = _run_jobs(train_jobs + grad_jobs, jobs, log)
    curves, grads = results[: len(train_jobs)], results[len(train_jobs) :]

    runs = []
    for label, d, plain in config.runs:
        mine = [c for c in curves if c["label"] == label]
        runs.append(
            {
                "label": label,
                "depth": d,
                "plain": plain,
                "train_error": _mean([c["train_error"] for c in mine]),
                "test_error": _mean([c["test_error"] for c in mine]),
                "train_loss": _mean([c["train_loss"] for c in mine]),
                "seconds": sum(c["seconds"] for c in mine) / len(mine),
                "per_seed": {
                    key: [c[key] for c in mine]
                    for key in ("train_error", "test_error", "train_loss", "seconds")
                },
            }
        )
        log(f"{label}: final train error per seed {[round(c['train_error'][-1], 4) for c in mine]}")
    meta = {
        "script": "scripts/make_curves.py",
        "device": describe(device),
        **software(),
        "jobs": jobs,
        "threads": threads,
    }
    if note:
        meta["note"] = note
    data = {"settings": config.to_dict(), "seeds": list(seeds), "stopped": False, **meta, "runs": runs}

    # Block deletion on the first seed's 56-layer nets, on that seed's test set.
    x_test, y_test = ex.test_data(config)
    removal: dict = {"settings": config.to_dict(), "depth": depth, "width": config.width, "nets": {}}
    for net in (ExperimentNet(depth, plain=False), ExperimentNet(depth, plain=True)):
        target = paths.net_weights_path(net, out)
        target.write_bytes((tmp / f"{net.label}.safetensors").read_bytes())
        model = ex.load_trained(target, depth=depth, width=config.width, plain=net.plain).to(device)
        removal["nets"][net.label] = ex.block_removal_sweep(model, x_test, y_test)
        log(f"{net.label}: block removal sweep done")
    write_json(out / paths.REMOVAL_FILE, removal)

    if grads:
        # The jobs ran together with the training jobs: their time is the whole run's so far.
        _write_gradients(out, grads, {**meta, "seconds": round(time.perf_counter() - start, 1)})
    data["seconds"] = round(time.perf_counter() - start, 1)
    write_json(out / paths.DEGRADATION_FILE, data)
    return data


def _parse_set(items: list[str]) -> dict[str, Any]:
    names = {f.name: f.type for f in dataclasses.fields(ex.TrainConfig)}
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in names:
            raise SystemExit(f"--set: no setting {key!r}")
        out[key] = json.loads(value) if key != "dataset" else value
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default assets/curves)")
    parser.add_argument(
        "--quick", action="store_true", help="a shortened run (a few batches), same code path"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="processes: one network × seed each (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (recorded in the files)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--no-gradients", action="store_true", help="skip gradient_steps.json")
    parser.add_argument(
        "--gradients-only", action="store_true", help="only gradient_steps.json (CPU: minutes)"
    )
    parser.add_argument("--note", help="a remark recorded in degradation.json (e.g. what ran beside it)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    config = dataclasses.replace(QUICK if args.quick else SHIPPED, **_parse_set(args.set))
    grad = QUICK_GRADIENT_STEPS if args.quick else GRADIENT_STEPS
    grad_seeds = QUICK_GRADIENT_SEEDS if args.quick else GRADIENT_SEEDS
    if args.gradients_only:
        write_gradient_steps(args.out, grad, grad_seeds, args.device, args.jobs, max(1, args.threads))
        return 0
    make_curves(
        config,
        args.out,
        seeds=QUICK_SEEDS if args.quick else SEEDS,
        gradient_settings=None if args.no_gradients else grad,
        gradient_seeds=grad_seeds,
        device=args.device,
        jobs=args.jobs,
        threads=max(1, args.threads),
        note=args.note,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
