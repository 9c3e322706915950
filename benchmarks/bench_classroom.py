"""Class mode (issue 23): one teacher and 30 phones in Chromium, on one server and then on 2 replicas behind nginx.

Each phase: a teacher (1280×720, presenter mode) starts a room; 30 students (390×844 phone contexts, each its own
Streamlit session) join it by the QR's address ``/?room=CODE``; a second room (its own teacher and 3 students)
runs at the same time, for cross-talk. Then, measured:

* **step change → every student's screen**: the teacher clicks next (3 changes); each phone's page records, in
  the browser, the moment its step box (``class_step``, "n/N") first shows the new number (a MutationObserver,
  ``Date.now()``: the same clock as this process's ``time.time()``). p95 over every phone and change (≤ 2 s);
* **a student's answer → the presenter's histogram**: the 30 answer at random moments over a few seconds; the
  presenter's page records every change of its bars (``class_bars``, "<answer>: <count>") with its time. Answers
  arrive one by one, so the k-th answer (by the time its student clicked submit) is on the presenter's screen
  when the bars' total first reaches k: p95 over the 30 (≤ 2 s);
* **the histogram equals the submitted answers exactly**: after some students change their answer, the bars
  must equal the answers standing (counted with the store's ``canonical_reply``), in both rooms;
* **an idle following student's server CPU**: the server processes' CPU-seconds over a window with all 30 phones
  idle on the class page (following, polling), / window / 30, as % of one core (≤ 2%; the presenter's own
  polling is in it, so it is an upper bound);
* **joining costs no more than today's first page load**: the server CPU of the whole class joining at once (from
  the first ``goto`` until every phone shows step 1, less what the screens already in the rooms spend polling
  meanwhile, at the rate measured just before), per student, over the median server CPU of a lone fresh session
  opening ``/`` (the app's first page, no room), measured in the same phase (≤ 1×);
* **errors** (page errors, exception boxes, tracebacks in a server log, a phone that never saw what it waited
  for) and **cross-talk** (the other room's answers in a room's bars, a phone of the other room that moved with
  this room's teacher): 0 and 0.

On 2 replicas (``deploy/nginx/resnet-viz.conf`` through ``bench_replicas.Nginx``: HTTPS, sticky routes by cookie,
the replicas sharing one SQLite data folder), each browser is pinned by its route cookie: room A's teacher on
one replica and its 30 students on the other; room B the other way round.

    python -m benchmarks --only classroom      # or: python -m benchmarks.bench_classroom [--students 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench_load import IDLE_JS
from benchmarks.common import Result, percentile, print_table
from devtools.classpage import expected_bars, parse_bars, typed_reply
from devtools.devserver import CHROMIUM_ARGS, DevServer, chromium_path
from resnet_viz import lesson

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = 30
OTHER_ROOM_STUDENTS = 3
STEP_CHANGES = 3  # next, next, back: 3 × 30 arrivals
TARGET_S = 2.0  # issue 23: a step change and an answer each reach their screens within 2 s (p95)
IDLE_CPU_TARGET_PCT = 2.0  # of one core, per idle following student
JOIN_RATIO_TARGET = 1.0  # a student joining vs a fresh session's first page load
IDLE_WINDOW_S = 20.0
BACKGROUND_WINDOW_S = 5.0  # the rooms' other screens polling, measured before the class joins
ANSWER_SPREAD_S = 8.0  # the 30 answers come over this many seconds
FIRST_LOADS = 5  # lone first page loads measured (after one to warm the server), median taken
WAIT_S = 30.0  # the longest wait for one thing to reach a screen (then it counts as never: infinite latency)
STEP_TIMEOUT_S = 180.0  # one browser step (a page load on a busy machine)
PHASE_TIMEOUT_S = 420.0
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1280, "height": 720}
#: Runs in every page before the app's own scripts (and again after any navigation): records, with the browser's
#: clock, each new step number the class box shows and each new text of the presenter's bars.
WATCH_JS = """(() => {
    const log = window.__rvClass = {steps: [], bars: [], clicks: [], step: null, barsText: null};
    const look = () => {
        const box = document.querySelector('.st-key-class_step');
        const m = box && box.textContent.match(/(\\d+)\\s*\\/\\s*(\\d+)/);
        if (m && Number(m[1]) !== log.step) { log.step = Number(m[1]); log.steps.push([Date.now() / 1000, log.step]); }
        const bars = document.querySelector('.st-key-class_bars');
        if (bars) {
            const text = bars.innerText;
            if (text !== log.barsText) { log.barsText = text; log.bars.push([Date.now() / 1000, text]); }
        }
    };
    new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true});
    // The moment a submit or a step button is clicked, in the page (not when the driver began to click).
    document.addEventListener('click', (e) => {
        const hit = e.target.closest
            && e.target.closest('.st-key-class_submit, .st-key-class_next, .st-key-class_back');
        if (hit) log.clicks.push([Date.now() / 1000, hit.className.match(/st-key-(class_\\w+)/)[1]]);
    }, true);
})();"""
READ_JS = """() => window.__rvClass
    ? {steps: window.__rvClass.steps, bars: window.__rvClass.bars, clicks: window.__rvClass.clicks} : null"""


# --------------------------------------------------------------------------- pure parts (tests/test_bench_classroom.py)


def bars_mismatch(expected: Counter, shown: Counter) -> int:
    """How many students' answers the bars get wrong: the sum of each answer's count difference, over two
    (a student counted under the wrong answer is one missing and one extra)."""
    keys = set(expected) | set(shown)
    diff = sum(abs(expected[k] - shown[k]) for k in keys)
    return (diff + 1) // 2


def answer_latencies(submitted: list[float], bars: list[tuple[float, str]]) -> list[float]:
    """Seconds from each answer's submit to the presenter's screen. Answers are counted one by one, so the k-th
    submitted (in time order) is shown once the bars' total first reaches k; the k-th arrival at the server is
    never before the k-th submit, so no latency is negative. Never shown: infinite."""
    totals = [(t, sum(parse_bars(text).values())) for t, text in bars]
    out = []
    for k, sent in enumerate(sorted(submitted), start=1):
        shown = next((t for t, total in totals if total >= k), None)
        out.append(math.inf if shown is None else max(0.0, shown - sent))
    return out


def step_latency(steps: list[tuple[float, int]], clicked: float, step: int) -> float:
    """Seconds from the teacher's click to the first time this page showed ``step`` after it; never: infinite."""
    shown = next((t for t, n in steps if n == step and t >= clicked), None)
    return math.inf if shown is None else shown - clicked


