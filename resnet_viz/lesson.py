"""The guided lesson: the notes' story in steps, each with a check question whose answer is computed.

Pure: no Streamlit. Each :class:`Step` names the view it opens (page, network, selected step) and its question;
:func:`answer` works the answer out from the trace (never a typed-in number) and returns it with the numbers its
texts are formatted from, the i18n keys of the text and the working that fit the network, and what the answer
depends on (:attr:`Answer.scope`), so the page says so under the question. :func:`check` compares a student's
reply with it. The words live in the ``lesson`` i18n section, keyed by the step's ``key``.

Where a question needs something the current network lacks (the max-pool of a CIFAR ResNet, the Bottleneck of
v1/v1.5), the step's own network is used instead and :attr:`Answer.missing` says what was missing.

The texts chosen by the network use the named predicates below (:func:`stem_shrinks`, :func:`has_projections`,
``Row.dashed``); tests/test_lesson_independent.py checks every answer against torchvision models measured with
forward hooks, not against the trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resnet_viz.architecture import counting
from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.ladder import LayerRecord, rung_trace
from resnet_viz.architecture.trace import Row, Trace, conv_out, trace
from resnet_viz.formatting import fmt_int
from resnet_viz.i18n import Translator, arch_title


@dataclass(frozen=True)
class Step:
    key: str  # i18n: lesson.<key>_title, _text, _question, _working
    page: str  # the app page that shows it (app_pages/<page>.py)
    net: str  # the network the step opens
    block: str  # the step it selects: the block (or layer) the question is about
    kind: str  # "shape" (H, W, C), "int", "float" (2 decimals), or "choice"
    choices: tuple[str, ...] = ()
    rung: str = ""  # the ladder rung the step opens (page "ladder" only: its ``rung`` address parameter)


STEPS: tuple[Step, ...] = (
    Step("input", "architecture", "resnet34", "conv1", "shape"),
    Step("stem", "architecture", "resnet34", "maxpool", "int"),
    Step("layers", "parameters", "resnet34", "fc", "int"),
    Step("solid", "shortcuts", "resnet34", "layer1.0", "choice", ("solid", "dashed")),
    Step("dashed", "shortcuts", "resnet34", "layer2.0", "choice", ("solid", "dashed")),
    Step("conv3_1", "architecture", "resnet34", "layer2.0", "shape"),
    # The notes' comparison of two blocks on 256 channels: each step opens a real block of exactly that shape.
    Step("basic_cost", "parameters", "resnet34", "layer3.1", "int"),
    Step("bottleneck_cost", "parameters", "resnet50", "layer1.1", "int"),
    Step("three_kinds", "shortcuts", "resnet50", "layer1.0", "choice", ("channels", "size", "both", "none")),
    Step("v15", "parameters", "resnet50", "layer2.0", "float"),
    Step("feature_maps", "feature_maps", "resnet18", "layer2.0", "int"),
    Step("addition", "feature_maps", "resnet18", "layer3.0", "shape"),
    Step("degradation", "why_residual", "resnet34", "layer3.0", "int"),
    Step("zero_init", "why_residual", "resnet34", "layer4.1", "int"),
    # Balduzzi et al. 2017, measured on the paper's CIFAR nets at init (resnet_viz.experiments.shattered)
    Step("shattered", "why_residual", "resnet56", "layer3.8", "choice", ("plain", "residual")),
    # Liu et al. 2022 §2.2: the ladder's "patchify" rung; the question compares the two stems at 224 (Figure 2's size).
    Step("patchify", "ladder", "resnet50", "conv1", "int", rung="patchify"),
)
STEP_COUNT = len(STEPS)

#: What an answer depends on, for the line under the question: the sidebar's network and size, the size alone,
#: or neither (arithmetic on fixed channel counts, or the paper's fixed plain networks).
SCOPES = ("network", "network_only", "size", "fixed")
#: The depth of the shattered-gradients question: plain-56 against ResNet-56 (He et al. 2015 §4.2's CIFAR nets).
SHATTERED_DEPTH = 56
#: The networks of the paper's degradation comparison (He et al. 2015, Table 2 and Figure 4: plain-18, plain-34).
DEGRADATION_PAIR = ("resnet34", "resnet18")


@dataclass(frozen=True)
class Answer:
    """The right answer (a tuple for shapes, an int, a float or a choice) and what the page says around it.

    ``working`` holds the numbers (and short codes) the step's texts are formatted from; tuples in it are lists
    the page joins in the reader's language. ``text_key`` and ``working_key`` name the step's text and working in
    the ``lesson`` section, chosen to fit the network. ``slip`` is a wrong reply common enough to get its own
    explanation (``slip_key``)."""

    value: object
    working: dict[str, object] = field(default_factory=dict)
    arch: str = ""  # the network the answer is about
    size: int = 0  # the input size it is worked out for
    scope: str = "network"  # one of SCOPES: network and size, network only, size only, neither
    missing: str = ""  # where the sidebar's network lacks what is asked: "maxpool" or "bottleneck"
    text_key: str = ""
    working_key: str = ""
    slip: object | None = None
    slip_key: str = ""


# --------------------------------------------------------------------------------------------- predicates


def stem_shrinks(size_in: int, size_out: int) -> bool:
    """Whether conv1 and the max-pool make the grid smaller (a stride of 2 in either does; with stride 1 and
    their padding both keep the size, as in the notes' 32×32 listing)."""
    return size_out < size_in


def has_projections(tr: Trace) -> bool:
    """Whether any dashed shortcut of ``tr`` is a 1×1 convolution (option B); otherwise they zero-pad
    (option A, the paper's CIFAR networks) and carry no weights."""
    return any(b.shortcut == "projection" for b in tr.blocks)


def paper_name(tr: Trace, row: Row) -> str:
    """The paper's name of a block (conv3_1) where the paper names it: its Table 1 names the ImageNet networks'
    stages conv2_x … conv5_x; the CIFAR networks (§4.2) and the notes' listing have no such names."""
    return row.paper_name if tr.family == "imagenet" else ""


# --------------------------------------------------------------------------------------------- answers


def _hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    c, h, w = shape
    return (h, w, c)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(v) for v in shape) + ")"


