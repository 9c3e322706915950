"""Loss landscapes (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural Nets", 2018).

Around trained weights θ, the loss is evaluated on a plane θ + α·δ + β·η spanned by two random directions δ, η.
Li et al. §4: a raw Gaussian direction is meaningless for a network with BatchNorm (scaling a filter's weights
does not change what it computes), so each direction is **filter-normalised**: drawn from N(0, 1) and rescaled,
filter by filter, to the norm of the matching filter of θ. BN weights and biases (and every other 1-D parameter,
i.e. biases) are left out of the direction: they are 0 in it, as in the paper's ``ignore='biasbn'``.

Written by hand because no installed library does it (the paper's code is an MPI program for a GPU cluster). Here:

* the directions come from a dedicated, seeded :class:`torch.Generator`, never from the global RNG, and are drawn
  from the parameters' *names and shapes* only — the paper's CIFAR plain and residual nets (option A shortcuts)
  have exactly the same parameters, so both networks get the same draws, each rescaled to its own filters;
* losses are the mean cross-entropy on one fixed batch of the offline data set, with BN in eval mode (its
  running statistics), on a per-call deep copy of the model, so a shared model is never touched;
* :func:`curvature_stats` is a finite-difference convexity test on the grid (the 2×2 Hessian from central
  differences at every interior grid point; Li et al. instead compute the Hessian's extreme eigenvalues).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import shipped
from resnet_viz.experiments.config import TrainConfig
from resnet_viz.experiments.data import make_data
from resnet_viz.experiments.nets import load_trained

#: The networks with shipped trained weights, in the command line's order.
LANDSCAPE_NETS: tuple[ExperimentNet, ...] = paths.TRAINED_NETS
#: The distances along the directions whose losses the page reports (grid and slice points fall on them when
#: the number of points is 4k+1, e.g. 25 or 41).
DISTANCES: tuple[float, ...] = (0.25, 0.5, 1.0)
#: The live slice: 41 points over [−1, 1] on a batch of 512 training images.
LIVE_POINTS = 41
LIVE_BATCH = 512
DEFAULT_SEED = 0
MIN_POINTS, MAX_POINTS = 3, 101
#: A non-convex point is "clearly" so when |λmin/λmax| exceeds this (Li et al. map this ratio).
CLEARLY_RATIO = 0.1
#: Li et al. (Fig. 5) found the surface without shortcuts chaotic from this depth on (56 and 110; 20 was benign).
PAPER_CHAOTIC_DEPTH = 56
#: The first stage's channels of the paper's CIFAR nets (He et al. 2015 §4.2: 16, 32, 64), as Li et al. trained them.
PAPER_WIDTH = 16

Direction = dict[str, torch.Tensor]
#: ``progress(done, total, loss)`` after every point, with that point's loss.
ProgressFn = Callable[[int, int, float], None]


def coordinates(points: int, extent: float = 1.0) -> np.ndarray:
    """``points`` evenly spaced coordinates over [−extent, extent]; for an odd count the middle one is exactly 0."""
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise ValueError(f"points must be between {MIN_POINTS} and {MAX_POINTS}, not {points}")
    half = (points - 1) / 2
    return np.array([extent * (i - half) / half for i in range(points)], dtype=np.float64)


def _is_direction_param(p: torch.Tensor) -> bool:
    """Conv and linear weights get a direction; BN weights/biases and biases (all 1-D) stay at 0."""
    return p.dim() > 1


def random_directions(model: nn.Module, count: int, seed: int) -> list[Direction]:
    """``count`` filter-normalised random directions for ``model``'s trained weights (Li et al. §4).

    For every conv/linear weight W, d = g / ‖g_i‖ · ‖W_i‖ filter by filter (i indexes output channels, dim 0),
    g ~ N(0, 1) from ``torch.Generator().manual_seed(seed)``; 1-D parameters (BN γ, β, biases) are 0. The draws
    depend only on the parameters' names, shapes and ``seed``, so two networks with the same parameter list get
    the same draws. Float64 for the rescaling; returned in each parameter's dtype, on the CPU.
    """
    gen = torch.Generator().manual_seed(seed)  # a private stream: the global RNG is neither used nor moved
    params = [(name, p.detach().to("cpu", torch.float64)) for name, p in model.named_parameters()]
    out = []
    for _ in range(count):
        direction: Direction = {}
        for name, w in params:
            if not _is_direction_param(w):
                direction[name] = torch.zeros_like(w)
                continue
            g = torch.randn(w.shape, generator=gen, dtype=torch.float64)
            w_norm = w.flatten(1).norm(dim=1)
            g_norm = g.flatten(1).norm(dim=1)
            scale = w_norm / (g_norm + 1e-10)
            direction[name] = g * scale.view(-1, *([1] * (w.dim() - 1)))
        dtypes = {n: p.dtype for n, p in model.named_parameters()}
        out.append({n: d.to(dtypes[n]) for n, d in direction.items()})
    return out


@functools.lru_cache(maxsize=4)
def eval_batch(config: TrainConfig, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed evaluation batch: the first ``batch`` images of the training set the nets were trained on,
    un-augmented (Li et al. plot the training loss). Cached (a few MB): the whole set is generated to get them.
    Callers must not modify the returned tensors."""
    if not 1 <= batch <= config.n_train:
        raise ValueError(f"batch must be between 1 and {config.n_train} (the training set), not {batch}")
    x_train, y_train, _, _ = make_data(config)
    return x_train[:batch].clone(), y_train[:batch].clone()


