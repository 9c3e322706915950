"""Grad-CAM (Selvaraju et al., 2017) at any stage's output, and the model-randomisation sanity check of
Adebayo et al. (2018): the same map from a randomly initialised network and the rank correlation of the two."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.imaging.explain.walk import _blocks, _check_image, _check_model, _walk_to, eval_mode
from resnet_viz.models.seeding import seeded_build

#: Seed of the randomly re-initialised network of the sanity check (not the "random weights" seed 0).
SANITY_SEED = 1


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
    """Adebayo et al. (2018): the trained map, the same map from a randomly initialised network, and their
    Spearman rank correlation (near 1: the map does not depend on what the network learned). ρ compares the maps
    before Grad-CAM's final ReLU: after it, a random network's map is often all zeros, which has no ranking."""

    trained: GradCam
    randomized: GradCam
    rho: float


def sanity_check(
    model: nn.Module, random_model: nn.Module, image: torch.Tensor, stage: str, target: int | None = None
) -> SanityCheck:
    """Grad-CAM of ``model`` and of ``random_model`` (same architecture, random weights) for the same class."""
    trained = grad_cam(model, image, stage, target)
    randomized = grad_cam(random_model, image, stage, trained.target)
    return SanityCheck(trained, randomized, spearman(trained.raw, randomized.raw))
