"""The shared view in the address bar: parse, validate and write the query parameters (no Streamlit here).

A teacher shares "ResNet-50, block layer3.1, in Chinese" as ``/feature_maps?net=resnet50&block=layer3.1&lang=zh``.
:func:`parse` turns whatever arrived in the address into typed values plus a list of :class:`Problem` (one per
bad value: the value is dropped, so the default applies, and every other valid value still does);
:func:`encode` writes the current view back. :class:`View` is the one typed view of a rerun: :func:`parse` is its
only validator and :data:`DEFAULTS` its only defaults. ``resnet_viz.ui.resolve`` is the only caller in the app.

The selected *step* (``block``) is a torchvision module name: ``conv1``, ``maxpool``, a block (``layer3.1``),
``avgpool`` or ``fc`` — the nodes of the whole-network diagram. Which steps exist depends on the network, so
``block`` is checked against :func:`selectable_steps` of the chosen network's trace, and a step the network lacks
falls back to :func:`nearest_step`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from resnet_viz.architecture.catalogue import ARCHS, get_spec
from resnet_viz.architecture.trace import Trace

#: The parameters every page shares, in the order they are written.
SHARED = ("lang", "net", "size", "stride", "plain", "block", "present")
#: Parameters only one page reads: the sample photo (Feature maps), the lesson's step, the ladder's rung, the
#: class's room code (the class page; ``/?room=K7QX2M`` on any page takes a student there).
PAGE_PARAMS = ("sample", "step", "rung", "room")
#: Read once when an address opens and never written back: ``role=teacher`` asks to drive the room, which only the
#: session holding the room's teacher secret may (any other session is refused, and shown the student's view).
REQUESTS = ("role",)
KNOWN = SHARED + PAGE_PARAMS + REQUESTS
ROLES = ("teacher", "student")
#: The room code the bad-room notice gives as an example (the issue's; any well-formed code would do).
EXAMPLE_ROOM = "K7QX2M"
#: The input sizes the sidebar accepts (its number input's bounds).
SIZE_MIN, SIZE_MAX = 16, 1024
STRIDES = ("3x3", "1x1")
#: Longer values are refused without being looked at further (and shown cut short in the notice).
MAX_VALUE_LEN = 64
#: How much of a bad value a notice repeats.
SHOWN_LEN = 24
#: The kinds of top-level trace row a reader can select, besides the blocks.
_STEP_KINDS = ("conv", "maxpool", "avgpool", "fc")
#: The view's defaults, the only ones: the network the notes walk through, torchvision's stride placement (v1.5),
#: the residual net, no presenter mode. The input size defaults to the network's own (:func:`start_size`).
DEFAULT_NET = "resnet34"
DEFAULT_STRIDE = "3x3"
#: The step selected when nothing chose one: the notes' conv3_1 (layer2.0), the first down-sampling block.
DEFAULT_STEP = "layer2.0"


@dataclass(frozen=True)
class Problem:
    """One parameter that could not be used: ``code`` is one of ``unknown``, ``too_long``, ``bad_lang``,
    ``bad_net``, ``bad_size``, ``bad_stride``, ``bad_plain``, ``bad_block``, ``absent_block``, ``bad_step``,
    ``bad_sample``, ``bad_present``, ``bad_rung``, ``bad_room``, ``bad_role``; ``value`` is the received value,
    cut to :data:`SHOWN_LEN` characters."""

    param: str
    code: str
    value: str
    length: int = 0


@dataclass(frozen=True)
class Link:
    """The valid values of an address (absent or invalid ones are missing) and what was wrong with it."""

    values: dict[str, object] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def start_size(net: str) -> int:
    """The input size a network starts at when it is chosen: the one it was designed for (224 for ImageNet, 32
    for CIFAR). The one place that says so: a new network never keeps the last network's size."""
    return get_spec(net).default_input


def default_step(steps: Sequence[str]) -> str:
    """The step selected when nothing chose one: :data:`DEFAULT_STEP` where the network has it, else its first."""
    return DEFAULT_STEP if DEFAULT_STEP in steps else steps[0]


