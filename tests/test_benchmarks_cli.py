"""`python -m benchmarks`' own options: which benchmarks a command line chooses (nothing is run here)."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import build_parser, chosen, discover

AVAILABLE = ["capture", "load", "rerun", "trace"]


def _chosen(*argv: str) -> list[str]:
    return chosen(build_parser(AVAILABLE).parse_args(argv), AVAILABLE)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), AVAILABLE),
        (("--skip", "load"), ["capture", "rerun", "trace"]),
        (
            ("--skip", "load", "--skip", "rerun"),
            ["capture", "trace"],
        ),  # issue 22: only the last --skip was kept
        (("--skip", "load", "rerun"), ["capture", "trace"]),
        (("--skip", "load", "--skip=trace"), ["capture", "rerun"]),
        (("--only", "trace", "--only", "capture"), ["capture", "trace"]),  # in the suite's order
        (("--only", "trace", "load", "--skip", "load"), ["trace"]),
    ],
)
def test_repeated_options_add_up(argv: tuple[str, ...], expected: list[str]) -> None:
    assert _chosen(*argv) == expected


def test_a_parser_used_twice_starts_from_nothing() -> None:
    parser = build_parser(AVAILABLE)
    parser.parse_args(["--skip", "load"])
    assert parser.parse_args([]).skip == []  # the default list was not extended in place


def test_the_suite_is_discovered() -> None:
    assert {"trace", "load"} <= set(discover())
