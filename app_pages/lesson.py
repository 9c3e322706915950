"""Lesson: the notes' story in steps. Each step sets the view (network, selected block), shows the real page's
figure for it inline (resnet_viz.ui.slides), links to that page, and asks a question whose answer resnet_viz.lesson
works out from the trace. In presenter mode every step is one 1280×720 slide. Widgets only."""

import streamlit as st

from resnet_viz import lesson, ui
from resnet_viz.ui import slides

t = ui.translator()
s = ui.view()
ss = st.session_state
STEP_KEY = "rv_lesson_step"
PAGES = {"architecture", "shortcuts", "feature_maps", "parameters", "why_residual", "ladder"}

# First visit: the step from the address (or 1) and, unless the address set one, that step's view.
if STEP_KEY not in ss:
    ss[STEP_KEY] = int(s.page_param("step") or 1)
    first = lesson.STEPS[min(max(int(ss[STEP_KEY]), 1), lesson.STEP_COUNT) - 1]
    if not (ui.link_gave("net") or ui.link_gave("block")):
        ui.request_view(net=first.net, block=first.block)
n = min(max(int(ss[STEP_KEY]), 1), lesson.STEP_COUNT)
step = lesson.STEPS[n - 1]
s = ui.set_page_param("step", n)  # the view with this step in it


def go(to: int) -> None:
    """Next/Back: the new step's view (network, its own input size, selected block), before the sidebar draws."""
    target = lesson.STEPS[to - 1]
    ss[STEP_KEY] = to
    ui.set_view(net=target.net, block=target.block)


right = lesson.answer(step, s.arch, s.input_size)
args = lesson.text_args(step, right, t, current=s.arch)

presenting = ui.presenting()
if presenting:  # a slide: the step's heading is its title, and nothing above it takes the projector's height
    st.html(f"<style>{slides.PRESENTER_LESSON_CSS}</style>")
else:
    st.title(t("lesson.title"))
    st.caption(t("lesson.intro"))
    st.html(f"<style>{slides.LESSON_CSS}</style>")
    st.progress(n / lesson.STEP_COUNT)  # a slide's heading says "Step n of 14": no room for a bar too
heading = t("lesson.step_of", n=n, total=lesson.STEP_COUNT, title=t(f"lesson.{step.key}_title"))

# A slide: the figure left at the screen's full height, the heading, text and question right (one 1280×720
# screen, tests/e2e/test_slides_browser.py); elsewhere the heading, the figure, then the text and the question below it.
if presenting:
    figure_box, text_box = st.columns(slides.PRESENTER_COLUMNS, gap="medium")
else:
    st.subheader(heading)
    figure_box, text_box = st.container(), st.container()
with figure_box:
    slides.step_figure(step, s, t)
with text_box:
    if presenting:
        st.subheader(heading)
    st.markdown(t(f"lesson.{right.text_key}", **args))
    assert step.page in PAGES
    with st.container(key="lesson_open_page"):  # smaller than the text (LESSON_CSS): the slide is the figure
        st.page_link(
            f"app_pages/{step.page}.py", label=t("lesson.open_page", page=t(f"nav.{step.page}")),
            icon=":material/open_in_new:", query_params=s.query(step=None, rung=step.rung or None),
        )  # fmt: skip
    question = t(f"lesson.{step.key}_question", **args)
    st.markdown("**" + question + "**")
    with st.form(key=f"lesson_form_{step.key}", border=not presenting):
        # On a slide the question above is the input's label; a second "Your answer" line would take a row.
        label = {
            "label": t("lesson.your_answer"),
            "label_visibility": "collapsed" if presenting else "visible",
        }
        if step.kind == "choice":
            reply = st.radio(**label, options=step.choices, index=None, key=f"lesson_reply_{step.key}",
                             format_func=lambda c: t(f"lesson.choice_{c}"), horizontal=presenting)  # fmt: skip
        else:
            reply = st.text_input(**label, key=f"lesson_reply_{step.key}", max_chars=40)
        checked = st.form_submit_button(t("lesson.check"))
    if checked:
        verdict = lesson.check(step, reply or "", right)
        working = t(f"lesson.{right.working_key}", **args)
        if verdict is None:
            st.warning(t("lesson.unreadable", format=t(f"lesson.format_{step.kind}")))
        elif verdict:
            st.success(t("lesson.right") + " " + working, icon=":material/check_circle:")
        else:
            slip = (
                t(f"lesson.{right.slip_key}", **args) + " "
                if lesson.slipped(step, reply or "", right)
                else ""
            )
            st.error(
                t("lesson.wrong", answer=lesson.answer_text(step, right.value, t)) + " " + slip + working,
                icon=":material/cancel:",
            )
    if (
        right.missing
    ):  # the sidebar's network lacks what the question asks about: say which network it is about
        st.caption(t("lesson.about_other", **args | {"missing": t(f"lesson.missing_{right.missing}")}))
    elif not presenting:
        about = {
            "network": "lesson.about",
            "network_only": "lesson.about_network",
            "size": "lesson.about_size",
            "fixed": "lesson.about_fixed",
        }[right.scope]
        st.caption(t(about, **args))

    back, forward = st.columns(2)
    back.button(t("lesson.back"), disabled=n <= 1, on_click=go, args=(n - 1,), icon=":material/arrow_back:",
                width="stretch", key="lesson_back")  # fmt: skip
    forward.button(t("lesson.next"), disabled=n >= lesson.STEP_COUNT, on_click=go, args=(n + 1,),
                   icon=":material/arrow_forward:", width="stretch", key="lesson_next")  # fmt: skip
