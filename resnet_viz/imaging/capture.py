"""One forward pass that keeps what the Feature-maps page shows: every stage's and block's output, the
residual addition of every block taken apart, the predictions and the class activation map.

Why an explicit walk and not hooks: the model is shared by every session (``st.cache_resource``); a hook on it
would fire for other sessions' forwards, and torchvision's blocks reuse one in-place ReLU and do
``out += identity``, so a kept reference to the main branch is overwritten. Walking the stages here calls the
model's own submodules (conv, bn, downsample) in the order torchvision's ``forward`` does (as the one block
walker, :func:`resnet_viz.models.blocks.walk_block`, lists them), re-implementing only
the few lines of ``BasicBlock.forward``/``Bottleneck.forward`` arithmetic (ReLU and the addition, neither
in place), which ``tests/test_capture.py`` checks reproduces each block's own output exactly. Nothing is
registered on, moved, or switched on the model; everything kept is copied to numpy.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.models.blocks import named_stages, walk_block

#: dtype of the feature maps kept for display (half the memory of float32; plenty for pictures).
MAP_DTYPE = np.float16


@dataclass(frozen=True)
class BlockParts:
    """The residual addition of one block, ``out = ReLU(F(x) + shortcut(x))``, as tensors (one call's copies)."""

    x: torch.Tensor
    main: torch.Tensor  # F(x): the last BN's output, before the addition
    shortcut: torch.Tensor | None  # identity x, downsample(x) (projection or zero-pad); None in a plain block
    sum: torch.Tensor  # F(x) + shortcut(x) (F(x) alone in a plain block)
    out: torch.Tensor  # ReLU(sum): the block's output


def block_parts(block: nn.Module, x: torch.Tensor) -> BlockParts:
    """Run one torchvision block on ``x`` through its own submodules and keep every term of its addition."""
    layout = walk_block(block)
    # The inner ReLUs may work in place: their inputs are fresh BN outputs nobody else holds.
    main = layout.run_branch(x, inplace=True)
    shortcut = layout.run_shortcut(x)
    if shortcut is None:
        return BlockParts(x=x, main=main, shortcut=None, sum=main, out=F.relu(main))
    total = main + shortcut
    return BlockParts(x=x, main=main, shortcut=shortcut, sum=total, out=F.relu(total))


def _summarised_block(
    block: nn.Module, name: str, x: torch.Tensor, x_means: list[np.ndarray], x_norms: list[float]
) -> tuple[torch.Tensor, list[Residual]]:
    """The block's output for the whole batch, and its addition summarised per image on the way.

    Same arithmetic as :func:`block_parts`, but each term is summarised as soon as it exists and the addition
    and the last ReLU then run in place, as in torchvision's own forward (``out += identity``): no extra
    full-size tensors per block, which keeps the capture within a few percent of a plain forward pass.
    """
    layout = walk_block(block)
    kind = layout.shortcut
    n = x.shape[0]
    main = layout.run_branch(x, inplace=True)
    main_means = [_mean(main, i) for i in range(n)]
    main_norms = [float(torch.linalg.vector_norm(main[i])) for i in range(n)]
    if kind == "none":
        shortcut_means: list[np.ndarray | None] = [None] * n
        shortcut_norms: list[float | None] = [None] * n
        out = F.relu(main, inplace=True)
    elif kind == "identity":  # shortcut(x) = x: its mean and norm are the input's, already computed
        shortcut_means, shortcut_norms = list(x_means), list(x_norms)
        out = F.relu(main.add_(layout.run_shortcut(x)), inplace=True)
    else:
        shortcut = layout.run_shortcut(x)
        shortcut_means = [_mean(shortcut, i) for i in range(n)]
        shortcut_norms = [float(torch.linalg.vector_norm(shortcut[i])) for i in range(n)]
        out = F.relu(main.add_(shortcut), inplace=True)
    residuals = []
    for i in range(n):
        # The mean over channels is linear: the sum's mean is the sum of the means.
        sm = shortcut_means[i]
        residuals.append(
            Residual(
                block=name,
                shortcut=kind,
                x_mean=x_means[i],
                main_mean=main_means[i],
                shortcut_mean=sm,
                sum_mean=main_means[i] if sm is None else main_means[i] + sm,
                out_mean=_mean(out, i),
                x_norm=x_norms[i],
                main_norm=main_norms[i],
                shortcut_norm=shortcut_norms[i],
            )
        )
    return out, residuals


def shortcut_kind(block: nn.Module) -> str:
    """``identity`` | ``projection`` | ``zero_pad`` | ``none`` (plain), as the trace names them."""
    return walk_block(block).shortcut


@dataclass(frozen=True)
class Residual:
    """One block's addition, summarised for display: each term's mean over channels (H, W), and the norms."""

    block: str
    shortcut: str  # identity | projection | zero_pad | none
    x_mean: np.ndarray
    main_mean: np.ndarray
    shortcut_mean: np.ndarray | None
    sum_mean: np.ndarray
    out_mean: np.ndarray
    x_norm: float
    main_norm: float
    shortcut_norm: float | None = None  # ‖shortcut(x)‖: ‖x‖ on an identity shortcut; None in a plain block

    @property
    def ratio(self) -> float:
        """‖F(x)‖ / ‖shortcut(x)‖: the two terms of the addition compared, so both norms are of tensors of one
        shape (on a dashed block x has another shape than F(x); shortcut(x) = x on a solid one). NaN in a plain
        block, which adds nothing; inf where shortcut(x) is all zeros."""
        if self.shortcut_norm is None:
            return float("nan")
        return self.main_norm / self.shortcut_norm if self.shortcut_norm > 0 else float("inf")

    @property
    def common_range(self) -> tuple[float, float]:
        """One colour scale for the five terms, so they can be compared by eye."""
        parts = [self.x_mean, self.main_mean, self.sum_mean, self.out_mean]
        if self.shortcut_mean is not None:
            parts.append(self.shortcut_mean)
        return float(min(p.min() for p in parts)), float(max(p.max() for p in parts))


@dataclass(frozen=True)
class Capture:
    """Everything one forward pass gives the page; numpy only (st.cache_data pickles it)."""

    layers: dict[str, np.ndarray]  # name -> (C, H, W) float16, in network order
    stage_of: dict[str, str]  # stage name (layer1 …) -> the name of its last block (the stage's output)
    residuals: list[Residual]
    logits: np.ndarray  # (num_classes,) float32
    probs: np.ndarray  # softmax of logits
    cam_class: int  # the top class
    cam: np.ndarray  # (h, w) float32, before ReLU: Σ_c w[class, c] · A_c over the last stage's output A
    fc_bias: float  # fc.bias[class]: mean(cam) + fc_bias == logit[class] (global average pool + fc)
    device: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    #: The smallest and largest activation over every kept layer ("across the network" normalization),
    #: taken during the forward pass (a float16 min/max over 11 MB on every rerun would cost ~50 ms).
    global_range: tuple[float, float] = (0.0, 0.0)

    def top(self, k: int = 5) -> list[tuple[int, float]]:
        idx = np.argsort(-self.probs, kind="stable")[:k]
        return [(int(i), float(self.probs[i])) for i in idx]

    def digest(self) -> str:
        """A hash of every kept array (tests compare captures made alone and in parallel)."""
        h = hashlib.sha256()
        for name, a in self.layers.items():
            h.update(name.encode())
            h.update(np.ascontiguousarray(a).tobytes())
        for r in self.residuals:
            for a in (r.x_mean, r.main_mean, r.sum_mean, r.out_mean):
                h.update(np.ascontiguousarray(a).tobytes())
        h.update(self.logits.tobytes())
        h.update(self.cam.tobytes())
        return h.hexdigest()


#: Columns of :func:`layer_stats`.
STAT_COLUMNS = ("mean", "max", "zero_fraction")


def read_only_tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor over a kept (read-only, shared between sessions) array without copying it, for reading only.

    ``torch.from_numpy`` warns on a read-only array because torch tensors cannot be marked read-only; every use
    here only reads (and copies before any arithmetic that writes), so the warning is silenced for this call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(a))


