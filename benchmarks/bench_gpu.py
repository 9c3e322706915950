"""The GPU path, proven: the same work on CUDA and on the CPU, compared, and timed. ``python -m benchmarks.bench_gpu``

On a machine with CUDA it runs, each on the GPU and on the CPU with the same weights and inputs:

1. a capture (``imaging.capture``: every stage and block output, the residual terms, predictions, CAM) of every
   network of the catalogue at 224×224 (the CIFAR nets too: their global pooling takes any size);
2. gradient flow (``experiments.gradient_flow``: one forward and backward at initialisation, plain and residual);
3. a training step (``cifar_net`` ResNet-20, SGD with momentum, one batch of 128 synthetic shapes);
4. batched forwards (``capture_batch``) of 1, 8 and 32 images of resnet50 at 224, against each image captured
   alone on the GPU.

Each comparison reports the largest absolute difference and the largest relative one (absolute difference over
the largest CPU magnitude of that array), and the timings (GPU times synchronised, median of a few runs). The
GPU runs as the app does: ``models.device.exact_float32`` turns TF32 off (PyTorch's default lets cuDNN use it
for float32 convolutions, ~1e-3 relative), so GPU and CPU should agree to float32 rounding; the top-1 class must
agree too. ``--tf32`` runs with PyTorch's default instead, to see what TF32 would change. Without CUDA it prints one line and exits 0.

    python -m benchmarks.bench_gpu [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch

from benchmarks.common import Result, print_table

SIZE = 224
BATCHES = (1, 8, 32)
#: Where "the GPU" side runs: "cuda"; ``BENCH_GPU_STAND_IN=cpu`` runs the whole script with the CPU standing in
#: for the GPU (``--quick``), so that its code path can be checked on a machine without one (figures meaningless).
DEVICE = "cuda"
#: The relative difference allowed between a GPU and a CPU result (float32 with TF32 off: summation order only;
#: 2e-2 leaves room for ``--tf32``, whose convolutions round to a 10-bit mantissa).
REL_TARGET = 2e-2


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _median_s(fn, repeat: int = 3) -> float:
    fn()  # warm-up (cuDNN picks its algorithms on the first call)
    _sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _diff(gpu: np.ndarray, cpu: np.ndarray) -> tuple[float, float]:
    """(max |gpu − cpu|, that over max |cpu|)."""
    g, c = np.asarray(gpu, dtype=np.float64), np.asarray(cpu, dtype=np.float64)
    abs_diff = float(np.max(np.abs(g - c))) if c.size else 0.0
    scale = float(np.max(np.abs(c))) if c.size else 0.0
    return abs_diff, (abs_diff / scale if scale > 0 else abs_diff)


def _capture_diff(gpu, cpu) -> tuple[float, float, bool]:
    """Worst (abs, rel) over every kept layer, the logits and the CAM; and whether the top-1 agrees."""
    pairs = [(gpu.layers[k].astype(np.float32), v.astype(np.float32)) for k, v in cpu.layers.items()]
    pairs += [(gpu.logits, cpu.logits), (gpu.cam, cpu.cam)]
    diffs = [_diff(g, c) for g, c in pairs]
    return max(d[0] for d in diffs), max(d[1] for d in diffs), gpu.cam_class == cpu.cam_class


def _images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, SIZE, SIZE, generator=g)


def bench_captures(archs: list[str], report: dict) -> list[Result]:
    from resnet_viz.imaging.capture import capture
    from resnet_viz.models.weights import load_random

    x = _images(1)
    rows, worst_rel, agree, details = [], 0.0, 0, []
    for arch in archs:
        cpu_model = load_random(arch).eval()
        gpu_model = copy.deepcopy(cpu_model).to(DEVICE).eval()
        t0 = time.perf_counter()
        cpu_cap = capture(cpu_model, x)
        cpu_s = time.perf_counter() - t0
        gpu_s = _median_s(lambda m=gpu_model: capture(m, x))
        gpu_cap = capture(gpu_model, x)
        abs_d, rel_d, same_top = _capture_diff(gpu_cap, cpu_cap)
        worst_rel, agree = max(worst_rel, rel_d), agree + same_top
        report["capture"][arch] = {
            "cpu_s": cpu_s,
            "gpu_s": gpu_s,
            "max_abs": abs_d,
            "max_rel": rel_d,
            "top1": same_top,
        }
        details.append(f"{arch} {gpu_s * 1e3:.0f}/{cpu_s * 1e3:.0f} ms")
        print(
            f"[gpu] capture {arch:<15} gpu {gpu_s * 1e3:7.1f} ms  cpu {cpu_s * 1e3:7.1f} ms  "
            f"max abs {abs_d:.2e}  max rel {rel_d:.2e}  top-1 {'same' if same_top else 'DIFFERS'}",
            file=sys.stderr,
        )
        del gpu_model
    torch.cuda.empty_cache()
    rows.append(
        Result(
            f"gpu: capture of {len(archs)} networks at {SIZE}, GPU vs CPU (max rel diff)",
            worst_rel,
            "",
            f"≤ {REL_TARGET:g}, top-1 same in all",
            worst_rel <= REL_TARGET and agree == len(archs),
            f"top-1 same in {agree}/{len(archs)}; gpu/cpu: " + ", ".join(details),
        )
    )
    return rows


def bench_gradient_flow(report: dict) -> list[Result]:
    from resnet_viz.experiments import gradient_flow

    rows = []
    for arch, size, batch in (("resnet18", SIZE, 16), ("resnet56", 32, 64 if SIZE == 224 else 8)):
        t0 = time.perf_counter()
        cpu = gradient_flow(arch, input_size=size, batch_size=batch, seed=0, device="cpu")
        cpu_s = time.perf_counter() - t0
        gpu_s = _median_s(
            lambda a=arch, s=size, b=batch: gradient_flow(a, input_size=s, batch_size=b, device=DEVICE)
        )
        gpu = gradient_flow(arch, input_size=size, batch_size=batch, seed=0, device=DEVICE)
        abs_p, rel_p = _diff(np.array(gpu.plain), np.array(cpu.plain))
        abs_r, rel_r = _diff(np.array(gpu.residual), np.array(cpu.residual))
        # gradient norms of a deep plain net at init are tiny at the first layers: compare layer by layer too
        per_layer = float(
            np.max(
                np.abs(np.array(gpu.residual) - np.array(cpu.residual))
                / np.maximum(np.abs(cpu.residual), 1e-30)
            )
        )
        rel = max(rel_p, rel_r)
        report["gradient_flow"][arch] = {
            "cpu_s": cpu_s, "gpu_s": gpu_s, "max_abs": max(abs_p, abs_r), "max_rel": rel,
            "residual_per_layer_rel": per_layer, "loss_cpu": cpu.loss_residual, "loss_gpu": gpu.loss_residual,
        }  # fmt: skip
        print(
            f"[gpu] gradient flow {arch} {size}px batch {batch}: gpu {gpu_s * 1e3:.0f} ms cpu {cpu_s * 1e3:.0f} ms, "
            f"max rel {rel:.2e}, residual per-layer rel {per_layer:.2e}",
            file=sys.stderr,
        )
        rows.append(
            Result(
                f"gpu: gradient flow {arch} {size}px ×{batch}, GPU vs CPU (max rel diff)",
                rel,
                "",
                f"≤ {REL_TARGET:g}",
                rel <= REL_TARGET,
                f"gpu {gpu_s * 1e3:.0f} ms, cpu {cpu_s * 1e3:.0f} ms; loss {gpu.loss_residual:.4f} vs "
                f"{cpu.loss_residual:.4f}",
            )
        )
    return rows


def bench_training_step(report: dict) -> list[Result]:
    import torch.nn.functional as F

    from resnet_viz.experiments import cifar_net, synthetic_shapes
    from resnet_viz.models.seeding import seeded_build

    images, labels = synthetic_shapes(128, size=32, seed=0)
    start = seeded_build(0, lambda: cifar_net(20, plain=False))

    def step(model, opt, x, y) -> float:
        out = model(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    results = {}
    for dev in ("cpu", DEVICE):
        model = copy.deepcopy(start).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        x, y = images.to(dev), labels.to(dev)
        loss = step(model, opt, x, y)
        params = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        timer_model = copy.deepcopy(start).to(dev).train()
        timer_opt = torch.optim.SGD(timer_model.parameters(), lr=0.1, momentum=0.9)
        secs = _median_s(lambda m=timer_model, o=timer_opt, a=x, b=y: step(m, o, a, b), repeat=10)
        results[dev] = (loss, params, secs)
    (loss_c, p_c, s_c), (loss_g, p_g, s_g) = results["cpu"], results[DEVICE]
    diffs = [_diff(p_g[k], p_c[k]) for k in p_c if p_c[k].dtype.kind == "f"]
    worst_abs, worst_rel = max(d[0] for d in diffs), max(d[1] for d in diffs)
    report["training_step"] = {
        "loss_cpu": loss_c, "loss_gpu": loss_g, "max_abs": worst_abs, "max_rel": worst_rel, "cpu_s": s_c, "gpu_s": s_g,
    }  # fmt: skip
    print(
        f"[gpu] training step resnet20 ×128: gpu {s_g * 1e3:.1f} ms cpu {s_c * 1e3:.1f} ms; loss {loss_g:.5f} vs "
        f"{loss_c:.5f}; weights after the step max abs {worst_abs:.2e} rel {worst_rel:.2e}",
        file=sys.stderr,
    )
    return [
        Result(
            "gpu: training step ResNet-20 ×128, GPU vs CPU (weights after, max rel diff)",
            worst_rel,
            "",
            f"≤ {REL_TARGET:g}",
            worst_rel <= REL_TARGET and math.isclose(loss_g, loss_c, rel_tol=REL_TARGET),
            f"loss {loss_g:.5f} vs {loss_c:.5f}; step gpu {s_g * 1e3:.1f} ms, cpu {s_c * 1e3:.1f} ms",
        )
    ]


def bench_batches(report: dict, arch: str = "resnet50") -> list[Result]:
    from resnet_viz.imaging.capture import capture, capture_batch
    from resnet_viz.models.weights import load_random

    cpu_model = load_random(arch).eval()
    model = copy.deepcopy(cpu_model).to(DEVICE).eval()
    images = _images(max(BATCHES), seed=1)
    alone = [capture(model, images[i : i + 1]) for i in range(max(BATCHES))]
    cpu_first = capture(cpu_model, images[:1])
    rows, per_image = [], {}
    for n in BATCHES:
        secs = _median_s(lambda k=n: capture_batch(model, images[:k]))
        caps = capture_batch(model, images[:n])
        worst = max(_capture_diff(c, a)[1] for c, a in zip(caps, alone[:n], strict=True))
        vs_cpu = _capture_diff(caps[0], cpu_first)[1]
        per_image[n] = secs / n
        report["batches"][str(n)] = {
            "s": secs,
            "s_per_image": secs / n,
            "max_rel_vs_alone": worst,
            "max_rel_vs_cpu": vs_cpu,
        }
        print(
            f"[gpu] capture_batch {arch} ×{n:<2}: {secs * 1e3:7.1f} ms ({secs / n * 1e3:.1f} ms per image); "
            f"max rel vs alone {worst:.2e}, first image vs CPU {vs_cpu:.2e}",
            file=sys.stderr,
        )
        rows.append((n, secs, worst, vs_cpu))
    speedup = per_image[1] / per_image[max(BATCHES)]
    worst_all = max(r[2] for r in rows)
    return [
        Result(
            f"gpu: capture_batch {arch} ×{max(BATCHES)} vs ×1, per image",
            speedup,
            "×",
            "informs",
            worst_all <= REL_TARGET,
            "; ".join(f"×{n}: {s * 1e3:.0f} ms" for n, s, _, _ in rows)
            + f"; max rel vs alone {worst_all:.1e}",
        )
    ]


def run(quick: bool = False, json_path: str | None = None, tf32: bool = False) -> list[Result]:
    global DEVICE
    stand_in = os.environ.get("BENCH_GPU_STAND_IN", "")
    if stand_in:
        global SIZE, BATCHES
        DEVICE, quick, SIZE, BATCHES = stand_in, True, 64, (1, 2, 4)
        print(
            f"[gpu] BENCH_GPU_STAND_IN={stand_in}: the code path only, figures meaningless", file=sys.stderr
        )
    elif not torch.cuda.is_available():
        line = f"bench_gpu: no CUDA device here (torch {torch.__version__}); nothing measured, the CPU path is what CI tests"
        print(line)
        if json_path:
            with open(json_path, "w") as fh:
                json.dump({"cuda": False, "message": line}, fh)
        return []
    from resnet_viz.architecture.catalogue import ARCHS
    from resnet_viz.models.device import exact_float32

    if tf32:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    else:
        exact_float32(torch.device(DEVICE))  # what select_device does for the app
    torch.set_num_threads(os.cpu_count() or 1)
    report: dict[str, Any] = {
        "cuda": True,
        "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else f"stand-in {DEVICE}",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "tf32_conv": torch.backends.cudnn.allow_tf32,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "capture": {},
        "gradient_flow": {},
        "batches": {},
    }
    print(
        f"[gpu] {report['device']}, torch {torch.__version__}, {report['cpu_threads']} CPU threads",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    archs = ["resnet18", "resnet50", "resnet20"] if quick else list(ARCHS)
    results = bench_captures(archs, report)
    results += bench_gradient_flow(report)
    results += bench_training_step(report)
    results += bench_batches(report)
    report["total_s"] = time.perf_counter() - t0
    report["results"] = [r.__dict__ for r in results]
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(report, fh, indent=2, default=str)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_gpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    parser.add_argument("--quick", action="store_true", help="three networks instead of the whole catalogue")
    parser.add_argument(
        "--tf32", action="store_true", help="let cuDNN and matmuls use TF32 (the app does not)"
    )
    args = parser.parse_args(argv)
    results = run(quick=args.quick, json_path=args.json, tf32=args.tf32)
    if results:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
