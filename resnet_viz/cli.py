"""Command line: ``python -m resnet_viz summary resnet50 --json`` and friends.

The CLI owns every sub-command: each is one :class:`Command` in :data:`COMMANDS` (its name, its help, a function
that adds its arguments and one that runs it), and the core modules it calls know nothing of argparse. To add a
sub-command, write its two functions here and add one row to the table.

``summary`` and ``params`` are pure arithmetic on the catalogue: their import path (this module,
:mod:`resnet_viz.architecture`, :mod:`resnet_viz.formatting`) never imports torch, so they start in a fraction of a
second (``python -m benchmarks --only cli``). ``diagram`` needs no torch either (graphviz's ``dot`` program only
for SVG/PNG); ``download-weights`` and ``landscape`` import torch (and torchvision) when they run, and only then.

Every error is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from resnet_viz import paths
from resnet_viz.architecture import counting, ladder, ladder_diff
from resnet_viz.architecture.catalogue import ARCHS, get_spec
from resnet_viz.architecture.trace import Trace, trace
from resnet_viz.formatting import fmt_bytes, fmt_int, fmt_macs, fmt_shape, text_table
from resnet_viz.i18n import translator
from resnet_viz.render import dot


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


#: The largest seed a torch.Generator takes (``manual_seed`` reads it as an unsigned 64-bit number).
SEED_MAX = 2**64 - 1


def _seed(text: str) -> int:
    """A seed for torch's generator: a whole number from 0 to :data:`SEED_MAX` (a larger one used to fail
    inside torch with "Overflow when unpacking long long", naming no argument)."""
    shown = text if len(text) <= 30 else text[:29] + "…"
    try:
        value = int(text)
    except ValueError:  # also a number of more than 4300 digits (Python's own limit)
        raise argparse.ArgumentTypeError(f"not a whole number: {shown!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(
            f"{shown} is out of range: a seed is a whole number from 0 to {SEED_MAX}"
        )
    return value


def _add_network(p: argparse.ArgumentParser) -> None:
    """The arguments that choose a network and its input: ARCH, --input-size, --plain, --stride-in."""
    p.add_argument("arch", choices=ARCHS, metavar="ARCH", help="one of: " + ", ".join(ARCHS))
    p.add_argument("--input-size", type=_input_size, default=None, help="224, 224x160 or 3,224,224")
    p.add_argument("--plain", action="store_true", help="the plain counterpart (every shortcut removed)")
    p.add_argument("--stride-in", choices=("3x3", "1x1"), default="3x3", help="3x3: v1.5 (default); 1x1: v1")


def _trace_of(args: argparse.Namespace) -> Trace:
    return trace(args.arch, args.input_size, plain=args.plain, stride_in=args.stride_in)


def _title_line(tr: Trace, suffix: str = "") -> str:
    c, h, w = tr.input_size
    stride = f", stride on the {tr.stride_in} conv" if tr.block == "bottleneck" else ""
    return f"{tr.title} at {c}×{h}×{w}{suffix}{stride}"


# --------------------------------------------------------------------------------------------- summary


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
    out = [
        _title_line(t),
        *text_table(header, lines, right={5, 6, 7}),
        "",
        f"total parameters: {fmt_int(t.total_params)}",
        f"total multiply-adds: {fmt_macs(t.total_macs)} ({fmt_int(t.total_macs)})",
        f"layers counted by the name: {t.layer_count_formula}",
    ]
    return "\n".join(out)


def _summary_arguments(p: argparse.ArgumentParser) -> None:
    _add_network(p)
    p.add_argument("--json", action="store_true", help="print Trace.to_dict() as JSON")
    p.add_argument("--detail", action="store_true", help="also list the layers inside each block")


def _summary(args: argparse.Namespace) -> int:
    t = _trace_of(args)
    if args.json:
        print(json.dumps(t.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(summary_table(t, detail=args.detail))
    return 0


# --------------------------------------------------------------------------------------------- params


def params_table(tr: Trace, by: str) -> str:
    """The count table (:func:`~resnet_viz.architecture.counting.count_table`) as fixed-width text with totals."""
    rows = counting.count_table(tr, by)
    header = ("paper", "torchvision", "kind", "params", "share", "MACs")
    lines = [
        (r.paper_name, r.name, r.kind, fmt_int(r.params), f"{100 * r.params / tr.total_params:.1f}%",
         fmt_macs(r.macs))
        for r in rows
    ]  # fmt: skip
    return "\n".join(
        [
            _title_line(tr, f", per {by}"),
            *text_table(header, lines, right={3, 4, 5}),
            "",
            f"total parameters: {fmt_int(tr.total_params)} "
            f"({fmt_bytes(counting.parameter_bytes(tr))} as float32)",
            f"total multiply-adds: {fmt_macs(tr.total_macs)} ({fmt_int(tr.total_macs)})",
            f"forward activations: {fmt_bytes(counting.activation_bytes(tr))} per image (float32)",
            f"layers counted by the name: {tr.layer_count_formula}",
        ]
    )


def _params_arguments(p: argparse.ArgumentParser) -> None:
    _add_network(p)
    p.add_argument(
        "--by", choices=counting.LEVELS, default="stage", help="one row per stage (default), block or layer"
    )
    p.add_argument("--csv", action="store_true", help="print CSV (no total row) instead of a table")


def _params(args: argparse.Namespace) -> int:
    tr = _trace_of(args)
    if args.csv:
        print(counting.table_to_csv(counting.count_table(tr, args.by)), end="")
    else:
        print(params_table(tr, args.by))
    return 0


# --------------------------------------------------------------------------------------------- diagram


def _diagram_arguments(p: argparse.ArgumentParser) -> None:
    _add_network(p)
    p.add_argument(
        "--view", choices=dot.VIEWS, default="overview", help="whole network, one block, or Figure 3"
    )
    p.add_argument(
        "--block", default=None, help="the block for --view block, e.g. layer2.0 (default: the first)"
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--collapse", dest="collapse", action="store_true", default=None,
                       help="draw repeated blocks as 'block × N' (default for the deep networks)")  # fmt: skip
    group.add_argument("--expand", dest="collapse", action="store_false", help="one node per block")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the labels")
    p.add_argument(
        "--format", choices=dot.FORMATS, default="dot", help="dot (text), svg or png (need graphviz 'dot')"
    )
    p.add_argument("-o", "--output", default="-", help="output file ('-': standard output, dot and svg only)")


def _diagram(args: argparse.Namespace) -> int:
    t = translator(args.lang)
    if args.view == "compare":
        text = dot.compare_dot(t)
    else:
        tr = _trace_of(args)
        if args.view == "block":
            text = dot.block_dot(tr, args.block or tr.blocks[0].name, t)
        else:
            text = dot.overview_dot(tr, t, collapse=args.collapse)
    data = text.encode() if args.format == "dot" else dot.render(text, args.format)
    if args.output == "-":
        if args.format == "png":
            raise ValueError("PNG is binary: give a file with -o FILE")
        sys.stdout.write(data.decode())
        return 0
    Path(args.output).write_bytes(data)
    return 0


# --------------------------------------------------------------------------------------------- ladder


def _signed(n: int) -> str:
    return ("+" if n > 0 else "−" if n < 0 else "±") + fmt_int(abs(n))


def ladder_rows(size: tuple[int, int, int], *, variants: bool = False) -> list[dict[str, object]]:
    """One plain dict per rung (and kernel variant with ``variants``): our counts beside the paper's cited ones."""
    specs = [*ladder.RUNGS, *(ladder.VARIANTS if variants else ())]
    rows = []
    for spec in specs:
        tr = ladder.rung_trace(spec.key, size)
        cited = ladder.CITED.get(spec.key)
        row: dict[str, object] = {
            "key": spec.key, "label": spec.label, "group": spec.group, "change": spec.change,
            "adopted": spec.adopted, "torchvision": spec.torchvision, "choices": list(spec.choices),
            "params": tr.total_params, "macs": tr.total_macs, "receptive_field": tr.receptive_field,
            "cited": None if cited is None else asdict(cited),
        }  # fmt: skip
        if cited is not None and size == (3, 224, 224):
            row["macs_explanation"] = asdict(ladder.macs_explanation(spec.key))
        rows.append(row)
    return rows


