"""What an explanation is made of: the named terms, a conv's window, the explanation of one value, and the
record of one forward pass up to a layer (float32 numpy, no tensors)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: How many input channels a conv's dot product is broken into (the rest are summed into one term).
TOP_CHANNELS = 8
#: The tolerance of a rebuilt value: |value − reconstructed| ≤ TOLERANCE · max(1, |value|) (float32 forward).
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Term:
    """One named term of an explanation. ``key`` says what it is (the page words it in each language):

    ``channel`` (one input channel's partial sum), ``rest`` (the other channels together), ``bias``, ``conv``
    (the dot product's total), ``bn``, ``relu``, ``pool_cell`` / ``max`` (a max pool), ``main`` (F(x)),
    ``identity`` / ``sample`` (the shortcut's input pixel), ``mix_channel`` / ``mix_rest`` / ``projection``
    (a projection's 1×1 conv), ``zero_pad`` (an option-A padded channel), ``no_shortcut`` (plain block),
    ``sum`` and ``out``. ``numbers`` holds the figures its formula shows (plain floats, ints and strings).
    """

    key: str
    value: float
    numbers: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """What a conv (or pool) reads for one output position: its input window and kernel, as numpy."""

    source: str  # the layer whose output is read ("image" for conv1)
    top: int  # row of the window's first cell in the source (negative inside the zero padding)
    left: int
    kernel: int
    stride: int
    padding: int
    source_shape: tuple[int, int, int]  # (C_in, H_in, W_in)
    values: np.ndarray  # (C_in, k, k) float32: the input values, 0 where the window is in the padding
    weights: np.ndarray | None  # (C_in, k, k) float32 kernel of the chosen output channel (None for a pool)
    partial: np.ndarray | None  # (C_in,) float64: each input channel's share of the dot product


@dataclass(frozen=True)
class Explanation:
    """How one activation came about. ``value`` is the named module's output in a normal forward pass,
    ``reconstructed`` the same number rebuilt from ``steps``; ``then`` continues a conv's chain the way the
    network does (BN, then ReLU where it applies one), each term's ``numbers["forward"]`` the forward's value."""

    layer: str
    kind: str  # conv | bn | relu | maxpool | block | projection | zero_pad
    channel: int
    row: int
    col: int
    shape: tuple[int, int, int]  # (C, H, W) of the layer's output
    value: float
    reconstructed: float
    steps: tuple[Term, ...]
    then: tuple[Term, ...] = ()
    window: Window | None = None
    shortcut: str | None = None  # blocks: identity | projection | zero_pad | none


@dataclass(frozen=True)
class LayerRecord:
    """One forward pass up to a layer, kept for explaining any position of it (float32 numpy, no tensors)."""

    layer: str
    kind: str
    arrays: dict[str, np.ndarray]  # (C, H, W) maps: "in" (the input read), "out" and the chain/block terms
    params: dict[
        str, np.ndarray | float | int | str
    ]  # kernels, BN statistics, strides: copies of the weights

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.arrays["out"].shape)  # type: ignore[return-value]