def fmt_s(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.2f} s"


@dataclass
class Phase:
    """What one phase (1 server, or 2 replicas) measured."""

    name: str
    step_latencies: list[float] = field(default_factory=list)
    answer_latencies: list[float] = field(default_factory=list)
    bars_mismatch: int = -1  # students miscounted in room A's final bars (−1: never read)
    bars_detail: str = ""
    idle_cpu_pct: float = math.nan  # per idle student, % of one core
    idle_detail: str = ""
    join_cpu_s: float = math.nan  # per student
    join_detail: str = ""
    first_load_cpu_s: float = math.nan  # a lone fresh session's first page load (median)
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)
    placement: str = ""


def results(phase: Phase, students: int) -> list[Result]:
    """The seven rows of one phase, each against issue 23's target."""
    p = phase.name
    steps, answers = phase.step_latencies, phase.answer_latencies
    step_p95, answer_p95 = percentile(steps, 95), percentile(answers, 95)
    ratio = phase.join_cpu_s / phase.first_load_cpu_s
    never_steps = sum(math.isinf(v) for v in steps)
    never_answers = sum(math.isinf(v) for v in answers)
    return [
        Result(
            f"classroom {p}: teacher's step change → every student's screen, p95",
            step_p95,
            "s",
            f"≤ {TARGET_S:g} s",
            step_p95 <= TARGET_S,
            f"{len(steps)} arrivals ({STEP_CHANGES} changes × {students} phones); p50 "
            f"{fmt_s(percentile(steps, 50))}, max {fmt_s(max(steps, default=math.nan))}; never {never_steps}",
        ),
        Result(
            f"classroom {p}: a student's answer → the presenter's histogram, p95",
            answer_p95,
            "s",
            f"≤ {TARGET_S:g} s",
            answer_p95 <= TARGET_S,
            f"{len(answers)} answers over {ANSWER_SPREAD_S:g} s; p50 {fmt_s(percentile(answers, 50))}, "
            f"max {fmt_s(max(answers, default=math.nan))}; never {never_answers}",
        ),
        Result(
            f"classroom {p}: histogram vs the submitted answers (students miscounted)",
            phase.bars_mismatch,
            "",
            "= 0 (exact)",
            phase.bars_mismatch == 0,
            phase.bars_detail[:300],
        ),
        Result(
            f"classroom {p}: an idle following student's server CPU",
            phase.idle_cpu_pct,
            "% of a core",
            f"≤ {IDLE_CPU_TARGET_PCT:g}%",
            phase.idle_cpu_pct <= IDLE_CPU_TARGET_PCT,
            phase.idle_detail,
        ),
        Result(
            f"classroom {p}: class join server CPU per student vs a first page load",
            ratio,
            "×",
            f"≤ {JOIN_RATIO_TARGET:g}×",
            ratio <= JOIN_RATIO_TARGET,
            f"join {phase.join_cpu_s:.3f} CPU-s per student vs a lone first page load of / "
            f"{phase.first_load_cpu_s:.3f} CPU-s (median of {FIRST_LOADS}); {phase.join_detail}",
        ),
        Result(
            f"classroom {p}: errors",
            len(phase.errors),
            "",
            "= 0",
            not phase.errors,
            "; ".join(phase.errors)[:300],
        ),
        Result(
            f"classroom {p}: cross-talk between two rooms",
            len(phase.crosstalk),
            "",
            "= 0",
            not phase.crosstalk,
            "; ".join(phase.crosstalk)[:300] or phase.placement,
        ),
    ]


