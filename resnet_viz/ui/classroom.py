"""Class mode's screens: the teacher drives a room from a projector, students answer on their phones.

* **Who is who** lives in this session only: a :class:`Seat` (the room's code, the role and, for the teacher
  alone, the room's teacher secret). The secret never reaches an address, the screen or the page source; every
  teacher action presents it to the store, which refuses anything else (``classroom.error_not_teacher``).
  A student is an anonymous id per browser session (:func:`student_id`, a uuid4 in session state): no names.
* **The store** (:func:`room_store`) is opened once per server process and shared by its sessions
  (``st.cache_resource``); the room itself lives in the store, so a teacher and students on different replicas
  see one room.
* **Polling**: a fragment with ``run_every`` (:data:`STUDENT_POLL_S`, :data:`TEACHER_POLL_S`) reruns only the
  class panel. A student's compares one integer (:attr:`RoomState.version`) and reruns the whole page only when
  the teacher moved, revealed or reset; the teacher's redraws the joined and answered counts and the histogram.
* **Addresses**: ``/?room=K7QX2M`` on any page (:func:`class_route`) takes the session to the class page, where
  it joins as a student in the room's language; a seated session sees a one-tap "back to the class" on every
  other page.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, replace

import streamlit as st

from resnet_viz import lesson, links
from resnet_viz.classroom import RoomError, RoomState, RoomStore, display_code, open_store
from resnet_viz.classroom.histogram import (
    RIGHT,
    UNREADABLE,
    Bar,
    csv_rows,
    histogram,
    projected_bars,
    sendable_reply,
)
from resnet_viz.formatting import fmt_int
from resnet_viz.i18n import Translator
from resnet_viz.links import View
from resnet_viz.ui.address import CLASS_PAGE_PATH, set_page_param
from resnet_viz.ui.presenter import figure, presenting, show_error
from resnet_viz.ui.resolve import CLASS_ASK, link_gave, translator, view
from resnet_viz.ui.session import session_slot

#: Seconds between a student's checks of the room. A step change reaches a following phone after the wait for the
#: next check (0 … 1 s, uniform) plus one page rerun; each check is one store read. Measured from the store's
#: write to the phone (docs/classroom.md, "Running a class"): 10 phones, shared 2-core machine: p95 1.42 s and
#: 2.59 s in two runs; the issue's p95 ≤ 2 s is not shown (30 phones: docs/benchmarks.md, the classroom rows).
STUDENT_POLL_S = 1.0
#: Seconds between the presenter's redraws of the joined/answered counts and the histogram.
TEACHER_POLL_S = 1.0
#: The page's url path (app.py's st.Page) and its script.
PAGE_PATH = CLASS_PAGE_PATH
PAGE_SCRIPT = "app_pages/classroom.py"

SEAT_KEY = "rv_class_seat"  # this session's Seat
STUDENT_KEY = "rv_class_student"  # this browser session's anonymous id
ERROR_KEY = "rv_class_error"  # a RoomError to show once, in the class_error container
NOTICE_KEY = "rv_class_notice"  # an i18n key to show once (the class ended, the reply is unreadable)
SEEN_KEY = "rv_class_seen"  # the RoomState the last full page drew (the poll compares its version)
MINE_KEY = "rv_class_mine"  # {step: this student's canonical reply}, as the store accepted it
SHOWN_KEY = "rv_class_shown"  # the step whose question the form shows (the reply answers that step)
FOLLOW_KEY = "class_follow"
REPLY_KEY = "class_reply"


@dataclass(frozen=True)
class Seat:
    """This session's place in a room: ``role`` is "teacher" or "student"; ``secret`` is the teacher's only."""

    code: str
    role: str
    secret: str | None = None

    def __repr__(self) -> str:  # never print the secret (a log line, an exception's locals)
        return f"Seat(code={self.code!r}, role={self.role!r})"


@st.cache_resource(show_spinner=False)
def room_store() -> RoomStore:
    """The room store of this server process (``RESNET_VIZ_ROOMS``), shared by every session and thread."""
    return open_store()


def student_id() -> str:
    """This browser session's anonymous id: a random uuid4, made on first use and kept in session state only."""
    return session_slot(STUDENT_KEY, lambda: uuid.uuid4().hex)