def layer_stats(maps: np.ndarray) -> np.ndarray:
    """(C, 3) float32: per channel mean, max and fraction of values ≤ 0 (exact zeros after a ReLU).

    Computed from the kept float16 maps, outside the forward pass (the page caches it per layer); torch reads
    float16 directly, several times faster than numpy's float64 path over conv1's 800 k values.
    """
    flat = read_only_tensor(maps).flatten(1).float()  # .float() copies: nothing writes into the kept maps
    cols = (flat.mean(dim=1), flat.amax(dim=1), (flat <= 0).float().mean(dim=1))
    return torch.stack(cols, dim=1).numpy().copy()


def _range(t: torch.Tensor, i: int = 0) -> tuple[float, float]:
    lo, hi = torch.aminmax(t[i])
    return float(lo), float(hi)


def _keep(t: torch.Tensor, i: int = 0) -> np.ndarray:
    # detach().clone() semantics: a fresh numpy copy of image i alone (never a view into the batch, which would
    # keep the whole batch alive) that nothing later writes into.
    # (torch's float16 conversion is several times faster than numpy's astype)
    return t[i].detach().to("cpu", torch.float16, copy=True).numpy()


def _mean(t: torch.Tensor, i: int = 0) -> np.ndarray:
    return t[i].detach().float().mean(dim=0).cpu().numpy().copy()


