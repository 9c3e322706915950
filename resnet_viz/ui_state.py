"""The one module of the package that knows Streamlit: caching, session settings and the shared sidebar.

Everything cached here is keyed by plain or typed values (names, sizes, hashes, a frozen
:class:`~resnet_viz.models.sources.ModelSource`), never by a model object, and bounded.
A model from :func:`shared_model` is shared by every session and thread, so nothing may mutate it: no hooks left
on it, no ``.train()``, no ``.to()``, no ``load_state_dict``.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
import torch

from resnet_viz import links
from resnet_viz.architecture.catalogue import ARCHS, CATALOGUE, get_spec
from resnet_viz.architecture.trace import MAX_INPUT_SIZE, Trace, trace
from resnet_viz.errors import UserError
from resnet_viz.i18n import LANGUAGES, Translator, browser_language
from resnet_viz.i18n import arch_title as _arch_title
from resnet_viz.i18n import translator as _translator
from resnet_viz.models.device import describe_device, forward_budget, select_device, usable_cores
from resnet_viz.models.sources import ModelSource, OfflineMemory, Preprocessing, load_shared

T = TypeVar("T")

#: Forward passes running at once across all sessions, derived from the cores or the GPU at start-up
#: (``models.device.forward_budget``; 2 on a 2-core CPU): more only oversubscribes the cores.
MAX_CONCURRENT_FORWARDS = forward_budget(usable_cores(), select_device().type).max_concurrent


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose; every page reads it."""

    lang: str
    arch: str
    input_size: int
    stride_in: str
    plain: bool
    device: str


@st.cache_resource
def _process_setup() -> threading.BoundedSemaphore:
    """Runs once per server process: one intra-op thread pool sized to the machine, and the forward gate."""
    # Cores split between the concurrent forwards (see forward_budget for the measurement behind the rule).
    budget = forward_budget(usable_cores(), device().type)
    torch.set_num_threads(budget.threads)
    return threading.BoundedSemaphore(budget.max_concurrent)


@st.cache_resource(show_spinner=False)
def warm_process() -> int:
    """Once per server process, on its first script run: import what every page may need (torch, torchvision's
    models, the imaging and drawing modules), bound glibc's arenas, then freeze the collector's heap
    (``resnet_viz.memory``) so that Streamlit's full collection after each rerun walks only what that rerun made
    (~210 ms of CPU before, per rerun of every session). ``python -m benchmarks --only load``: a session's
    server CPU 2.38 → 1.09 CPU-s with the capture store. Returns the number of objects frozen."""
    import importlib

    from resnet_viz import memory

    memory.limit_arenas()  # glibc: session threads share two arenas (a thread's freed memory serves the next)
    for module in (
        "torchvision.models", "plotly.graph_objects", "pandas", "pyarrow", "PIL.Image",
        "resnet_viz.models.build", "resnet_viz.models.weights", "resnet_viz.imaging.capture",
        "resnet_viz.imaging.images", "resnet_viz.imaging.explain", "resnet_viz.render.dot",
        "resnet_viz.render.tiling",
    ):  # fmt: skip
        importlib.import_module(module)
    return memory.freeze_heap()


def device_name(t: Callable[..., str]) -> str:
    """The device in the page's language: the GPU's own name, or the CPU with the cores this server may use."""
    dev = device()
    if dev.type != "cpu":
        return describe_device(dev)
    cores = usable_cores()
    return t("common.device_cpu_one", cores=cores) if cores == 1 else t("common.device_cpu", cores=cores)


def forward_gate() -> threading.BoundedSemaphore:
    """Hold this while running a forward or backward pass (``with forward_gate(): ...``)."""
    return _process_setup()


@st.cache_resource
def device() -> torch.device:
    return select_device()


def cached_trace(arch: str, input_size: int, plain: bool = False, stride_in: str = "3x3") -> Trace:
    """The trace (itself memoised and immutable, so no Streamlit cache is needed on top)."""
    return trace(arch, input_size, plain=plain, stride_in=stride_in)


_KEYS = {
    "lang": "rv_lang",
    "arch": "rv_arch",
    "size": "rv_input_size",
    "stride": "rv_stride_in",
    "plain": "rv_plain",
}


_STRIDES = ("3x3", "1x1")


def _default_lang() -> str:
    return browser_language(getattr(st.context, "locale", None))