def _size_formula(size: int, kernel: int, stride: int, padding: int) -> str:
    """'⌊(224 + 2×3 − 7)/2⌋ + 1 = 112': the conv/pool output size, worked out (built here, so no translation
    types a number)."""
    return f"⌊({size} + 2×{padding} − {kernel})/{stride}⌋ + 1 = {conv_out(size, kernel, stride, padding)}"


def _trace_for(step: Step, arch: str, input_size: int) -> tuple[Trace, str]:
    """The current network's trace, or the step's own network where the current one lacks what is asked (and
    what it lacks)."""
    try:
        tr = trace(arch, input_size)
    except ValueError:  # a size too small for the network: its own size (the view never asks for one)
        tr = trace(arch, get_spec(arch).default_input)
    names = {r.name for r in tr.rows}
    if step.key == "stem" and "maxpool" not in names:
        return trace(step.net, get_spec(step.net).default_input), "maxpool"
    if step.key == "v15" and tr.block != "bottleneck":
        return trace(step.net, get_spec(step.net).default_input), "bottleneck"
    return tr, ""


def _conv_weights(tr: Trace, block: str) -> int:
    """The weights of a block's main-path convolutions (its shortcut's excluded), read from the trace."""
    return sum(r.params for r in tr.rows if r.kind == "conv" and r.parent == block)


