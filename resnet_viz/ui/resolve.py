"""The one typed view of a rerun, and the shared sidebar that chooses it.

:func:`sidebar` (app.py calls it before the page) resolves the :class:`~resnet_viz.links.View` once per rerun, in
this order: the address (when it changed since this session last read or wrote it), then the sidebar's widgets;
``ui.address.sync_address`` then writes it back to the address. :func:`resnet_viz.links.parse` is the only
validator (of the address and of the widgets' values alike) and :mod:`resnet_viz.links` holds the only defaults.
Pages read the result with :func:`view`; nothing rebuilds it from session state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import streamlit as st

from resnet_viz import links
from resnet_viz.architecture.catalogue import ARCHS, CATALOGUE, get_spec
from resnet_viz.architecture.trace import Trace, trace
from resnet_viz.classroom import CODE_LENGTH, display_code
from resnet_viz.formatting import fmt_code
from resnet_viz.i18n import LANGUAGES, Translator, browser_language
from resnet_viz.i18n import arch_title as _arch_title
from resnet_viz.i18n import translator as _translator
from resnet_viz.links import View
from resnet_viz.ui.process import _process_setup, device_name

#: The sidebar's widgets, by the address parameter each one sets (their session-state keys are fixed, so the
#: choices persist across pages).
WIDGET_KEYS = {
    "lang": "rv_lang",
    "net": "rv_arch",
    "size": "rv_input_size",
    "stride": "rv_stride_in",
    "plain": "rv_plain",
    "present": "rv_present",
}
BLOCK_KEY = "rv_block"  # the one selected step
PRESENT_KEY = WIDGET_KEYS["present"]
VIEW_KEY = "rv_view"  # the View resolved this rerun
LINK_SEEN = "rv_link_seen"  # the query parameters last read from or written to the address
PAGE_PARAMS = "rv_link_page"  # {"page": url path or None, "values": {sample/step: value}}
_LINK_DEFAULTS = "rv_link_defaults"  # address values for widgets not drawn yet (a fresh session)
_LINK_PROBLEMS = "rv_link_problems"  # what was wrong with the address, shown once
_LINK_GIVEN = "rv_link_given"  # which parameters the address that opened this page set
_MOVED = "rv_block_moved"
_PENDING_VIEW = "rv_pending_view"  # a view a page asked for, applied before the sidebar draws
#: What an address asked of class mode (``room``, ``role``), kept until the class page acts on it (ui.classroom):
#: {"room": code or None, "bad_room": a room value that is no code, "role": "teacher"/"student" or None}.
CLASS_ASK = "rv_class_ask"


def cached_trace(
    arch: str, input_size: int, plain: bool = False, stride_in: str = links.DEFAULT_STRIDE
) -> Trace:
    """The trace (itself memoised and immutable, so no Streamlit cache is needed on top)."""
    return trace(arch, input_size, plain=plain, stride_in=stride_in)


def trace_of(v: View) -> Trace:
    """The trace of a view's network at its input size (raises ``ValueError`` where the size is too small)."""
    return cached_trace(v.arch, v.input_size, v.plain, v.stride_in)


def steps_of(
    arch: str, input_size: int, stride_in: str = links.DEFAULT_STRIDE, plain: bool = False
) -> list[str]:
    """The selectable steps of a network (the same for every input size, so the network's own size is used where
    the given one is too small for the network)."""
    try:
        tr = cached_trace(arch, input_size, plain, stride_in)
    except ValueError:
        tr = cached_trace(arch, links.start_size(arch), plain, stride_in)
    return links.selectable_steps(tr)


def lesson_steps() -> int:
    from resnet_viz.lesson import STEP_COUNT

    return STEP_COUNT


def _valid(raw: Mapping[str, object]) -> dict[str, object]:
    """The valid ones of typed view values, checked by the one validator (:func:`resnet_viz.links.parse`).

    A widget can hand back an invalid value: a radio whose option labels change with the language can come back
    empty after a language switch; session state can hold what an older version wrote."""
    return dict(links.parse(links.encode(raw)).values)


