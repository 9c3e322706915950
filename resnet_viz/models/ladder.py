"""Every rung of the ResNet-50 → ConvNeXt-T ladder (:mod:`resnet_viz.architecture.ladder`) as a real ``nn.Module``.

The first rung *is* ``torchvision.models.resnet50``, the last *is* ``torchvision.models.convnext_tiny``; the rungs
between are made of torchvision's own parts wherever one does the job:

* "stage ratio" is torchvision's ``ResNet(Bottleneck, [3, 3, 9, 3])``, unchanged;
* "patchify" puts a 4×4/4 conv in that ResNet's ``conv1`` and an ``nn.Identity`` in its ``bn1``, ``relu`` and
  ``maxpool`` (its forward calls them; an identity is the honest "no step here");
* "depth conv", "width ↑" and "inverting dims" are stages of torchvision's ``Bottleneck``: depthwise through its
  own ResNeXt arguments (``groups`` = the 3×3's channels, ``base_width`` = 64/planes, so that torchvision's
  ``width = int(planes × base_width / 64) × groups`` is the channel count), inverted by a subclass whose
  ``expansion`` is 1 and whose width is 4 × planes (:class:`InvertedBottleneck`);
* from "move ↑ d. conv" to "BN ➝ LN" the block is :class:`DepthwiseFirstBlock`, written here: torchvision has no
  block whose depthwise conv comes first with a choice of norms and activations (its ``CNBlock`` is fixed to
  LN + one GELU + layer scale and has no stride or projection shortcut for in-block downsampling). Its norm is
  ``nn.BatchNorm2d`` or torchvision's ``LayerNorm2d``.

Every rung's qualified module names are the records' names, and its parameters and conv/linear multiply-adds
equal the arithmetic's (tests/test_ladder.py, with forward hooks).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.convnext import LayerNorm2d
from torchvision.models.resnet import Bottleneck, ResNet, conv1x1

from resnet_viz.architecture.ladder import RungSpec, get_rung

#: ConvNeXt's LayerNorm (torchvision builds its ConvNeXt with eps=1e-6; so do the LN rungs here).
_LN = partial(LayerNorm2d, eps=1e-6)


class InvertedBottleneck(Bottleneck):
    """torchvision's Bottleneck turned inside out (the paper's Figure 3 (b)): 1×1 C→4C, depthwise 3×3 on 4C,
    1×1 4C→C. Only ``expansion`` changes (1: the block puts out ``planes`` channels); the width of 4·planes and the
    depthwise 3×3 come from torchvision's own ``groups``/``base_width`` arguments (:func:`_bottleneck_stage`)."""

    expansion = 1


def _act(kind: str) -> nn.Module:
    return nn.ReLU(inplace=True) if kind == "relu" else nn.GELU()


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "bn" else _LN(channels)


