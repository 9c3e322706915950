"""Command line: ``python -m resnet_viz summary resnet50 --json`` and friends.

Every error is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from resnet_viz.architecture.catalogue import ARCHS
from resnet_viz.architecture.trace import Trace, trace
from resnet_viz.formatting import fmt_int, fmt_macs, fmt_shape, text_table


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _input_size(text: str) -> tuple[int, int, int]:
    """'224' or '3,224,224' or '224x160'."""
    parts = [p for p in text.replace("x", ",").replace("×", ",").split(",") if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an input size: {text!r} (use 224, 224x160 or 3,224,224)"
        ) from None
    if len(dims) == 1:
        return (3, dims[0], dims[0])
    if len(dims) == 2:
        return (3, dims[0], dims[1])
    if len(dims) == 3:
        return (dims[0], dims[1], dims[2])
    raise argparse.ArgumentTypeError(f"not an input size: {text!r} (use 224, 224x160 or 3,224,224)")


def summary_table(t: Trace, *, detail: bool = False) -> str:
    """The trace as a fixed-width table; blocks and top-level steps, or every row with ``detail``."""
    header = ("paper", "torchvision", "kind", "input", "output", "params", "MACs", "RF")
    lines = []
    for r in t.rows:
        if not detail and r.depth > 1:
            continue
        indent = "  " * r.depth
        extra = f" [{r.shortcut}]" if r.kind == "block" else ""
        lines.append(
            (r.paper_name, indent + r.name + extra, r.kind, fmt_shape(r.input_shape), fmt_shape(r.output_shape),
             fmt_int(r.params), fmt_macs(r.macs) if r.macs else "0", str(r.receptive_field))
        )  # fmt: skip
    c, h, w = t.input_size
    out = [
        f"{t.title} at {c}×{h}×{w}"
        + (f", stride on the {t.stride_in} conv" if t.block == "bottleneck" else ""),
        *text_table(header, lines, right={5, 6, 7}),
        "",
        f"total parameters: {fmt_int(t.total_params)}",
        f"total multiply-adds: {fmt_macs(t.total_macs)} ({fmt_int(t.total_macs)})",
        f"layers counted by the name: {t.layer_count_formula}",
    ]
    return "\n".join(out)


def _cmd_summary(args: argparse.Namespace) -> int:
    t = trace(args.arch, args.input_size, plain=args.plain, stride_in=args.stride_in)
    if args.json:
        print(json.dumps(t.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(summary_table(t, detail=args.detail))
    return 0


def _add_common(p: argparse.ArgumentParser, *, input_size: bool = True) -> None:
    p.add_argument("arch", choices=ARCHS, metavar="ARCH", help="one of: " + ", ".join(ARCHS))
    if input_size:
        p.add_argument("--input-size", type=_input_size, default=None, help="224, 224x160 or 3,224,224")
    p.add_argument("--plain", action="store_true", help="the plain counterpart (every shortcut removed)")
    p.add_argument("--stride-in", choices=("3x3", "1x1"), default="3x3", help="3x3: v1.5 (default); 1x1: v1")


#: Sub-commands registered by other modules of the package: name -> (help, add_arguments, run).
EXTRA_COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m resnet_viz", description="See how a residual network works.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("summary", help="shapes, parameters, multiply-adds and receptive fields, step by step")
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print Trace.to_dict() as JSON")
    p.add_argument("--detail", action="store_true", help="also list the layers inside each block")
    p.set_defaults(run=_cmd_summary)
    _register_extra_commands()
    for name, (help_text, add_args, run) in EXTRA_COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def _register_extra_commands() -> None:
    """Import the modules that add sub-commands (kept lazy so `summary` stays fast)."""
    import importlib

    for module in ("resnet_viz.render.dot", "resnet_viz.architecture.counting", "resnet_viz.models.weights"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "input_size", "absent") is None:
        from resnet_viz.architecture.catalogue import get_spec

        args.input_size = get_spec(args.arch).default_input
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # inside the try: a reader that left early shows up here at the latest
        return status
    except BrokenPipeError:
        # The reader went away (`... | head -3`): stop quietly, as Unix tools do. Point stdout at devnull so
        # the interpreter's final flush does not raise a second BrokenPipeError (Python docs, signal notes).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