def _chosen() -> dict[str, object]:
    """The sidebar's values: each widget's own, else (a fresh session) the address's, else the defaults."""
    ss = st.session_state
    given = ss.get(_LINK_DEFAULTS, {})
    values = _valid({p: ss[key] if key in ss else given.get(p) for p, key in WIDGET_KEYS.items()})
    net = str(values.get("net", links.DEFAULT_NET))
    return {
        "lang": values.get("lang") or browser_language(getattr(st.context, "locale", None)),
        "net": net,
        "size": values.get("size", links.start_size(net)),
        "stride": values.get("stride", links.DEFAULT_STRIDE),
        "plain": values.get("plain", False),
        "present": values.get("present", False),
    }


def _on_arch_change() -> None:
    st.session_state[WIDGET_KEYS["size"]] = links.start_size(st.session_state[WIDGET_KEYS["net"]])


def _read_address() -> None:
    """Take over the address's values when it changed since this session last read or wrote it."""
    ss = st.session_state
    query = st.query_params.to_dict()
    if query == ss.get(LINK_SEEN):
        return
    from resnet_viz.imaging.images import sample_images

    link = links.parse(query, samples=list(sample_images()), lesson_steps=lesson_steps(), steps_of=steps_of)
    values = dict(link.values)
    if "net" in values and "size" not in values and values["net"] != _chosen()["net"]:
        values["size"] = links.start_size(str(values["net"]))
    defaults = dict(ss.get(_LINK_DEFAULTS, {}))
    for param, key in WIDGET_KEYS.items():
        if param in values:
            if key in ss:  # a running session: the address wins over the widget's value
                ss[key] = values[param]
            else:  # a fresh session: the widget's starting value
                defaults[param] = values[param]
    if "block" in values:
        ss[BLOCK_KEY] = values["block"]
    ss[_LINK_DEFAULTS] = defaults
    ss[PAGE_PARAMS] = {"page": None, "values": {k: values[k] for k in links.PAGE_PARAMS if k in values}}
    ss[_LINK_PROBLEMS] = link.problems
    if "room" in query or "role" in query:
        ss[CLASS_ASK] = {
            "room": values.get("room"), "role": values.get("role"),
            "bad_room": any(p.param == "room" for p in link.problems),
        }  # fmt: skip
    ss[LINK_SEEN] = query
    ss[_LINK_GIVEN] = frozenset(values)


def link_gave(name: str) -> bool:
    """Whether the address that opened this page set ``name`` (e.g. "net", "block")."""
    return name in st.session_state.get(_LINK_GIVEN, frozenset())


def set_view(*, net: str | None = None, block: str | None = None) -> None:
    """Set the network (at its own input size) and the selected step; call from a widget's callback, which runs
    before the sidebar's widgets are drawn."""
    ss = st.session_state
    if net is not None and net != _chosen()["net"]:
        ss[WIDGET_KEYS["net"]] = net
        ss[WIDGET_KEYS["size"]] = links.start_size(net)
    if block is not None:
        ss[BLOCK_KEY] = block


def request_view(*, net: str | None = None, block: str | None = None) -> None:
    """Set the view from a page's body (after the sidebar drew): stored, then applied on an immediate rerun."""
    st.session_state[_PENDING_VIEW] = {"net": net, "block": block}
    st.rerun()


