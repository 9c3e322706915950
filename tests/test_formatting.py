"""Sizes, bar labels and single values, formatted in one place (resnet_viz.formatting): the exact strings the
Parameters page, the CLI and the inspector printed with their own helpers before."""

from __future__ import annotations

import pytest

from resnet_viz.formatting import fmt_bytes, fmt_bytes_short, fmt_si_short, fmt_value


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
