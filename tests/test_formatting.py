"""Sizes, bar labels and single values, formatted in one place (resnet_viz.formatting): the exact strings the
Parameters page, the CLI and the inspector printed with their own helpers before."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_viz.formatting import fmt_bytes, fmt_bytes_short, fmt_code, fmt_si_short, fmt_value


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (46_758_048, "44.6 MiB"),  # resnet18's float32 weights
        (661_651_456, "631.0 MiB"),
        (2**31, "2.0 GiB"),
        (5 * 2**40, "5120.0 GiB"),
    ],
)
def test_fmt_bytes(n: int, text: str) -> None:
    assert fmt_bytes(n) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (950, "950"),
        (999.6, "1,000"),
        (1000, "1 K"),
        (25_557_032, "25.6 M"),  # resnet50's parameters
        (1_814_083_944, "1.81 G"),
        (11_514_000_000, "11.5 G"),
        (2_700_000_000_000, "2,700 G"),
        (1_234_567_000_000_000, "1,234,567 G"),
    ],
)
def test_fmt_si_short(value: float, text: str) -> None:
    assert fmt_si_short(value) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (512, "512"),
        (1023, "1,023"),
        (1024, "1 KiB"),
        (661_651_456, "631 MiB"),
        (2**31, "2 GiB"),
        (int(2.7 * 2**30), "2.7 GiB"),
        (5 * 2**40, "5,120 GiB"),
    ],
)
def test_fmt_bytes_short(n: int, text: str) -> None:
    assert fmt_bytes_short(n) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.123456, "0.1235"),
        (-1.5, "-1.5000"),
        (0.0, "0.0000"),
        (12345.678912, "12345.6789"),
        (-4e-05, "-0.0000"),
    ],
)
def test_fmt_value(value: float, text: str) -> None:
    assert fmt_value(value) == text


# --- fmt_code: every value echoed from outside (address, file names) as a code span nothing inside can end ---

#: The red team's probes (issue 22, D5) and their relatives: a backtick closing a single-backtick span, an image,
#: a paragraph break, backtick runs of every length, a backslash (literal inside a span), HTML and an autolink.
PROBES = [
    "`[Click](//e.co)`=1",
    "a`[Click](//e.co)`",
    "![i](//host/p.png)",
    "`![i](//host/p.png)`",
    "x\n\n[Click](//e.co)",
    "x\r\n[Click](//e.co)",
    "``[x](//e.co)``",
    "```",
    "`",
    "\\`[x](//e.co)",
    "<http://e.co>",
    "<img src=//host/p.png>",
    "www.e.co",
    " `x` ",
    "",
    "   ",
    "plain.png",
]


def _code_span(markdown: str) -> str | None:
    """The text a CommonMark code span at the start of ``markdown`` shows, if that span runs to the very end of
    ``markdown`` (spec 6.1: the opening backtick string ends at the next backtick string of the same length; line
    endings become spaces, and one space is stripped from each side when both sides have one); else None."""
    fence = len(markdown) - len(markdown.lstrip("`"))
    if fence == 0 or "\n" in markdown or "\r" in markdown:
        return None
    i = fence
    while True:
        start = markdown.find("`", i)
        if start < 0:
            return None  # never closed: the backticks would be literal and what follows would be markup
        end = start
        while end < len(markdown) and markdown[end] == "`":
            end += 1
        if end - start == fence:
            break
        i = end
    if end != len(markdown):
        return None  # closed early: whatever follows is markdown again
    inner = markdown[fence:start]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    return inner


@pytest.mark.parametrize("value", PROBES)
def test_fmt_code_is_one_code_span_showing_the_value(value: str) -> None:
    shown = fmt_code(value)
    expected = value.replace("\r", "␍").replace("\n", "␊")
    assert _code_span(shown) == (expected or " "), shown


def test_the_old_single_backtick_span_breaks_on_the_probe() -> None:
    # The notice before the fix: f"`net={value}`". The checker sees it end early, so it can fail.
    assert _code_span("`net=`[Click](//e.co)`=1`") is None
    assert _code_span(fmt_code("net=`[Click](//e.co)`=1")) == "net=`[Click](//e.co)`=1"


def test_fmt_code_keeps_ordinary_values_as_they_were_shown() -> None:
    assert fmt_code("net=resnet99") == "`net=resnet99`"
    assert fmt_code("a`b") == "``a`b``"
    assert fmt_code("\x00\x1f\x7f") == "`␀␟␡`"


@given(st.text(alphabet=st.sampled_from("`\\ \n\r[]()!<>:/ax\x00é"), max_size=40))
def test_fmt_code_holds_for_any_text(value: str) -> None:
    expected = value.translate({i: 0x2400 + i for i in range(0x20)} | {0x7F: 0x2421})
    assert _code_span(fmt_code(value)) == (expected or " ")


def test_fmt_code_shows_invisible_and_bidi_characters() -> None:
    """A right-to-left override or a zero-width character in a file name cannot make it look like another name."""
    from resnet_viz.formatting import fmt_code

    shown = fmt_code("photo\u202egnp.exe")
    assert "\u202e" not in shown and "\ufffd" in shown
    assert "\u200b" not in fmt_code("a\u200bb") and "\u2066" not in fmt_code("x\u2066y\u2069")
    assert fmt_code("photo.png") == "`photo.png`"
