"""Human formatting of counts and shapes, shared by the CLI and the pages."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def fmt_int(n: int) -> str:
    """11689512 → '11,689,512'."""
    return f"{n:,}"


def fmt_macs(n: int) -> str:
    """Multiply-adds with an SI prefix: 1814083944 → '1.814 G'."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
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