def _get(name: str, default):
    """A sidebar value from session state, or ``default`` when absent or no longer valid.

    Before the sidebar's widgets exist (a fresh session), a valid value from the address is the default."""
    key = _KEYS[name]
    if key in st.session_state:
        value = st.session_state[key]
    else:
        value = st.session_state.get(_LINK_DEFAULTS, {}).get(name, default)
    valid = {
        "lang": lambda v: v in LANGUAGES,
        "arch": lambda v: v in CATALOGUE,
        "size": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "stride": lambda v: v in _STRIDES,
        "plain": lambda v: isinstance(v, bool),
    }[name]
    return value if valid(value) else default


def _on_arch_change() -> None:
    # A new network starts at the input size it was designed for (224 for ImageNet, 32 for CIFAR).
    st.session_state[_KEYS["size"]] = get_spec(st.session_state[_KEYS["arch"]]).default_input


def sidebar() -> Settings:
    """Draw the shared sidebar (called from app.py, so it appears on every page) and return the settings.

    Widget values live in ``st.session_state`` under fixed keys, so they persist across pages. Each widget gets its
    starting value through its own ``index=``/``value=`` argument, never by writing the key into session state
    before the widget exists: under load (30 browsers at once) Streamlit 1.67 sometimes let the widget's built-in
    default (the first option, ``min_value``) win over such a pre-set value (our load test saw 10 of 30 sessions
    jump to a 16-pixel input; Streamlit issue #4247). Values are re-validated on every read, because a radio whose
    option labels change with the language can come back empty after a language switch.
    """
    _process_setup()
    _read_address()
    pending = st.session_state.pop(_PENDING_VIEW, None)
    if pending:
        set_view(**pending)
    lang = _get("lang", _default_lang())
    arch = _get("arch", "resnet34")
    size = int(_get("size", get_spec(arch).default_input))
    stride = _get("stride", "3x3")
    with st.sidebar:
        langs = list(LANGUAGES)
        st.radio(
            "Language / 语言", langs, index=langs.index(lang), key=_KEYS["lang"],
            format_func=LANGUAGES.__getitem__, horizontal=True,
        )  # fmt: skip
        shown_lang = _get("lang", lang)
        t = _translator(shown_lang)
        st.selectbox(
            t("common.network"), ARCHS, index=ARCHS.index(arch), key=_KEYS["arch"], on_change=_on_arch_change,
            format_func=lambda a: arch_title(a, shown_lang), help=t("common.network_help"),
        )  # fmt: skip
        st.number_input(
            t("common.input_size"), min_value=16, max_value=1024, value=min(max(size, 16), 1024), step=1,
            key=_KEYS["size"], help=t("common.input_size_help"),
        )  # fmt: skip
        bottleneck = get_spec(_get("arch", arch)).block == "bottleneck"
        st.radio(
            t("common.stride_in"), list(_STRIDES), index=_STRIDES.index(stride), key=_KEYS["stride"],
            disabled=not bottleneck,
            format_func=lambda s: t("common.stride_v15") if s == "3x3" else t("common.stride_v1"),
            help=t("common.stride_in_help"),
        )  # fmt: skip
        st.toggle(
            t("common.plain"), value=_get("plain", False), key=_KEYS["plain"], help=t("common.plain_help")
        )
        present = st.session_state.get(PRESENT_KEY, st.session_state.get(_LINK_DEFAULTS, {}).get("present"))
        st.toggle(t("links.present"), value=bool(present), key=PRESENT_KEY, help=t("links.present_help"))
        dev_caption(t("common.device", device=device_name(t)))
    settings = current()
    _check_selection(settings, t)
    _show_link_problems(t)
    return settings


def current() -> Settings:
    """The settings of this session (defaults where the sidebar has not run or a value is invalid)."""
    arch = _get("arch", "resnet34")
    size = int(min(max(int(_get("size", get_spec(arch).default_input)), 1), MAX_INPUT_SIZE))
    bottleneck = get_spec(arch).block == "bottleneck"
    return Settings(
        lang=_get("lang", _default_lang()),
        arch=arch,
        input_size=size,
        stride_in=_get("stride", "3x3") if bottleneck else "3x3",
        plain=_get("plain", False),
        device=str(device()),
    )


# --- the shared view in the address bar, and the one selection ---
# The address holds lang, net, size, stride, plain, block and present (resnet_viz.links parses and checks them).
# A fresh session takes them as its widgets' starting values (through ``_get``'s defaults: widgets get their
# starting value from their own argument, see :func:`sidebar`); a running session whose address changed (a link
# with query parameters, the lesson's "show me") takes them over its current values. Then the address is rewritten
# from the settings, so copying it shares the view.

