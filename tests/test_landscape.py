"""Loss landscapes (issue 15): filter-normalised directions, the origin check, determinism, the numbers, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from repo import ROOT

from resnet_viz import paths
from resnet_viz.cli import main
from resnet_viz.experiments import cifar_net, synthetic_shapes
from resnet_viz.experiments import landscape as ls
from resnet_viz.models.seeding import seeded_build

# Tiny nets and batches: one intra-op thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(plain: bool, seed: int = 3) -> torch.nn.Module:
    """A small trained-looking net: random weights, BN statistics from a few train-mode batches."""
    model = seeded_build(seed, lambda: cifar_net(20, plain=plain, width=4))
    x, _ = synthetic_shapes(32, seed=seed)
    with torch.no_grad():
        model(x)
    return model.eval()


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    return synthetic_shapes(16, seed=5)


def test_each_direction_filter_has_the_norm_of_its_weight_filter() -> None:
    model = _net(plain=False)
    d1, d2 = ls.random_directions(model, 2, seed=7)
    checked = 0
    for name, w in model.named_parameters():
        for d in (d1, d2):
            assert d[name].shape == w.shape
            if w.dim() == 1:  # BN weights and biases, the fc bias: left out of the direction
                assert torch.count_nonzero(d[name]) == 0, name
                continue
            w_norms = w.detach().flatten(1).norm(dim=1)
            d_norms = d[name].flatten(1).norm(dim=1)
            torch.testing.assert_close(d_norms, w_norms, rtol=1e-5, atol=1e-7)
            checked += 1
    assert checked == 2 * sum(1 for _, p in model.named_parameters() if p.dim() > 1) > 0
    assert any(not torch.allclose(d1[n], d2[n]) for n in d1 if d1[n].dim() > 1)  # two different directions


def test_plain_and_residual_nets_get_the_same_draws() -> None:
    plain, res = _net(plain=True), _net(plain=False, seed=4)
    shapes = [(n, p.shape) for n, p in plain.named_parameters()]
    assert shapes == [(n, p.shape) for n, p in res.named_parameters()]
    (dp,), (dr,) = ls.random_directions(plain, 1, seed=11), ls.random_directions(res, 1, seed=11)
    wp, wr = dict(plain.named_parameters()), dict(res.named_parameters())
    for name, _ in shapes:
        if wp[name].dim() > 1:  # the same Gaussian draw, each rescaled to its own net's filters
            unit_p = dp[name].flatten(1) / wp[name].detach().flatten(1).norm(dim=1, keepdim=True)
            unit_r = dr[name].flatten(1) / wr[name].detach().flatten(1).norm(dim=1, keepdim=True)
            torch.testing.assert_close(unit_p, unit_r, rtol=1e-4, atol=1e-6)


def test_directions_do_not_touch_the_global_rng() -> None:
    state = torch.random.get_rng_state()
    ls.random_directions(_net(plain=False), 2, seed=0)
    assert torch.equal(state, torch.random.get_rng_state())


def test_loss_at_the_origin_is_the_trained_models_loss_and_the_model_is_not_changed(batch) -> None:
    x, y = batch
    model = _net(plain=True).train()  # even a model in train mode: evaluated in eval mode, left in train mode
    before = {n: p.detach().clone() for n, p in model.state_dict().items()}
    land = ls.loss_slice(model, x, y, points=5, seed=1)
    assert model.training
    for n, p in model.state_dict().items():
        assert torch.equal(p, before[n]), n
    with torch.no_grad():
        expected = float(F.cross_entropy(model.eval()(x), y))
    assert land.coords[2] == 0.0
    assert land.losses[0][2] == expected == land.origin_loss
    assert len(set(land.losses[0])) == 5  # the other points moved the weights


def test_same_seed_same_losses_other_seed_other_losses(batch) -> None:
    x, y = batch
    model = _net(plain=False)
    a = ls.loss_slice(model, x, y, points=5, seed=2, dim=2)
    b = ls.loss_slice(model, x, y, points=5, seed=2, dim=2)
    c = ls.loss_slice(model, x, y, points=5, seed=3, dim=2)
    assert a.losses == b.losses
    assert a.losses != c.losses
    assert a.losses[2][2] == c.losses[2][2] == a.origin_loss  # both grids pass through the trained weights


def test_the_slice_is_the_grids_row_through_the_origin(batch) -> None:
    x, y = batch
    model = _net(plain=False)
    line = ls.loss_slice(model, x, y, points=5, seed=9, dim=1)
    grid = ls.loss_slice(model, x, y, points=5, seed=9, dim=2)
    np.testing.assert_allclose(line.losses[0], grid.losses[2], rtol=1e-6)


def test_stop_keeps_the_points_done_so_far(batch) -> None:
    x, y = batch
    seen: list[int] = []
    land = ls.loss_slice(
        _net(plain=False),
        x,
        y,
        points=7,
        progress=lambda k, n, loss: seen.append(k),
        should_stop=lambda: len(seen) >= 3,
    )
    assert land.stopped and len(land.losses[0]) == 3 and seen == [1, 2, 3]


def _grid(fn, points: int = 9) -> ls.Landscape:
    c = ls.coordinates(points)
    return ls.Landscape("", 2, list(c), [[fn(a, b) for a in c] for b in c], 0, 1, fn(0.0, 0.0))


def test_convexity_test_on_known_surfaces() -> None:
    assert ls.curvature_stats(_grid(lambda a, b: a * a + 3 * b * b))["nonconvex_share"] == 0.0
    saddle = ls.curvature_stats(_grid(lambda a, b: a * a - b * b))
    assert saddle["nonconvex_share"] == 1.0 and saddle["clearly_nonconvex_share"] == 1.0
    assert saddle["points_tested"] == 49
    # A bowl in x, a dome in y only for y > 0: half the rows (minus the middle one) are non-convex.
    half = ls.curvature_stats(_grid(lambda a, b: a * a - (b**4 if b > 0 else -(b**2))))
    assert 0.3 < half["nonconvex_share"] < 0.6


def test_losses_at_distances_average_the_axis_points() -> None:
    land = _grid(lambda a, b: 2 * abs(a) + abs(b) + (a > 0))
    got = ls.losses_at_distances(land, (0.25, 0.5, 1.0, 0.3))
    assert got["0.25"] == pytest.approx((0.5 + 1 + 0.5 + 0.25 + 0.25) / 4)
    assert got["1"] == pytest.approx((2 + 1 + 2 + 1 + 1) / 4)
    assert got["0.3"] is None  # not a grid coordinate


@pytest.mark.parametrize("points", [2, 102])
def test_coordinates_reject_impossible_counts(points: int) -> None:
    with pytest.raises(ValueError):
        ls.coordinates(points)


@pytest.mark.parametrize(
    "argv",
    [
        ["landscape", "--net", "resnet57"],
        ["landscape", "--net", "resnet56", "--points", "2"],
        ["landscape", "--net", "resnet56", "--points", "102"],
        ["landscape", "--net", "resnet56", "--points", "ten"],
        ["landscape", "--net", "resnet56", "--dim", "3"],
        ["landscape", "--net", "resnet56", "--batch", "0", "--points", "3"],
        ["landscape", "--net", "resnet56", "--points", "3", "--batch", "100000000"],
    ],
)
def test_cli_errors_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:  # argparse's own errors exit from the parser; the command's ValueError comes back as the status
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "error" in captured.err


@pytest.mark.slow  # a fresh interpreter imports torch: seconds when idle, a minute on a busy 2-core machine
def test_cli_error_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "resnet_viz", "landscape", "--net", "plain57", "--points", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "plain57" in proc.stderr


needs_weights = pytest.mark.skipif(
    not paths.trained_weights_path("resnet", 56).exists(), reason="shipped weights absent"
)


@pytest.mark.slow  # a 56-layer net evaluated at 5 points and again at the origin: ~4 s on 2 cores
@needs_weights
def test_cli_json_on_the_shipped_net(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["landscape", "--net", "resnet56", "--points", "5", "--batch", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["coords"] == [-1.0, -0.5, 0.0, 0.5, 1.0] and data["batch"] == 8
    assert data["losses"][0][2] == data["origin_loss"]
    # The origin check against an independent evaluation of the shipped weights on the same images.
    config = ls.shipped_config()
    x, y = ls.eval_batch(config, 8)
    with torch.no_grad():
        assert data["origin_loss"] == float(F.cross_entropy(ls.load_net("resnet56")(x), y))
    assert data["summary"]["at_distance"]["0.5"] == pytest.approx(
        (data["losses"][0][1] + data["losses"][0][3]) / 2
    )


@pytest.mark.slow  # a 56-layer net evaluated on a 3×3 grid: ~4 s on 2 cores
@needs_weights
def test_cli_grid_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["landscape", "--net", "plain56", "--dim", "2", "--points", "3", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "plain-56" in out and "non-convex" in out and "of 1 interior points" in out


@pytest.mark.slow  # a fresh interpreter, the training set generated, two nets' 25 points
@needs_weights
def test_make_landscape_quick_writes_a_small_complete_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/make_landscape.py", "--quick", "--nets", "plain56", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(paths.landscape_path("plain56", tmp_path).read_text())
    assert len(data["losses"]) == len(data["coords"]) == 5 and all(len(r) == 5 for r in data["losses"])
    assert data["losses"][2][2] == pytest.approx(data["origin_loss"], rel=1e-4)
    assert data["seed"] == 0 and data["settings"]["training"]["width"] == ls.shipped_config().width
    assert {"torch", "python", "weights_sha256", "seconds"} <= set(data)
    assert 0 <= data["summary"]["nonconvex_share"] <= 1 and not math.isnan(data["summary"]["origin_loss"])


@pytest.mark.parametrize("net", ["resnet56", "plain56", "resnet20", "plain20"])
def test_shipped_surfaces_are_small_and_complete(net: str) -> None:
    data = ls.load_landscape(net)
    if data is None:
        assert not paths.landscape_path(net).exists()  # absent is allowed (no weights); unreadable is not
        return
    assert paths.landscape_path(net).stat().st_size <= 200_000
    n = len(data["coords"])
    assert n >= 25 and data["coords"][0] == -1.0 and data["coords"][-1] == 1.0
    assert len(data["losses"]) == n and all(len(r) == n for r in data["losses"])
    assert data["losses"][n // 2][n // 2] == pytest.approx(data["origin_loss"], rel=1e-4)