@dataclass(frozen=True)
class View:
    """What one rerun shows, resolved once (``resnet_viz.ui.resolve``) from the address, then the widgets, and
    written back to the address: the language, the network and its input size, the stride placement, plain or
    residual, the one selected step, presenter mode, and the page's own parameters (``sample``, ``step``)."""

    lang: str
    arch: str
    input_size: int
    stride_in: str = DEFAULT_STRIDE
    plain: bool = False
    step: str = DEFAULT_STEP
    presenter: bool = False
    page_params: tuple[tuple[str, object], ...] = ()

    @property
    def bottleneck(self) -> bool:
        return get_spec(self.arch).block == "bottleneck"

    def page_param(self, name: str) -> object | None:
        """A page's own parameter (``sample``, ``step``), or None."""
        return dict(self.page_params).get(name)

    def with_page_param(self, name: str, value: object | None) -> View:
        """This view with a page parameter set (``None`` removes it)."""
        params = {k: v for k, v in self.page_params if k != name}
        if value is not None:
            params[name] = value
        return replace(self, page_params=tuple(params.items()))

    def values(self) -> dict[str, object]:
        """The view as address values (the stride only where it matters: a bottleneck network)."""
        return {
            "lang": self.lang, "net": self.arch, "size": self.input_size,
            "stride": self.stride_in if self.bottleneck else None, "plain": self.plain, "block": self.step,
            "present": True if self.presenter else None, **dict(self.page_params),
        }  # fmt: skip

    def query(self, **changes: object) -> dict[str, str]:
        """The query parameters of this view with ``changes`` applied (``block="layer3.1"``; ``None`` leaves a
        parameter out)."""
        return encode({**self.values(), **changes})

    def step_links(self, steps: Sequence[str]) -> dict[str, str]:
        """The address of this view with each of ``steps`` selected, all made in one call (a diagram's node links)."""
        base = self.values()
        return {name: "?" + urlencode(encode({**base, "block": name})) for name in steps}


def selectable_steps(tr: Trace) -> list[str]:
    """The steps of ``tr`` a reader can select, in network order: the stem, every block, avgpool, fc."""
    steps = []
    for row in tr.rows:
        if (row.depth == 0 and row.kind in _STEP_KINDS) or row.kind == "block":
            steps.append(row.name)
    return steps


def _stage_and_index(name: str) -> tuple[str, int] | None:
    stage, _, index = name.partition(".")
    return (stage, int(index)) if stage.startswith("layer") and index.isdigit() else None


def nearest_step(name: str, steps: Sequence[str]) -> str:
    """``name`` if it is one of ``steps``; else the nearest one: the same stage's block with the closest index
    (layer3.5 of ResNet-50 → layer3.1 of ResNet-18), else the last block of the deepest stage the network has
    (layer4.1 → layer3.2 of a CIFAR ResNet), else the first step."""
    if name in steps:
        return name
    here = _stage_and_index(name)
    blocks = [(s, _stage_and_index(s)) for s in steps if _stage_and_index(s)]
    if here and blocks:
        same = [(s, i) for s, (stage, i) in blocks if stage == here[0]]  # type: ignore[misc]
        if same:
            return min(same, key=lambda si: (abs(si[1] - here[1]), -si[1]))[0]
        stage_no = int(here[0].removeprefix("layer") or 0)
        earlier = [s for s, (stage, _) in blocks if int(stage.removeprefix("layer") or 0) < stage_no]  # type: ignore[misc]
        if earlier:
            return earlier[-1]
    return steps[0]


def _one(value: str | list[str]) -> str:
    """The last of repeated values (``?net=a&net=b`` → b), as Streamlit's ``st.query_params[...]`` does."""
    if isinstance(value, list):
        return value[-1] if value else ""
    return value


def _int(text: str) -> int | None:
    text = text.strip()
    ok = 0 < len(text) <= 6 and all("0" <= c <= "9" for c in text)  # ASCII digits: no sign, "1e3" or "٣"
    return int(text) if ok else None


