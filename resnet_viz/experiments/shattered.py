"""Shattered gradients (Balduzzi et al. 2017): how the gradient of a network's output with respect to its input
changes as the input moves along a line, plain against residual. Pure torch, no Streamlit.

Balduzzi et al. 2017 (Fig. 1–2, §3) take a network with a 1-D input and output, compute dy/dx at 256 inputs on
[−2, 2] and look at the result as a signal: in a deep *plain* network with batch normalisation it looks like
white noise (neighbouring inputs get unrelated gradients, the "shattered" gradient), in a residual network like
brown noise (a random walk: neighbours get similar gradients). The number that says which is the
**autocorrelation** of that signal, :func:`autocorrelation`; its value at lag 1 is one number per curve.

Two experiments here, each returning plain dataclasses (no live modules):

* :func:`toy_gradients` — the paper's toy: 1 input, :data:`TOY_WIDTH` hidden units, ``depth`` blocks, ReLU,
  batch normalisation on or off, plain (``h ← f(h)``) or residual (``h ← h + f(h)``) with the same ``f``;
* :func:`path_gradients` — the same question on the CIFAR networks of the *Why residual* page: along a path of
  images ``x(α) = (1 − α)·a + α·b`` (a photo blended into a second image, :data:`PATH_STEPS` values of α on
  [0, 1]), d(logit)/dα, at initialisation (any seed) or with the shipped trained weights; and on the ImageNet
  ResNet-18/50 (:func:`imagenet_path_gradients`, slower, with a progress callback).

**Batch normalisation's mode, stated once.** A per-input gradient needs each output to depend on its own input
only, so BN cannot use the statistics of the batch being differentiated (then every y_i depends on every x_j).
At initialisation BN is therefore *calibrated*: one forward pass in train mode over the same inputs (the 256
points, or the 256 images of the path) sets each BN's statistics to theirs (momentum 1), then the gradient is
taken in eval mode with those statistics held fixed. That normalises almost as training's first step would on
that batch (the running variance PyTorch keeps is unbiased, divisor n − 1 where the batch's own divides by n: a
factor 256/255 in the toy, less on the path, where n also counts pixels), and makes dy/dx a function of x alone.
A fresh BN left in eval mode without calibration would use its initial statistics (mean 0, variance 1), i.e.
normalise nothing: the "normalisation off" curve. The trained networks are measured in eval mode with their own running statistics, as they are deployed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from resnet_viz.models.seeding import seeded_build

#: The paper's toy: hidden units per layer (Balduzzi et al. 2017, Fig. 1: 200 rectifier neurons per layer).
TOY_WIDTH = 200
#: The paper's toy: how many inputs dy/dx is computed at, evenly spaced on :data:`TOY_RANGE`.
TOY_POINTS = 256
TOY_RANGE = (-2.0, 2.0)
#: The depths the page shows (the paper's Fig. 1 shows 1- and 24-layer feedforward nets and a 50-layer resnet).
TOY_DEPTHS: tuple[int, ...] = (1, 24, 50)
#: Cited, not measured: the depths of Balduzzi et al. 2017's Figure 1, feedforward nets and the resnet.
PAPER_FIG1_FEEDFORWARD_DEPTHS: tuple[int, int] = (1, 24)
PAPER_FIG1_RESNET_DEPTH = 50
#: Seeds the page and the CLI repeat every measurement for, to show the spread.
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The path between two images: this many values of α, evenly spaced on [0, 1].
PATH_STEPS = 256
#: The CIFAR nets' first-stage width on the path: the shipped trained nets' (``assets/curves/degradation.json``),
#: so that "at initialisation" and "trained" are the same network (the paper's width, 16, with ``width=16``).
PATH_WIDTH = 4
#: Lags the autocorrelation function is drawn up to.
MAX_LAG = 40
#: The CIFAR networks of the path experiment (the CLI's ``--net`` names, less ``mlp``).
CIFAR_NETS: tuple[str, ...] = ("plain20", "resnet20", "plain56", "resnet56")


# ------------------------------------------------------------------------------------------------ the statistic


def autocorrelation(signal: Sequence[float] | np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """The sample autocorrelation function of ``signal`` at lags 0 … ``max_lag``:

        r(k) = Σ_{i=0}^{n−1−k} (g_i − ḡ)(g_{i+k} − ḡ)  /  Σ_{i=0}^{n−1} (g_i − ḡ)²

    the standard (biased) estimator: centred on the signal's mean, divided by its total variance, so r(0) = 1 and
    |r(k)| ≤ 1. White noise has r(k) ≈ 0 for every k ≥ 1 (within about ±2/√n); a random walk (brown noise) has
    r(1) close to 1, falling slowly with k. A constant signal has no variance, hence no autocorrelation: that
    raises ``ValueError`` rather than returning a number that would mean "perfectly correlated".
    """
    g = np.asarray(signal, dtype=np.float64).ravel()
    n = g.size
    if n < 2:
        raise ValueError("an autocorrelation needs at least two values")
    if not np.all(np.isfinite(g)):
        raise ValueError("the signal has non-finite values")
    c = g - g.mean()
    denom = float(c @ c)
    if denom <= 1e-300 or denom <= 1e-24 * float(np.abs(g).max()) ** 2 * n:
        raise ValueError("a constant signal has no autocorrelation")
    lags = min(max_lag, n - 1)
    return np.array([float(c[: n - k] @ c[k:]) / denom for k in range(lags + 1)])


def lag1(signal: Sequence[float] | np.ndarray) -> float:
    """:func:`autocorrelation` at lag 1: one number per curve (≈ 0 white noise, ≈ 1 a random walk)."""
    return float(autocorrelation(signal, 1)[1])


# ------------------------------------------------------------------------------------------------ BN calibration


def _calibrate_batchnorm(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """Set every BN's running statistics to those of ``inputs`` (one train-mode pass, momentum 1), then eval mode:
    the gradient then normalises almost as training would on this batch (the running variance is the unbiased
    one, ×n/(n − 1)), but each output depends on its own input only.
    Mutates ``model``: call it on a model of your own only."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = 1.0
    model.train()
    with torch.inference_mode():  # only the running statistics are wanted: no autograd bookkeeping
        model(inputs)
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    return model.eval()


# ------------------------------------------------------------------------------------------------ the toy


class ToyNet(nn.Module):
    """Balduzzi et al.'s toy: ``x`` (1-D) → ReLU(Linear(1, width)) → ``depth`` blocks → Linear(width, 1).

    Every block computes ``f(h) = W·ReLU(BN(h)) + b`` (``BN`` absent when ``norm`` is False); a plain block
    outputs ``f(h)``, a residual block ``h + f(h)``: the shortcut is the only difference. Weights are He-initialised
    (PyTorch's ``kaiming_normal_`` for ReLU), biases keep PyTorch's default (uniform on ±1/√fan_in), so the
    ReLUs switch at many inputs along the line; the BN layers start at γ = 1, β = 0.
    """

    def __init__(self, depth: int, *, residual: bool, norm: bool, width: int = TOY_WIDTH) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.residual = residual
        self.stem = nn.Linear(1, width)
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) if norm else nn.Identity() for _ in range(depth))
        self.linears = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, 1)
        for lin in [self.stem, *self.linears, self.head]:
            # the biases keep PyTorch's default, uniform on ±1/√fan_in: with zero biases every ReLU of a net
            # without normalisation would switch at x = 0 (the net is then x·y(1) for x > 0), and dy/dx would be
            # a step with one jump, not the signal the paper studies
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ReLU on the stem: a BN straight after an affine map of a 1-D input would turn every unit into ±x
        # standardised, so every first-block ReLU would switch at the same input (the line's mean)
        h = torch.relu(self.stem(x))
        for norm, lin in zip(self.norms, self.linears):
            f = lin(torch.relu(norm(h)))
            h = h + f if self.residual else f
        return self.head(h)


@dataclass(frozen=True)
class ToyGradients:
    """dy/dx of one toy network (one seed) at :data:`TOY_POINTS` inputs on :data:`TOY_RANGE`, and its
    autocorrelation function (lags 0 … :data:`MAX_LAG`)."""

    depth: int
    residual: bool
    norm: bool
    seed: int
    width: int
    x: tuple[float, ...]
    grad: tuple[float, ...]
    acf: tuple[float, ...]

    @property
    def lag1(self) -> float:
        return self.acf[1]

    @property
    def kind(self) -> str:
        return "resnet" if self.residual else "plain"


def toy_gradients(
    depth: int,
    *,
    residual: bool,
    norm: bool = True,
    seed: int = 0,
    width: int = TOY_WIDTH,
    points: int = TOY_POINTS,
) -> ToyGradients:
    """Build the toy (seeded), calibrate its BN on the ``points`` inputs (see the module's note), and take dy/dx
    at every input by autograd (one backward pass: in eval mode the outputs are independent, so the gradient of
    their sum is each output's own derivative)."""
    x = torch.linspace(*TOY_RANGE, points, dtype=torch.float64).unsqueeze(1)
    model = seeded_build(seed, lambda: ToyNet(depth, residual=residual, norm=norm, width=width)).double()
    _calibrate_batchnorm(model, x)
    x = x.clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(model(x).sum(), x)
    g = grad.squeeze(1).numpy()
    return ToyGradients(
        depth=depth,
        residual=residual,
        norm=norm,
        seed=seed,
        width=width,
        x=tuple(x.detach().squeeze(1).tolist()),
        grad=tuple(g.tolist()),
        acf=tuple(autocorrelation(g).tolist()),
    )


@dataclass(frozen=True)
class ToySweep:
    """The toy at every depth × {plain, residual} × seed, with normalisation on or off."""

    norm: bool
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    runs: tuple[ToyGradients, ...]

    def of(self, depth: int, residual: bool) -> list[ToyGradients]:
        """The runs of one network (every seed)."""
        return [r for r in self.runs if r.depth == depth and r.residual == residual]


def toy_sweep(
    depths: Sequence[int] = TOY_DEPTHS, seeds: Sequence[int] = DEFAULT_SEEDS, *, norm: bool = True
) -> ToySweep:
    """:func:`toy_gradients` for every depth, plain and residual, every seed."""
    runs = tuple(
        toy_gradients(d, residual=res, norm=norm, seed=s)
        for d in depths
        for res in (False, True)
        for s in seeds
    )
    return ToySweep(norm=norm, depths=tuple(depths), seeds=tuple(seeds), runs=runs)


# ------------------------------------------------------------------------------------------------ image paths


@dataclass(frozen=True)
class PathGradients:
    """d(logit)/dα along ``x(α) = (1 − α)·a + α·b`` for one network (one seed, or the trained weights).

    ``logit_class`` is the class whose logit is differentiated (the one the network predicts at α = 0);
    ``bn`` says how BN normalised ("calibrated": eval mode with the path's own statistics, at initialisation;
    "running": eval mode with the trained running statistics)."""

    net: str
    trained: bool
    seed: int | None
    width: int
    steps: int
    logit_class: int
    bn: str
    alpha: tuple[float, ...]
    grad: tuple[float, ...]
    acf: tuple[float, ...]

    @property
    def lag1(self) -> float:
        return self.acf[1]

    @property
    def plain(self) -> bool:
        return self.net.startswith("plain")