_LINK_SEEN = "rv_link_seen"  # the query parameters last read from or written to the address
_LINK_DEFAULTS = "rv_link_defaults"  # address values for widgets not drawn yet (a fresh session)
_LINK_PROBLEMS = "rv_link_problems"  # what was wrong with the address, shown once
_PAGE_PARAMS = "rv_link_page"  # {"page": url path or None, "values": {sample/step: value}}
BLOCK_KEY = "rv_block"
PRESENT_KEY = "rv_present"
#: The step selected when nothing chose one: the notes' conv3_1 (layer2.0), the first down-sampling block.
DEFAULT_STEP = "layer2.0"
_MOVED = "rv_block_moved"
_LINK_GIVEN = "rv_link_given"  # which parameters the address that opened this page set
_PENDING_VIEW = "rv_pending_view"  # a view a page asked for, applied before the sidebar draws
_TO_WIDGET = {"lang": "lang", "net": "arch", "size": "size", "stride": "stride", "plain": "plain"}


def steps_of(arch: str, input_size: int, stride_in: str = "3x3", plain: bool = False) -> list[str]:
    """The selectable steps of a network (the same for every input size, so the default size is used where the
    given one is too small for the network)."""
    try:
        tr = cached_trace(arch, input_size, plain, stride_in)
    except ValueError:
        tr = cached_trace(arch, get_spec(arch).default_input, plain, stride_in)
    return links.selectable_steps(tr)


def _lesson_steps() -> int:
    try:
        from resnet_viz.lesson import STEP_COUNT
    except ImportError:
        return 0
    return STEP_COUNT


def _read_address() -> None:
    """Take over the address's values when it changed since this session last read or wrote it."""
    ss = st.session_state
    query = st.query_params.to_dict()
    if query == ss.get(_LINK_SEEN):
        return
    from resnet_viz.imaging.images import sample_images

    link = links.parse(query, samples=list(sample_images()), lesson_steps=_lesson_steps(), steps_of=steps_of)
    values = dict(link.values)
    defaults = dict(ss.get(_LINK_DEFAULTS, {}))

    def put(name: str, value: object) -> None:
        key = _KEYS[name]
        if key in ss:
            ss[key] = value
        else:
            defaults[name] = value

    if "net" in values and "size" not in values and values["net"] != _get("arch", "resnet34"):
        values["size"] = get_spec(values["net"]).default_input  # type: ignore[arg-type]
    for param, name in _TO_WIDGET.items():
        if param in values:
            put(name, values[param])
    if "present" in values:
        if PRESENT_KEY in ss:
            ss[PRESENT_KEY] = values["present"]
        else:
            defaults["present"] = values["present"]
    if "block" in values:
        ss[BLOCK_KEY] = values["block"]
    ss[_LINK_DEFAULTS] = defaults
    ss[_PAGE_PARAMS] = {"page": None, "values": {k: values[k] for k in links.PAGE_PARAMS if k in values}}
    ss[_LINK_PROBLEMS] = link.problems
    ss[_LINK_SEEN] = query
    ss[_LINK_GIVEN] = frozenset(values)


def link_gave(name: str) -> bool:
    """Whether the address that opened this page set ``name`` (e.g. "net", "block")."""
    return name in st.session_state.get(_LINK_GIVEN, frozenset())


def request_view(*, net: str | None = None, block: str | None = None) -> None:
    """Set the view from a page's body (after the sidebar drew): stored, then applied on an immediate rerun."""
    st.session_state[_PENDING_VIEW] = {"net": net, "block": block}
    st.rerun()


def _problem_text(p: links.Problem, t: Callable[..., str]) -> str:
    arch = current().arch
    steps = steps_of(arch, get_spec(arch).default_input)
    from resnet_viz.imaging.images import sample_images

    args = {
        "param": p.param, "value": p.value, "length": p.length, "max": links.MAX_VALUE_LEN,
        "known": ", ".join(links.KNOWN), "choices": ", ".join(ARCHS),
        "lo": links.SIZE_MIN, "hi": links.SIZE_MAX, "example": DEFAULT_STEP, "net": CATALOGUE[arch].title,
        "first": steps[0], "last": steps[-1], "n": _lesson_steps(),
    }  # fmt: skip
    if p.code == "bad_lang":
        args["choices"] = ", ".join(LANGUAGES)
    elif p.code == "bad_stride":
        args["choices"] = ", ".join(links.STRIDES)
    elif p.code == "bad_sample":
        args["choices"] = ", ".join(sample_images())
    return t(f"links.{p.code}", **args)


def _show_link_problems(t: Callable[..., str]) -> None:
    """One notice listing what could not be used (once: the address is rewritten without it)."""
    problems = st.session_state.pop(_LINK_PROBLEMS, ())
    lines = [f"- {_problem_text(p, t)}" for p in problems]
    moved = st.session_state.pop(_MOVED, None)
    if lines:
        st.warning(t("links.notice") + "\n" + "\n".join(lines), icon=":material/link_off:")
    if moved:
        st.info(
            t("links.block_moved", net=moved[0], old=moved[1], new=moved[2]), icon=":material/my_location:"
        )


def _check_selection(settings: Settings, t: Callable[..., str]) -> None:
    """Keep the selected step one of the current network's; move it to the nearest one (with a notice) if not."""
    ss = st.session_state
    steps = steps_of(settings.arch, settings.input_size, settings.stride_in, settings.plain)
    chosen = ss.get(BLOCK_KEY)
    if chosen is None:
        ss[BLOCK_KEY] = DEFAULT_STEP if DEFAULT_STEP in steps else steps[0]
    elif chosen not in steps:
        ss[BLOCK_KEY] = links.nearest_step(str(chosen), steps)
        ss[_MOVED] = (CATALOGUE[settings.arch].title, chosen, ss[BLOCK_KEY])


def selected_step() -> str:
    """The selected step (a torchvision module name of the current network: conv1, layer3.1, fc …)."""
    return str(st.session_state.get(BLOCK_KEY, DEFAULT_STEP))


def select(name: str) -> None:
    """Select a step (call from a widget's callback, or before the widgets that show it)."""
    st.session_state[BLOCK_KEY] = name


def on_row_select(key: str, row_names: Sequence[str]) -> Callable[[], None]:
    """The ``on_select`` callback of a table whose rows are trace rows: selecting a row selects its step."""

    def callback() -> None:
        event = st.session_state.get(key)
        rows = list(event.selection.rows) if event is not None else []
        if rows and rows[0] < len(row_names):
            s = current()
            step = links.step_of(row_names[rows[0]], steps_of(s.arch, s.input_size, s.stride_in, s.plain))
            if step is not None:
                select(step)

    return callback


def set_view(*, net: str | None = None, block: str | None = None) -> None:
    """Set the network (at its own input size) and the selected step; call from a widget's callback, which runs
    before the sidebar's widgets are drawn."""
    ss = st.session_state
    if net is not None and net != _get("arch", "resnet34"):
        ss[_KEYS["arch"]] = net
        ss[_KEYS["size"]] = get_spec(net).default_input
    if block is not None:
        ss[BLOCK_KEY] = block


def presenting() -> bool:
    """Presenter mode: larger text, no help icons or developer captions, high-contrast colours."""
    return bool(
        st.session_state.get(PRESENT_KEY, st.session_state.get(_LINK_DEFAULTS, {}).get("present", False))
    )


def dev_caption(text: str) -> None:
    """A caption for the curious reader (where a number comes from, the method, the device, which file): shown
    normally, left out in presenter mode, where a projector has room only for what the class reads. Pages call
    this instead of ``st.caption`` for such notes; a caption that teaches stays an ``st.caption``."""
    if not presenting():
        st.caption(text)


#: The box a presenter-mode diagram is scaled to fit (inches of 72 pt; a browser draws 1 pt as 4/3 px): 9 × 7.5 in is
#: 864 × 720 px, the page's width beside the sidebar and one 720-pixel high screen once scrolled to. (A 518-px box,
#: what is left under a heading, shrank a Bottleneck's text to 12 px: unreadable from the back of a room.)
PRESENTER_DIAGRAM_INCHES = (9.0, 7.5)


def diagram(dot_text: str, *, tall: bool = False) -> None:
    """Draw one of ``resnet_viz.render.dot``'s diagrams. In presenter mode: Okabe–Ito colours, larger text and
    thicker lines (:func:`~resnet_viz.render.dot.presenter_dot`), scaled to fill the screen's free area; a ``tall``
    diagram (the whole network, Figure 3: drawn top to bottom, many screens high) keeps its natural size with the
    larger text instead of shrinking to one screen."""
    from resnet_viz.render import dot

    if presenting():
        # "stretch" would scale a diagram to the page's width whatever its height: graphviz fits it instead.
        fit = None if tall else PRESENTER_DIAGRAM_INCHES
        st.graphviz_chart(dot.presenter_dot(dot_text, fit=fit), width="content")
    else:
        st.graphviz_chart(dot_text, width="content")


def figure(fig: Any, **kwargs: Any) -> None:
    """Draw a plotly figure at the page's width; in presenter mode restyled for the projector
    (:func:`~resnet_viz.render.style.presenter_figure`)."""
    from resnet_viz.render.style import presenter_figure

    kwargs.setdefault("width", "stretch")
    st.plotly_chart(presenter_figure(fig) if presenting() else fig, **kwargs)


def page_param(name: str) -> object | None:
    """A page's own parameter (``sample``, ``step``) from the address that opened it, or None."""
    entry = st.session_state.get(_PAGE_PARAMS) or {}
    return entry.get("values", {}).get(name)


def set_page_param(name: str, value: object | None) -> None:
    """Put a page's own parameter in the address (``None`` removes it)."""
    entry = st.session_state.setdefault(_PAGE_PARAMS, {"page": None, "values": {}})
    if value is None:
        entry["values"].pop(name, None)
    else:
        entry["values"][name] = value
    _write_address()


def view_params(**changes: object) -> dict[str, str]:
    """The query parameters of the current view, with ``changes`` applied (e.g. ``block="layer3.1"``; ``None``
    leaves a parameter out)."""
    s = current()
    entry = st.session_state.get(_PAGE_PARAMS) or {}
    bottleneck = get_spec(s.arch).block == "bottleneck"
    values: dict[str, object] = {
        "lang": s.lang, "net": s.arch, "size": s.input_size, "stride": s.stride_in if bottleneck else None,
        "plain": s.plain, "block": selected_step(), "present": True if presenting() else None,
        **entry.get("values", {}),
    }  # fmt: skip
    values.update(changes)
    return links.encode(values)


def _write_address() -> None:
    want = view_params()
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)
    st.session_state[_LINK_SEEN] = want


@st.cache_data(max_entries=64, show_spinner=False)
def _qr_png(url: str) -> bytes:
    """The share box's QR code: drawn on every rerun of every session, but the same few addresses come back."""
    return links.qr_png(url)


def sync_address(page_path: str) -> None:
    """After the sidebar, before the page: write the view into the address, and draw the "share" box.

    ``page_path`` is the page's url path: a page's own parameters are kept only while that page is shown."""
    entry = st.session_state.setdefault(_PAGE_PARAMS, {"page": None, "values": {}})
    if entry["page"] is None:
        entry["page"] = page_path
    elif entry["page"] != page_path:
        st.session_state[_PAGE_PARAMS] = {"page": page_path, "values": {}}
    _write_address()
    t = translator()
    with st.sidebar.expander(t("links.share_header"), icon=":material/share:", expanded=presenting()):
        url = share_url(page_path)
        st.code(url, language=None, wrap_lines=True)
        st.caption(t("links.copy_caption"))
        st.image(_qr_png(url), caption=t("links.qr_caption"), width=220 if presenting() else 160)
        dev_caption(t("links.share_help"))
    if presenting():
        st.html(f"<style>{PRESENTER_CSS}</style>")


#: Presenter mode's style: larger text, no help icons (the "?" beside a widget), and no decoration a projector
#: washes out. The diagrams keep solid vs dashed shortcuts, so their kind never depends on colour alone.
PRESENTER_CSS = """
html { font-size: 20px; }
[data-testid="stTooltipIcon"], [data-testid="stTooltipHoverTarget"]:has(> button:only-child > svg:only-child) {
  display: none !important;
}
[data-testid="stMain"] .block-container { padding: 1.5rem 2rem 4rem; max-width: 100%; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; color: #000; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #000 !important; opacity: 1; }
"""


def share_url(page_path: str = "") -> str:
    """The full address of this view (``st.context.url`` is the browser's address without its query)."""
    from urllib.parse import urlencode

    base = getattr(st.context, "url", None) or ("/" + page_path)
    return f"{base}?{urlencode(view_params())}"


def translator() -> Translator:
    """The translator for this session's language: ``t = ui_state.translator(); t("shapes.title")``."""
    return _translator(current().lang)


def arch_title(arch: str, lang: str | None = None) -> str:
    """A network's title in the session's language (``common.title_<family>``, the depth filled in)."""
    return _arch_title(_translator(lang or current().lang), arch)


# --- feature maps ---
# Owned by the Feature-maps page (app_pages/feature_maps.py). Shared models are built once per (model source,
# device) and never changed afterwards; captures are keyed by typed values (the source, the image's hash, the
# preprocessing) and bounded.


def show_error(err: UserError, t: Translator, *, about: str | None = None, after: str | None = None) -> None:
    """Every :class:`resnet_viz.errors.UserError` is shown the same way: one ``st.error`` with what it concerns
    (``about``, e.g. "“cat.heic” cannot be used:"), its localized reason, and what happens next (``after``)."""
    st.error(" ".join(part for part in (about, err.message(t), after) if part))


def session_slot(key: str, factory: Callable[[], T]) -> T:
    """This session's own object under ``key`` (created by ``factory`` on first use): the pages' memories
    (:class:`~resnet_viz.models.sources.OfflineMemory`, :class:`~resnet_viz.models.sources.CheckpointSlot`,
    :class:`~resnet_viz.imaging.images.ImageSlot`) live here."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def keep_widget_state(keys: tuple[str, ...]) -> None:
    """Write these widgets' values back into session state, so the reader's choices survive.

    Widgets inside a closed tab are not drawn, and Streamlit forgets the state of widgets it did not draw; a
    widget whose label changes (another language) is a new widget to the browser. Writing the values back keeps
    the choices in both cases (seen in a browser check: the radios lost their selection in zh).
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


@dataclass(frozen=True)
class CaptureKey:
    """What one forward pass depends on: the weights, the picture (its SHA-256) and its preprocessing."""

    source: ModelSource
    image_sha: str
    preprocessing: Preprocessing


# Streamlit hashes a dataclass field by field, each value on its own: a pretrained source's 1000 class names cost
# ~35-50 ms per cached call (measured with streamlit's own hasher), several calls per rerun. These typed values are
# hashed as one string each: the source by its key, the preprocessing by its (deterministic) repr.
_HASH_FUNCS: dict[Any, Callable[[Any], Any]] = {
    ModelSource: lambda source: repr(source.key),
    Preprocessing: repr,
    CaptureKey: lambda key: f"{key.source.key!r}|{key.image_sha}|{key.preprocessing!r}",
}


@st.cache_resource(max_entries=6, show_spinner=False, hash_funcs=_HASH_FUNCS)
def shared_model(source: ModelSource, device_name: str) -> torch.nn.Module:
    """The model every session shares for a (pretrained or random) ``source`` on a device.

    Built on the CPU, moved to its device *before* it is cached, then only ever called. A pretrained build may
    download once (raises :class:`resnet_viz.models.weights.WeightsError`, which is not cached: the next run
    tries again).
    """
    return load_shared(source).to(torch.device(device_name)).eval()


def pretrained_model(source: ModelSource, t: Translator) -> torch.nn.Module | None:
    """The shared pretrained model of ``source``, downloaded once into torch's cache behind a progress box;
    None (with the reason shown) when the weights cannot be had. An offline machine is remembered for a few
    minutes per session (:class:`~resnet_viz.models.sources.OfflineMemory`), so reruns do not wait again."""
    from resnet_viz.models import weights

    memory = session_slot("rv_offline_memory", OfflineMemory)
    device_name = str(device())
    try:
        with memory.watch(source.arch):
            if weights.check_obtainable(source.arch):  # cached (or offline: WeightsError before any waiting)
                return shared_model(source, device_name)
            size_mb = round(source.file_size_mb or 0) or "?"
            label = t("feature_maps.downloading", name=source.weights_name, size=size_mb)
            with st.status(label, expanded=True) as box:
                st.write(t("feature_maps.downloading_detail", path=str(weights.cache_path(source.arch))))
                try:
                    model = shared_model(source, device_name)
                except weights.WeightsError:
                    box.update(state="error", expanded=False)
                    raise
                box.update(label=t("feature_maps.downloaded"), state="complete", expanded=False)
                return model
    except weights.WeightsError as err:
        show_error(err, t)
        return None


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_preprocess(image_sha: str, preprocessing: Preprocessing, _data: bytes) -> dict:
    """The preprocessing steps of one image, keyed by its hash and the pipeline's numbers."""
    import io

    from resnet_viz.imaging.images import load_image, preprocess

    steps = preprocess(load_image(_data), preprocessing)
    # Cached values are pickled on every hit: keep small encoded pictures for display (encoded once, not on
    # every rerun), the cropped image for overlays, and the tensor as numpy; drop the full-size originals.
    display = {}
    for key in ("original", "resized", "cropped", "normalized_preview"):
        picture = steps[key].copy()
        picture.thumbnail((480, 480))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)  # photos: JPEG, as st.image would make them anyway
        display[key] = buffer.getvalue()
    return {
        "display": display,
        "cropped": steps["cropped"],
        "tensor": steps["tensor"].numpy(),
        "settings": steps["settings"],
    }


@st.cache_resource
def capture_store():
    """The process's captures (``imaging.store.CaptureStore``): one read-only copy per (weights, image,
    preprocessing, device) shared by every session showing it, at most ``$RESNET_VIZ_CAPTURE_MB`` (256) MB in
    all, least recently used first out, and each freed when the last session using it ends."""
    from resnet_viz.imaging.store import DEFAULT_MAX_MB, CaptureStore

    return CaptureStore(int(_env_number("RESNET_VIZ_CAPTURE_MB", DEFAULT_MAX_MB) * 2**20))