def sidebar() -> View:
    """Draw the shared sidebar (called from app.py, so it appears on every page) and resolve this rerun's view.

    Widget values live in ``st.session_state`` under fixed keys, so they persist across pages. Each widget gets its
    starting value through its own ``index=``/``value=`` argument, never by writing the key into session state
    before the widget exists: under load (30 browsers at once) Streamlit 1.67 sometimes let the widget's built-in
    default (the first option, ``min_value``) win over such a pre-set value (our load test saw 10 of 30 sessions
    jump to a 16-pixel input; Streamlit issue #4247).
    """
    _process_setup()
    _read_address()
    pending = st.session_state.pop(_PENDING_VIEW, None)
    if pending:
        set_view(**pending)
    start = _chosen()
    with st.sidebar:
        langs = list(LANGUAGES)
        st.radio(
            "Language / 语言", langs, index=langs.index(start["lang"]), key=WIDGET_KEYS["lang"],
            format_func=LANGUAGES.__getitem__, horizontal=True,
        )  # fmt: skip
        shown_lang = str(_chosen()["lang"])
        t = _translator(shown_lang)
        st.selectbox(
            t("common.network"), ARCHS, index=ARCHS.index(start["net"]), key=WIDGET_KEYS["net"],
            on_change=_on_arch_change, format_func=lambda a: _arch_title(t, a), help=t("common.network_help"),
        )  # fmt: skip
        st.number_input(
            t("common.input_size"), min_value=links.SIZE_MIN, max_value=links.SIZE_MAX, value=start["size"],
            step=1, key=WIDGET_KEYS["size"], help=t("common.input_size_help"),
        )  # fmt: skip
        bottleneck = get_spec(str(_chosen()["net"])).block == "bottleneck"
        st.radio(
            t("common.stride_in"), list(links.STRIDES), index=links.STRIDES.index(start["stride"]),
            key=WIDGET_KEYS["stride"], disabled=not bottleneck,
            format_func=lambda s: t("common.stride_v15") if s == "3x3" else t("common.stride_v1"),
            help=t("common.stride_in_help"),
        )  # fmt: skip
        st.toggle(
            t("common.plain"), value=start["plain"], key=WIDGET_KEYS["plain"], help=t("common.plain_help")
        )
        present = st.toggle(t("links.present"), value=start["present"], key=PRESENT_KEY, help=present_help(t))
        if not present:  # a developer caption (ui.presenter.dev_caption), drawn before the view exists
            st.caption(t("common.device", device=device_name(t)))
    v = _resolve(_chosen(), t)
    _show_link_problems(v, t)
    return v


def _resolve(chosen: Mapping[str, object], t: Translator) -> View:
    """The view of the sidebar's values, with the selected step kept one of the network's own (moved to the
    nearest one, with a notice, where it is not); stored for :func:`view`."""
    net = str(chosen["net"])
    bottleneck = get_spec(net).block == "bottleneck"
    stride = str(chosen["stride"]) if bottleneck else links.DEFAULT_STRIDE
    size, plain = int(chosen["size"]), bool(chosen["plain"])  # type: ignore[call-overload]
    ss = st.session_state
    steps = steps_of(net, size, stride, plain)
    step = ss.get(BLOCK_KEY)
    if step is None:
        ss[BLOCK_KEY] = step = links.default_step(steps)
    elif step not in steps:
        ss[BLOCK_KEY] = links.nearest_step(str(step), steps)
        ss[_MOVED] = (CATALOGUE[net].title, step, ss[BLOCK_KEY])
        step = ss[BLOCK_KEY]
    page = (ss.get(PAGE_PARAMS) or {}).get("values", {})
    v = View(
        lang=str(chosen["lang"]), arch=net, input_size=size, stride_in=stride, plain=plain, step=str(step),
        presenter=bool(chosen["present"]), page_params=tuple(page.items()),
    )  # fmt: skip
    store(v)
    return v


def store(v: View) -> None:
    """Make ``v`` this rerun's view (the address module calls this when a page parameter changes)."""
    st.session_state[VIEW_KEY] = v


def view() -> View:
    """The view resolved this rerun (by :func:`sidebar`). Before any sidebar ran in this session (a widget
    callback of a fresh session cannot be), the address and defaults without widgets."""
    v = st.session_state.get(VIEW_KEY)
    if isinstance(v, View):
        return v
    chosen = _chosen()
    return _resolve(chosen, _translator(str(chosen["lang"])))


def present_help(t: Callable[..., str]) -> str:
    """The presenter toggle's help, naming the screen presenter mode is laid out for."""
    # presenter imports this module, so this one imports presenter at call time.
    from resnet_viz.ui.presenter import PRESENTER_SCREEN_PX

    width, height = PRESENTER_SCREEN_PX
    return t("links.present_help", width=width, height=height)


