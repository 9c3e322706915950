"""The lesson as slides (issue 23): every step draws its page's figure inline, in both languages, on the Lesson
page (normal and presenter mode) and in the phone's compact version the class UI calls. The 1280×720 fit is
checked in a real browser: tests/e2e/test_slides.py."""

from __future__ import annotations

import pytest

from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS
from resnet_viz.ui import slides

pytestmark = pytest.mark.slow


def _kinds(at) -> dict[str, int]:
    """How many of each figure element the page drew in its main area (the sidebar has an image: the QR code)."""
    return {kind: len(at.main.get(kind)) for kind in set(slides.ELEMENT_OF_FIGURE.values())}


def test_every_step_has_a_figure_drawn_as_one_element_kind() -> None:
    assert set(slides.FIGURE_OF_STEP) == {s.key for s in STEPS}
    assert set(slides.FIGURE_OF_STEP.values()) == set(slides.ELEMENT_OF_FIGURE)


@pytest.mark.parametrize(("lang", "present"), [("en", False), ("zh", True)])
def test_each_lesson_step_shows_its_figure_inline(lang: str, present: bool, app_test) -> None:
    t = translator(lang)
    query = {"lang": lang} | ({"present": "1"} if present else {})
    at = app_test(timeout=300, query=query)
    at.switch_page("app_pages/lesson.py").run()
    for n, step in enumerate(STEPS, start=1):
        assert not at.exception, [e.value for e in at.exception]
        assert at.subheader[0].value == t(
            "lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{step.key}_title")
        )
        kinds = _kinds(at)
        wanted = slides.ELEMENT_OF_FIGURE[slides.FIGURE_OF_STEP[step.key]]
        # its figure, and no other step's kind of figure
        assert kinds[wanted] >= 1 and all(v == 0 for k, v in kinds.items() if k != wanted), (step.key, kinds)
        if n < STEP_COUNT:
            at.button(key="lesson_next").click().run()