_OWNER_KEY = "rv_store_owner"
_owner_ids = itertools.count(1)


class _SessionOwner:
    """Lives in one session's state. Streamlit drops a session's state when the session ends (its websocket
    closed and ``server.disconnectedSessionTTL`` passed, or the server closed it); the owner is then collected
    and :func:`capture_store` releases what only this session used. No Streamlit internals: a weak reference."""

    def __init__(self) -> None:
        self.id = next(_owner_ids)
        weakref.finalize(self, capture_store().release, self.id)


def session_owner() -> int:
    """This session's owner id in :func:`capture_store`."""
    return session_slot(_OWNER_KEY, _SessionOwner).id


def cached_capture(key: CaptureKey, device_name: str, _model, _tensor):
    """One forward pass per (weights, image, preprocessing, device), kept in :func:`capture_store`; display
    changes never rerun it. Sessions asking for the same model at about the same time share one batched forward
    (:func:`batcher`). The capture is shared: read-only arrays, the same object for every session."""

    def make():
        # batched with other images of the same weights on the same device (the batcher adds the model and size)
        return batcher().submit((key.source.key, device_name), _model, torch.from_numpy(_tensor))

    return capture_store().get((_HASH_FUNCS[CaptureKey](key), device_name), session_owner(), make)


def _env_number(name: str, default: float) -> float:
    """A non-negative number from the environment; a bad value falls back to the default, never a traceback."""
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


@st.cache_resource
def batcher():
    """The process's one forward batcher (``imaging.batching``): the window is ``$RESNET_VIZ_BATCH_MS`` (5 ms),
    the largest batch ``$RESNET_VIZ_MAX_BATCH`` (8); each batch runs inside :func:`forward_gate`."""
    from resnet_viz import memory
    from resnet_viz.imaging import capture
    from resnet_viz.imaging.batching import DEFAULT_MAX_BATCH, DEFAULT_WINDOW_MS, ForwardBatcher

    window = _env_number("RESNET_VIZ_BATCH_MS", DEFAULT_WINDOW_MS)
    largest = max(1, int(_env_number("RESNET_VIZ_MAX_BATCH", DEFAULT_MAX_BATCH)))

    # (looked up on every call, so the page test can count the forwards whenever the batcher was made)
    def run_batch(model, images):
        try:
            return capture.capture_batch(model, images)
        finally:  # the batch's activations (tens of MB) go back to the system, not into a thread's arena
            memory.trim()

    return ForwardBatcher(
        run_batch,
        window_ms=window,
        max_batch=largest,
        gate=forward_gate,
    )


def capture_with_fallback(key: CaptureKey, model: torch.nn.Module, tensor):
    """:func:`cached_capture` on the model's device; on CUDA out-of-memory, again on the CPU (a shared
    source's CPU model, or this session's own checkpoint model moved to the CPU).

    Returns ``(capture, fell_back)``.
    """
    device_name = str(next(model.parameters()).device)
    try:
        return cached_capture(key, device_name, model, tensor), False
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        cpu_model = shared_model(key.source, "cpu") if key.source.shared else model.to("cpu")
        return cached_capture(key, "cpu", cpu_model, tensor), True


# --- why residual ---
# Owned by the "Why residual" page (app_pages/why_residual.py). Every experiment builds its own fresh models
# (resnet_viz.experiments), so nothing here touches a shared model; results are plain dataclasses, keyed by
# plain values and bounded.