def stage_names(model: nn.Module) -> list[str]:
    """The model's stages in network order (``layer1`` …), read off its children."""
    return [name for name, _ in named_stages(model)]


def capture(model: nn.Module, image: torch.Tensor) -> Capture:
    """Run ``model`` once on ``image`` (1, 3, H, W) and keep conv1, maxpool, every block (the last block of a
    stage is the stage's output), every block's addition, the predictions and the CAM of the top class.

    The model is only called, never changed; run it in eval mode (a shared model always is). The image is moved
    to the model's device; what is returned lives in numpy on the CPU.
    """
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W), not {tuple(image.shape)}")
    return capture_batch(model, image)[0]


def capture_batch(model: nn.Module, images: torch.Tensor) -> list[Capture]:
    """:func:`capture` for a batch (N, 3, H, W) in one forward pass: one :class:`Capture` per image, each holding
    copies of its own slice only (``imaging.batching`` merges the requests of several sessions this way).

    In eval mode every image's arithmetic is independent of the others' (BN uses its running statistics), so
    each capture equals the image's own single forward to float tolerance (the kernels may sum in another order).
    """
    if images.ndim != 4 or images.shape[0] < 1 or images.shape[1] != 3:
        raise ValueError(f"expected image tensors of shape (N, 3, H, W), not {tuple(images.shape)}")
    n = images.shape[0]
    device = next(model.parameters()).device
    layers: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    ranges: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    residuals: list[list[Residual]] = [[] for _ in range(n)]
    stage_of: dict[str, str] = {}

    def keep(name: str, t: torch.Tensor) -> None:
        for i in range(n):
            layers[i][name] = _keep(t, i)
            ranges[i].append(_range(t, i))

    with torch.inference_mode():
        x = images.to(device, torch.float32)
        # The paper's conv1 is conv + BN + ReLU; that is what a student sees as "conv1's feature maps".
        x = F.relu(model.bn1(model.conv1(x)))
        keep("conv1", x)
        if isinstance(getattr(model, "maxpool", None), nn.Module):
            x = model.maxpool(x)
            keep("maxpool", x)
        # Each block's input is the previous output: its mean and norm are computed once and carried along.
        x_means = [_mean(x, i) for i in range(n)]
        x_norms = [float(torch.linalg.vector_norm(x[i].float())) for i in range(n)]
        for stage, blocks in named_stages(model):
            for b, block in enumerate(blocks):
                name = f"{stage}.{b}"
                x, summaries = _summarised_block(block, name, x, x_means, x_norms)
                for i in range(n):
                    residuals[i].append(summaries[i])
                x_means = [r.out_mean for r in summaries]
                x_norms = [float(torch.linalg.vector_norm(x[i])) for i in range(n)]
                keep(name, x)
                stage_of[stage] = name
        features = x  # the last stage's output A: (N, C, h, w)
        all_logits = model.fc(torch.flatten(model.avgpool(features), 1)).float()
        out = []
        for i in range(n):
            logits = all_logits[i]
            probs = torch.softmax(logits, dim=0)
            top = int(torch.argmax(logits))
            weight = model.fc.weight[top].float()  # (C,)
            # CAM (Zhou et al. 2016): with global average pooling then fc, logit = mean_hw(Σ_c w_c A_c) + b exactly.
            cam = torch.einsum("c,chw->hw", weight, features[i].float())
            bias = float(model.fc.bias[top]) if model.fc.bias is not None else 0.0
            out.append(
                Capture(
                    layers=layers[i],
                    stage_of=dict(stage_of),
                    residuals=residuals[i],
                    logits=logits.cpu().numpy().copy(),
                    probs=probs.cpu().numpy().copy(),
                    cam_class=top,
                    cam=cam.cpu().numpy().astype(np.float32, copy=True),
                    fc_bias=bias,
                    device=str(device),
                    global_range=(min(r[0] for r in ranges[i]), max(r[1] for r in ranges[i])),
                )
            )
        return out


def cam_heat(c: Capture) -> np.ndarray:
    """The CAM of the top class after ReLU, scaled to 0..1 (all zeros where nothing is positive)."""
    heat = np.maximum(c.cam, 0.0)
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat
