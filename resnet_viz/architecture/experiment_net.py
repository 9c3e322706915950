"""The networks of the *Why residual* experiments, named one way.

A network there is the paper's CIFAR net (He et al. 2015 §4.2: 6n+2 layers) with or without its shortcuts. The
shipped files and the command line spell it three ways: ``resnet56`` / ``plain56`` (file names, ``--net``),
``resnet-56`` / ``plain-56`` (the curves' and the removal record's labels) and ``ResNet-56`` (prose). Every
spelling is read here, by :meth:`ExperimentNet.parse`, and nowhere else. Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The two spellings' kinds, as the keys and labels write them.
PLAIN, RESNET = "plain", "resnet"
_SPELLING = re.compile(r"(plain|resnet)-?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class ExperimentNet:
    """A CIFAR net of ``depth`` layers, without shortcuts (``plain``) or with them."""

    depth: int
    plain: bool

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int):
            raise TypeError(f"depth must be an int, not {self.depth!r}")
        if self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"a CIFAR net has 6n+2 layers (8, 20, 32, 44, 56, 110 …), not {self.depth}")

    @property
    def kind(self) -> str:
        """``"plain"`` or ``"resnet"``, as the translation keys ``why_residual.run_<kind>`` spell it."""
        return PLAIN if self.plain else RESNET

    @property
    def key(self) -> str:
        """``"resnet56"`` / ``"plain56"``: file names (``resnet56.safetensors``) and the command line."""
        return f"{self.kind}{self.depth}"

    @property
    def label(self) -> str:
        """``"resnet-56"`` / ``"plain-56"``: the degradation curves' and the removal record's labels."""
        return f"{self.kind}-{self.depth}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, text: str | ExperimentNet) -> ExperimentNet:
        """Any spelling (``resnet56``, ``plain-56``, ``ResNet-56``; case ignored) → the network; an
        :class:`ExperimentNet` is returned as it is. ``ValueError`` for anything else."""
        if isinstance(text, ExperimentNet):
            return text
        match = _SPELLING.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"not a network name: {text!r} (resnet56, plain56, resnet-56 …)")
        return cls(int(match[2]), plain=match[1].lower() == PLAIN)
