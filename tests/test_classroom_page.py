"""The class page (issue 23) through AppTest: a teacher starts a room, students join by address, answer, change
their answer and are refused after the reveal; a student's session cannot drive the room; the CSV holds counts only.

The teacher and the students are separate AppTests of app.py run one after another (AppTests share one runtime,
so never at once); they share the server process's room store (``ui.classroom.room_store``, an
``st.cache_resource``), as sessions of one server do. Polling is not exercised here (AppTest does not run
``run_every``): a test reruns a session as its periodic check would. The real browser's version is
tests/e2e/test_class_mode_smoke.py.
"""

from __future__ import annotations

import csv
import io

import pytest
from apptest_helpers import assert_translated, page_texts

from resnet_viz import lesson
from resnet_viz.classroom import display_code
from resnet_viz.i18n import translator
from resnet_viz.ui.classroom import SEAT_KEY, Seat, results_csv, room_store, worked_answer

EN, ZH = translator("en"), translator("zh")
CLASS = "app_pages/classroom.py"

pytestmark = [pytest.mark.usefixtures("offline"), pytest.mark.slow]


@pytest.fixture(autouse=True, scope="module")
def rooms_in_a_temporary_folder(tmp_path_factory):
    """The default store (SQLite) in a folder of this test module's own, opened afresh for it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("RESNET_VIZ_ROOMS", "sqlite")
    patch.setenv("RESNET_VIZ_DATA_DIR", str(tmp_path_factory.mktemp("rooms")))
    room_store.clear()
    yield
    room_store.clear()
    patch.undo()


def _in(at, key: str) -> str:
    """The text inside the container with ``key`` (every string of every element in it)."""
    return "\n".join(_strings(_find(at, key)))


def _find(at, key: str):
    for node in _walk(at._tree):
        if getattr(node, "key", None) == key:
            return node
    raise AssertionError(f"no element with key {key!r}")


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _strings(node) -> list[str]:
    from apptest_helpers import _proto_strings

    out = []
    for n in _walk(node):
        proto = getattr(n, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            out += [s for s in _proto_strings(proto) if not s.startswith("$$ID-")]  # not the element ids
    return out


def _has(at, key: str) -> bool:
    return any(getattr(n, "key", None) == key for n in _walk(at._tree))


@pytest.fixture
def teacher(app_test):
    """A session that started a class (in English) and holds its teacher seat."""
    at = app_test(timeout=240, query={"lang": "en"})
    at.switch_page(CLASS).run()
    at.button(key="class_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _student(app_test, query: dict[str, str], *, page: str | None = None):
    at = app_test(timeout=240, query=query)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _code(at) -> str:
    return at.session_state[SEAT_KEY].code


def test_start_shows_the_code_the_qr_address_and_no_secret(teacher) -> None:
    seat = teacher.session_state[SEAT_KEY]
    assert seat.role == "teacher" and seat.secret
    assert_translated(teacher, "teacher")
    assert display_code(seat.code) in _in(teacher, "class_code")
    assert f"?room={seat.code}" in _in(teacher, "class_qr")
    assert "0" in _in(teacher, "class_joined")
    for key in ("class_back", "class_next", "class_reveal", "class_reset", "class_end"):
        assert teacher.button(key=key) is not None
    # The secret is in this session's state only: not in the address, not in anything the page shows.
    assert all(seat.secret not in v for v in teacher.query_params.values())
    assert not [s for s in page_texts(teacher) if seat.secret in s]
    assert seat.secret not in repr(seat)
    assert teacher.query_params["room"] == seat.code and teacher.query_params["present"] == "1"


@pytest.mark.parametrize("form", ["exact", "lower_dashed"])
def test_a_student_joins_by_address_from_any_page(teacher, app_test, form: str) -> None:
    code = _code(teacher)
    typed = code if form == "exact" else display_code(code).lower()
    student = _student(app_test, {"room": typed})  # the home page's address, as a QR code opens it
    seat = student.session_state[SEAT_KEY]
    assert seat == Seat(code, "student") and seat.secret is None
    assert _has(student, "class_step") and not _has(student, "class_next")
    assert f"1/{lesson.STEP_COUNT}" in _in(student, "class_step")
    assert student.query_params["room"] == code
    assert_translated(student, "student")
    teacher.run()  # the presenter's periodic redraw
    assert "1" in _in(teacher, "class_joined")


def test_a_phone_in_class_draws_no_code_block(teacher, app_test) -> None:
    """The class page has no "share this view" box: its ``st.code`` made every phone fetch a 1.5 MB script, which
    with 30 phones on one server held back the answer box's own script for minutes (docs/classroom.md)."""
    student = _student(app_test, {"room": _code(teacher)})
    assert _has(student, "class_reply") and _has(student, "class_follow")
    assert not student.code, [c.value for c in student.code]
    assert student.get("plotly_chart"), "step 1's slide figure is still drawn"
    home = _student(app_test, {"lang": "en"})
    assert home.code, "other pages keep their share box"