def seat() -> Seat | None:
    """This session's seat, or None when it is in no room."""
    found = st.session_state.get(SEAT_KEY)
    return found if isinstance(found, Seat) else None


def _keep_error(err: RoomError) -> None:
    """Keep a refusal to show on the next draw: a copy without its traceback (whose frames would stay alive in
    session state)."""
    st.session_state[ERROR_KEY] = err.detached()


def _show_errors(t: Translator) -> None:
    """The kept refusal and notice, once, in the container the tests read (``class_error``)."""
    err = st.session_state.pop(ERROR_KEY, None)
    notice = st.session_state.pop(NOTICE_KEY, None)
    if err is None and notice is None:
        return
    with st.container(key="class_error"):
        if err is not None:
            show_error(err, t)
        if notice is not None:  # (key, {name: the i18n key of its value})
            key, args = notice
            st.warning(t(key, **{name: t(value) for name, value in args.items()}))


def _leave(code_key: str | None = None) -> None:
    """Forget this session's seat (the room ended or expired) and what it answered."""
    for key in (SEAT_KEY, SEEN_KEY, MINE_KEY, SHOWN_KEY):
        st.session_state.pop(key, None)
    if code_key:
        st.session_state[NOTICE_KEY] = (code_key, {})


# --------------------------------------------------------------------------------------------- addresses


def class_route(page_path: str) -> None:
    """app.py, after the navigation: an address that names a room (``/?room=K7QX2M`` on any page) goes to the
    class page, which joins it; on any other page a seated session gets a one-tap way back to its class."""
    if page_path == PAGE_PATH:
        return
    if st.session_state.get(CLASS_ASK):
        st.switch_page(PAGE_SCRIPT, query_params=st.query_params.to_dict())
    here = seat()
    if here is not None:
        t = translator()
        if st.button(t("classroom.return"), key="class_return", icon=":material/groups:", type="primary"):
            st.switch_page(PAGE_SCRIPT, query_params={"room": here.code})


def student_address(code: str) -> str:
    """The address a student opens or scans: the app's root with ``?room=``, built from the browser's address
    (``st.context.url`` has no query; behind a proxy it includes the base path)."""
    url = getattr(st.context, "url", None) or ""
    root = url[: -len(PAGE_PATH)] if url.endswith(PAGE_PATH) else url.rstrip("/") + "/"
    return f"{root}?room={code}"


def _take_ask(t: Translator) -> None:
    """Act on what the address asked (once): join the named room as a student; refuse ``role=teacher`` to a
    session without the room's secret (it is shown the student's view)."""
    ask = st.session_state.pop(CLASS_ASK, None)
    if not ask:
        return
    here = seat()
    if ask.get("bad_room"):
        _keep_error(RoomError("no_room", "not a room code"))
        return
    code = ask.get("room")
    if ask.get("role") == "teacher" and not (
        here and here.role == "teacher" and here.code == (code or here.code)
    ):
        _keep_error(RoomError("not_teacher", "role=teacher without the room's secret"))
    if code is None or (here is not None and here.code == code):
        return
    try:
        state = room_store().join(code, student_id())
    except RoomError as err:
        _keep_error(err)
        return
    _leave()
    st.session_state[SEAT_KEY] = Seat(code, "student")
    if state.lang != view().lang and not link_gave("lang"):
        # The room's language on landing: through the address, which the sidebar reads before it draws its
        # language widget (a widget's value cannot be set after it was drawn in this run).
        st.query_params.from_dict({**st.query_params.to_dict(), "lang": state.lang, "room": code})
        st.rerun()


# --------------------------------------------------------------------------------------------- the page