def answer(step: Step, arch: str, input_size: int) -> Answer:
    """The answer to ``step``'s question for network ``arch`` at ``input_size``, with its working."""
    tr, missing = _trace_for(step, arch, input_size)
    key = step.key
    common = {
        "arch": tr.arch, "size": tr.input_size[1], "missing": missing,
        "text_key": f"{key}_text", "working_key": f"{key}_working",
    }  # fmt: skip
    if key == "input":
        shape = _hwc(tr.input_size)
        working = {"shape": _shape_text(shape), "channels": tr.input_size[0]}
        return Answer(shape, working, **common | {"scope": "size"})
    if key == "stem":
        conv, pool = tr.row("conv1"), tr.row("maxpool")
        size_in, mid, out = tr.input_size[1], conv.output_shape[1], pool.output_shape[1]
        first = next(b.name for b in tr.blocks if b.stride != 1)
        working = {
            "k1": conv.kernel, "s1": conv.stride, "p1": conv.padding, "k2": pool.kernel, "s2": pool.stride,
            "p2": pool.padding, "first": first,
            "conv_formula": _size_formula(size_in, conv.kernel, conv.stride, conv.padding),  # type: ignore[arg-type]
            "pool_formula": _size_formula(mid, pool.kernel, pool.stride, pool.padding),  # type: ignore[arg-type]
        }  # fmt: skip
        text = "stem_text" if stem_shrinks(size_in, out) else "stem_text_keeps"
        return Answer(out, working, **common | {"text_key": text})
    if key == "layers":
        projections = counting.projections(tr)
        text = "layers_text_projection" if has_projections(tr) else "layers_text_option_a"
        working = {"formula": tr.layer_count_formula, "n_proj": len(projections)}
        return Answer(tr.layer_count, working, **common | {"scope": "network_only", "text_key": text})
    if key in ("solid", "dashed"):
        block = tr.row(step.block)
        value = "dashed" if block.dashed else "solid"
        working = {
            "block": block.name, "paper": paper_name(tr, block), "shape_in": _shape_text(_hwc(block.input_shape)),
            "shape_out": _shape_text(_hwc(block.output_shape)), "shortcut": block.shortcut,
        }  # fmt: skip
        return Answer(value, working, **common | {"scope": "network_only"})
    if key == "conv3_1":
        block = tr.row(step.block)
        shape = _hwc(block.output_shape)
        working = {
            "block": block.name, "paper": paper_name(tr, block),
            "shape_in": _shape_text(_hwc(block.input_shape)), "shape": _shape_text(shape),
        }  # fmt: skip
        return Answer(shape, working, **common)
    if key in ("basic_cost", "bottleneck_cost"):
        # The notes' comparison (file 002, "ResNet50"): a block from 256 to 256 channels. The step opens a real
        # block of that shape in its own network; the answer does not depend on the sidebar's network.
        own = trace(step.net, get_spec(step.net).default_input)
        block = own.row(step.block)
        channels = block.input_shape[0]
        cost = (
            counting.basic_block_cost(channels) if key == "basic_cost" else counting.bottleneck_cost(channels)
        )
        working = {
            "expr": cost.expression(), "total": fmt_int(cost.total), "c": channels,
            "width": cost.terms[0].c_out, "block": block.name, "own": own.arch,
        }  # fmt: skip
        return Answer(
            cost.total, working, **common | {"arch": own.arch, "size": own.input_size[1], "scope": "fixed"}
        )
    if key == "three_kinds":
        block = tr.row(step.block)
        channels = block.input_shape[0] != block.output_shape[0]
        size = block.stride != 1
        value = {(True, True): "both", (True, False): "channels", (False, True): "size"}.get(
            (channels, size), "none"
        )
        working = {
            "block": block.name, "paper": paper_name(tr, block), "cin": block.input_shape[0],
            "cout": block.output_shape[0], "stride": block.stride,
        }  # fmt: skip
        return Answer(value, working, **common | {"scope": "network_only"})
    if key == "v15":
        v1, v15 = (
            trace(tr.arch, tr.input_size[1], stride_in="1x1"),
            trace(tr.arch, tr.input_size[1], stride_in="3x3"),
        )
        changed = [(a.name, a.macs, b.macs) for a, b in zip(v1.leaves, v15.leaves) if a.macs != b.macs]
        extra = v15.total_macs - v1.total_macs
        diff = round(extra / 1e9, 2)
        working = {
            "v1": fmt_int(v1.total_macs), "v15": fmt_int(v15.total_macs), "diff_exact": fmt_int(extra),
            "diff": f"{diff:.2f}",
            "changed": tuple((name, fmt_int(a), fmt_int(b)) for name, a, b in changed),
        }  # fmt: skip
        return Answer(diff, working, **common)
    if key == "feature_maps":
        stage = tr.row("layer2")
        working = {"c": stage.output_shape[0], "shape": _shape_text(_hwc(stage.output_shape))}
        return Answer(stage.output_shape[0], working, **common | {"scope": "network_only"})
    if key == "addition":
        block = tr.row(step.block)
        x_shape, shape = _hwc(block.input_shape), _hwc(block.output_shape)
        working = {
            "block": block.name, "paper": paper_name(tr, block), "shape_in": _shape_text(x_shape),
            "shape": _shape_text(shape), "shortcut": block.shortcut,
        }  # fmt: skip
        if (
            block.dashed
        ):  # x is not a term of the sum: shortcut(x) is; a reply of x's shape gets its own reason
            return Answer(
                shape, working, **common | {"working_key": "addition_working_dashed"},
                slip=x_shape, slip_key="addition_slip",
            )  # fmt: skip
        return Answer(shape, working, **common | {"working_key": "addition_working_solid"})
    if key == "degradation":
        deep, shallow = (trace(a, get_spec(a).default_input) for a in DEGRADATION_PAIR)
        working = {
            "deep": deep.layer_count_formula, "shallow": shallow.layer_count_formula,
            "deep_n": deep.layer_count, "shallow_n": shallow.layer_count,
            "diff": deep.layer_count - shallow.layer_count,
        }  # fmt: skip
        return Answer(
            deep.layer_count - shallow.layer_count, working,
            **common | {"arch": deep.arch, "size": deep.input_size[1], "scope": "fixed"},
        )  # fmt: skip
    if key == "patchify":
        return _patchify_answer(common)
    if key == "zero_init":
        layers = " + ".join(str(n) for n in tr.layers)
        return Answer(
            len(tr.blocks), {"n": len(tr.blocks), "layers": layers}, **common | {"scope": "network_only"}
        )
    if key == "shattered":
        return _shattered_answer(common)
    raise KeyError(f"no lesson step {key!r}")


