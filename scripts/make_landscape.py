"""Produce the loss surfaces the "Why residual" page ships (assets/curves/landscape_<net>.json), reproducibly.

    python scripts/make_landscape.py                       # every net with shipped weights, 25×25, 256 images
    python scripts/make_landscape.py --nets resnet56 plain56 --points 31 --device cuda
    python scripts/make_landscape.py --quick --out /tmp/land   # 5×5 on 16 images, through the same code path

Li et al. (2018) §4: filter-normalised random directions (seeded, the same draws for every net), losses on the
first --batch images of the training set the nets were trained on (settings from degradation.json), BN in eval
mode. Each file holds the grid (losses rounded to 5 significant digits), the numbers the page reports (computed
before rounding), the settings, seeds, the weights file's SHA-256, versions and timing; each is a few KB.
Timing: one 25×25 grid of the shipped width-4 56-layer nets on 256 images took about 8 minutes of one CPU thread
(the earlier width-8 nets: about 55 minutes on a busy machine); a 20-layer net is about a third of that.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import landscape as ls

DEFAULT_POINTS = 25
#: Images per grid point. Half the live slice's 512: a 25×25 grid of both 56-layer nets then fits the 45-minute
#: budget on a 2-core machine that others share too (the loss on 256 vs 512 images differs in the last digits).
DEFAULT_BATCH = 256


def _round(x: float, digits: int = 5) -> float | None:
    return None if not np.isfinite(x) else float(f"{x:.{digits}g}")


def make_one(
    net: ExperimentNet | str,
    *,
    points: int,
    batch: int,
    seed: int,
    weights: Path,
    out: Path,
    device: str = "cpu",
    log=print,
) -> dict:
    """Compute ``net``'s 2-D surface and write ``out/landscape_<net>.json``; returns what was written."""
    net = ExperimentNet.parse(net)
    start = time.perf_counter()
    last = [start]

    def progress(done: int, total: int, _loss: float) -> None:
        now = time.perf_counter()
        if now - last[0] > 60 or done == total:
            last[0] = now
            log(f"  {net}: {done}/{total} points, {now - start:.0f} s")

    land = ls.shipped_landscape(
        net, dim=2, points=points, seed=seed, batch=batch, folder=weights, device=device, progress=progress
    )
    wpath = paths.net_weights_path(net, weights)
    summary = ls.summarise(land)
    data = {
        "net": net.key,
        "label": net.label,
        "dim": 2,
        "coords": land.coords,
        "losses": [[_round(v) for v in row] for row in land.losses],
        "seed": seed,
        "batch": land.batch,
        "origin_loss": land.origin_loss,
        "summary": summary.to_dict(),
        "settings": {
            "method": "filter-normalised random directions (Li et al. 2018, section 4); 1-D parameters "
            "(BN weights/biases, biases) are 0 in the directions",
            "directions_generator": f"torch.Generator().manual_seed({seed}): direction 1 (x), then direction 2 (y)",
            "data": f"the first {land.batch} images of the training set, no augmentation",
            "loss": "mean cross-entropy, BN in eval mode",
            "extent": 1.0,
            "points": points,
            "training": ls.shipped_config(weights).to_dict(),
        },
        "weights_file": wpath.name,
        "weights_sha256": hashlib.sha256(wpath.read_bytes()).hexdigest(),
        "script": "scripts/make_landscape.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    target = paths.landscape_path(net, out)
    target.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    at = ", ".join(f"{k}: {v:.4g}" for k, v in summary.at_distance.items() if v is not None)
    log(
        f"{net}: origin {land.origin_loss:.4g}, at distance {at}; non-convex {100 * summary.nonconvex_share:.1f}% "
        f"of {summary.points_tested} points; {data['seconds']:.0f} s; {target} ({target.stat().st_size} bytes)"
    )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--nets", nargs="+", choices=[n.key for n in ls.LANDSCAPE_NETS], help="default: all with weights"
    )
    parser.add_argument("--points", type=int, default=DEFAULT_POINTS, help="grid points per axis (25)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="evaluation images (256)")
    parser.add_argument("--seed", type=int, default=ls.DEFAULT_SEED, help="seed of the directions (0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps …")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--weights", type=Path, default=paths.CURVES_DIR, help="folder of the trained weights"
    )
    parser.add_argument("--out", type=Path, default=paths.CURVES_DIR)
    parser.add_argument("--quick", action="store_true", help="5×5 points on 16 images (tests, a quick look)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    points, batch = (5, 16) if args.quick else (args.points, args.batch)
    nets = args.nets or ls.available_nets(args.weights)
    if not nets:
        print("no trained weights found; run scripts/make_curves.py first", file=sys.stderr)
        return 2
    for net in nets:
        make_one(
            net,
            points=points,
            batch=batch,
            seed=args.seed,
            weights=args.weights,
            out=args.out,
            device=args.device,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
