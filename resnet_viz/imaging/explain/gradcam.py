"""Grad-CAM (Selvaraju et al., 2017) at any stage's output, and the model-randomisation sanity check of
Adebayo et al. (2018): the same map from a randomly initialised network and the rank correlation of the two."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.imaging.explain.walk import _blocks, _check_image, _check_model, _walk_to, eval_mode
from resnet_viz.models.seeding import seeded_build

#: Seed of the randomly re-initialised network of the sanity check (not the "random weights" seed 0).
SANITY_SEED = 1
#: Above this rank correlation of the two maps' magnitudes, the trained and the randomised Grad-CAM are called
#: alike (:func:`maps_alike`). A reading aid, not a statistical test: Adebayo et al. (2018) show the correlations
#: themselves and call a map whose correlation stays high after randomisation insensitive to the model.
SIMILAR_RHO = 0.5
#: Decimals of ρ on the page; the rule reads the value as shown, so "ρ = 0.50" is never called "above 0.5".
RHO_DECIMALS = 2
#: What a BatchNorm's running statistics hold before any training step (torch's ``reset_running_stats``).
BN_INITIAL_MEAN = 0.0
BN_INITIAL_VAR = 1.0


@dataclass(frozen=True)
class GradCam:
    """Grad-CAM at one stage: ReLU(Σ_c α_c A_c) with α_c the mean of ∂logit/∂A_c over the map."""

    stage: str
    target: int  # the class explained
    cam: np.ndarray  # (h, w) float32, after the ReLU, not scaled
    weights: np.ndarray  # (C,) float32: α_c
    raw: np.ndarray  # (h, w) float32: Σ_c α_c A_c before the ReLU
    logit: float

    @property
    def heat(self) -> np.ndarray:
        """The map scaled to 0..1 (all zeros where nothing is positive)."""
        peak = float(self.cam.max())
        return self.cam / peak if peak > 0 else self.cam


def stage_outputs(model: nn.Module) -> dict[str, str]:
    """Stage name → the name of its last block (the stage's output): ``{"layer1": "layer1.2", …}``."""
    out = {}
    for name, _ in _blocks(model):
        out[name.split(".")[0]] = name
    return out


def grad_cam(model: nn.Module, image: torch.Tensor, stage: str, target: int | None = None) -> GradCam:
    """Grad-CAM (Selvaraju et al., 2017) of class ``target`` (default: the top class) at ``stage``'s output
    (a stage ``layer2`` or any block ``layer2.1``). The forward up to that output runs without gradients; only
    the feature map A requires one, so the backward runs through the later layers only and w.r.t. A only.
    The model runs in eval mode (:func:`~resnet_viz.imaging.explain.walk.eval_mode`) and is left as it was."""
    _check_model(model)
    _check_image(image)
    with eval_mode(model):
        return _grad_cam(model, image, stage, target)


def _grad_cam(model: nn.Module, image: torch.Tensor, stage: str, target: int | None) -> GradCam:
    stages = stage_outputs(model)
    blocks = [n for n, _ in _blocks(model)]
    name = stages.get(stage, stage)
    if name not in blocks:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join([*stages, *blocks])}")
    device = next(model.parameters()).device
    x = image.to(device, torch.float32)
    with torch.no_grad():
        owner, h, terms = _walk_to(model, x, name)
        a = terms["out"]
    a = a.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        h = a
        after = False
        for bname, block in _blocks(model):
            if after:
                h = block(h)
            after = after or bname == name
        logits = model.fc(torch.flatten(model.avgpool(h), 1))[0]
        if target is None:
            target = int(torch.argmax(logits))
        if not 0 <= int(target) < logits.shape[0]:
            raise ValueError(f"class {target} is out of range: it must be from 0 to {logits.shape[0] - 1}")
        (grad,) = torch.autograd.grad(logits[int(target)], a)
    alpha = grad[0].mean(dim=(1, 2))
    raw = torch.einsum("c,chw->hw", alpha, a[0].detach())
    cam = F.relu(raw)
    return GradCam(
        stage=stage, target=int(target), cam=cam.to("cpu", torch.float32).numpy().copy(),
        raw=raw.to("cpu", torch.float32).numpy().copy(),
        weights=alpha.to("cpu", torch.float32).numpy().copy(), logit=float(logits[int(target)].detach()),
    )  # fmt: skip