def _shattered_answer(common: dict[str, object]) -> Answer:
    """Which of plain-56 and ResNet-56 has the gradient closer to white noise along the default image path at
    initialisation (:func:`~resnet_viz.experiments.summaries.closer_to_white` of the measured lag-1
    autocorrelations); the working says whether the two differ beyond the seed spread
    (:func:`~resnet_viz.experiments.summaries.correlation_order`)."""
    from resnet_viz.experiments import shattered
    from resnet_viz.experiments import summaries as S
    from resnet_viz.experiments.readings import fmt_lag1

    depth = SHATTERED_DEPTH
    measured = shattered.recorded_init_lag1(depth)
    plain, res = S.lag1_spread(measured[f"plain{depth}"]), S.lag1_spread(measured[f"resnet{depth}"])
    working = {
        "depth": depth, "n": plain.seeds, "steps": shattered.PATH_STEPS, "width": shattered.PATH_WIDTH,
        "plain": fmt_lag1(plain.mean), "plain_low": fmt_lag1(plain.low), "plain_high": fmt_lag1(plain.high),
        "res": fmt_lag1(res.mean), "res_low": fmt_lag1(res.low), "res_high": fmt_lag1(res.high),
    }  # fmt: skip
    return Answer(
        S.closer_to_white(plain, res), working,
        **common | {"arch": f"resnet{depth}", "size": 32, "scope": "fixed",
                    "working_key": f"shattered_working_{S.correlation_order(plain, res)}"},
    )  # fmt: skip