def class_page() -> None:
    """The class page: the teacher's panel, a student's, or (in no room) "start a class" and "join"."""
    t = translator()
    _take_ask(t)
    here = seat()
    if here is not None:
        try:
            state = room_store().state(here.code)
        except RoomError as err:
            _keep_error(err)
            if (
                err.code == UNAVAILABLE
            ):  # the store failed, the room did not: keep the seat, say so, try again
                _show_errors(t)
                _retry_soon(here.code)
                return
            _leave()
            here = state = None
    st.html(f"<style>{CLASS_CSS}</style>")
    if here is None:
        _lobby(t)
        return
    if view().page_param("room") != here.code:
        set_page_param("room", here.code)
    if here.role == "teacher":
        _teacher_panel(here, state, t)
    else:
        _student_panel(here, state, t)


#: How much the teacher's slide figure is scaled: ``ui.slides`` fits a figure to the Lesson page's box (700 × 620
#: px beside the text); here the step's title and buttons sit above it and the question below, in 720 px.
TEACHER_SLIDE_ZOOM = 0.76
#: The height (px) the teacher's slide figure may take: 720 less the title row, a two-line question and the margins;
#: a figure still taller scrolls inside this box, never the projector's page.
TEACHER_SLIDE_PX = 480
#: The height (px) of the teacher's worked answer after Reveal (in the QR code's place): the longest workings
#: (steps 10–12) take more lines than the right column has under the code, the counts, the chart and
#: Reset/End/CSV; the rest scrolls inside this box, never the projector's page.
TEACHER_WORKED_PX = 200
#: The class page's own style: a large room code, a phone-sized answer box and button, and no spare space under
#: the page (the projector's 720 px hold the whole slide).
CLASS_CSS = (
    """
[data-testid="stMain"] .block-container { padding-bottom: 1rem !important; }
[data-testid="stHeader"] { background: transparent; }
[data-testid="stHeader"], [data-testid="stHeader"] * { pointer-events: none !important; }
[data-testid="stHeader"] button, [data-testid="stHeader"] a { pointer-events: auto !important; }
.st-key-class_step { padding-left: 1.6rem; }
.st-key-class_code p { font-size: 3rem; font-weight: 700; letter-spacing: 0.06em; line-height: 1.1; margin: 0;
  white-space: nowrap; }
.st-key-class_reply input { font-size: 1.4rem; min-height: 3rem; }
.st-key-class_reply label p { font-size: 1.2rem; }
.st-key-class_submit button { font-size: 1.25rem; min-height: 3rem; width: 100%; }
.st-key-class_qr [data-testid="stCode"] code { font-size: 0.8rem; }
.st-key-class_bars [data-testid="stText"] { font-size: 0.8rem; }
.st-key-class_figure [data-testid="stImageCaption"], .st-key-class_figure [data-testid="stImageCaption"] * {
  font-size: 0.62rem; overflow-wrap: normal; word-break: normal; hyphens: none; }
"""
    + f".st-key-class_slide {{ zoom: {TEACHER_SLIDE_ZOOM}; }}\n"
)


#: A RoomError's code for a store that failed (not the room): the seat is kept and the page tries again.
UNAVAILABLE = "unavailable"
#: The container of a store failure a live part (the presenter's redraw, a phone's check) meets between pages.
LIVE_ERROR_KEY = "class_error_live"


@st.fragment(run_every=STUDENT_POLL_S)
def _retry_soon(code: str) -> None:
    """After the store failed: check again every second, and redraw the page once it answers."""
    try:
        room_store().state(code)
    except RoomError:
        return
    st.rerun(scope="app")


def _lobby(t: Translator) -> None:
    """No room yet: start one (the teacher) or type a code (a student without the QR)."""
    _show_errors(t)
    st.title(t("classroom.title"))
    st.markdown(t("classroom.intro"))
    st.button(
        t("classroom.start"), key="class_start", on_click=_start, type="primary", icon=":material/co_present:"
    )
    with st.form("class_join_form", border=True):
        st.text_input(t("classroom.join_code"), key="class_join_code", max_chars=12, placeholder="K7Q-X2M")
        st.form_submit_button(t("classroom.join"), key="class_join", on_click=_join_typed)
    st.caption(anonymous_text(t))