@pytest.mark.parametrize("room", ["ZZZZZZ", "K7Q-X2", "hello!"])
def test_a_forged_or_malformed_code_is_refused(app_test, room: str) -> None:
    student = _student(app_test, {"room": room})
    assert SEAT_KEY not in student.session_state
    assert EN("classroom.error_no_room") in _in(student, "class_error")
    assert not _has(student, "class_next")


def test_the_student_lands_in_the_rooms_language(app_test) -> None:
    code, _secret = room_store().create("zh")
    student = _student(app_test, {"room": code})
    if student.session_state["rv_lang"] != "zh":  # the language is set through the address: one more run
        student.run()
    assert student.session_state["rv_lang"] == "zh"
    assert ZH("lesson.your_answer") in "\n".join(page_texts(student))


def test_answer_change_and_refusal_after_reveal(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    step = lesson.STEPS[0]  # the input's shape: (224, 224, 3) at the step's own network
    right = lesson.answer(step, step.net, 224)
    h, w, c = right.value  # type: ignore[misc]

    student.text_input(key="class_reply").input(f"{h},{w},{c}")
    student.button(key="class_submit").click().run()
    assert f"({h}, {w}, {c})" in _in(student, "class_feedback")
    assert room_store().tally(code, 1).counts == ((f"({h}, {w}, {c})", 1),)

    student.text_input(key="class_reply").input(f"{h} {w} {c + 1}")  # changed: one answer per student
    student.button(key="class_submit").click().run()
    assert room_store().tally(code, 1).counts == ((f"({h}, {w}, {c + 1})", 1),)

    teacher.run()
    assert _in(teacher, "class_bars").splitlines() == [f"({h}, {w}, {c + 1}): 1"]
    assert "1" in _in(teacher, "class_answered")

    teacher.button(key="class_reveal").click().run()
    student.text_input(key="class_reply").input(f"{h},{w},{c}")  # sent from the page drawn before the reveal
    student.button(key="class_submit").click().run()
    assert EN("classroom.error_revealed") in _in(student, "class_error")
    assert room_store().tally(code, 1).counts == ((f"({h}, {w}, {c + 1})", 1),)
    feedback = _in(student, "class_feedback")  # the reveal: the right answer and the working
    assert EN("classroom.answer_is", answer=f"({h}, {w}, {c})") in feedback
    assert not student.text_input  # the question is closed


def test_an_unreadable_reply_is_not_sent(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    student.text_input(key="class_reply").input("big")
    student.button(key="class_submit").click().run()
    assert EN("lesson.unreadable", format=EN("lesson.format_shape")) in _in(student, "class_error")
    assert room_store().tally(code, 1).counts == ()


def test_a_student_session_cannot_drive_the_room(teacher, app_test) -> None:
    code = _code(teacher)
    # role=teacher in the address: refused, and shown the student's view.
    student = _student(app_test, {"room": code, "role": "teacher"}, page=CLASS)
    assert EN("classroom.error_not_teacher") in _in(student, "class_error")
    assert (
        _has(student, "class_step") and not _has(student, "class_next") and not _has(student, "class_reveal")
    )
    assert "role" not in student.query_params  # never written back
    # A session that claims the teacher's seat with a forged secret: every action is refused by the store.
    student.session_state[SEAT_KEY] = Seat(code, "teacher", "forged-secret")
    student.run()
    before = room_store().state(code)
    for action in ("class_next", "class_reveal", "class_reset", "class_end"):
        student.button(key=action).click().run()
        assert EN("classroom.error_not_teacher") in _in(student, "class_error"), action
    after = room_store().state(code)
    assert (after.step, after.revealed, after.version) == (before.step, before.revealed, before.version)


def test_next_drives_the_students_and_end_closes_the_room(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    teacher.button(key="class_next").click().run()
    assert room_store().state(code).step == 2
    student.run()  # what the student's periodic check does when the version moved
    assert f"2/{lesson.STEP_COUNT}" in _in(student, "class_step")
    teacher.button(key="class_end").click().run()
    assert _has(teacher, "class_start") and SEAT_KEY not in teacher.session_state
    student.run()
    assert EN("classroom.error_no_room") in _in(student, "class_error")


def test_a_student_who_wanders_off_gets_back_in_one_tap(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    student.switch_page("app_pages/parameters.py").run()
    assert student.button(key="class_return") is not None
    student.button(key="class_return").click().run()
    assert _has(student, "class_step") and student.session_state[SEAT_KEY].code == code


def test_the_csv_holds_step_question_answer_count_and_nothing_personal(teacher, app_test) -> None:
    code, secret = _code(teacher), teacher.session_state[SEAT_KEY].secret
    students = [_student(app_test, {"room": code}, page=CLASS) for _ in range(2)]
    for at, reply in zip(students, ("224,224,3", "(224, 224, 3)")):
        at.text_input(key="class_reply").input(reply)
        at.button(key="class_submit").click().run()
    text = results_csv(room_store().export(code, secret), EN)
    rows = list(csv.reader(io.StringIO(text)))
    step = lesson.STEPS[0]
    args = lesson.text_args(step, lesson.answer(step, step.net, 224), EN, current=step.net)
    question = EN(f"lesson.{step.key}_question", **args).replace("**", "").replace("`", "")
    assert rows == [["step", "question", "answer", "count"], ["1", question, "(224, 224, 3)", "2"]]
    ids = [at.session_state["rv_class_student"] for at in students]
    assert not any(i in text for i in ids)


def test_the_projector_gives_nothing_away_before_reveal(teacher, app_test) -> None:
    """Before Reveal the chart has no "right" mark and no reasons; after it, the right bar is labelled."""
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    step = lesson.STEPS[0]
    h, w, c = lesson.answer(step, step.net, 224).value  # type: ignore[misc]
    student.text_input(key="class_reply").input(f"{h},{w},{c}")
    student.button(key="class_submit").click().run()
    teacher.run()
    right = EN("classroom.right_mark", answer=f"({h}, {w}, {c})")
    assert f"({h}, {w}, {c})" in _in(teacher, "class_histogram") and right not in _in(
        teacher, "class_histogram"
    )
    teacher.button(key="class_reveal").click().run()
    assert right in _in(teacher, "class_histogram")


def test_a_student_who_does_not_follow_stays_and_is_told_where_the_class_is(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    student.toggle(key="class_follow").set_value(False).run()
    teacher.button(key="class_next").click().run()
    student.run()  # the periodic check
    assert f"1/{lesson.STEP_COUNT}" in _in(student, "class_step")
    assert EN("classroom.teacher_moved", n=2, total=lesson.STEP_COUNT) in "\n".join(page_texts(student))
    student.button(key="class_catch_up").click().run()
    assert f"2/{lesson.STEP_COUNT}" in _in(student, "class_step")


def test_both_roles_are_translated_in_chinese(app_test) -> None:
    teacher = app_test(timeout=240, query={"lang": "zh"})
    teacher.switch_page(CLASS).run()
    assert_translated(teacher, "zh lobby")
    teacher.button(key="class_start").click().run()
    assert_translated(teacher, "zh teacher")
    assert ZH("classroom.reveal") in "\n".join(page_texts(teacher))
    student = _student(app_test, {"room": _code(teacher)}, page=CLASS)
    assert student.session_state["rv_lang"] == "zh"  # the room's language (the address gave none)
    assert_translated(student, "zh student")
    assert ZH("classroom.submit") in "\n".join(page_texts(student))


def test_a_student_can_type_the_code_instead_of_scanning(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"lang": "en"}, page=CLASS)
    student.text_input(key="class_join_code").input(display_code(code).lower())
    student.button(key="class_join").click().run()
    assert student.session_state[SEAT_KEY] == Seat(code, "student")
    assert _has(student, "class_step")


def test_before_reveal_the_bars_go_by_count_so_a_rarer_right_answer_is_not_first(teacher, app_test) -> None:
    code = _code(teacher)
    step = lesson.STEPS[0]
    h, w, c = lesson.answer(step, step.net, 224).value  # type: ignore[misc]
    for reply in (f"{h},{w},{c}", f"{h},{w},{c + 1}", f"{h},{w},{c + 1}"):  # right once, one wrong twice
        at = _student(app_test, {"room": code}, page=CLASS)
        at.text_input(key="class_reply").input(reply)
        at.button(key="class_submit").click().run()
    teacher.run()
    assert _in(teacher, "class_bars").splitlines() == [f"({h}, {w}, {c + 1}): 2", f"({h}, {w}, {c}): 1"]
    teacher.button(key="class_reveal").click().run()  # revealed: the right answer first
    assert _in(teacher, "class_bars").splitlines() == [f"({h}, {w}, {c}): 1", f"({h}, {w}, {c + 1}): 2"]


def test_a_student_on_an_old_step_is_told_which_step_and_how_to_get_there(teacher, app_test) -> None:
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    student.toggle(key="class_follow").set_value(False).run()
    teacher.button(key="class_next").click().run()
    student.run()  # the periodic check: still on step 1, with "Go there"
    student.text_input(key="class_reply").input("1, 2, 3")
    student.button(key="class_submit").click().run()
    shown = _in(student, "class_error")
    assert EN("classroom.error_bad_step", n=2) in shown
    # not following: the hint names the page's own controls, by their labels, in both languages
    assert EN("classroom.bad_step_hint") in shown
    for t in (EN, ZH):
        hint = t("classroom.bad_step_hint")
        assert t("classroom.follow") in hint and t("classroom.catch_up") in hint
        assert t("classroom.follow") not in t("classroom.error_bad_step", n=2)
    assert student.button(key="class_catch_up") is not None


def test_a_following_student_whose_step_moved_before_submit_is_not_told_to_follow(teacher, app_test) -> None:
    """Follow on (the default) and the teacher moves between the phone's draw and its Submit: the message names
    the class's step, and neither "Follow the teacher" (it is on) nor "Go there" (not shown while following)."""
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    teacher.button(key="class_next").click().run()  # the phone has not checked since
    student.text_input(key="class_reply").input("1, 2, 3")
    student.button(key="class_submit").click().run()
    shown = _in(student, "class_error")
    assert EN("classroom.error_bad_step", n=2) in shown
    assert EN("classroom.bad_step_hint") not in shown and EN("classroom.follow") not in shown
    assert room_store().tally(code, 1).counts == ()


def test_a_reply_the_store_could_hold_only_as_typed_is_not_sent(teacher, app_test) -> None:
    """Three numbers of a dozen digits fit the input but not the store once written as (…, …, …): not sent."""
    code = _code(teacher)
    student = _student(app_test, {"room": code}, page=CLASS)
    student.text_input(key="class_reply").input(",".join(["1" * 12] * 3))
    student.button(key="class_submit").click().run()
    assert EN("lesson.unreadable", format=EN("lesson.format_shape")) in _in(student, "class_error")
    assert room_store().tally(code, 1).counts == ()


def test_the_worked_answer_joins_its_sentences_per_language_and_says_the_size_the_class_uses() -> None:
    step = lesson.STEPS[0]  # input: its lesson working speaks of "the sidebar's input size"
    right = lesson.answer(step, step.net, 224)
    zh, en = worked_answer(step, right, ZH), worked_answer(step, right, EN)
    assert "。 " not in zh and "。" + ZH("classroom.input_working", **_args(step, right, ZH)) in zh
    assert ". " + EN("classroom.input_working", **_args(step, right, EN)) in en
    assert "sidebar" not in en and "侧边栏" not in zh
    assert "224" in en and "224" in zh


def _args(step, right, t):
    return lesson.text_args(step, right, t, current=step.net)


def test_the_bar_list_is_worded_per_language(app_test) -> None:
    teacher = app_test(timeout=240, query={"lang": "zh"})
    teacher.switch_page(CLASS).run()
    teacher.button(key="class_start").click().run()
    student = _student(app_test, {"room": _code(teacher)}, page=CLASS)
    student.text_input(key="class_reply").input("1,2,3")
    student.button(key="class_submit").click().run()
    teacher.run()
    assert _in(teacher, "class_bars").splitlines() == ["(1, 2, 3)：1"]


def test_the_csv_writes_a_choice_as_the_words_the_teacher_sees() -> None:
    from resnet_viz.classroom import Tally

    number, step = next((i + 1, s) for i, s in enumerate(lesson.STEPS) if s.kind == "choice")
    choice = step.choices[0]
    rows = list(csv.reader(io.StringIO(results_csv([Tally(number, ((choice, 3),))], ZH))))
    assert rows[1][2] == ZH(f"lesson.choice_{choice}") and rows[1][3] == "3"


def test_a_store_that_cannot_be_reached_is_a_message_not_a_traceback(app_test, monkeypatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RESNET_VIZ_ROOMS", f"redis://127.0.0.1:{port}/0")
    from resnet_viz import settings

    settings._parse.cache_clear()
    room_store.clear()
    try:
        at = app_test(timeout=240, query={"lang": "en"})
        at.switch_page(CLASS).run()
        at.button(key="class_start").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert EN("classroom.error_unavailable") in _in(at, "class_error")
        assert SEAT_KEY not in at.session_state
    finally:
        monkeypatch.undo()
        settings._parse.cache_clear()
        room_store.clear()


def test_the_role_notice_shows_its_values_as_code_in_both_languages() -> None:
    from resnet_viz.links import ROLES

    for t in (EN, ZH):
        message = t("links.bad_role", setting="`role`")
        assert all(f"`{role}`" in message for role in ROLES), message