@dataclass
class Landscape:
    """Losses on a 1-D slice (``losses`` has one row) or a 2-D grid (``losses[j][i]`` at (x[i], y[j]))."""

    net: str
    dim: int
    coords: list[float]
    losses: list[list[float]]
    seed: int
    batch: int
    origin_loss: float
    stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Landscape:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def array(self) -> np.ndarray:
        return np.asarray(self.losses, dtype=np.float64)


def _perturbed_losses(
    model: nn.Module,
    directions: Sequence[Direction],
    points: Sequence[tuple[float, ...]],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
) -> tuple[list[float], float, bool]:
    """Mean cross-entropy of θ + Σ a_k·d_k at every point, on a private copy of ``model`` (eval mode).

    Returns the losses, the loss of the unperturbed copy, and whether ``should_stop()`` ended it early (then the
    losses are those of the points finished so far)."""
    clone = copy.deepcopy(model).eval()
    device = next(clone.parameters()).device
    # Only the parameters with a non-zero direction move (1-D ones are 0 in every direction and stay as trained).
    moving = [n for n, _ in clone.named_parameters() if any(bool(d[n].any()) for d in directions)]
    params = {n: p for n, p in clone.named_parameters() if n in moving}
    base = {n: p.detach().clone() for n, p in params.items()}
    dirs = [{n: d[n].to(device) for n in params} for d in directions]
    x, y = x.to(device), y.to(device)
    guard = step_guard or contextlib.nullcontext
    losses: list[float] = []
    origin: float | None = None  # the grid's own (0, 0) when it has one: the same weights, so one pass fewer
    stopped = False
    with torch.inference_mode():
        for k, point in enumerate(points):
            if should_stop is not None and should_stop():
                stopped = True
                break
            for name, p in params.items():
                new = base[name].clone()
                for a, d in zip(point, dirs):
                    if a != 0.0:
                        new.add_(d[name], alpha=a)
                p.copy_(new)
            with guard():
                losses.append(float(F.cross_entropy(clone(x), y)))
            if all(a == 0.0 for a in point):
                origin = losses[-1]
            if progress is not None:
                progress(k + 1, len(points), losses[-1])
        if origin is None:
            for name, p in params.items():
                p.copy_(base[name])
            with guard():
                origin = float(F.cross_entropy(clone(x), y))
    return losses, origin, stopped


def loss_slice(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    points: int = LIVE_POINTS,
    seed: int = DEFAULT_SEED,
    net: str = "",
    dim: int = 1,
    extent: float = 1.0,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
) -> Landscape:
    """The loss along the first direction (``dim=1``) or on the plane of both (``dim=2``) around ``model``.

    The first direction of a 2-D grid is the direction of the 1-D slice with the same seed, so the slice is the
    grid's row at β = 0. ``model`` is deep-copied before it is perturbed; it is never changed.
    A stop request (``should_stop()`` true) returns the points finished so far with ``stopped=True``.
    """
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, not {dim}")
    axis = coordinates(points, extent)
    directions = random_directions(model, dim, seed)
    grid = [(float(a),) for a in axis] if dim == 1 else [(float(a), float(b)) for b in axis for a in axis]
    losses, origin, stopped = _perturbed_losses(
        model, directions, grid, x, y, progress=progress, should_stop=should_stop, step_guard=step_guard
    )
    if dim == 2:  # a stopped grid: the missing points are NaN
        losses = losses + [math.nan] * (len(grid) - len(losses))
    rows = [losses] if dim == 1 else [losses[j * points : (j + 1) * points] for j in range(points)]
    return Landscape(
        net=net,
        dim=dim,
        coords=[float(a) for a in axis],
        losses=rows,
        seed=seed,
        batch=len(x),
        origin_loss=origin,
        stopped=stopped,
    )


