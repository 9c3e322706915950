"""Human formatting of counts, sizes, values and shapes, shared by the CLI and the pages: every unit in one place.

(The architecture floor below this one formats nothing: it counts, and the pages and the CLI print.)"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence


def fmt_int(n: int) -> str:
    """11689512 → '11,689,512'."""
    return f"{n:,}"


_SI: tuple[tuple[float, str], ...] = ((1e9, "G"), (1e6, "M"), (1e3, "K"))
_BINARY: tuple[tuple[float, str], ...] = ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def fmt_macs(n: int) -> str:
    """Multiply-adds with an SI prefix: 1814083944 → '1.814 G'."""
    for div, unit in _SI:
        if n >= div:
            return f"{n / div:.3f} {unit}"
    return str(n)


def fmt_params(n: int) -> str:
    """Parameters in millions for prose: 11689512 → '11.69 M'."""
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} K"
    return str(n)


def fmt_shape(shape: tuple[int, ...]) -> str:
    """(64, 112, 112) → '64×112×112'; (1000,) → '1000'."""
    return "×".join(str(d) for d in shape)


def fmt_bytes(n: int) -> str:
    """Binary units, as the sizes of weight files are usually given: 46758048 → '44.6 MiB'; 512 → '512 B'."""
    for div, unit in _BINARY:
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _short(value: float, units: Sequence[tuple[float, str]]) -> str:
    for div, unit in units:
        if value >= div:
            x = value / div
            return f"{x:.3g} {unit}" if x < 1000 else f"{x:,.0f} {unit}"
    return f"{value:,.0f}"


def fmt_si_short(value: float) -> str:
    """Three significant figures with an SI prefix, short enough for a bar label: 11_514_000_000 → '11.5 G',
    1_814_083_944 → '1.81 G', 25_557_032 → '25.6 M', 950 → '950'."""
    return _short(value, _SI)


def fmt_bytes_short(n: float) -> str:
    """Three significant figures in binary units, for a bar label: 661_651_456 → '631 MiB', 2**31 → '2 GiB'."""
    return _short(n, _BINARY)


#: C0 controls and DEL as their Unicode control pictures (U+2400 …): a line break in a value could otherwise end
#: the paragraph, and with it the code span, before the closing fence.
_CONTROL_PICTURES = {**{i: 0x2400 + i for i in range(0x20)}, 0x7F: 0x2421}
#: Invisible format characters (zero-width, bidirectional overrides and isolates, BOM) as U+FFFD: a file name such
#: as "photo\u202egnp.exe" would otherwise show as "photoexe.png" (a right-to-left override turns the text around).
_INVISIBLE = {
    c: 0xFFFD for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF)
}
_BACKTICK_RUN = re.compile("`+")


def fmt_code(text: str) -> str:
    """A value that came from outside (an address parameter, an uploaded file's name) as a Markdown code span that
    nothing inside it can end, so it shows as literal text wherever it is echoed (``st.warning``, captions):
    'a`b' → '``a`b``', '[x](//e.co)' → '`[x](//e.co)`'.

    In CommonMark a code span ends only at a backtick run of its opening fence's length, so the fence is one
    backtick longer than the longest run inside; a space pads content that starts or ends with a backtick or a
    space (one is stripped from each side again); line breaks and other control characters are shown as their
    control pictures (␊), since a blank line would end the paragraph and the span with it. Inside a code span
    nothing is markup: no link, image, emphasis, HTML, math or autolink. The template around it must not put a
    backtick or a backslash right next to it."""
    shown = text.translate(_CONTROL_PICTURES).translate(_INVISIBLE)
    if not shown.strip(" "):  # only spaces, kept as they are (no stripping); nothing at all as one space
        return f"`{shown or ' '}`"
    fence = "`" * (max((len(run) for run in _BACKTICK_RUN.findall(shown)), default=0) + 1)
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def fmt_value(v: float) -> str:
    """One activation, weight or term as the inspector prints it, four decimals: 0.123456 → '0.1235'."""
    return f"{v:.4f}"


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[int] = ()
) -> list[str]:
    """Fixed-width text lines: the header, a rule, then the rows; columns in ``right`` are right-aligned."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


# --- the experiments' numbers (the Why residual page, its sections and the summaries) ---

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_percent(fraction: float) -> str:
    """A fraction as a percentage, one decimal: 0.1234 → '12.3%'."""
    return f"{100 * fraction:.1f}%"


def fmt_points(fraction: float) -> str:
    """A fraction as percentage points without the unit, one decimal: 0.02 → '2.0'."""
    return f"{100 * fraction:.1f}"


def fmt_signed_points(fraction: float, ascii_minus: bool = False) -> str:
    """A change as signed percentage points without the unit, one decimal: 0.054 → '+5.4', -0.001 → '−0.1' (a
    true minus sign, U+2212). Rounded before the sign is taken, so that a change that rounds to nothing prints
    '0.0', never '-0.0'. ``ascii_minus``: a hyphen instead, for Streamlit's ``st.metric``, which reads a delta's
    direction from a leading '-'."""
    rounded = f"{abs(100 * fraction):.1f}"  # rounded as fmt_points rounds
    if float(rounded) == 0:
        return "0.0"
    sign = "+" if fraction > 0 else "-" if ascii_minus else "\u2212"
    return f"{sign}{rounded}"


def fmt_sig3(value: float | None) -> str:
    """Three significant digits, '—' for a missing value: 0.0653254 → '0.0653', 56927.5 → '5.69e+04'."""
    return "—" if value is None else f"{value:.3g}"


def fmt_magnitude(x: float) -> str:
    """A positive number over many orders of magnitude: from 100 whole with separators ('12,346'), from 0.01 three
    significant digits ('1.5'), below as a power of ten ('2.2×10⁻⁴')."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.01:
        return f"{x:.3g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def fmt_magnitude_span(lo_hi: tuple[float, float]) -> str:
    """A (lowest, highest) pair in :func:`fmt_magnitude`: '946–10,645', or one figure where both read the same."""
    lo, hi = (fmt_magnitude(v) for v in lo_hi)
    return lo if lo == hi else f"{lo}–{hi}"


def fmt_range(lo: float, hi: float, digits: int = 2) -> str:
    """A range in ``digits`` significant digits without an exponent: '7.8–22', '950–11,000'; one figure where both
    ends round the same ('3')."""
    a, b = _plain_number(f"{lo:.{digits}g}"), _plain_number(f"{hi:.{digits}g}")
    return a if a == b else f"{a}–{b}"


def _plain_number(s: str) -> str:
    """Significant-digit strings without an exponent: "1.1e+03" → "1,100"."""
    value = float(s)
    if "e" in s and math.isfinite(value):
        return f"{value:,.0f}"
    return s


def fmt_list(values: Iterable[object], sep: str = ", ") -> str:
    """Seeds, steps …: (0, 1, 2) → '0, 1, 2'. Inside a sentence pass the language's separator
    (``t("common.list_sep")``: '0、1、2' in Chinese, where the half-width comma does not belong)."""
    return sep.join(str(v) for v in values)