class DepthwiseFirstBlock(nn.Module):
    """The block of "move ↑ d. conv" … "BN ➝ LN" (Figure 3 (c) and §2.6): depthwise k×k (stride) · 1×1 C→4C ·
    1×1 4C→C, plus the shortcut, with three or one norms and three or one activations.

    Written here because no torchvision block has this order with these choices (see the module docstring).
    Module names follow torchvision's Bottleneck where the job is the same (``conv1`` … ``conv3``, ``downsample``);
    norms are ``norm1`` … and every activation is its own module (``act1`` … ``act3``), so that "fewer
    activations" removes modules rather than calls. Convs have no bias, as torchvision's ResNet convs.
    """

    def __init__(self, inplanes: int, planes: int, stride: int, spec: RungSpec) -> None:
        super().__init__()
        k = spec.kernel
        self.conv1 = nn.Conv2d(inplanes, inplanes, k, stride, k // 2, groups=inplanes, bias=False)
        self.norm1 = _norm(spec.norm, inplanes)
        self.act1 = _act(spec.act) if spec.block_acts == 3 else None
        self.conv2 = conv1x1(inplanes, 4 * planes)
        self.norm2 = _norm(spec.norm, 4 * planes) if spec.block_norms == 3 else None
        self.act2 = _act(spec.act)
        self.conv3 = conv1x1(4 * planes, planes)
        self.norm3 = _norm(spec.norm, planes) if spec.block_norms == 3 else None
        self.act3 = _act(spec.act) if spec.block_acts == 3 else None
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(conv1x1(inplanes, planes, stride), _norm(spec.norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.norm1(self.conv1(x))
        if self.act1 is not None:
            out = self.act1(out)
        out = self.conv2(out)
        if self.norm2 is not None:
            out = self.norm2(out)
        out = self.conv3(self.act2(out))
        if self.norm3 is not None:
            out = self.norm3(out)
        out = out + identity
        return self.act3(out) if self.act3 is not None else out


def _bottleneck_stage(spec: RungSpec, inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """One stage of torchvision Bottlenecks (or :class:`InvertedBottleneck`), as ``ResNet._make_layer`` makes it:
    the stride and the projection (1×1 conv + norm) go to the first block only."""
    cls = InvertedBottleneck if spec.block == "inverted" else Bottleneck
    out = planes * cls.expansion
    kw: dict[str, object] = {}
    if spec.block == "inverted":  # width = int(planes × (64/planes)/64) × 4·planes = 4·planes, depthwise
        kw = {"groups": 4 * planes, "base_width": 64 / planes}
    elif (
        spec.depthwise
    ):  # width = planes, groups = planes: torchvision's ResNeXt arguments at one channel a group
        kw = {"groups": planes, "base_width": 64 / planes}
    layers = []
    for b in range(blocks):
        s = stride if b == 0 else 1
        downsample = None
        if s != 1 or inplanes != out:
            downsample = nn.Sequential(conv1x1(inplanes, out, s), nn.BatchNorm2d(out))
        layers.append(cls(inplanes, planes, s, downsample, **kw))  # type: ignore[arg-type]
        inplanes = out
    return nn.Sequential(*layers)


def _ladder_resnet(spec: RungSpec, num_classes: int) -> nn.Module:
    """torchvision's ResNet container (stem, layer1…4, avgpool, fc) with the rung's stem and stages."""
    model = ResNet(Bottleneck, list(spec.layers), num_classes=num_classes)
    if spec.stem == "patchify":
        model.conv1 = nn.Conv2d(3, spec.width, kernel_size=4, stride=4, bias=False)
        model.bn1, model.relu, model.maxpool = nn.Identity(), nn.Identity(), nn.Identity()
    if spec.width == 64 and spec.block == "bottleneck" and not spec.depthwise:
        return model  # torchvision's own stages already are this rung's
    inplanes = spec.width
    for i, blocks in enumerate(spec.layers):
        planes, stride = spec.width * 2**i, (1 if i == 0 else 2)
        if spec.block == "dw_first":
            stage = nn.Sequential(
                *(DepthwiseFirstBlock(inplanes if b == 0 else planes, planes, stride if b == 0 else 1, spec)
                  for b in range(blocks))
            )  # fmt: skip
            inplanes = planes
        else:
            stage = _bottleneck_stage(spec, inplanes, planes, blocks, stride)
            inplanes = planes * (1 if spec.block == "inverted" else 4)
        setattr(model, f"layer{i + 1}", stage)
    model.fc = nn.Linear(inplanes, num_classes)
    for m in model.modules():  # torchvision ResNet's initialisation, for the replaced parts too
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def build_rung(key: str, *, num_classes: int = 1000) -> nn.Module:
    """Rung (or kernel variant) ``key`` of :data:`~resnet_viz.architecture.ladder.RUNGS` as an ``nn.Module`` in
    eval mode, randomly initialised (the paper's intermediate networks have no published weights; the first and
    last rungs take torchvision's through :func:`resnet_viz.build_model` / ``convnext_tiny(weights=...)``)."""
    spec = get_rung(key)
    if spec.torchvision == "resnet50":
        model: nn.Module = tvm.resnet50(num_classes=num_classes)
    elif spec.torchvision == "convnext_tiny":
        model = tvm.convnext_tiny(num_classes=num_classes)
    else:
        model = _ladder_resnet(spec, num_classes)
    return model.eval()