def path_images(
    a: torch.Tensor, b: torch.Tensor, steps: int = PATH_STEPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """α (``steps`` values on [0, 1]) and the blended images (1 − α)·a + α·b, one per α."""
    if a.shape != b.shape or a.dim() != 3:
        raise ValueError(
            f"two images of the same shape (C, H, W) are needed, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    alpha = torch.linspace(0.0, 1.0, steps)
    return alpha, (1 - alpha).view(-1, 1, 1, 1) * a + alpha.view(-1, 1, 1, 1) * b


def _path_derivative(
    model: nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    steps: int,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """α, d(logit_c)/dα along the path, and c (the class predicted at α = 0). ``model`` is in eval mode.
    By the chain rule d logit/dα = ∇ₓ logit · (b − a): one backward pass per chunk of the path."""
    alpha, images = path_images(a, b, steps)
    with torch.inference_mode():
        c = int(model(images[:1]).argmax(1))
    direction = (b - a).unsqueeze(0)
    out = []
    for start in range(0, steps, chunk):
        x = images[start : start + chunk].clone().requires_grad_(True)
        with torch.enable_grad():
            (gx,) = torch.autograd.grad(model(x)[:, c].sum(), x)
        out.append((gx * direction).flatten(1).sum(1).detach())
        if progress is not None:
            progress(min(start + chunk, steps), steps)
    return alpha, torch.cat(out), c


def cifar_path_net(
    net: str, *, seed: int | None, width: int = PATH_WIDTH, weights_folder: Any = None
) -> nn.Module:
    """``net`` ("plain56", "resnet20" …) at initialisation (``seed``) or, with ``seed`` None, with the shipped
    trained weights (``weights_folder``, default ``assets/curves``; their own width, read off the file)."""
    from resnet_viz.architecture.experiment_net import ExperimentNet
    from resnet_viz.experiments.nets import cifar_net, load_trained

    parsed = ExperimentNet.parse(net)
    if seed is None:
        from resnet_viz import paths

        folder = weights_folder if weights_folder is not None else paths.CURVES_DIR
        path = paths.net_weights_path(parsed, folder)
        from safetensors.torch import load_file

        trained_width = int(load_file(str(path))["conv1.weight"].shape[0])
        return load_trained(path, depth=parsed.depth, width=trained_width, plain=parsed.plain)
    return seeded_build(seed, lambda: cifar_net(parsed.depth, plain=parsed.plain, width=width))


def path_gradients(
    net: str,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    seed: int | None = 0,
    width: int = PATH_WIDTH,
    steps: int = PATH_STEPS,
    weights_folder: Any = None,
    chunk: int = 64,
) -> PathGradients:
    """d(logit)/dα of a CIFAR ``net`` along the path from image ``a`` to image ``b`` (each (3, 32, 32), as the
    network takes them). ``seed`` None: the shipped trained weights (BN "running"); else a fresh network built
    from ``seed`` with first-stage width ``width`` (BN "calibrated" on the path, see the module's note)."""
    model = cifar_path_net(net, seed=seed, width=width, weights_folder=weights_folder)
    if seed is None:
        bn = "running"
        model.eval()
    else:
        bn = "calibrated"
        _calibrate_batchnorm(model, path_images(a, b, steps)[1])
    alpha, grad, c = _path_derivative(model, a, b, steps, chunk, None)
    g = grad.double().numpy()
    return PathGradients(
        net=net,
        trained=seed is None,
        seed=seed,
        width=int(model.conv1.weight.shape[0]),
        steps=steps,
        logit_class=c,
        bn=bn,
        alpha=tuple(alpha.tolist()),
        grad=tuple(g.tolist()),
        acf=tuple(autocorrelation(g).tolist()),
    )


def imagenet_path_gradients(
    arch: str,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    seed: int = 0,
    steps: int = PATH_STEPS,
    chunk: int = 16,
    device: Any = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> PathGradients:
    """The path experiment on an ImageNet network (``resnet18``/``resnet50`` or ``plain`` + depth) at
    initialisation, images (3, 224, 224); BN calibrated on the path in chunks of ``chunk`` images, unlike
    :func:`path_gradients`' single pass: each chunk is normalised with its own statistics during calibration, and
    each BN holds the average of the chunks' means and (unbiased) variances, which leaves out the spread of the
    chunk means along α (the page says so). ``progress(done, total)`` after every chunk of the gradient."""
    from resnet_viz.models.build import build_model

    plain = arch.startswith("plain")
    name = "resnet" + arch.removeprefix("plain").removeprefix("resnet")
    model = seeded_build(seed, lambda: build_model(name, plain=plain)).to(device)
    a, b = a.to(device), b.to(device)
    _, images = path_images(a, b, steps)
    # calibrate on the whole path in chunks: a cumulative average (momentum None) of the chunks' statistics
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for start in range(0, steps, chunk):
            model(images[start : start + chunk])
    model.eval()
    alpha, grad, c = _path_derivative(model, a, b, steps, chunk, progress)
    g = grad.double().cpu().numpy()
    return PathGradients(
        net=arch,
        trained=False,
        seed=seed,
        width=int(model.conv1.weight.shape[0]),
        steps=steps,
        logit_class=c,
        bn="calibrated",
        alpha=tuple(alpha.tolist()),
        grad=tuple(g.tolist()),
        acf=tuple(autocorrelation(g).tolist()),
    )


def sample_pair(seed: int = 0, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Two images of the generated ``pairs`` data set (the trained nets' data), (3, size, size) each: the path's
    default ends where no photo is given."""
    from resnet_viz.experiments.data import generate

    images, _ = generate("pairs", 2, size=size, seed=seed, noise=0.1)
    return images[0], images[1]


def photo_tensor(image: Any, size: int = 32) -> torch.Tensor:
    """A PIL image as the networks' input here: resized (shorter side) and centre-cropped to ``size``, scaled to
    [0, 1], then standardised per channel as the generated data are (mean 0, standard deviation 1 over the
    picture), so a photo and a generated image sit on the same scale."""
    from PIL import ImageOps

    img = ImageOps.fit(image.convert("RGB"), (size, size))
    t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = t.flatten(1).mean(1).view(3, 1, 1)
    std = t.flatten(1).std(1).clamp_min(1e-3).view(3, 1, 1)
    return (t - mean) / std


@dataclass(frozen=True)
class PathSweep:
    """:func:`path_gradients` for several networks × seeds (at init) or the trained weights (seed None)."""

    trained: bool
    nets: tuple[str, ...]
    seeds: tuple[int, ...]
    runs: tuple[PathGradients, ...] = field(default=())

    def of(self, net: str) -> list[PathGradients]:
        return [r for r in self.runs if r.net == net]


def path_sweep(
    a: torch.Tensor,
    b: torch.Tensor,
    nets: Sequence[str] = ("plain56", "resnet56"),
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    trained: bool = False,
    steps: int = PATH_STEPS,
    width: int = PATH_WIDTH,
    weights_folder: Any = None,
) -> PathSweep:
    """Every net at every seed (at init), or every net once with its trained weights."""
    runs = tuple(
        path_gradients(n, a, b, seed=None, steps=steps, weights_folder=weights_folder)
        if trained
        else path_gradients(n, a, b, seed=s, steps=steps, width=width)
        for n in nets
        for s in ((None,) if trained else seeds)
    )
    return PathSweep(trained=trained, nets=tuple(nets), seeds=() if trained else tuple(seeds), runs=runs)


@functools.lru_cache(maxsize=4)
def init_path_runs(
    depth: int = 56, seeds: tuple[int, ...] = DEFAULT_SEEDS
) -> dict[str, tuple[PathGradients, ...]]:
    """The lesson's measurement: d(logit)/dα of plain-``depth`` and ResNet-``depth`` at initialisation along the
    default path (:func:`sample_pair`), one record per seed. Deterministic, so kept for the process (a few
    seconds of CPU the first time)."""
    a, b = sample_pair()
    return {
        net: tuple(path_gradients(net, a, b, seed=s) for s in seeds)
        for net in (f"plain{depth}", f"resnet{depth}")
    }


def init_path_lag1(depth: int = 56, seeds: tuple[int, ...] = DEFAULT_SEEDS) -> dict[str, tuple[float, ...]]:
    """:func:`init_path_runs`' lag-1 autocorrelations, by network."""
    return {net: tuple(r.lag1 for r in runs) for net, runs in init_path_runs(depth, seeds).items()}


#: The command that writes :data:`resnet_viz.paths.SHATTERED_INIT_FILE` (recorded in the file).
RECORD_COMMAND = "python scripts/make_shattered.py"


def init_lag1_record(depth: int = 56, seeds: tuple[int, ...] = DEFAULT_SEEDS) -> dict[str, Any]:
    """:func:`init_path_lag1` with its settings, as ``scripts/make_shattered.py`` ships it (JSON-ready)."""
    return {
        "command": RECORD_COMMAND,
        "measures": "lag-1 autocorrelation of d(logit)/dα along the default path (sample_pair), at initialisation",
        "depth": depth,
        "steps": PATH_STEPS,
        "width": PATH_WIDTH,
        "seeds": list(seeds),
        "torch": torch.__version__,
        "lag1": {net: list(values) for net, values in init_path_lag1(depth, seeds).items()},
    }


def recorded_init_lag1(
    depth: int = 56, seeds: tuple[int, ...] = DEFAULT_SEEDS
) -> dict[str, tuple[float, ...]]:
    """:func:`init_path_lag1` as shipped (``assets/curves/shattered_init.json``), so that a lesson page does not
    spend seconds of CPU on it; measured live (:func:`init_path_lag1`) where the file is absent or was written
    with other settings (depth, seeds, path steps, width). ``tests/test_shattered.py`` recomputes the file."""
    from resnet_viz.experiments import shipped

    record = shipped.shattered_init()
    wanted = {"depth": depth, "steps": PATH_STEPS, "width": PATH_WIDTH, "seeds": list(seeds)}
    if record is not None and all(record.get(k) == v for k, v in wanted.items()):
        try:
            return {
                net: tuple(float(v) for v in record["lag1"][net])
                for net in (f"plain{depth}", f"resnet{depth}")
            }
        except (KeyError, TypeError, ValueError):
            pass
    return init_path_lag1(depth, seeds)