def anonymous_text(t: Translator) -> str:
    """What the class store keeps about a student, and when it is deleted, with the numbers from the store."""
    from resnet_viz import settings
    from resnet_viz.classroom import MAX_REPLY_CHARS
    from resnet_viz.classroom.sqlite_store import EXPIRE_EVERY_S

    return t(
        "classroom.anonymous", chars=fmt_int(MAX_REPLY_CHARS), idle_min=f"{settings.current().room_idle_min:g}",
        sweep_min=f"{EXPIRE_EVERY_S / 60:g}",
    )  # fmt: skip


def _start() -> None:
    """``class_start``: a new room in the page's language; this session becomes its teacher, in presenter mode."""
    try:
        code, secret = room_store().create(view().lang)
    except RoomError as err:
        _keep_error(err)
        return
    _leave()
    st.session_state[SEAT_KEY] = Seat(code, "teacher", secret)
    from resnet_viz.ui.resolve import PRESENT_KEY

    st.session_state[PRESENT_KEY] = True  # a callback runs before the sidebar draws its toggle


def _join_typed() -> None:
    from resnet_viz.classroom import normalize_code

    code = normalize_code(str(st.session_state.get("class_join_code") or ""))
    st.session_state[CLASS_ASK] = {"room": code, "role": None, "bad_room": code is None}


# --------------------------------------------------------------------------------------------- shared parts


def _step_view(step: lesson.Step, v: View) -> View:
    """The view a step is shown in during a class: the step's own network and block, whatever the sidebar says,
    so that every screen in the room shows (and every answer is checked against) the same network."""
    return replace(
        v, arch=step.net, input_size=links.start_size(step.net), stride_in=links.DEFAULT_STRIDE, plain=False,
        step=step.block,
    )  # fmt: skip


def _right(step: lesson.Step) -> lesson.Answer:
    return lesson.answer(step, step.net, links.start_size(step.net))


def shown_answer(step: lesson.Step, reply: str, t: Translator) -> str:
    """A canonical reply as the page shows it: a choice in the reader's language, numbers as typed canonically."""
    if step.kind == "choice" and reply in step.choices:
        return t(f"lesson.choice_{reply}")
    if step.kind == "int" and reply.isdigit():
        return fmt_int(int(reply))
    return reply


def _right_text(step: lesson.Step, right: lesson.Answer, t: Translator) -> str:
    return lesson.answer_text(step, right.value, t)


def _step_figure(step: lesson.Step, v: View, t: Translator, *, compact: bool) -> None:
    """The step's figure, as the Lesson page draws it (``ui.slides.step_figure``)."""
    from resnet_viz.ui import slides

    slides.step_figure(step, v, t, compact=compact)


#: Workings whose lesson text speaks of the sidebar: in class the answer uses the step's own network at its own
#: size (:func:`_step_view`), so the class shows its own wording.
CLASS_WORKING = {"input_working": "classroom.input_working"}


def worked_answer(
    step: lesson.Step, right: lesson.Answer, t: Translator, *, lead: str = "", given: str | None = None
) -> str:
    """ "The answer is …" and its working, as one paragraph in ``t``'s language: ``lead`` (e.g. "Right.") first,
    and, when the student's ``given`` reply is the step's known slip, its reason before the working. Sentences are
    joined by ``classroom.then`` (a space in English, nothing in Chinese)."""
    args = lesson.text_args(step, right, t, current=step.net)
    key = CLASS_WORKING.get(right.working_key, f"lesson.{right.working_key}")
    slip = t(f"lesson.{right.slip_key}", **args) if given and lesson.slipped(step, given, right) else ""
    parts = [lead, t("classroom.answer_is", answer=_right_text(step, right, t)), slip, t(key, **args)]
    text = ""
    for part in filter(None, parts):
        text = t("classroom.then", first=text, second=part) if text else part
    return text


def _step_header(state: RoomState, step: lesson.Step, t: Translator) -> None:
    with st.container(key="class_step"):
        title = t(f"lesson.{step.key}_title")
        st.markdown(f"**{t('classroom.step', n=state.step, total=lesson.STEP_COUNT, title=title)}**")


