"""The Lesson page's steps fixed in issue 21, in a real browser and in both languages: the addition (step 12)
marks x's shape wrong and says why; the cost steps (7, 8) open a block of the shape they ask about and say that the
answer does not depend on the sidebar; the stem (step 2) on the notes' 32×32 listing says its grid keeps its size;
v1.5 (step 10) explains the difference layer by layer. Screenshots: test-artifacts/screenshots/lesson_*.png."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or, with CI=true, fail) with the install command
    expect = None

from test_pages import SETTLE_TIMEOUT_MS, settle

from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS, answer, text_args

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BY_KEY = {s.key: s for s in STEPS}


def _open_step(page, lang: str, key: str, extra: str = "") -> None:
    n = [s.key for s in STEPS].index(key) + 1
    t = translator(lang)
    page.goto(f"{page.server.base_url}/lesson?lang={lang}&step={n}{extra}", wait_until="commit")
    title = t("lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{key}_title"))
    expect(page.locator('[data-testid="stMain"] h3').first).to_contain_text(title, timeout=SETTLE_TIMEOUT_MS)
    settle(page)


def _reply(page, lang: str, text: str) -> None:
    page.locator('[data-testid="stMain"] input[type="text"]').first.fill(text)
    page.get_by_role("button", name=translator(lang)("lesson.check")).click()
    page.locator('[data-testid="stAlert"]').first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_fixed_lesson_steps(page, screenshot_dir, lang: str) -> None:
    t = translator(lang)
    main = page.locator('[data-testid="stMain"]')

    # Step 12: shortcut(x) and F(x) at a dashed block; x's shape is wrong, with the reason.
    step = BY_KEY["addition"]
    _open_step(page, lang, "addition")
    right = answer(step, step.net, 224)
    args = text_args(step, right, t, current=step.net)
    expect(main).to_contain_text(t("lesson.addition_question", **args))
    _reply(page, lang, ", ".join(map(str, right.slip)))
    alert = page.locator('[data-testid="stAlert"]').first
    expect(alert).to_contain_text(t("lesson.addition_slip", **args))
    expect(alert).to_contain_text(t("lesson.addition_working_dashed", **args))
    page.screenshot(path=str(screenshot_dir / f"lesson_addition_slip_{lang}.png"), full_page=True)

    # Step 7: ResNet-34's layer3.1, a 256-channel BasicBlock; the caption says the answer is the same everywhere.
    _open_step(page, lang, "basic_cost")
    assert re.search(r"[?&]block=layer3\.1(&|$)", page.url), page.url
    expect(main).to_contain_text(t("lesson.about_fixed"))
    _reply(page, lang, "1,179,648")
    expect(page.locator('[data-testid="stAlert"]', has_text=t("lesson.right"))).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / f"lesson_basic_cost_{lang}.png"), full_page=True)

    # Step 10: the v1.5 working names the first 1×1 convs that differ.
    step = BY_KEY["v15"]
    _open_step(page, lang, "v15")
    right = answer(step, step.net, 224)
    _reply(page, lang, f"{right.value:.2f}")
    expect(page.locator('[data-testid="stAlert"]').first).to_contain_text("layer2.0.conv1")
    page.screenshot(path=str(screenshot_dir / f"lesson_v15_{lang}.png"), full_page=True)

    # Step 2 on the notes' 32×32 listing: its stem keeps the size.
    step = BY_KEY["stem"]
    _open_step(page, lang, "stem", "&net=resnet34_cifar&size=32&block=maxpool")
    right = answer(step, "resnet34_cifar", 32)
    expect(main).to_contain_text(
        t("lesson.stem_text_keeps", **text_args(step, right, t, current="resnet34_cifar"))
    )
    page.screenshot(path=str(screenshot_dir / f"lesson_stem_listing_{lang}.png"), full_page=True)
    assert not page.page_errors, page.page_errors
