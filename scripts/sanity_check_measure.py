"""Measure the inspector's Grad-CAM sanity check (Adebayo et al., 2018) on the bundled photos: for each network,
photo and stage, the Spearman rank correlation of the two maps' magnitudes (``rho``, what the page reads), of the
signed maps (``rho_signed``), and whether Grad-CAM's final ReLU leaves either map all zero.

    python scripts/sanity_check_measure.py                          # resnet18 and resnet50, random vs random
    python scripts/sanity_check_measure.py --nets resnet20 --size 32
    python scripts/sanity_check_measure.py --trained-cifar          # the shipped trained ResNet-56 vs random

"random vs random" explains the seeded random weights (seed 0, what the page calls random) and compares them with
the sanity check's own re-initialisation (seed ``SANITY_SEED``), as the page does when the reader chooses random
weights. ``--trained-cifar`` explains the shipped ResNet-56 (trained on the synthetic ``pairs`` set, not on
photos) against a random ResNet-56 of the same width. Prints one line per case and a summary per network.
CPU only, single-threaded by default; seconds for resnet18, about a minute for resnet50 at 224.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from resnet_viz import paths
from resnet_viz.imaging import images
from resnet_viz.imaging.explain import SANITY_SEED, randomized_like, sanity_check, stage_outputs
from resnet_viz.imaging.preprocessing import preprocess
from resnet_viz.models import build_model, sources
from resnet_viz.models.weights import load_random


def _tensor(data: bytes, arch: str, size: int) -> torch.Tensor:
    prep = sources.sidebar_preprocessing(arch, size)
    return preprocess(images.load_image(data), prep).tensor


def _cases(model, rand, arch: str, size: int) -> list[tuple[str, str, float, float, bool, bool]]:
    rows = []
    for name, path in images.sample_images().items():
        x = _tensor(path.read_bytes(), arch, size)
        for stage in stage_outputs(model):
            c = sanity_check(model, rand, x, stage)
            rows.append((name, stage, c.rho, c.rho_signed, bool((c.trained.cam == 0).all()),
                         bool((c.randomized.cam == 0).all())))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["resnet18", "resnet50"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trained-cifar", action="store_true", help="the shipped ResNet-56 vs a random one")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = []
    if args.trained_cifar:
        from resnet_viz.experiments.nets import cifar_net, load_trained

        width = 4  # the shipped nets' width (assets/curves/degradation.json: settings.width)
        trained = load_trained(paths.trained_weights_path("resnet", 56), depth=56, width=width, plain=False)
        classes = int(trained.fc.out_features)
        rand = randomized_like(
            lambda: cifar_net(56, plain=False, width=width, num_classes=classes), SANITY_SEED
        )
        runs.append(("resnet56 (trained) vs random", trained, rand, "resnet56", 32))
    else:
        for arch in args.nets:
            model = load_random(arch)
            rand = randomized_like(lambda a=arch: build_model(a), SANITY_SEED)
            runs.append(
                (f"{arch} random (seed 0) vs random (seed {SANITY_SEED})", model, rand, arch, args.size)
            )
    for title, model, rand, arch, size in runs:
        rows = _cases(model, rand, arch, size)
        print(f"# {title}, input {size}×{size}")
        for name, stage, rho, rho_s, zero_t, zero_r in rows:
            print(f"{name:10s} {stage:7s} rho|.|={rho:+.3f} rho_signed={rho_s:+.3f} "
                  f"explained_all_zero={zero_t} randomised_all_zero={zero_r}")  # fmt: skip
        rhos = [r[2] for r in rows]
        signed = [r[3] for r in rows]
        print(f"summary: {len(rows)} cases; rho|.| median {statistics.median(rhos):+.3f} "
              f"[{min(rhos):+.3f}, {max(rhos):+.3f}]; rho_signed median {statistics.median(signed):+.3f} "
              f"[{min(signed):+.3f}, {max(signed):+.3f}]; randomised map all zero after the ReLU in "
              f"{sum(r[5] for r in rows)} of {len(rows)}")  # fmt: skip


if __name__ == "__main__":
    main()
