"""Build the catalogue's networks as ``nn.Module``s on torchvision's own classes.

The ImageNet networks in v1.5 *are* ``torchvision.models.resnetNN`` (so torchvision's pretrained weights fit
unchanged). Everything else is derived from torchvision's ``ResNet``, ``BasicBlock`` and ``Bottleneck`` with the
smallest change that makes it the network the paper describes:

* v1 (``stride_in="1x1"``) moves the stride of each down-sampling Bottleneck from its 3×3 conv to its first 1×1;
* *plain* networks use blocks whose forward drops the shortcut (and which have no projection);
* the CIFAR networks (paper §4.2) are three stages of torchvision ``BasicBlock`` with option-A shortcuts;
* the seed-004 network is torchvision's ResNet-34 layout with a 3×3/1 stem and a 3×3/1 max-pool.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from resnet_viz.architecture.catalogue import ArchSpec, check_stride_in, get_spec, pretrained_problem


class PlainBasicBlock(BasicBlock):
    """torchvision's BasicBlock with the shortcut removed: ``relu(bn2(conv2(relu(bn1(conv1(x))))))``.

    The parent's forward always adds ``identity``; the plain counterpart is exactly that forward without the
    addition, so only ``forward`` is rewritten. A projection passed in by ``_make_layer`` is dropped.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *args: Any,
        **kw: Any,
    ):
        # torchvision's _make_layer passes groups, base_width, dilation and norm_layer positionally.
        super().__init__(inplanes, planes, stride, None, *args, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class PlainBottleneck(Bottleneck):
    """torchvision's Bottleneck with the shortcut removed (see :class:`PlainBasicBlock`)."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *args: Any,
        **kw: Any,
    ):
        # torchvision's _make_layer passes groups, base_width, dilation and norm_layer positionally.
        super().__init__(inplanes, planes, stride, None, *args, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


class ZeroPadShortcut(nn.Module):
    """The paper's option A shortcut: subsample by striding and zero-pad the new channels. No parameters.

    torchvision has no such module (its ResNets use option B), so it is written here; it is passed to
    torchvision's ``BasicBlock`` as its ``downsample``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def extra_repr(self) -> str:
        return f"{self.in_channels}->{self.out_channels}, stride={self.stride}"


class CifarResNet(nn.Module):
    """The paper's CIFAR-10 ResNet (§4.2): 3×3 stem, three stages of torchvision blocks, global pool, fc.

    torchvision's ``ResNet`` hard-codes a 7×7 stem and four stages of 64..512 channels, so the container is
    written here; the blocks are torchvision's. Module names follow torchvision's (``layer2.0.downsample``).
    """

    def __init__(
        self, spec: ArchSpec, *, plain: bool = False, num_classes: int = 10, zero_init_residual: bool = False
    ):
        super().__init__()
        block_cls = PlainBasicBlock if plain else BasicBlock
        self.conv1 = nn.Conv2d(
            3, spec.stem_width, spec.stem_kernel, spec.stem_stride, spec.stem_padding, bias=False
        )
        self.bn1 = nn.BatchNorm2d(spec.stem_width)
        self.relu = nn.ReLU(inplace=True)
        inplanes = spec.stem_width
        for i, (blocks, planes) in enumerate(zip(spec.layers, spec.widths)):
            stride = 1 if i == 0 else 2
            layer = []
            for j in range(blocks):
                s = stride if j == 0 else 1
                downsample = None
                if not plain and (s != 1 or inplanes != planes):
                    downsample = ZeroPadShortcut(inplanes, planes, s)
                layer.append(block_cls(inplanes, planes, s, downsample))
                inplanes = planes
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for name in ("layer1", "layer2", "layer3"):
            x = getattr(self, name)(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resolve_weights(arch: str, weights: Any) -> tvm.WeightsEnum | None:
    """Turn ``None``, ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or a torchvision ``WeightsEnum`` into the enum member."""
    if weights is None:
        return None
    problem = pretrained_problem(arch)
    if problem is not None:
        raise ValueError(problem)
    enum = tvm.get_model_weights(arch)
    if isinstance(weights, enum):
        return weights
    if isinstance(weights, str):
        try:
            return enum[weights]
        except KeyError:
            names = ", ".join(["DEFAULT", *enum.__members__])
            raise ValueError(f"unknown weights {weights!r} for {arch}; choose one of: {names}") from None
    raise ValueError(f"weights must be None, a name such as 'DEFAULT', or a {enum.__name__} member")


def build_model(
    arch: str,
    *,
    plain: bool = False,
    stride_in: str = "3x3",
    num_classes: int | None = None,
    weights: Any = None,
    zero_init_residual: bool = False,
) -> nn.Module:
    """Build ``arch`` on torchvision's classes, in eval mode, on the CPU.

    ``stride_in="3x3"`` is v1.5 (torchvision's default), ``"1x1"`` the paper's v1 (only Bottleneck nets differ).
    ``weights`` loads torchvision's pretrained ImageNet weights (downloaded once into the torch hub cache); it is
    only accepted for the v1.5 ImageNet networks with their 1000 classes, the layout those weights were trained on.
    """
    spec = get_spec(arch)
    check_stride_in(stride_in)
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"num_classes must be a positive integer, not {num_classes!r}")
    resolved = resolve_weights(arch, weights)
    if resolved is not None:
        problem = pretrained_problem(arch, plain=plain, stride_in=stride_in)
        if problem is not None:
            raise ValueError(problem)
        if num_classes not in (None, len(resolved.meta["categories"])):
            raise ValueError(
                f"pretrained {arch} has {len(resolved.meta['categories'])} classes, not {num_classes}"
            )
    classes = num_classes or spec.num_classes

    if spec.family == "cifar":
        model: nn.Module = CifarResNet(
            spec, plain=plain, num_classes=classes, zero_init_residual=zero_init_residual
        )
    elif spec.family == "imagenet" and not plain:
        # Literally torchvision's constructor, so the state_dict and the pretrained weights match key for key.
        model = getattr(tvm, arch)(
            weights=resolved, num_classes=classes, zero_init_residual=zero_init_residual
        )
    else:
        if plain:
            block_cls: type[nn.Module] = PlainBasicBlock if spec.block == "basic" else PlainBottleneck
        else:
            block_cls = BasicBlock if spec.block == "basic" else Bottleneck
        model = ResNet(
            block_cls, list(spec.layers), num_classes=classes, zero_init_residual=zero_init_residual
        )
        if spec.family == "seed004":
            model.conv1 = nn.Conv2d(
                3, spec.stem_width, spec.stem_kernel, spec.stem_stride, spec.stem_padding, bias=False
            )
            nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
            k, s, p = spec.maxpool  # type: ignore[misc]
            model.maxpool = nn.MaxPool2d(kernel_size=k, stride=s, padding=p)

    if stride_in == "1x1" and spec.block == "bottleneck":
        for m in model.modules():
            if isinstance(m, Bottleneck) and m.conv2.stride != (1, 1):
                # The paper's v1: the first 1×1 conv strides, the 3×3 does not.
                m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
    return model.eval()