def _collapse_sidebar() -> None:
    """The projector shows the slide, not the sidebar: a page config sent in a later run changes the sidebar's
    state in Streamlit 1.67 (the frontend re-applies ``initial_sidebar_state`` when it changes), unless this
    browser's reader already chose one by hand (kept in its localStorage), which wins."""
    st.set_page_config(initial_sidebar_state="collapsed")


# --------------------------------------------------------------------------------------------- teacher


def _teacher_action(action: str) -> None:
    """A teacher button's callback: the store checks the secret this session holds (a student's has none)."""
    here = seat()
    try:
        store = room_store()
        if here is None:
            raise RoomError("no_room", "not in a room")
        secret = here.secret or ""  # no secret: the store refuses, as it refuses a wrong one
        if action == "end":
            store.end(here.code, secret)
            _leave("classroom.ended")
            return
        state = store.state(here.code)
        if action == "back":
            store.set_step(here.code, secret, state.step - 1)
        elif action == "next":
            store.set_step(here.code, secret, state.step + 1)
        elif action == "reveal":
            store.reveal(here.code, secret)
        elif action == "reset":
            store.reset(here.code, secret)
    except RoomError as err:
        _keep_error(err)


def _teacher_panel(here: Seat, state: RoomState, t: Translator) -> None:
    """The projector (1280×720, sidebar collapsed): the slide on the left (figure, question, Back/Next/Reveal);
    on the right the room code, the QR code (before the reveal; after it, the worked answer in its place), the
    live counts and histogram, and Reset/End."""
    v = view()
    step = lesson.STEPS[state.step - 1]
    right = _right(step)
    args = lesson.text_args(step, right, t, current=step.net)
    st.session_state[SEEN_KEY] = state  # what this full page drew (the live part reruns the page if it moves)
    _collapse_sidebar()
    _show_errors(t)
    main, side = st.columns([3, 2], gap="medium")
    first, last = state.step <= 1, state.step >= lesson.STEP_COUNT
    with main:
        title, *controls = st.columns([2.1, 1, 1, 1.25], vertical_alignment="center")
        with title:
            _step_header(state, step, t)
        _buttons(
            ("back", t("lesson.back"), ":material/arrow_back:", first),
            ("next", t("lesson.next"), ":material/arrow_forward:", last),
            ("reveal", t("classroom.reveal"), ":material/visibility:", state.revealed),
            columns=controls,
        )  # fmt: skip
        with st.container(key="class_slide", height=TEACHER_SLIDE_PX, border=False):
            _step_figure(step, _step_view(step, v), t, compact=False)
        st.markdown("**" + t(f"lesson.{step.key}_question", **args) + "**")
    with side:
        with st.container(key="class_code"):
            st.markdown(display_code(here.code))
        address = student_address(here.code)
        with st.container(key="class_qr"):
            if state.revealed:  # the room has joined by now: the worked answer takes the QR code's place
                st.caption(address)
            else:
                image, text = st.columns([1.1, 1], vertical_alignment="center")
                image.image(links.qr_png(address), width=230 if presenting() else 180)
                text.code(address, language=None, wrap_lines=True)
                text.caption(t("classroom.scan"))
        if state.revealed:  # a long working scrolls inside its box, never the projector's page
            with st.container(key="class_worked", height=TEACHER_WORKED_PX, border=False):
                st.success(worked_answer(step, right, t), icon=":material/check_circle:")
        _teacher_live(here.code)


def _buttons(*specs: tuple[str, str, str, bool], columns: list | None = None) -> None:
    """A row of teacher buttons ``class_<action>``, each calling :func:`_teacher_action` (in ``columns`` if
    given, else in a row of their own)."""
    for col, (action, label, icon, disabled) in zip(columns or st.columns(len(specs)), specs):
        col.button(
            label, key=f"class_{action}", on_click=_teacher_action, args=(action,), icon=icon, disabled=disabled,
            width="stretch",
        )  # fmt: skip


