"""The experiments' number formats in resnet_viz.formatting. The expected strings are the outputs of the page
helpers they replace (why_residual's _pct/_pp, the landscape section's _pct/_num, why_training's _num/_span and
summaries.fmt_range), captured before the move."""

from __future__ import annotations

import pytest

from resnet_viz.formatting import (
    fmt_list,
    fmt_magnitude,
    fmt_magnitude_span,
    fmt_percent,
    fmt_points,
    fmt_range,
    fmt_sig3,
    fmt_signed_points,
)


@pytest.mark.parametrize(
    ("x", "percent", "points", "signed"),
    [
        (0.0, "0.0%", "0.0", "0.0"),
        (0.1234, "12.3%", "12.3", "+12.3"),
        (0.9, "90.0%", "90.0", "+90.0"),
        (0.00049, "0.0%", "0.0", "0.0"),  # rounds to nothing: no sign
        (1.0, "100.0%", "100.0", "+100.0"),
        (-0.0004, "-0.0%", "-0.0", "0.0"),  # never "-0.0"
        (-0.001, "-0.1%", "-0.1", "\u22120.1"),  # a true minus sign
        (0.99951, "100.0%", "100.0", "+100.0"),
    ],
)
def test_percent_and_points(x: float, percent: str, points: str, signed: str) -> None:
    assert (fmt_percent(x), fmt_points(x), fmt_signed_points(x)) == (percent, points, signed)


def test_signed_points_ascii_minus_for_streamlit_metric() -> None:
    """st.metric reads a delta's direction from a leading ASCII '-': the page asks for one there."""
    assert fmt_signed_points(-0.054, ascii_minus=True) == "-5.4"
    assert fmt_signed_points(-0.054) == "\u22125.4"
    assert fmt_signed_points(0.054, ascii_minus=True) == "+5.4"
    assert fmt_signed_points(-0.0004, ascii_minus=True) == "0.0"


@pytest.mark.parametrize(
    ("x", "want"),
    [
        (None, "—"),
        (0.06532547622919083, "0.0653"),
        (213.6490249633789, "214"),
        (56927.51, "5.69e+04"),
        (1.0, "1"),
        (0.0001234, "0.000123"),
    ],
)
def test_sig3(x: float | None, want: str) -> None:
    assert fmt_sig3(x) == want


@pytest.mark.parametrize(
    ("x", "want"),
    [
        (12345.6, "12,346"),
        (100.0, "100"),
        (99.95, "100"),
        (1.5, "1.5"),
        (0.01, "0.01"),
        (0.00999, "1.0×10⁻²"),
        (0.000223, "2.2×10⁻⁴"),
        (3e-12, "3.0×10⁻¹²"),
    ],
)
def test_magnitude(x: float, want: str) -> None:
    assert fmt_magnitude(x) == want


def test_magnitude_span() -> None:
    assert fmt_magnitude_span((946.0, 10645.0)) == "946–10,645"
    assert fmt_magnitude_span((1.01, 1.012)) == "1.01"  # both ends read the same: one figure
    assert fmt_magnitude_span((0.0002, 0.0003)) == "2.0×10⁻⁴–3.0×10⁻⁴"


def test_range() -> None:
    assert fmt_range(7.82, 21.94) == "7.8–22"
    assert fmt_range(110.2, 570.6) == "110–570"
    assert fmt_range(3.01, 3.04) == "3"
    assert fmt_range(946.0, 10645.0) == "950–11,000"
    assert fmt_range(1.0111, 1.0123, digits=3) == "1.01"
    assert fmt_range(0.000123, 0.00456) == "0.00012–0.0046"


def test_list() -> None:
    assert fmt_list((0, 1, 2, 3)) == "0, 1, 2, 3"
    assert fmt_list(s for s in [7]) == "7"
    assert fmt_list([]) == ""
    assert fmt_list((0, 1, 2), "、") == "0、1、2"  # a Chinese sentence's list separator