@st.cache_data(max_entries=32, show_spinner=False)
def cached_gradient_flow(arch: str, input_size: int, batch_size: int, seed: int):
    """One backward pass at initialisation, plain vs residual (deterministic, so cached per settings)."""
    from resnet_viz.experiments import gradient_flow

    with forward_gate():
        return gradient_flow(arch, input_size=input_size, batch_size=batch_size, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_identity_at_init(arch: str, input_size: int, zero_init_residual: bool):
    """‖F(x)‖ of every block of a fresh ``arch`` on a batch of real images."""
    from resnet_viz.experiments import identity_at_init

    with forward_gate():
        return identity_at_init(arch, zero_init_residual=zero_init_residual, input_size=input_size)


@st.cache_resource
def training_slot() -> threading.BoundedSemaphore:
    """One live training run per server at a time: a class clicking "train" together would share 2 cores."""
    return threading.BoundedSemaphore(1)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_delete_block(folder: str, settings: dict, depth: int, name: str) -> dict:
    """Test errors of the shipped trained nets with block ``name`` deleted (fresh copies; nothing shared)."""
    from resnet_viz.experiments import TrainConfig, delete_block_experiment

    with forward_gate():
        return delete_block_experiment(folder, TrainConfig.from_dict(settings), depth, name)


def cached_grid_png(
    capture_key: CaptureKey,
    layer: str,
    mode: str,
    cmap: str,
    k: int | None,
    cols: int | None,
    min_width: int,
    _maps,
    _global_range=None,
) -> tuple[bytes, list[int]]:
    """One layer's channel grid as PNG bytes (upscaled with square pixels to at least ``min_width``) and the
    channel shown in each tile; keyed by the capture's key and the display choices. A new colormap only
    rewrites the palette of the grid already encoded for the same choices (see ``capture.recolor_png``)."""
    from resnet_viz.imaging.capture import recolor_png

    png, index = _cached_grid_indices(capture_key, layer, mode, k, cols, min_width, _maps, _global_range)
    return (png if cmap == "viridis" else recolor_png(png, cmap)), index


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_HASH_FUNCS)
def _cached_grid_indices(
    capture_key: CaptureKey,
    layer: str,
    mode: str,
    k: int | None,
    cols: int | None,
    min_width: int,
    _maps,
    _global_range=None,
) -> tuple[bytes, list[int]]:
    from resnet_viz.imaging.capture import grid_png

    return grid_png(
        _maps, mode=mode, cmap="viridis", k=k, global_range=_global_range, cols=cols, min_width=min_width
    )


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_layer_stats(capture_key: CaptureKey, layer: str, _maps):
    """Per channel mean, max and fraction of zeros of one captured layer ((C, 3) numpy), once per layer."""
    from resnet_viz.imaging.capture import layer_stats

    return layer_stats(_maps)


# --- look inside one value ---
# Owned by the inspector section of the Feature-maps page (app_pages/sections/inspector.py). A layer's record is
# one forward pass up to it, cached per (capture, layer), so picking another position runs no network at all;
# gradients (effective receptive field, Grad-CAM) are w.r.t. the input or a feature map only, never the weights.


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_record(capture_key: CaptureKey, layer: str, _model, _tensor):
    """The float32 record of ``layer`` for one capture (shared read-only: nothing ever writes into it)."""
    from resnet_viz.imaging.explain import record_layer

    with forward_gate():
        return record_layer(_model, torch.from_numpy(_tensor), layer)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_erf(capture_key: CaptureKey, layer: str, channel: int, row: int, col: int, _model, _tensor):
    """|∂y/∂input| of one activation ((H, W) numpy): one forward and one input-only backward pass."""
    from resnet_viz.imaging.explain import effective_rf

    with forward_gate():
        return effective_rf(_model, torch.from_numpy(_tensor), layer, channel, row, col)


@st.cache_resource(max_entries=4, show_spinner=False)
def randomized_model(
    arch: str, plain: bool, stride_in: str, num_classes: int, device_name: str
) -> torch.nn.Module:
    """The sanity check's network: ``arch`` freshly initialised under its own seed (not the "random weights"
    seed, so even random weights are compared with *other* random weights); shared, never changed."""
    from resnet_viz.imaging.explain import SANITY_SEED, randomized_like
    from resnet_viz.models import build_model

    model = randomized_like(
        lambda: build_model(arch, plain=plain, stride_in=stride_in, num_classes=num_classes), SANITY_SEED
    )
    return model.to(torch.device(device_name)).eval()


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_sanity_check(capture_key: CaptureKey, stage: str, _model, _random_model, _tensor):
    """Grad-CAM at ``stage`` for the top class, with the trained and the randomised weights, and their ρ."""
    from resnet_viz.imaging.explain import sanity_check

    with forward_gate():
        return sanity_check(_model, _random_model, torch.from_numpy(_tensor), stage)


# --- loss landscape ---
# Owned by app_pages/sections/landscape.py. A finished live slice is deterministic in (net, seed, points, batch,
# weights file), so it is kept once for every session; bounded, and guarded by a lock (sessions are threads).
_LANDSCAPE_KEEP = 16


@st.cache_resource
def _landscape_results() -> tuple[threading.Lock, dict]:
    return threading.Lock(), {}


def landscape_result(key: tuple) -> dict | None:
    lock, store = _landscape_results()
    with lock:
        return store.get(key)


def keep_landscape_result(key: tuple, result: dict) -> None:
    lock, store = _landscape_results()
    with lock:
        store[key] = result
        while len(store) > _LANDSCAPE_KEEP:
            store.pop(next(iter(store)))  # the oldest (dicts keep insertion order)