#: The training settings recorded beside the shipped weights (``degradation.json``); raises without it.
shipped_config = shipped.training_config
#: The networks of :data:`LANDSCAPE_NETS` whose trained weights are in a folder.
available_nets = shipped.trained_nets
#: The shipped surface of a network as written by ``scripts/make_landscape.py``, or None if absent/unreadable.
load_landscape = shipped.landscape


def _shipped_net(net: ExperimentNet | str) -> ExperimentNet:
    """``net`` (any spelling) if it is one of :data:`LANDSCAPE_NETS`; ``ValueError`` otherwise."""
    choices = ", ".join(n.key for n in LANDSCAPE_NETS)
    try:
        found = ExperimentNet.parse(net)
    except ValueError:
        found = None
    if found not in LANDSCAPE_NETS:
        raise ValueError(f"unknown network {net!r}; choose one of {choices}")
    return found


def load_net(
    net: ExperimentNet | str, folder: str | Path = paths.CURVES_DIR, config: TrainConfig | None = None
) -> nn.Module:
    """A fresh copy of the shipped trained ``net`` (eval mode, CPU); ``FileNotFoundError`` without weights."""
    net = _shipped_net(net)
    config = config or shipped_config(folder)
    path = paths.net_weights_path(net, folder)
    if not path.exists():
        raise FileNotFoundError(f"no trained weights for {net} ({path.name}); run scripts/make_curves.py")
    return load_trained(path, depth=net.depth, width=config.width, plain=net.plain)


def shipped_landscape(
    net: ExperimentNet | str,
    *,
    dim: int,
    points: int,
    seed: int = DEFAULT_SEED,
    batch: int = LIVE_BATCH,
    folder: str | Path = paths.CURVES_DIR,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
) -> Landscape:
    """:func:`loss_slice` around the shipped trained ``net`` on its fixed evaluation batch (fresh model)."""
    config = shipped_config(folder)
    model = load_net(net, folder, config).to(device)
    x, y = eval_batch(config, batch)
    return loss_slice(
        model,
        x,
        y,
        points=points,
        seed=seed,
        net=_shipped_net(net).key,
        dim=dim,
        progress=progress,
        should_stop=should_stop,
        step_guard=step_guard,
    )


# ------------------------------------------------------------------------------------------- what to read off


def _index_of(coords: Sequence[float], value: float) -> int | None:
    arr = np.asarray(coords)
    i = int(np.argmin(np.abs(arr - value)))
    return i if abs(arr[i] - value) < 1e-9 else None


def losses_at_distances(land: Landscape, distances: Sequence[float] = DISTANCES) -> dict[str, float | None]:
    """Mean loss at distance r along the directions: at ±r on the slice, at (±r, 0) and (0, ±r) on a grid.

    ``None`` where r is not a grid coordinate. Keys are ``"0.25"`` etc. (JSON-friendly).
    """
    arr = land.array()
    out: dict[str, float | None] = {}
    for r in distances:
        i_pos, i_neg = _index_of(land.coords, r), _index_of(land.coords, -r)
        i0 = _index_of(land.coords, 0.0)
        if i_pos is None or i_neg is None or (land.dim == 2 and i0 is None):
            out[f"{r:g}"] = None
            continue
        if land.dim == 1:
            vals = [arr[0, i_pos], arr[0, i_neg]]
        else:
            vals = [arr[i0, i_pos], arr[i0, i_neg], arr[i_pos, i0], arr[i_neg, i0]]
        out[f"{r:g}"] = float(np.mean(vals))
    return out