def ladder_table(size: tuple[int, int, int], *, variants: bool = False) -> str:
    """The ladder as a fixed-width table: ours (parameters, multiply-adds, receptive field), then the cited."""
    header = ("#", "rung", "Figure 2 label", "params", "MACs", "RF", "top-1*", "GFLOPs*", "Table 10*")
    lines = []
    for i, row in enumerate(ladder_rows(size, variants=variants)):
        cited = row["cited"] or {}
        lines.append((
            str(i) if row["adopted"] else "-", str(row["key"]), str(row["label"]), fmt_int(row["params"]),
            fmt_macs(row["macs"]), str(row["receptive_field"]), f"{cited.get('figure_top1', '')}",
            f"{cited.get('figure_gflops', '')}", f"{cited.get('table_gflops', '')}",
        ))  # type: ignore[arg-type]  # fmt: skip
    c, h, w = size
    return "\n".join([
        f"ResNet-50 → ConvNeXt-T, one change at a time, at {c}×{h}×{w}",
        *text_table(header, lines, right={3, 4, 5, 6, 7, 8}),
        "",
        f"MACs: {ladder.MAC_CONVENTION}.",
        f"* cited, not measured: top-1 (ImageNet-1K, %) and GFLOPs from {ladder.FIGURE}; "
        f"Table 10 GFLOPs from {ladder.TABLE}.",
        "RF: theoretical receptive field of the last feature map, in input pixels.",
    ])  # fmt: skip


