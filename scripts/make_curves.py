"""Produce the precomputed curves the "Why residual" page ships (assets/curves/), reproducibly.

    python scripts/make_curves.py                 # the shipped run (≈ 15 min of one CPU thread)
    python scripts/make_curves.py --quick --out /tmp/curves   # a shortened run through the same code path

Writes, under --out:
* degradation.json — {"settings": TrainConfig, "runs": per-network errors per epoch, "device", "torch", ...};
* removal.json     — Veit et al.'s experiment on the trained 56-layer nets: test errors with each block deleted;
* resnet56.safetensors, plain56.safetensors — their weights (so the page can delete blocks live, offline).

Everything is decided by the settings (and seeds) recorded in degradation.json; the data is generated from the
seed by resnet_viz.experiments.synthetic_shapes, so no data file is needed. Results on another machine or torch
version may differ in the last digits (floating-point reduction order), not in the picture.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from resnet_viz import experiments as ex
from resnet_viz import paths

#: The settings of the shipped curves. Width 8 (half the paper's 16/32/64 channels), 3,000 training images, batches
#: of 32 and 12 epochs (1,128 steps per network), so that the four networks train in about 15 minutes of one CPU
#: thread.
SHIPPED = ex.TrainConfig(
    depths=(20, 56),
    width=8,
    n_train=3000,
    n_test=500,
    image_size=32,
    noise=0.1,
    epochs=12,
    batch_size=32,
    lr=0.1,
    momentum=0.9,
    weight_decay=1e-4,
    lr_drops=(0.5, 0.75),
    augment=True,
    seed=0,
)

#: A shortened run through the same code path (tests and a quick look): a few batches, one epoch.
QUICK = dataclasses.replace(SHIPPED, n_train=128, n_test=64, epochs=1, batch_size=32)

DEFAULT_OUT = paths.CURVES_DIR


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def make_curves(config: ex.TrainConfig, out: Path, *, device: str = "cpu", log=print) -> dict:
    """Train, write degradation.json (after every network, so an interrupted run keeps what it finished),
    then the weights of the 56-layer nets and removal.json. Returns the degradation dict."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    meta = {
        "script": "scripts/make_curves.py",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }

    def save(result: ex.DegradationResult) -> None:
        data = {**result.to_dict(), **meta, "seconds": round(time.perf_counter() - start, 1)}
        _write_json(out / paths.DEGRADATION_FILE, data)
        last = result.runs[-1]
        log(
            f"{last.label}: train error {last.train_error[-1]:.3f}, test error {last.test_error[-1]:.3f} "
            f"after {len(last.train_error)} epochs ({last.seconds:.0f} s)"
        )

    result = ex.train_degradation(config, device=device, on_run_end=save, keep_models=True)
    save(result)
    depth = max(config.depths)
    _, _, x_test, y_test = ex.make_data(config)
    removal: dict = {"settings": config.to_dict(), "depth": depth, "width": config.width, "nets": {}}
    for kind in ("resnet", "plain"):
        label = f"{kind}-{depth}"
        model = result.models[label]
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()},
            str(paths.trained_weights_path(kind, depth, out)),
            metadata={"settings": json.dumps(config.to_dict()), "label": label},
        )
        removal["nets"][label] = ex.block_removal_sweep(model, x_test, y_test)
        log(f"{label}: block removal sweep done")
    _write_json(out / paths.REMOVAL_FILE, removal)
    data = json.loads((out / paths.DEGRADATION_FILE).read_text(encoding="utf-8"))
    data["seconds"] = round(time.perf_counter() - start, 1)
    _write_json(out / paths.DEGRADATION_FILE, data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default assets/curves)")
    parser.add_argument(
        "--quick", action="store_true", help="a shortened run (a few batches), same code path"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: leave cores free)")
    parser.add_argument("--device", default="cpu", help="cpu (the shipped curves) or cuda")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    make_curves(QUICK if args.quick else SHIPPED, args.out, device=args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