def curvature_stats(land: Landscape) -> dict[str, float]:
    """Finite-difference convexity test on a 2-D grid.

    At every interior point the 2×2 Hessian [[f_xx, f_xy], [f_xy, f_yy]] from central differences; the surface
    is locally non-convex there when the smaller eigenvalue is negative. Returns the share of interior points that
    are non-convex, the share where |λmin/λmax| > :data:`CLEARLY_RATIO` (clearly non-convex; Li et al. colour this ratio) and the
    number of points tested. Flat regions where the loss does not change in float32 count as convex (λ = 0).
    """
    if land.dim != 2:
        raise ValueError("curvature needs a 2-D grid")
    f = land.array()
    h = float(land.coords[1] - land.coords[0])
    fxx = (f[1:-1, 2:] - 2 * f[1:-1, 1:-1] + f[1:-1, :-2]) / h**2
    fyy = (f[2:, 1:-1] - 2 * f[1:-1, 1:-1] + f[:-2, 1:-1]) / h**2
    fxy = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * h**2)
    mean, diff = (fxx + fyy) / 2, np.sqrt(((fxx - fyy) / 2) ** 2 + fxy**2)
    lmin, lmax = mean - diff, mean + diff
    big = np.maximum(np.abs(lmin), np.abs(lmax))
    ratio = np.divide(np.abs(lmin), big, out=np.zeros_like(big), where=big > 0)
    nonconvex = lmin < 0
    return {
        "nonconvex_share": float(nonconvex.mean()),
        "clearly_nonconvex_share": float((nonconvex & (ratio > CLEARLY_RATIO)).mean()),
        "points_tested": int(lmin.size),
    }


@dataclass(frozen=True)
class LandscapeSummary:
    """The numbers the page and the CLI report about a slice or a grid (a shipped surface holds its own, as
    :meth:`to_dict` writes it)."""

    origin_loss: float
    #: the mean loss at each distance of :data:`DISTANCES` ("0.25" …; None where it is not a grid coordinate)
    at_distance: dict[str, float | None]
    max_loss: float
    #: the curvature test of a 2-D grid (:func:`curvature_stats`); None on a slice
    nonconvex_share: float | None = None
    clearly_nonconvex_share: float | None = None
    points_tested: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the curvature numbers only for a grid)."""
        out = {k: v for k, v in asdict(self).items() if v is not None or k == "at_distance"}
        out["at_distance"] = dict(self.at_distance)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LandscapeSummary:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def summarise(land: Landscape) -> LandscapeSummary:
    """The numbers the page and the CLI report: origin loss, losses at the distances, curvature (2-D)."""
    curvature: dict[str, Any] = curvature_stats(land) if land.dim == 2 else {}
    return LandscapeSummary(
        origin_loss=land.origin_loss,
        at_distance=losses_at_distances(land),
        max_loss=float(np.nanmax(land.array())) if land.losses and land.losses[0] else math.nan,
        **curvature,
    )


def _title(net: str) -> str:
    """The curves' label of a network name (``plain56`` → ``plain-56``); any other name as it is."""
    try:
        return ExperimentNet.parse(net).label
    except ValueError:
        return net


def landscape_text(land: Landscape, summary: LandscapeSummary) -> str:
    """The slice or grid as plain text: coordinates and losses, then the numbers."""
    from resnet_viz.formatting import text_table

    head = (
        f"{_title(land.net)}: loss along "
        f"{'one filter-normalised direction' if land.dim == 1 else 'two filter-normalised directions'} "
        f"(seed {land.seed}), {land.batch} training images, BN in eval mode"
    )
    if land.dim == 1:
        rows = [(f"{a:+.3f}", f"{v:.6g}") for a, v in zip(land.coords, land.losses[0])]
        table = text_table(("alpha", "loss"), rows, right={0, 1})
    else:
        rows = [(f"{b:+.3f}", *(f"{v:.4g}" for v in row)) for b, row in zip(land.coords, land.losses)]
        header = ("beta\\alpha", *(f"{a:+.2f}" for a in land.coords))
        table = text_table(header, rows, right=set(range(len(header))))
    lines = [head, *table, "", f"loss at the origin (the trained weights): {land.origin_loss:.6g}"]
    for r, v in summary.at_distance.items():
        if v is not None:
            lines.append(f"mean loss at distance {r}: {v:.6g}")
    if land.dim == 2:
        lines.append(
            f"locally non-convex (finite-difference Hessian has a negative eigenvalue): "
            f"{100 * summary.nonconvex_share:.1f}% of {summary.points_tested} interior points"
        )
    return "\n".join(lines)