@st.fragment(run_every=TEACHER_POLL_S)
def _teacher_live(code: str) -> None:
    """The presenter's live part: joined, answered / joined, the histogram, its plain list, the reasons, the CSV."""
    t = translator()
    here = seat()
    if here is None or here.code != code:
        st.rerun(scope="app")  # the class ended (End is drawn in here): the page without it
    try:
        store = room_store()
        state = store.state(code)
        tally = store.tally(code, state.step)
    except RoomError as err:
        if err.code == UNAVAILABLE:  # a store that failed for a moment: say so here, keep the room
            with st.container(key=LIVE_ERROR_KEY):  # not class_error: the page may have drawn that this run
                show_error(err, t)
            return
        _keep_error(err)
        _leave()
        st.rerun(scope="app")
    seen = st.session_state.get(SEEN_KEY)
    if seen is not None and seen.version != state.version:
        st.rerun(
            scope="app"
        )  # a teacher action (Reset here, or another tab of this teacher): redraw the slide
    st.session_state[SEEN_KEY] = state
    step = lesson.STEPS[state.step - 1]
    right = _right(step)
    joined, answered = st.columns(2)
    with joined, st.container(key="class_joined"):
        st.markdown(t("classroom.joined", n=fmt_int(state.students)))
    with answered, st.container(key="class_answered"):
        st.markdown(t("classroom.answered", n=fmt_int(state.answered), total=fmt_int(state.students)))
    hist = histogram(tally, right)
    # Before the reveal the projector must not give the answer away: no mark, no empty right bar, no reasons,
    # and the bars by count (the right one is not first because it is right).
    shown = projected_bars(hist, revealed=state.revealed)
    chart_col, bars_col = st.columns([2, 1], vertical_alignment="center")
    with chart_col, st.container(key="class_histogram"):
        if hist.total:
            chart = _histogram(shown, step, t, mark=state.revealed)
            figure(chart, key=f"class_chart_{state.step}", config={"displayModeBar": False})
        else:
            st.caption(t("classroom.no_answers"))
    with (
        bars_col,
        st.container(key="class_bars"),
    ):  # the chart's numbers as text: "<answer>: <count>", one per bar, in the chart's order
        for bar in (b for b in shown if b.count > 0):
            st.text(t("classroom.bar", answer=_bar_label(bar, step, t), count=fmt_int(bar.count)))
    if state.revealed:
        args = lesson.text_args(step, right, t, current=step.net)
        for bar in (b for b in shown if b.reason_key):
            st.caption(
                t("classroom.reason", answer=_bar_label(bar, step, t), reason=t(bar.reason_key, **args))
            )
    # Reset and End live here, beside the CSV (drawn fresh with every check): a click reruns this part, which
    # then sees the room's new version and redraws the page.
    reset, end, download = st.columns(3)
    for col, action, icon in ((reset, "reset", ":material/restart_alt:"), (end, "end", ":material/logout:")):
        col.button(t(f"classroom.{action}"), key=f"class_{action}", on_click=_teacher_action, args=(action,),
                   icon=icon, width="stretch")  # fmt: skip
    try:  # only the teacher's secret exports (a forged seat is refused here too, with the message)
        results = results_csv(store.export(code, here.secret or ""), t)
    except RoomError:  # a forged seat: its actions are refused (and say so); it has no CSV either
        return
    download.download_button(
        t("classroom.csv"), data=results, file_name=f"class-{code}.csv",
        mime="text/csv", key="class_csv", icon=":material/download:", on_click="ignore", width="stretch",
    )  # fmt: skip


def _bar_label(bar: Bar, step: lesson.Step, t: Translator) -> str:
    """A bar's answer as the room reads it: a choice in the page's language, the unreadable replies named so."""
    return t("classroom.unreadable") if bar.verdict == UNREADABLE else shown_answer(step, bar.reply, t)


#: The presenter's chart: its height (px), and how many bars it draws (the most given; the plain list beside it,
#: ``class_bars``, has every one). One bar per answer is a row, its label written across, never rotated or cut.
CHART_PX = 190
CHART_BARS = 6