def share_help(t: Callable[..., str]) -> str:
    """What a shared address carries, named from :data:`links.SHARED` (every page) and :data:`links.PAGE_PARAMS`
    (carried only on the page that reads them): together the parameters :func:`links.parse` reads."""
    sep = t("common.list_sep")
    carried = sep.join(t(f"links.param_{name}") for name in links.SHARED)
    page_only = {name: t(f"links.param_{name}") for name in links.PAGE_PARAMS}  # named one by one: "X and Y"
    return t("links.share_help", carried=carried, **page_only, inspector=t("inspector.tab"))


def _problem_text(p: links.Problem, v: View, t: Callable[..., str]) -> str:
    steps = steps_of(v.arch, links.start_size(v.arch))
    from resnet_viz.imaging.images import sample_images

    # What came from the address is echoed only as code spans nothing inside can end (formatting.fmt_code): a
    # backtick in a value must not turn the rest of it into a live link or a third-party image in the notice.
    sep = t("common.list_sep")  # 、 in zh
    args = {
        "param": fmt_code(p.param), "setting": fmt_code(f"{p.param}={p.value}"), "length": p.length,
        "max": links.MAX_VALUE_LEN,
        "known": sep.join(links.KNOWN), "choices": sep.join(ARCHS),
        "lo": links.SIZE_MIN, "hi": links.SIZE_MAX, "example": links.DEFAULT_STEP, "net": CATALOGUE[v.arch].title,
        "first": steps[0], "last": steps[-1], "n": lesson_steps(),
        "code_length": CODE_LENGTH, "code_example": display_code(links.EXAMPLE_ROOM),
    }  # fmt: skip
    if p.code == "bad_lang":
        args["choices"] = sep.join(LANGUAGES)
    elif p.code == "bad_stride":
        args["choices"] = sep.join(links.STRIDES)
    elif p.code == "bad_sample":
        args["choices"] = sep.join(sample_images())
    elif p.code == "bad_rung":
        from resnet_viz.architecture.ladder import RUNG_KEYS

        args["choices"] = sep.join(RUNG_KEYS)
    return t(f"links.{p.code}", **args)


def _show_link_problems(v: View, t: Callable[..., str]) -> None:
    """One notice listing what could not be used (once: the address is rewritten without it)."""
    problems = st.session_state.pop(_LINK_PROBLEMS, ())
    lines = [f"- {_problem_text(p, v, t)}" for p in problems]
    moved = st.session_state.pop(_MOVED, None)
    if lines:
        st.warning(t("links.notice") + "\n" + "\n".join(lines), icon=":material/link_off:")
    if moved:
        st.info(
            t("links.block_moved", net=moved[0], old=fmt_code(moved[1]), new=fmt_code(moved[2])),
            icon=":material/my_location:",
        )


def selected_step() -> str:
    """The selected step (a torchvision module name of the current network: conv1, layer3.1, fc …)."""
    return view().step


def select(name: str) -> None:
    """Select a step (call from a widget's callback, or before the widgets that show it)."""
    st.session_state[BLOCK_KEY] = name
    v = st.session_state.get(VIEW_KEY)
    if isinstance(v, View):
        store(replace(v, step=name))


def on_row_select(key: str, row_names: Sequence[str]) -> Callable[[], None]:
    """The ``on_select`` callback of a table whose rows are trace rows: selecting a row selects its step."""

    def callback() -> None:
        event = st.session_state.get(key)
        rows = list(event.selection.rows) if event is not None else []
        if rows and rows[0] < len(row_names):
            v = view()
            step = links.step_of(row_names[rows[0]], steps_of(v.arch, v.input_size, v.stride_in, v.plain))
            if step is not None:
                select(step)

    return callback


def presenting() -> bool:
    """Presenter mode: larger text, no help icons or developer captions, high-contrast colours."""
    return view().presenter


def translator() -> Translator:
    """The translator for this session's language: ``t = ui.translator(); t("shapes.title")``."""
    return _translator(view().lang)


def arch_title(arch: str, lang: str | None = None, *, plain: bool = False) -> str:
    """A network's title in the session's language (``common.title_<family>``, the depth filled in); with
    ``plain``, its plain network's (``common.title_plain_<family>``)."""
    return _arch_title(_translator(lang or view().lang), arch, plain=plain)
