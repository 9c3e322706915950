"""Human formatting of counts and shapes, shared by the CLI and the pages."""

from __future__ import annotations


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