def _histogram(bars: list[Bar], step: lesson.Step, t: Translator, *, mark: bool):  # noqa: ANN202 - a Figure
    """One horizontal bar per distinct answer, in ``bars``' order from the top, the answers as row labels (long
    ones, "✓ (28, 28, 128)（正确）", stay on one line; a rotated column label would be cut). No title: the
    counts' axis says what the lengths are. After the reveal (``mark``) the right one carries "✓ … (right)" in
    its label and a hatch pattern, so that it never depends on colour."""
    import plotly.graph_objects as go

    labels, counts, patterns = [], [], []
    for bar in bars[:CHART_BARS]:
        label = _bar_label(bar, step, t)
        right = mark and bar.verdict == RIGHT
        labels.append(t("classroom.right_mark", answer=label) if right else label)
        counts.append(bar.count)
        patterns.append("/" if right else "")
    fig = go.Figure(
        go.Bar(
            y=labels, x=counts, orientation="h", text=[fmt_int(n) for n in counts], textposition="auto",
            marker_pattern_shape=patterns,
        )
    )  # fmt: skip
    fig.update_layout(
        height=CHART_PX, margin=dict(l=10, r=10, t=6, b=10), xaxis_title=t("classroom.chart_count"),
        showlegend=False,
    )  # fmt: skip
    fig.update_xaxes(rangemode="tozero", dtick=1 if max(counts, default=0) <= 10 else None)
    fig.update_yaxes(type="category", autorange="reversed", automargin=True)
    return fig


