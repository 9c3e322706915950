"""Look inside one number: what a new position, an effective receptive field and a Grad-CAM cost, for
resnet50 at 224 on the CPU, each against a plain forward pass measured in the same run.
``python -m benchmarks.bench_explain``

1. picking a new position: the page's path for it (no forward pass: :func:`explain_at` on the layer's cached
   record, the terms table and the kernel/window figures), for a conv deep in the network, a projection block
   and conv1: < 200 ms each (the whole section's rerun; the layer's record is cached when the layer is chosen).
2. the effective receptive field of one activation (forward up to its layer + one backward w.r.t. the input
   only) vs ``model(x)``: ≤ 2×, for the last stage's output (the worst case) and a block in the middle.
3. Grad-CAM at the first stage's output (the most expensive: its backward runs through every later stage) vs
   ``model(x)``: ≤ 2.5×.
"""

from __future__ import annotations

import torch

from benchmarks.common import Result, median_time, print_table


def _interleaved(fns: dict, rounds: int = 7) -> dict[str, float]:
    """The fastest of ``rounds`` interleaved runs of each (on a shared machine, the least disturbed figure)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(median_time(fn, repeat=1, warmup=0))
    return {k: min(v) for k, v in times.items()}


def run() -> list[Result]:
    from resnet_viz.imaging import images, preprocessing
    from resnet_viz.imaging.explain import effective_rf, explain_at, grad_cam, record_layer
    from resnet_viz.models.weights import load_random
    from resnet_viz.render import figures_explain

    model = load_random("resnet50")
    x = preprocessing.preprocess_steps(images.load_sample("chelsea")).tensor

    def plain() -> None:
        with torch.inference_mode():
            model(x)

    def erf() -> None:
        effective_rf(model, x, "layer4.2", 5, 3, 3)

    def erf_mid() -> None:
        effective_rf(model, x, "layer3.2", 5, 7, 7)

    def cam() -> None:
        grad_cam(model, x, "layer1")

    t = _interleaved({"plain": plain, "erf": erf, "erf_mid": erf_mid, "cam": cam})
    results = []
    for layer in ("layer3.4.conv2", "layer2.0", "conv1"):
        record = record_layer(model, x, layer)
        c, h, w = record.shape
        positions = iter([(i % c, (i * 7) % h, (i * 5) % w) for i in range(1000)])

        def pick(record=record, positions=positions) -> None:
            c, i, j = next(positions)
            e = explain_at(record, c, i, j)
            figures_explain.terms_rows(e)
            # what the page draws for a new position, serialised as st.plotly_chart does
            figures_explain.position_figure(record.arrays["out"][c], i, j).to_json()
            if e.window is not None and e.window.weights is not None:
                figures_explain.window_figure(e, step=e.window.kernel**2 // 2).to_json()
                figures_explain.source_figure(record.arrays["in"][0], e).to_json()

        pick_s = median_time(pick, repeat=15, warmup=2)
        results.append(
            Result(f"new position, {layer} (resnet50@224)", pick_s * 1e3, "ms", "< 200 ms", pick_s < 0.2,
                   "explain_at on the cached record + terms table + map, window and source figures as JSON; "
                   "median of 15")
        )  # fmt: skip
    threads = f"{torch.get_num_threads()} thread(s); fastest of 7, interleaved"
    results += [
        Result("ERF of layer4.2 vs plain forward (resnet50@224)", t["erf"] / t["plain"], "×", "≤ 2×",
               t["erf"] / t["plain"] <= 2, f"{t['erf'] * 1e3:.0f} ms vs {t['plain'] * 1e3:.0f} ms ({threads})"),
        Result("ERF of layer3.2 vs plain forward (resnet50@224)", t["erf_mid"] / t["plain"], "×", "≤ 2×",
               t["erf_mid"] / t["plain"] <= 2,
               f"{t['erf_mid'] * 1e3:.0f} ms vs {t['plain'] * 1e3:.0f} ms ({threads})"),
        Result("Grad-CAM at layer1 vs plain forward (resnet50@224)", t["cam"] / t["plain"], "×", "≤ 2.5×",
               t["cam"] / t["plain"] <= 2.5, f"{t['cam'] * 1e3:.0f} ms vs {t['plain'] * 1e3:.0f} ms ({threads})"),
    ]  # fmt: skip
    return results


if __name__ == "__main__":
    print_table(run())