def _ladder_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-size", type=_input_size, default=(3, 224, 224), help="224, 224x160 or 3,224,224")
    p.add_argument("--variants", action="store_true", help="also the kernel sizes the paper tried (5, 9, 11)")
    p.add_argument("--json", action="store_true", help="print the rungs, counts and cited numbers as JSON")


def _ladder(args: argparse.Namespace) -> int:
    if args.json:
        rows = ladder_rows(args.input_size, variants=args.variants)
        print(
            json.dumps({"mac_convention": ladder.MAC_CONVENTION, "rungs": rows}, indent=1, ensure_ascii=False)
        )
    else:
        print(ladder_table(args.input_size, variants=args.variants))
    return 0


# --------------------------------------------------------------------------------------------- diff


def _change_text(c: ladder_diff.ModuleChange) -> str:
    """What changed in one step, e.g. 'kernel 3→7, params 864→4,704'."""
    a, b = c.a, c.b
    parts = []
    for f in c.fields:
        va, vb = getattr(a, f), getattr(b, f)  # type: ignore[union-attr]
        if f in ("input_shape", "output_shape"):
            va, vb = fmt_shape(va), fmt_shape(vb)
        elif f == "params":
            va, vb = fmt_int(va), fmt_int(vb)
        parts.append(f"{f.replace('_', ' ')} {va}→{vb}")
    return ", ".join(parts)


def diff_text(d: ladder_diff.LadderDiff) -> str:
    """The diff as text: totals and deltas, whole blocks added or removed, then every other step."""
    c, h, w = d.input_size
    out = [
        f"{d.a} → {d.b} at {c}×{h}×{w}",
        f"parameters: {fmt_int(d.params[0])} → {fmt_int(d.params[1])} ({_signed(d.delta_params)})",
        f"multiply-adds: {fmt_macs(d.macs[0])} → {fmt_macs(d.macs[1])} ({_signed(d.delta_macs)})",
        f"receptive field: {d.receptive_field[0]} → {d.receptive_field[1]} px ({_signed(d.delta_receptive_field)})",
    ]
    if d.identical:
        return "\n".join([*out, "", "no module added, removed, reshaped or renamed"])
    whole = {"added": set(d.blocks_added), "removed": set(d.blocks_removed)}
    for kind, blocks in (("removed", d.blocks_removed), ("added", d.blocks_added)):
        if blocks:
            out += ["", f"whole blocks {kind} ({len(blocks)}): {', '.join(blocks)}"]
    for kind in ("removed", "added", "changed", "renamed"):
        items = [x for x in getattr(d, kind) if x.block not in whole.get(kind, ())]
        if not items:
            continue
        out += ["", f"{kind} ({len(items)}):"]
        rows = []
        for x in items:
            r = x.b or x.a
            what = _change_text(x) if kind == "changed" else f"{r.kind} {fmt_shape(r.output_shape)}"  # type: ignore[union-attr]
            rows.append((x.role, x.name, what, _signed(x.delta_params), _signed(x.delta_macs)))
        out += text_table(("role", "module", "what", "Δparams", "ΔMACs"), rows, right={3, 4})
    return "\n".join(out)


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    names = ", ".join(ladder.NETWORKS)
    p.add_argument("net_a", choices=ladder.NETWORKS, metavar="NET_A", help="one of: " + names)
    p.add_argument("net_b", choices=ladder.NETWORKS, metavar="NET_B", help="as NET_A")
    p.add_argument("--input-size", type=_input_size, default=(3, 224, 224), help="224, 224x160 or 3,224,224")
    p.add_argument("--json", action="store_true", help="print the diff as JSON")