def results_csv(tallies: list, t: Translator) -> str:
    """The room's results as CSV: step, question, answer, count; no student ids (the store's tallies hold none).
    The question is the step's question in the teacher's language; a choice answer is the words the teacher's
    screen shows (``lesson.choice_dashed`` → "dashed"), any other answer its canonical form (``(28, 28, 128)``,
    ``1000``, ``0.5``, or the text as typed when the lesson cannot read it), cells a spreadsheet would run as a
    formula quoted (``histogram.csv_rows``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["step", "question", "answer", "count"])
    for step_no, question_key, reply, count in csv_rows(tallies):
        step = lesson.STEPS[int(step_no) - 1]
        args = lesson.text_args(step, _right(step), t, current=step.net)
        question = t(str(question_key), **args).replace("**", "").replace("`", "")
        shown = t(f"lesson.choice_{reply}") if step.kind == "choice" and reply in step.choices else reply
        writer.writerow([step_no, question, shown, count])
    return out.getvalue()


# --------------------------------------------------------------------------------------------- student


def _submit() -> None:
    """``class_submit``'s callback (it runs before the page redraws, so a reply sent just before the teacher
    revealed is refused by the store, not lost): the reply in its canonical form, for the step the form showed."""
    here = seat()
    n = st.session_state.get(SHOWN_KEY)
    if here is None or n is None:
        _keep_error(RoomError("no_room", "not in a room"))
        return
    step = lesson.STEPS[int(n) - 1]
    reply = sendable_reply(step, str(st.session_state.get(REPLY_KEY) or ""))
    if reply is None:  # the lesson cannot read it, or its reading does not fit the store: nothing is sent
        st.session_state[NOTICE_KEY] = ("lesson.unreadable", {"format": f"lesson.format_{step.kind}"})
        return
    try:
        room_store().answer(here.code, student_id(), int(n), reply)
    except RoomError as err:
        _keep_error(err)
        if err.code == "bad_step" and not st.session_state.get(FOLLOW_KEY, True):
            # Only a phone that is not following stays on the old step, with "Go there" beside it.
            st.session_state[NOTICE_KEY] = ("classroom.bad_step_hint", {})
        return
    st.session_state.setdefault(MINE_KEY, {})[int(n)] = reply


def _student_panel(here: Seat, state: RoomState, t: Translator) -> None:
    v = view()
    ss = st.session_state
    seen = ss.get(SEEN_KEY)
    mine: dict[int, str] = ss.setdefault(MINE_KEY, {})
    if seen is not None and seen.step == state.step and state.version != seen.version and not state.revealed:
        mine.pop(
            state.step, None
        )  # the teacher reset this step's answers (our buttons never re-set one step)
    if seen is None or seen.step != state.step:
        ss.pop(REPLY_KEY, None)  # a new question: an empty box (a radio's options change with the step)
    follow = ss.get(FOLLOW_KEY, True)
    if not follow and seen is not None and seen.step != state.step:
        state = seen  # not following: stay on the step shown until the student catches up
    ss[SEEN_KEY] = state
    ss[SHOWN_KEY] = state.step
    step = lesson.STEPS[state.step - 1]
    right = _right(step)
    args = lesson.text_args(step, right, t, current=step.net)
    _show_errors(t)
    _step_header(state, step, t)
    # The figure's place, filled last: a phone fetches each kind of element's script when it first draws one, in
    # the order the elements arrive, and a chart's is 4.7 MB. Sent after the answer form and the follow toggle,
    # the figure no longer queues their small scripts behind its own on a busy server (docs/classroom.md,
    # "Thirty phones on one server").
    figure_box = st.container(key="class_figure")
    st.markdown("**" + t(f"lesson.{step.key}_question", **args) + "**")
    if not state.revealed:
        with st.form("class_form", border=False):
            if step.kind == "choice":
                st.radio(t("lesson.your_answer"), step.choices, index=None, key=REPLY_KEY,
                         format_func=lambda c: t(f"lesson.choice_{c}"))  # fmt: skip
            else:
                st.text_input(t("lesson.your_answer"), key=REPLY_KEY, max_chars=40,
                              placeholder=t(f"lesson.format_{step.kind}"))  # fmt: skip
            st.form_submit_button(t("classroom.submit"), key="class_submit", on_click=_submit, type="primary",
                                  width="stretch")  # fmt: skip
    with st.container(key="class_feedback"):
        given = mine.get(state.step)
        if given is not None:
            st.markdown(t("classroom.your_answer", answer=shown_answer(step, given, t)))
        if state.revealed:
            if given is None:
                st.info(worked_answer(step, right, t))
            elif lesson.check(step, given, right):
                st.success(
                    worked_answer(step, right, t, lead=t("lesson.right")), icon=":material/check_circle:"
                )
            else:
                st.error(worked_answer(step, right, t, given=given), icon=":material/cancel:")
        elif given is not None:
            st.caption(t("classroom.change_hint"))
    ss.setdefault(
        FOLLOW_KEY, True
    )  # on by default (set here, not by value=, which would warn beside the state)
    st.toggle(t("classroom.follow"), key=FOLLOW_KEY, help=t("classroom.follow_help"))
    with figure_box:
        _step_figure(step, _step_view(step, v), t, compact=True)
    _student_poll(here.code)


@st.fragment(run_every=STUDENT_POLL_S)
def _student_poll(code: str) -> None:
    """The cheap periodic check: one store read; the whole page reruns only when the teacher acted."""
    here = seat()
    if here is None or here.code != code:
        return
    try:
        state = room_store().state(code)
    except RoomError as err:  # ended or expired: say so once, and stop polling (no seat, no fragment)
        if err.code == UNAVAILABLE:  # the store failed for a moment: say so, keep the seat, check again
            with st.container(key=LIVE_ERROR_KEY):  # not class_error: the page may have drawn that this run
                show_error(err, translator())
            return
        _keep_error(err)
        _leave()
        st.rerun(scope="app")
    seen = st.session_state.get(SEEN_KEY)
    if seen is None or seen.version == state.version:
        return
    follow = st.session_state.get(FOLLOW_KEY, True)
    if follow or seen.step == state.step:
        st.rerun(scope="app")
    t = translator()
    st.info(t("classroom.teacher_moved", n=state.step, total=lesson.STEP_COUNT))
    st.button(t("classroom.catch_up"), key="class_catch_up", on_click=_catch_up)


def _catch_up() -> None:
    st.session_state[FOLLOW_KEY] = True