# --------------------------------------------------------------------------- the lesson's replies


def replies(n: int, *, seed: int = 23) -> list[str]:
    """``n`` typed replies to the lesson's first step: 60% right, the rest two different wrong answers (the right
    one with its last number changed), shuffled reproducibly."""
    step = lesson.STEPS[0]
    out = [
        typed_reply(step, 0 if i < round(0.6 * n) else (1 if i < round(0.85 * n) else 2)) for i in range(n)
    ]
    random.Random(seed).shuffle(out)
    return out


#: What room B's students answer: a reply no student of room A gives.
OTHER_ROOM_OFF_BY = 7


# --------------------------------------------------------------------------- browsers


@dataclass
class Screen:
    """One browser context: the teacher's or a student's."""

    who: str
    context: object = None
    page: object = None
    errors: list[str] = field(default_factory=list)


async def open_screen(browser, who: str, viewport: dict, cookie: dict | None = None) -> Screen:
    s = Screen(who)
    phone = viewport == PHONE
    s.context = await browser.new_context(
        viewport=viewport, locale="en-US", is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    s.context.set_default_timeout(STEP_TIMEOUT_S * 1000)
    if cookie:
        await s.context.add_cookies([cookie])
    await s.context.add_init_script(WATCH_JS)
    s.page = await s.context.new_page()
    s.page.on("pageerror", lambda exc: s.errors.append(f"{who}: page error: {str(exc)[:120]}"))
    return s


async def click_key(page, name: str) -> None:
    await page.locator(f".st-key-{name} button").first.click()


async def check_screen(s: Screen) -> None:
    """Errors a screen shows: an exception box, a traceback, a class error box."""
    page = s.page
    if await page.locator('[data-testid="stException"]').count():
        s.errors.append(f"{s.who}: an exception box is shown")
    if "Traceback" in await page.locator("body").inner_text():
        s.errors.append(f"{s.who}: a traceback is shown")
    if await page.locator(".st-key-class_error").count():
        text = (await page.locator(".st-key-class_error").first.inner_text()).strip()
        if text:
            s.errors.append(f"{s.who}: class error {text[:100]!r}")


async def start_room(teacher: Screen, base: str) -> str:
    """The teacher opens the class page in presenter mode and starts a room: its code as stored (K7QX2M)."""
    await teacher.page.goto(f"{base}/classroom?present=1&lang=en")
    await teacher.page.locator(".st-key-class_start button").first.wait_for()
    await teacher.page.wait_for_function(IDLE_JS)
    await click_key(teacher.page, "class_start")
    box = teacher.page.locator(".st-key-class_code").first
    await box.wait_for()
    shown = re.search(r"\b([0-9A-Z]{3})-([0-9A-Z]{3})\b", await box.inner_text())
    if not shown:
        raise RuntimeError(f"no room code in {await box.inner_text()!r}")
    return shown[1] + shown[2]


async def join(s: Screen, base: str, code: str) -> None:
    await s.page.goto(f"{base}/?room={code}")
    await s.page.wait_for_url(re.compile(r"/classroom"))
    await s.page.locator(".st-key-class_step").first.wait_for()
    await s.page.wait_for_function(
        "() => window.__rvClass && window.__rvClass.step === 1", polling=100, timeout=WAIT_S * 1000
    )


async def submit(s: Screen, reply: str) -> float:
    """Type and submit a reply; returns the moment of the click (epoch seconds)."""
    await s.page.locator(".st-key-class_reply input").first.fill(reply)
    sent = time.time()
    await click_key(s.page, "class_submit")
    return sent


async def guarded(s: Screen, what: str, coro, timeout_s: float = STEP_TIMEOUT_S):
    try:
        return await asyncio.wait_for(coro, timeout_s)
    except Exception as exc:  # noqa: BLE001 - every failure of a screen is counted and reported, not raised
        s.errors.append(
            f"{s.who}: {what}: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        )
        return None


async def read_log(s: Screen) -> dict:
    try:
        return await s.page.evaluate(READ_JS) or {"steps": [], "bars": [], "clicks": []}
    except Exception:  # noqa: BLE001 - a closed or crashed page has no log
        return {"steps": [], "bars": [], "clicks": []}


async def wait_bars(teacher: Screen, expected: Counter, timeout_s: float = WAIT_S) -> Counter:
    """Until the teacher's bars equal ``expected`` (or the time is up): what they show at the end."""
    deadline = time.monotonic() + timeout_s
    shown: Counter = Counter()
    while time.monotonic() < deadline:
        log = await read_log(teacher)
        shown = parse_bars(log["bars"][-1][1]) if log["bars"] else Counter()
        if shown == expected:
            break
        await asyncio.sleep(0.25)
    return shown


# --------------------------------------------------------------------------- one phase


async def first_load_cpu(browser, base: str, cpu, cookie: dict | None) -> list[float]:
    """Server CPU-seconds of a lone fresh session opening ``/`` (no room) until its page is idle: one to warm the
    server (not counted), then :data:`FIRST_LOADS` measured."""
    costs = []
    for i in range(FIRST_LOADS + 1):
        s = await open_screen(browser, f"first-load-{i}", PHONE, cookie)
        try:
            c0 = cpu()
            await s.page.goto(f"{base}/")
            await s.page.locator('[data-testid="stSidebar"]').first.wait_for(state="attached")
            await s.page.wait_for_function(IDLE_JS, polling=100)
            await asyncio.sleep(1.0)  # the page's images and late requests
            await s.page.wait_for_function(IDLE_JS, polling=100)
            if i:
                costs.append(cpu() - c0)
        finally:
            await s.context.close()
    return costs


async def clicked_at(s: Screen, button: str, after: float, fallback: float) -> float:
    """When the page saw its ``button`` clicked (the first time after ``after``), else ``fallback``."""
    log = await read_log(s)
    return next((t for t, b in log["clicks"] if b == button and t >= after), fallback)


async def run_phase(
    phase: Phase, browser, base: str, cpu, students: int, cookies: dict[str, dict | None]
) -> None:
    """The class, in one browser: ``cookies`` pins each kind of screen ("teacher_a", "students_a", "teacher_b",
    "students_b") to a replica (None: no pinning, one server). What is measured goes into ``phase`` as soon as it
    is, so a phase cut short by its time limit still reports what it measured; every screen's errors too."""
    screens: list[Screen] = []
    try:
        await _class(phase, browser, base, cpu, students, cookies, screens)
    finally:
        for s in screens:  # no await here: this also runs when the phase is cancelled at its time limit
            phase.errors += s.errors


async def _class(
    phase: Phase,
    browser,
    base: str,
    cpu,
    students: int,
    cookies: dict[str, dict | None],
    screens: list[Screen],
) -> None:
    firsts = await first_load_cpu(browser, base, cpu, cookies["students_a"])
    phase.first_load_cpu_s = statistics.median(firsts)

    teacher = await open_screen(browser, "teacher A", PROJECTOR, cookies["teacher_a"])
    teacher_b = await open_screen(browser, "teacher B", PROJECTOR, cookies["teacher_b"])
    screens += [teacher, teacher_b]
    code = await start_room(teacher, base)
    code_b = await start_room(teacher_b, base)
    room_b = [
        await open_screen(browser, f"room B student {i}", PHONE, cookies["students_b"])
        for i in range(OTHER_ROOM_STUDENTS)
    ]
    screens += room_b
    await asyncio.gather(*(guarded(s, "join room B", join(s, base, code_b)) for s in room_b))

    # The whole class joins at once. Taken off the server CPU it costs: what the screens already in the rooms
    # spend polling meanwhile (their rate measured just before). Not taken off: each phone's own polling once it
    # is seated, until the last one is (on a saturated machine polls are late, so the idle rate would overstate
    # it): the figure is an upper bound.
    phones = [
        await open_screen(browser, f"student {i}", PHONE, cookies["students_a"]) for i in range(students)
    ]
    screens += phones
    b0, tb0 = cpu(), time.monotonic()
    await asyncio.sleep(BACKGROUND_WINDOW_S)
    background = (cpu() - b0) / (time.monotonic() - tb0)
    c0, t0 = cpu(), time.monotonic()
    await asyncio.gather(*(guarded(s, "join", join(s, base, code)) for s in phones))
    spent, t1 = cpu() - c0, time.monotonic()
    phase.join_cpu_s = (spent - background * (t1 - t0)) / students
    phase.join_detail = (
        f"{spent:.2f} CPU-s in {t1 - t0:.0f} s for {students} joining at once, less {background * (t1 - t0):.2f} "
        f"for the {2 + OTHER_ROOM_STUDENTS} screens already there; an upper bound: it includes the phones' own "
        f"polling from the moment each is seated until the last one is"
    )

    # Answers at random moments over a few seconds; then a few students change theirs.
    mine = replies(students)
    rng = random.Random(7)
    delays = [rng.uniform(0, ANSWER_SPREAD_S) for _ in phones]

    async def answer_later(s: Screen, reply: str, delay: float) -> float:
        await asyncio.sleep(delay)
        before = time.time()
        fallback = await submit(s, reply)
        return await clicked_at(s, "class_submit", before, fallback)

    first = lesson.STEPS[0]
    b_reply = typed_reply(first, OTHER_ROOM_OFF_BY)
    await asyncio.gather(*(guarded(s, "room B answer", submit(s, b_reply)) for s in room_b))
    sent = await asyncio.gather(
        *(guarded(s, "answer", answer_later(s, r, d)) for s, r, d in zip(phones, mine, delays))
    )
    missed = [s for s, t in zip(phones, sent) if t is None]
    if missed:
        await evidence(missed[0], phase, "no-answer")
    expected = expected_bars(first, mine, "en")
    shown = await wait_bars(teacher, expected)
    log = await read_log(teacher)
    phase.answer_latencies = answer_latencies(
        [t for t in sent if t is not None], [tuple(b) for b in log["bars"]]
    ) + [math.inf] * sum(t is None for t in sent)
    if shown != expected:
        await evidence(teacher, phase, "answers")
    changers = range(0, students, 6)  # every sixth student changes to another of the answers given
    distinct = sorted(set(mine))
    changed = list(mine)
    for i in changers:
        changed[i] = distinct[(distinct.index(mine[i]) + 1) % len(distinct)]
    await asyncio.gather(
        *(guarded(phones[i], "change answer", submit(phones[i], changed[i])) for i in changers)
    )
    expected = expected_bars(first, changed, "en")
    shown = await wait_bars(teacher, expected)
    phase.bars_mismatch = bars_mismatch(expected, shown)
    phase.bars_detail = (
        f"expected {dict(expected)}, shown {dict(shown)}"
        if phase.bars_mismatch
        else f"{sum(expected.values())} answers in {len(expected)} bars, {len(changers)} changed; exact"
    )
    if phase.bars_mismatch:
        await evidence(teacher, phase, "changed")
    # Cross-talk: room B's bars are its own answers only; room A's hold none of B's (checked above by equality).
    expected_b = expected_bars(first, [b_reply] * OTHER_ROOM_STUDENTS, "en")
    shown_b = await wait_bars(teacher_b, expected_b)
    if shown_b != expected_b:
        phase.crosstalk.append(f"room B's bars {dict(shown_b)}, expected {dict(expected_b)}")
    leaked = set(expected_b) & set(shown)
    if leaked:
        phase.crosstalk.append(f"room B's answer {sorted(leaked)} in room A's bars")

    # Step changes: next, next, back; room B stays on step 1 throughout.
    current = 1
    for target in [2, 3, 2][:STEP_CHANGES]:
        await teacher.page.wait_for_function(IDLE_JS, polling=100)
        button = "class_next" if target > current else "class_back"
        before = time.time()
        await click_key(teacher.page, button)
        clicked = await clicked_at(teacher, button, before, before)
        current = target
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            logs = await asyncio.gather(*(read_log(s) for s in phones))
            if all(not math.isinf(step_latency(lg["steps"], clicked, target)) for lg in logs):
                break
            await asyncio.sleep(0.25)
        phase.step_latencies += [step_latency(lg["steps"], clicked, target) for lg in logs]
        for s, lg in zip(phones, logs):
            if math.isinf(step_latency(lg["steps"], clicked, target)):
                s.errors.append(f"{s.who}: never showed step {target} ({WAIT_S:g} s)")
    for s in room_b:
        steps_b = (await read_log(s))["steps"]
        if any(n != 1 for _, n in steps_b):
            phase.crosstalk.append(
                f"{s.who} moved to step(s) {[n for _, n in steps_b if n != 1]} with room A"
            )

    # Idle: room B leaves; the 30 phones follow the teacher's step with nothing happening.
    for s in room_b + [teacher_b]:
        await check_screen(s)
        await s.context.close()
    await asyncio.sleep(5)  # the last reruns settle
    c0, t0 = cpu(), time.monotonic()
    await asyncio.sleep(IDLE_WINDOW_S)
    spent, window = cpu() - c0, time.monotonic() - t0
    phase.idle_cpu_pct = 100 * spent / window / students
    phase.idle_detail = (
        f"{spent:.2f} CPU-s in {window:.0f} s with {students} idle phones and the presenter "
        f"({100 * spent / window:.1f}% of a core in all; the presenter's polling counted as the phones')"
    )
    for s in [teacher, *phones]:
        await check_screen(s)
        await s.context.close()


async def evidence(s: Screen, phase: Phase, what: str) -> None:
    """A screenshot of a screen that did not show what it should: test-artifacts/classroom/."""
    folder = ROOT / "test-artifacts" / "classroom"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{phase.name.replace(' ', '-')}-{what}.png"
    try:
        await s.page.screenshot(path=str(folder / name))
    except Exception:  # noqa: BLE001 - the evidence is a courtesy; the row already says what went wrong
        return


def route_cookie(base_url: str, route: str) -> dict:
    return {"name": "rv_route", "value": route, "url": base_url}


def _raise_on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


async def _one_server(students: int, data_dir: str) -> Phase:
    from playwright.async_api import async_playwright

    phase = Phase("1 server")
    server = DevServer(
        ROOT / "test-artifacts" / "classroom-server.log",
        extra_env={"RESNET_VIZ_OFFLINE": "1", "RESNET_VIZ_DATA_DIR": data_dir},
    )
    try:
        server.wait_healthy()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                none = dict.fromkeys(("teacher_a", "students_a", "teacher_b", "students_b"))
                await asyncio.wait_for(
                    run_phase(phase, browser, server.base_url, server.cpu_s, students, none), PHASE_TIMEOUT_S
                )
            except Exception as exc:  # noqa: BLE001 - a phase that fails says why in its errors row
                phase.errors.append(
                    f"phase: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
                )
            finally:
                await browser.close()
        phase.errors += [f"server log: {e}" for e in server.exception_counts()]
    finally:
        server.stop()
    return phase


def pin_routes(nginx, ports: list[int]) -> dict[int, str]:
    """A route cookie value for each replica: tried one by one until each replica has one (nginx's access log
    names the replica that served each request)."""
    from benchmarks.bench_replicas import _replica_of

    found: dict[int, str] = {}
    for i in range(200):
        route = f"classroom-{i}"
        nginx.get("/_stcore/health", headers={"Cookie": f"rv_route={route}"})
        port = _replica_of(nginx, route)
        found.setdefault(port, route)
        if all(p in found for p in ports):
            return found
    raise RuntimeError(f"no route found for every replica: {found}")


async def _two_replicas(students: int, data_dir: str) -> Phase:
    from playwright.async_api import async_playwright

    from benchmarks.bench_replicas import NGINX, Nginx

    phase = Phase("2 replicas")
    if not Path(NGINX).exists():
        phase.errors.append("nginx is not installed (apt-get install nginx)")
        return phase
    logs = ROOT / "test-artifacts"
    env = {"RESNET_VIZ_OFFLINE": "1", "RESNET_VIZ_DATA_DIR": data_dir}
    replicas = [DevServer(logs / f"classroom-replica-{i}.log", extra_env=env) for i in range(2)]
    nginx = None
    try:
        for r in replicas:
            r.wait_healthy()
        nginx = Nginx([r.port for r in replicas])
        nginx.wait_healthy()
        routes = pin_routes(nginx, [r.port for r in replicas])
        one, two = (route_cookie(nginx.base_url, routes[r.port]) for r in replicas)
        cookies = {"teacher_a": one, "students_a": two, "teacher_b": two, "students_b": one}
        phase.placement = (
            f"room A: teacher on :{replicas[0].port}, {students} students on :{replicas[1].port}; "
            f"room B the other way round"
        )

        def cpu() -> float:
            return sum(r.cpu_s() for r in replicas)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS + nginx.chromium_args
            )
            try:
                await asyncio.wait_for(
                    run_phase(phase, browser, nginx.base_url, cpu, students, cookies), PHASE_TIMEOUT_S
                )
            except Exception as exc:  # noqa: BLE001 - a phase that fails says why in its errors row
                phase.errors.append(
                    f"phase: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
                )
            finally:
                await browser.close()
        for r in replicas:
            phase.errors += [f"replica :{r.port} log: {e}" for e in r.exception_counts()]
        refused = [e.request for e in nginx.access_log() if e.status == 429]
        phase.errors += [f"nginx refused (429) {len(refused)} requests"] if refused else []
    finally:
        if nginx is not None:
            nginx.stop()
        for r in replicas:
            r.stop()
    return phase


def run(students: int = STUDENTS) -> list[Result]:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
    if chromium_path() is None:
        return [
            Result("classroom: Chromium not found", math.nan, "", "runs", False, "apt-get install chromium")
        ]
    out: list[Result] = []
    report = {}
    for runner in (_one_server, _two_replicas):
        with tempfile.TemporaryDirectory(prefix="rv-classroom-") as data_dir:  # an empty room store per phase
            phase = asyncio.run(runner(students, data_dir))
        report[phase.name] = {k: v for k, v in vars(phase).items()}
        out += results(phase, students)
    print("classroom report:", json.dumps(report, indent=2, default=str), file=sys.stderr)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=STUDENTS)
    print_table(run(parser.parse_args().students))