def parse(
    query: Mapping[str, str | list[str]],
    *,
    samples: Sequence[str] = (),
    lesson_steps: int = 0,
    steps_of: Callable[[str, int, str, bool], Sequence[str]] | None = None,
) -> Link:
    """Validate an address's query parameters.

    ``samples`` are the bundled photos' names (for ``sample``); ``lesson_steps`` the number of lesson steps
    (``step`` runs 1…N); ``steps_of(net, size, stride, plain)`` returns the selectable steps of that network
    (for ``block``; it may raise ``ValueError`` where the size is too small for the network, and then ``block``
    is not checked). Returns the valid values, typed, and one :class:`Problem` per bad parameter.
    """
    values: dict[str, object] = {}
    problems: list[Problem] = []

    def cut(raw: str) -> str:
        return raw if len(raw) <= SHOWN_LEN else raw[: SHOWN_LEN - 1] + "…"

    def bad(param: str, code: str, raw: str) -> None:
        problems.append(Problem(param, code, cut(raw), len(raw)))

    raw = {}
    for key, value in query.items():
        text = _one(value)
        if key not in KNOWN:
            bad(cut(key), "unknown", text)  # a cut key says so
        elif len(text) > MAX_VALUE_LEN:
            bad(key, "too_long", text)
        else:
            raw[key] = text
    if "lang" in raw:
        from resnet_viz.i18n import LANGUAGES

        ok = raw["lang"] in LANGUAGES
        values["lang"] = raw["lang"] if ok else bad("lang", "bad_lang", raw["lang"])
    if "net" in raw:
        values["net"] = raw["net"] if raw["net"] in ARCHS else bad("net", "bad_net", raw["net"])
    if "size" in raw:
        size = _int(raw["size"])
        ok = size is not None and SIZE_MIN <= size <= SIZE_MAX
        values["size"] = size if ok else bad("size", "bad_size", raw["size"])
    if "stride" in raw:
        values["stride"] = (
            raw["stride"] if raw["stride"] in STRIDES else bad("stride", "bad_stride", raw["stride"])
        )
    if "plain" in raw:
        ok = raw["plain"] in ("0", "1")
        values["plain"] = raw["plain"] == "1" if ok else bad("plain", "bad_plain", raw["plain"])
    if "present" in raw:
        ok = raw["present"] in ("0", "1")
        values["present"] = raw["present"] == "1" if ok else bad("present", "bad_present", raw["present"])
    if "sample" in raw:
        values["sample"] = (
            raw["sample"] if raw["sample"] in samples else bad("sample", "bad_sample", raw["sample"])
        )
    if "step" in raw:
        step = _int(raw["step"])
        ok = step is not None and 1 <= step <= lesson_steps
        values["step"] = step if ok else bad("step", "bad_step", raw["step"])
    if "rung" in raw:  # a rung of the ResNet-50 → ConvNeXt-T ladder (the page shows no kernel variant alone)
        from resnet_viz.architecture.ladder import RUNG_KEYS

        values["rung"] = raw["rung"] if raw["rung"] in RUNG_KEYS else bad("rung", "bad_rung", raw["rung"])
    if "room" in raw:  # K7QX2M, k7q-x2m, an O for a 0: stored in the one form the store knows
        from resnet_viz.classroom import normalize_code

        code = normalize_code(raw["room"])
        values["room"] = code if code is not None else bad("room", "bad_room", raw["room"])
    if "role" in raw:
        values["role"] = raw["role"] if raw["role"] in ROLES else bad("role", "bad_role", raw["role"])
    if "block" in raw:
        name = raw["block"]
        shape_ok = name.replace(".", "").replace("_", "").isalnum()
        if not shape_ok:
            bad("block", "bad_block", name)
        elif steps_of is None:
            values["block"] = name
        else:
            net = values.get("net") or DEFAULT_NET
            size = values.get("size") or start_size(net)  # type: ignore[arg-type]
            stride = values.get("stride") or DEFAULT_STRIDE
            try:
                steps = steps_of(net, size, stride, bool(values.get("plain", False)))
            except ValueError:
                steps = None
            if steps is None or name in steps:
                values["block"] = name
            else:
                bad("block", "absent_block", name)
    values = {k: v for k, v in values.items() if v is not None}
    return Link(values, tuple(problems))


def encode(values: Mapping[str, object]) -> dict[str, str]:
    """The query parameters of a view, in a fixed order (shared ones first), as strings; ``None`` is left out,
    and so is every one of :data:`REQUESTS` (read once, never written back)."""
    out: dict[str, str] = {}
    for key in SHARED + PAGE_PARAMS:
        value = values.get(key)
        if value is None:
            continue
        out[key] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out


@functools.lru_cache(maxsize=256)
def qr_png(text: str, scale: int = 6) -> bytes:
    """A QR code of ``text`` as PNG bytes (segno; error correction M, which survives a projector's glare)."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def step_of(row_name: str, steps: Sequence[str]) -> str | None:
    """The selectable step a table row belongs to: itself, its block (layer3.1.conv2 → layer3.1), a stage's
    first block (layer3 → layer3.0), conv1 for the stem and its bn1/relu; None for rows outside every step (softmax)."""
    if row_name in steps:
        return row_name
    parts = row_name.split(".")
    if len(parts) > 2 and ".".join(parts[:2]) in steps:
        return ".".join(parts[:2])
    if len(parts) == 1 and f"{row_name}.0" in steps:
        return f"{row_name}.0"
    if row_name in ("stem", "bn1", "relu") and "conv1" in steps:
        return "conv1"
    if row_name == "flatten" and "avgpool" in steps:
        return "avgpool"
    return None


def row_holds(row_name: str, step: str) -> bool:
    """Whether a table row shows (part of) the selected step: the step itself, one of its layers, or its stage."""
    if row_name == "stem":  # the parameters table's stem row: conv1 and its BN (and the weightless max-pool)
        return step in ("conv1", "maxpool")
    return row_name == step or row_name.startswith(step + ".") or step.startswith(row_name + ".")
