"""The code beside the picture: the source that builds and runs a block, with one layer's lines marked.

Four sources, all real: torchvision's own ``BasicBlock`` / ``Bottleneck`` read from the *installed* torchvision
with :func:`inspect.getsource` (so it is the code this app runs), our plain twin's ``forward`` and our option-A
shortcut ``ZeroPadShortcut`` (``resnet_viz.models.build``; torchvision has none, and the paper's CIFAR networks
use it), and the notes' listing (``assets/notes_resblock_listing.txt``, shipped with the app), which builds a
1×1 projection shortcut and so is shown only for networks whose dashed shortcuts are projections. :func:`layer_lines` finds the lines of one layer (``conv1``, ``conv2``, ``conv3``, ``downsample``) in each;
:func:`code_table` gives the listing as table columns, one row per line, with those lines marked by a ▶ (the
page adds a background): the page draws it as an ``st.dataframe`` whose cell selection makes every line
clickable, and :func:`line_layers` says which layer a clicked line belongs to. Written by hand because
``st.code`` can neither mark lines nor report clicks.
"""

from __future__ import annotations

import functools
import inspect
import re

from resnet_viz.paths import ASSETS_DIR

NOTES_FILE = "notes_resblock_listing.txt"
#: The layers of a block whose lines can be marked, in block order.
LAYERS = ("conv1", "conv2", "conv3", "downsample")
#: In the notes' listing the block's convolutions are unnamed items of nn.Sequential: found by their arguments.
_NOTES_PATTERNS = {
    "conv1": r"nn\.Conv2d\(inchannel,outchannel,kernel_size=3",
    "conv2": r"nn\.Conv2d\(outchannel,outchannel,kernel_size=3",
    "downsample": r"nn\.Conv2d\(inchannel,outchannel,kernel_size=1|self\.short_cut\(x\)",
}
#: The option-A shortcut is all ``downsample``: its forward pass (subsample, then zero-pad the new channels).
_ZERO_PAD_PATTERNS = {"downsample": r"def forward|if self\.stride != 1|x = x\[|extra = |return F\.pad"}


@functools.cache
def torchvision_source(block: str) -> str:
    """torchvision's own class for ``block`` ("basic" or "bottleneck"), as installed."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return inspect.getsource(BasicBlock if block == "basic" else Bottleneck)


@functools.cache
def plain_source(block: str) -> str:
    """Our plain twin's ``forward`` (the same layers, no addition)."""
    from resnet_viz.models.build import PlainBasicBlock, PlainBottleneck

    return inspect.getsource((PlainBasicBlock if block == "basic" else PlainBottleneck).forward)


@functools.cache
def zero_pad_source() -> str:
    """Our option-A shortcut (subsample and zero-pad), which the CIFAR networks pass to torchvision's BasicBlock."""
    from resnet_viz.models.build import ZeroPadShortcut

    return inspect.getsource(ZeroPadShortcut)


@functools.cache
def notes_source() -> str:
    """The notes' listing (code only, without the file's three-line header comment on where it comes from)."""
    lines = (ASSETS_DIR / NOTES_FILE).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("# ")) + "\n"


def layer_lines(source: str, layer: str, *, notes: bool = False, zero_pad: bool = False) -> list[int]:
    """The 1-based numbers of the lines of ``source`` that build or call ``layer`` (``notes``: in the notes'
    listing; ``zero_pad``: in :func:`zero_pad_source`, where only ``downsample`` has lines)."""
    if notes or zero_pad:
        pattern = (_ZERO_PAD_PATTERNS if zero_pad else _NOTES_PATTERNS).get(layer)
        if pattern is None:
            return []
    else:
        pattern = rf"self\.{re.escape(layer)}\b"
    return [
        i
        for i, line in enumerate(source.splitlines(), start=1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")  # code, not a comment about it
    ]


_BN = re.compile(r"self\.bn(\d)\b")


def line_layers(source: str, *, notes: bool = False, zero_pad: bool = False) -> list[str | None]:
    """For each line of ``source`` (0-based), the layer of :data:`LAYERS` it builds or calls, or None.

    A line of a layer's BatchNorm belongs to that layer's convolution (``bn2`` → ``conv2``), as in the block's
    table; in the notes' listing, where layers are unnamed, that is the ``nn.BatchNorm2d`` right after the conv.
    Clicking a line of the listing selects the layer given here."""
    lines = source.splitlines()
    out: list[str | None] = [None] * len(lines)
    for layer in LAYERS:
        for number in layer_lines(source, layer, notes=notes, zero_pad=zero_pad):
            out[number - 1] = out[number - 1] or layer
    for i, line in enumerate(lines):
        if out[i] is not None or line.lstrip().startswith("#"):
            continue
        if not notes and not zero_pad and (m := _BN.search(line)) and f"conv{m[1]}" in LAYERS:
            out[i] = f"conv{m[1]}"
        elif notes and i and out[i - 1] and "BatchNorm2d" in line:
            out[i] = out[i - 1]
    return out


def code_table(source: str, marked: list[int], mark_label: str = "▶") -> dict[str, list[object]]:
    """The listing as the columns of a one-row-per-line table: the mark (``mark_label`` on the ``marked`` lines,
    so a marked line is told by a sign, not colour alone), the line number, and the line itself."""
    lines = source.splitlines()
    return {
        "mark": [mark_label if i in marked else "" for i in range(1, len(lines) + 1)],
        "line": list(range(1, len(lines) + 1)),
        "code": lines,
    }