def _diff(args: argparse.Namespace) -> int:
    d = ladder_diff.diff(args.net_a, args.net_b, args.input_size)
    if args.json:
        print(json.dumps(d.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(diff_text(d))
    return 0


# --------------------------------------------------------------------------------------------- download-weights


def _download_weights_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("archs", nargs="+", metavar="ARCH", help="ImageNet networks: resnet18 … resnet152")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--recipes", action="store_true",
        help="also every other ImageNet weight set torchvision ships for resnet50 (V1 beside the default V2) and "
        "convnext_tiny: the ResNet → ConvNeXt page's recipe comparison",
    )  # fmt: skip


def _download_weights(args: argparse.Namespace) -> int:
    from resnet_viz.models import weights  # torch and torchvision: only for this command

    for arch in args.archs:
        if arch not in ARCHS:
            raise ValueError(f"unknown network {arch!r}; choose one of: {', '.join(ARCHS)}")
        weights.pretrained_weights(arch)  # raises for the CIFAR nets before anything is downloaded
    for arch in args.archs:
        was_cached = weights.is_cached(arch)
        path = weights.ensure_pretrained(arch, progress=not args.quiet)
        state = "already cached" if was_cached else "downloaded"
        print(f"{arch}: {weights.weights_name(arch)} {state} at {path}", file=sys.stdout)
    if args.recipes:
        for net in weights.RECIPE_NETWORKS:
            for r in weights.recipe_weights(net):
                path = weights.ensure_weights_file(net, r.name, progress=not args.quiet)
                print(f"{net}: {r.weights} {'already cached' if r.cached else 'downloaded'} at {path}")
    return 0


# --------------------------------------------------------------------------------------------- landscape


def _landscape_arguments(p: argparse.ArgumentParser) -> None:
    nets = [net.key for net in paths.TRAINED_NETS]
    p.add_argument("--net", required=True, choices=nets, help=", ".join(nets))
    p.add_argument("--dim", type=int, choices=(1, 2), default=1, help="1: a slice; 2: a grid (default 1)")
    p.add_argument(
        "--points", type=int, default=None, help="points per axis, 3–101 (default: the live slice's 41)"
    )
    p.add_argument(
        "--seed", type=_seed, default=None, help=f"seed of the random directions, 0 to {SEED_MAX} (default 0)"
    )
    p.add_argument(
        "--batch", type=int, default=None, help="training images evaluated (default: the live 512)"
    )
    p.add_argument("--json", action="store_true", help="print the coordinates, losses and numbers as JSON")


def _landscape(args: argparse.Namespace) -> int:
    from resnet_viz.experiments import landscape as ls  # torch: only for this command

    points = ls.LIVE_POINTS if args.points is None else args.points
    ls.coordinates(points)  # a bad count is one line (ValueError) before any weights are loaded
    land = ls.shipped_landscape(
        args.net,
        dim=args.dim,
        points=points,
        seed=ls.DEFAULT_SEED if args.seed is None else args.seed,
        batch=ls.LIVE_BATCH if args.batch is None else args.batch,
    )
    summary = ls.summarise(land)
    if args.json:
        print(json.dumps({**land.to_dict(), "summary": summary.to_dict()}))
    else:
        print(ls.landscape_text(land, summary))
    return 0


# --------------------------------------------------------------------------------------------- shattered

#: ``--net`` choices: the toy (``mlp``) and the CIFAR networks of the path experiment.
SHATTERED_NETS = ("resnet56", "plain56", "resnet20", "plain20", "mlp")
SHATTERED_MAX_SEEDS = 20
SHATTERED_MAX_DEPTH = 200


def _count(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        shown = text if len(text) <= 30 else text[:29] + "…"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {shown!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high}, not {shown}")
        return value

    return parse


def _shattered_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--net", required=True, choices=SHATTERED_NETS, help=", ".join(SHATTERED_NETS))
    p.add_argument(
        "--depth",
        type=_count(1, SHATTERED_MAX_DEPTH, "--depth"),
        default=None,
        help="blocks of the toy (mlp; default 50); a CIFAR net's depth is in its name (if given, it must match)",
    )
    p.add_argument(
        "--seeds", type=_count(1, SHATTERED_MAX_SEEDS, "--seeds"), default=5, help="seeds 0 … K−1 (default 5)"
    )
    p.add_argument(
        "--width",
        type=_count(1, 64, "--width"),
        default=None,
        help="CIFAR nets at init: first-stage channels (default: the shipped trained nets' width, 4)",
    )
    p.add_argument("--no-norm", action="store_true", help="mlp: the toy without batch normalisation")
    p.add_argument("--json", action="store_true", help="print every seed's lag-1 autocorrelation as JSON")


def _shattered(args: argparse.Namespace) -> int:
    from resnet_viz.experiments import shattered as sh  # torch: only for this command
    from resnet_viz.experiments import summaries as S

    seeds = tuple(range(args.seeds))
    rows: list[dict] = []
    if args.net == "mlp":
        depth = 50 if args.depth is None else args.depth
        for residual in (False, True):
            runs = [sh.toy_gradients(depth, residual=residual, norm=not args.no_norm, seed=s) for s in seeds]
            rows.append(
                {"net": f"mlp-{'residual' if residual else 'plain'}", "depth": depth, "weights": "init",
                 "norm": not args.no_norm, "bn": "calibrated" if not args.no_norm else "none",
                 "seeds": list(seeds), "lag1": [r.lag1 for r in runs]}
            )  # fmt: skip
    else:
        if args.no_norm:
            raise ValueError("--no-norm is for the toy (--net mlp) only")
        own = int(args.net.removeprefix("plain").removeprefix("resnet"))
        if args.depth is not None and args.depth != own:
            raise ValueError(f"--depth {args.depth} does not match --net {args.net} (depth {own})")
        width = sh.PATH_WIDTH if args.width is None else args.width
        a, b = sh.sample_pair()
        runs = [sh.path_gradients(args.net, a, b, seed=s, width=width) for s in seeds]
        rows.append(
            {"net": args.net, "depth": own, "weights": "init", "width": width, "bn": "calibrated",
             "seeds": list(seeds), "lag1": [r.lag1 for r in runs]}
        )  # fmt: skip
        from resnet_viz.architecture.experiment_net import ExperimentNet

        if paths.net_weights_path(ExperimentNet.parse(args.net)).exists():
            trained = sh.path_gradients(args.net, a, b, seed=None)
            rows.append(
                {"net": args.net, "depth": own, "weights": "trained", "width": trained.width, "bn": "running",
                 "seeds": [], "lag1": [trained.lag1]}
            )  # fmt: skip
    for row in rows:
        spread = S.lag1_spread(row["lag1"])
        row |= {"mean": spread.mean, "low": spread.low, "high": spread.high, "colour": S.noise_colour(spread)}
    if args.json:
        print(json.dumps({"steps": sh.TOY_POINTS if args.net == "mlp" else sh.PATH_STEPS, "rows": rows}))
        return 0
    header = ["net", "depth", "weights", "BN", "seeds", "lag-1 mean", "lowest", "highest", "reads as"]
    table = [
        [r["net"], str(r["depth"]), r["weights"], r["bn"], str(len(r["seeds"]) or 1),
         f"{r['mean']:+.3f}", f"{r['low']:+.3f}", f"{r['high']:+.3f}", r["colour"]]
        for r in rows
    ]  # fmt: skip
    print("\n".join(text_table(header, table, right={1, 4, 5, 6, 7})))
    return 0


# --------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Command:
    """One sub-command: ``add_arguments`` fills its parser, ``run`` does the work and returns the exit status."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: Every sub-command, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (
    Command(
        "summary",
        "shapes, parameters, multiply-adds and receptive fields, step by step",
        _summary_arguments,
        _summary,
    ),
    Command(
        "params",
        "parameters and multiply-adds per stage, block or layer (table or CSV)",
        _params_arguments,
        _params,
    ),
    Command(
        "diagram",
        "graphviz diagram of a network (overview, one block, or the paper's Figure 3) as DOT, SVG or PNG",
        _diagram_arguments,
        _diagram,
    ),
    Command(
        "ladder",
        "ResNet-50 → ConvNeXt-T one change at a time (Liu et al. 2022, Figure 2): counts beside the cited numbers",
        _ladder_arguments,
        _ladder,
    ),
    Command(
        "diff",
        "what was added, removed or reshaped from one network to another (ladder rungs, ImageNet ResNets)",
        _diff_arguments,
        _diff,
    ),
    Command(
        "download-weights",
        "fill torch's hub cache with the pretrained ImageNet weights, for an offline classroom",
        _download_weights_arguments,
        _download_weights,
    ),
    Command(
        "landscape",
        "the loss around a shipped trained CIFAR net along filter-normalised random directions (Li et al. 2018)",
        _landscape_arguments,
        _landscape,
    ),
    Command(
        "shattered",
        "lag-1 autocorrelation of the input gradient (Balduzzi et al. 2017): the toy MLP or a CIFAR net on a path",
        _shattered_arguments,
        _shattered,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m resnet_viz", description="See how a residual network works.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "input_size", "absent") is None:
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
