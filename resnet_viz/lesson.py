"""The guided lesson: the notes' story in steps, each with a check question whose answer is computed.

Pure: no Streamlit. Each :class:`Step` names the view it opens (page, network, selected step) and its question;
:func:`answer` works the answer out from the trace of the *current* network and input size (never a typed-in
number) and returns it with the numbers its explanation ("the working") is formatted from. :func:`check` compares
a student's reply with it. The words live in the ``lesson`` i18n section, keyed by the step's ``key``.

Where a question needs something the current network lacks (the max-pool of a CIFAR ResNet), the step's own
network is used instead and :attr:`Answer.arch` says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resnet_viz.architecture import counting
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.trace import Trace, trace
from resnet_viz.formatting import fmt_int


@dataclass(frozen=True)
class Step:
    key: str  # i18n: lesson.<key>_title, _text, _question, _working
    page: str  # the app page that shows it (app_pages/<page>.py)
    net: str  # the network the step opens
    block: str  # the step it selects
    kind: str  # "shape" (H, W, C), "int", "float" (2 decimals), or "choice"
    choices: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    Step("input", "architecture", "resnet34", "conv1", "shape"),
    Step("stem", "architecture", "resnet34", "maxpool", "int"),
    Step("layers", "parameters", "resnet34", "fc", "int"),
    Step("solid", "shortcuts", "resnet34", "layer1.0", "choice", ("solid", "dashed")),
    Step("dashed", "shortcuts", "resnet34", "layer2.0", "choice", ("solid", "dashed")),
    Step("conv3_1", "architecture", "resnet34", "layer2.0", "shape"),
    Step("basic_cost", "parameters", "resnet34", "layer4.0", "int"),
    Step("bottleneck_cost", "parameters", "resnet50", "layer4.0", "int"),
    Step("three_kinds", "shortcuts", "resnet50", "layer1.0", "choice", ("channels", "size", "both", "none")),
    Step("v15", "parameters", "resnet50", "layer2.0", "float"),
    Step("feature_maps", "feature_maps", "resnet18", "layer2.0", "int"),
    Step("addition", "feature_maps", "resnet18", "layer3.0", "shape"),
    Step("degradation", "why_residual", "resnet34", "layer3.0", "int"),
    Step("zero_init", "why_residual", "resnet34", "layer4.1", "int"),
)
STEP_COUNT = len(STEPS)


@dataclass(frozen=True)
class Answer:
    """The right answer (a tuple for shapes, an int, a float or a choice) and the working's numbers."""

    value: object
    working: dict[str, object] = field(default_factory=dict)
    arch: str = ""  # the network the answer is about


def _hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    c, h, w = shape
    return (h, w, c)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(v) for v in shape) + ")"


def _trace_for(step: Step, arch: str, input_size: int) -> Trace:
    """The current network's trace, or the step's own network where the current one lacks what is asked."""
    try:
        tr = trace(arch, input_size)
    except ValueError:
        tr = trace(arch, get_spec(arch).default_input)
    names = {r.name for r in tr.rows}
    if step.key == "stem" and "maxpool" not in names:
        tr = trace(step.net, get_spec(step.net).default_input)
    return tr