def randomized_like(build: callable, seed: int) -> nn.Module:  # type: ignore[valid-type]
    """A freshly initialised network from ``build()`` under :func:`resnet_viz.models.seeding.seeded_build`
    (the same ``seed`` gives the same weights in every process), in eval mode."""
    return seeded_build(seed, build).eval()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two same-shaped arrays (ties get their average rank); NaN if either
    is constant. (scipy is not a dependency for one formula.)"""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (first + (counts - 1) / 2.0)[inverse]


@dataclass(frozen=True)
class SanityCheck:
    """Adebayo et al. (2018): the trained map, the same map from a randomly initialised network, and the
    Spearman rank correlation of their magnitudes, ``rho`` (near 1: the map does not depend on what the network
    learned). The maps are compared before Grad-CAM's final ReLU (after it a map can be all zeros, which has no
    ranking) and as absolute values, as Adebayo et al. do: the sign of a map before that ReLU is arbitrary for a
    random network (two random networks gave ρ ≈ −0.9 on the signed maps, the same picture mirrored in sign).
    ``rho_signed`` is the correlation of the signed maps, kept for comparison."""

    trained: GradCam
    randomized: GradCam
    rho: float
    rho_signed: float = float("nan")


def sanity_check(
    model: nn.Module, random_model: nn.Module, image: torch.Tensor, stage: str, target: int | None = None
) -> SanityCheck:
    """Grad-CAM of ``model`` and of ``random_model`` (same architecture, random weights) for the same class."""
    trained = grad_cam(model, image, stage, target)
    randomized = grad_cam(random_model, image, stage, trained.target)
    return SanityCheck(
        trained, randomized, rho=spearman(np.abs(trained.raw), np.abs(randomized.raw)),
        rho_signed=spearman(trained.raw, randomized.raw),
    )  # fmt: skip


def initial_statistics(mean: np.ndarray, var: np.ndarray) -> bool:
    """Whether a BatchNorm's running statistics still hold their initial values (μ = 0, σ² = 1 in every
    channel): no training step in train mode has updated them, so nothing was measured."""
    return bool(np.all(np.asarray(mean) == BN_INITIAL_MEAN) and np.all(np.asarray(var) == BN_INITIAL_VAR))


def trained_statistics(model: nn.Module) -> bool:
    """Whether ``model``'s weights were trained, judged from the weights actually loaded: some BatchNorm's
    running statistics differ from their initial values (every training step in train mode moves them). False
    for a freshly initialised network, whatever its seed, and for a network without running statistics."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            with torch.no_grad():
                if not (
                    bool(torch.all(m.running_mean == BN_INITIAL_MEAN))
                    and bool(torch.all(m.running_var == BN_INITIAL_VAR))
                ):
                    return True
    return False


def shown_rho(rho: float) -> str:
    """ρ as the page prints it (:data:`RHO_DECIMALS` decimals), "–" where it is undefined."""
    return "–" if np.isnan(rho) else f"{rho:.{RHO_DECIMALS}f}"


def maps_alike(rho: float) -> bool:
    """The sanity check's rule: the two maps rank the pixels alike (ρ of their magnitudes, rounded as it is
    shown, above :data:`SIMILAR_RHO`). False where ρ is undefined (a constant map)."""
    return not np.isnan(rho) and float(shown_rho(rho)) > SIMILAR_RHO


SanityReading = Literal["untrained", "undefined", "alike", "different"]


def sanity_reading(check: SanityCheck, trained: bool) -> SanityReading:
    """What the page may say about a sanity check. ``untrained``: the weights explained were never trained, so
    the check compares two untrained networks and says nothing (Adebayo et al. randomise a *trained* model);
    ``undefined``: ρ has no value (a constant map); else ``alike`` or ``different`` by :func:`maps_alike`."""
    if not trained:
        return "untrained"
    if np.isnan(check.rho):
        return "undefined"
    return "alike" if maps_alike(check.rho) else "different"