def _patchify_answer(common: dict[str, object]) -> Answer:
    """The multiply-adds the patchify stem saves over conv1 + max-pool at 224, from the ladder's records: the rung
    before "patchify" (the same network with ResNet's stem) against "patchify" itself."""
    size = 224  # the size of the paper's Figure 2 and of the ladder page
    old, new = rung_trace("stage_ratio", size), rung_trace("patchify", size)
    conv, pool, patch = old.record("stem.conv"), old.record("stem.pool"), new.record("stem.conv")

    def expr(r: LayerRecord) -> str:  # C_out × C_in × k × k × H_out × W_out
        c, h, w = r.output_shape
        return f"{c} × {r.input_shape[0]} × {r.kernel} × {r.kernel} × {h} × {w}"

    saved = conv.macs + pool.macs - patch.macs
    working = {
        "conv_expr": expr(conv), "conv_macs": fmt_int(conv.macs), "pool_macs": fmt_int(pool.macs),
        "patch_expr": expr(patch), "patch_macs": fmt_int(patch.macs), "saved": fmt_int(saved),
        "k1": conv.kernel, "s1": conv.stride, "k2": patch.kernel, "s2": patch.stride,
        "grid": patch.output_shape[1], "c": patch.output_shape[0],
    }  # fmt: skip
    assert pool.output_shape == patch.output_shape  # both stems hand the first stage the same grid
    return Answer(saved, working, **common | {"arch": "resnet50", "size": size, "scope": "fixed"})


def text_args(step: Step, right: Answer, t: Translator, *, current: str) -> dict[str, object]:
    """Everything the step's texts are formatted with, in ``t``'s language: the answer's network (``title``) and
    the sidebar's (``current``, a network name), the page names they mention, the working's numbers (lists joined,
    shortcut kinds named) and ``named``, the block with the paper's name where the paper has one."""
    args: dict[str, object] = {
        "title": arch_title(t, right.arch), "current": arch_title(t, current), "size": right.size,
        "block": step.block, "walk": t("nav.architecture"), "fm": t("nav.feature_maps"),
        "why": t("nav.why_residual"), "params": t("nav.parameters"), "ladder": t("nav.ladder"),
    }  # fmt: skip
    for name, value in right.working.items():
        if isinstance(value, tuple):  # a list; a list of (name, before, after) changes is worded per language
            items = [
                t("lesson.changed_item", name=v[0], before=v[1], after=v[2])
                if isinstance(v, tuple)
                else str(v)
                for v in value
            ]
            value = t("lesson.list_sep").join(items)
        args[name] = value
    if args.get("shortcut"):  # identity / projection / zero_pad
        args["shortcut"] = t(f"lesson.shortcut_{args['shortcut']}")
    paper = right.working.get("paper")
    args["named"] = t("lesson.named", block=args["block"], paper=paper) if paper else args["block"]
    return args


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


def answer_text(step: Step, value: object, t: Translator) -> str:
    """The right answer as the page writes it: a shape as "(28, 28, 128)", an int with thousands separators, a
    float to two decimals, a choice in the reader's words (the lesson page and class mode share it)."""
    if step.kind == "shape":
        return "(" + ", ".join(str(v) for v in value) + ")"  # type: ignore[attr-defined]
    if step.kind == "int":
        return fmt_int(int(value))  # type: ignore[call-overload]
    if step.kind == "float":
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    return t(f"lesson.choice_{value}")


def check(step: Step, reply: str, right: Answer) -> bool | None:
    """True/False: right or wrong; None: the reply could not be read (the page asks again, nothing is marked)."""
    value = parse_reply(step, reply)
    if value is None:
        return None
    if step.kind == "float":
        return abs(float(value) - float(right.value)) <= 0.005 + 1e-9  # type: ignore[arg-type]
    return value == right.value


def slipped(step: Step, reply: str, right: Answer) -> bool:
    """Whether a wrong reply is the answer's known slip (x's shape at a dashed block's addition)."""
    return right.slip is not None and parse_reply(step, reply) == right.slip