def answer(step: Step, arch: str, input_size: int) -> Answer:
    """The answer to ``step``'s question for network ``arch`` at ``input_size``, with its working."""
    tr = _trace_for(step, arch, input_size)
    key = step.key
    if key == "input":
        shape = _hwc(tr.input_size)
        return Answer(shape, {"shape": _shape_text(shape)}, tr.arch)
    if key == "stem":
        conv, pool = tr.row("conv1"), tr.row("maxpool")
        size_in, mid, out = tr.input_size[1], conv.output_shape[1], pool.output_shape[1]
        working = {
            "size": size_in, "k1": conv.kernel, "s1": conv.stride, "p1": conv.padding, "mid": mid,
            "k2": pool.kernel, "s2": pool.stride, "p2": pool.padding, "out": out,
        }  # fmt: skip
        return Answer(out, working, tr.arch)
    if key == "layers":
        return Answer(tr.layer_count, {"formula": tr.layer_count_formula}, tr.arch)
    if key in ("solid", "dashed"):
        block = tr.row("layer1.0" if key == "solid" else "layer2.0")
        value = "dashed" if block.dashed else "solid"
        working = {
            "block": block.name, "paper": block.paper_name, "shape_in": _shape_text(_hwc(block.input_shape)),
            "shape_out": _shape_text(_hwc(block.output_shape)), "shortcut": block.shortcut,
        }  # fmt: skip
        return Answer(value, working, tr.arch)
    if key == "conv3_1":
        block = tr.row("layer2.0")
        shape = _hwc(block.output_shape)
        return Answer(
            shape, {"shape_in": _shape_text(_hwc(block.input_shape)), "shape": _shape_text(shape)}, tr.arch
        )
    if key in ("basic_cost", "bottleneck_cost"):
        # The notes' comparison: a block working on the 256 channels of a Bottleneck stage's input and output.
        cost = counting.basic_block_cost(256) if key == "basic_cost" else counting.bottleneck_cost(256)
        return Answer(cost.total, {"expr": cost.expression(), "total": fmt_int(cost.total)}, tr.arch)
    if key == "three_kinds":
        block = tr.row("layer1.0")
        channels = block.input_shape[0] != block.output_shape[0]
        size = block.stride != 1
        value = {(True, True): "both", (True, False): "channels", (False, True): "size"}.get(
            (channels, size), "none"
        )
        working = {
            "block": block.name, "cin": block.input_shape[0], "cout": block.output_shape[0],
            "stride": block.stride, "title": tr.title,
        }  # fmt: skip
        return Answer(value, working, tr.arch)
    if key == "v15":
        v_arch = tr.arch if tr.block == "bottleneck" else "resnet50"
        v_size = tr.input_size[1] if tr.block == "bottleneck" else 224
        variants = counting.stride_variant_macs(v_arch, v_size)
        diff = round((variants.v15_macs - variants.v1_macs) / 1e9, 2)
        working = {
            "title": get_spec(v_arch).title, "size": v_size, "v1": fmt_int(variants.v1_macs),
            "v15": fmt_int(variants.v15_macs), "diff": f"{diff:.2f}",
        }  # fmt: skip
        return Answer(diff, working, v_arch)
    if key == "feature_maps":
        stage = tr.row("layer2")
        return Answer(
            stage.output_shape[0], {"c": stage.output_shape[0], "shape": _shape_text(_hwc(stage.output_shape))},
            tr.arch,
        )  # fmt: skip
    if key == "addition":
        block = tr.row("layer3.0")
        shape = _hwc(block.output_shape)
        return Answer(shape, {"block": block.name, "shape": _shape_text(shape)}, tr.arch)
    if key == "degradation":
        deep, shallow = trace("resnet34", 224), trace("resnet18", 224)
        working = {"deep": deep.layer_count_formula, "shallow": shallow.layer_count_formula}
        return Answer(deep.layer_count - shallow.layer_count, working, "resnet34")
    if key == "zero_init":
        layers = " + ".join(str(n) for n in tr.layers)
        return Answer(len(tr.blocks), {"title": tr.title, "n": len(tr.blocks), "layers": layers}, tr.arch)
    raise KeyError(f"no lesson step {key!r}")


def parse_reply(step: Step, reply: str) -> object | None:
    """A student's typed reply as the answer's type (None where it cannot be read as one)."""
    text = reply.strip()
    if step.kind == "choice":
        return text if text in step.choices else None
    if step.kind == "shape":
        numbers = re.findall(r"\d+", text)
        return tuple(int(n) for n in numbers) if len(numbers) == 3 else None
    if step.kind == "int":
        digits = text.replace(",", "").replace(" ", "").replace("_", "")
        return int(digits) if digits.isascii() and digits.isdigit() else None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def check(step: Step, reply: str, right: Answer) -> bool | None:
    """True/False: right or wrong; None: the reply could not be read (the page asks again, nothing is marked)."""
    value = parse_reply(step, reply)
    if value is None:
        return None
    if step.kind == "float":
        return abs(float(value) - float(right.value)) <= 0.005 + 1e-9  # type: ignore[arg-type]
    return value == right.value
