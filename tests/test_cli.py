"""The command line: ``python -m resnet_viz summary ...``.

Most cases call :func:`resnet_viz.cli.main` in-process (fast); a few run the real ``python -m resnet_viz`` in a
subprocess, because exit status, stderr and a closed pipe are only real there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from resnet_viz import trace
from resnet_viz.cli import main


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resnet_viz", *args], capture_output=True, text=True, timeout=timeout
    )


def _row_of(table: str, name: str) -> str:
    lines = [line for line in table.splitlines() if name in line.split()]
    assert len(lines) == 1, (name, lines)
    return lines[0]


def test_summary_table_puts_paper_names_beside_torchvision_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "conv3_1" in _row_of(out, "layer2.0")
    assert "conv2_x" in _row_of(out, "layer1")
    assert "conv5_3" in _row_of(out, "layer4.2")
    assert "[projection]" in _row_of(out, "layer1.0") and "[identity]" in _row_of(out, "layer1.1")
    assert "256×56×56" in _row_of(out, "layer1")
    # torchvision's parameter count and multiply-adds (reference figures, not ours).
    assert "25,557,032" in out and "4.089 G" in out
    assert "50 = 1 + 3×(3+4+6+3) + 1" in out
    assert "layer1.0.conv1" not in out  # block internals only with --detail


def test_summary_detail_lists_layers_inside_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet18", "--detail", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "layer2.0.downsample.0" in out and "3×64×64" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["resnet50"], trace("resnet50", 224)),
        (["resnet50", "--stride-in", "1x1", "--input-size", "193"], trace("resnet50", 193, stride_in="1x1")),
        (["resnet34", "--plain", "--input-size", "224x160"], trace("resnet34", (224, 160), plain=True)),
        (["resnet20"], trace("resnet20", 32)),  # CIFAR nets default to their 32×32 input
        (["resnet34_cifar", "--input-size", "3,32,32"], trace("resnet34_cifar", 32)),
    ],
)
def test_json_matches_trace_to_dict(argv: list[str], expected, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", *argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected.to_dict()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "resnet19"], "invalid choice: 'resnet19'"),
    ],
)
def test_errors_are_one_line_exit_2_no_traceback(args: list[str], message: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "resnet18", "--bogus"], "unrecognized arguments: --bogus"),
        (["summary", "resnet18", "--stride-in", "2x2"], "invalid choice: '2x2'"),
        (["summary", "resnet18", "--input-size", "abc"], "not an input size: 'abc'"),
        (["summary", "resnet18", "--input-size", "4,224,224"], "not 4 channels"),
        (["summary", "resnet18", "--input-size", "99999"], "larger than the 4096×4096"),
        (["summary", "resnet18", "--input-size", "0"], "smallest size that works is 1×1"),
        (["summary", "resnet50", "--input-size=-5x224"], "smallest size that works is 1×1"),
        (
            ["landscape", "--net", "resnet56", "--seed", str(2**64)],
            "argument --seed: 18446744073709551616 is out",
        ),
        (["landscape", "--net", "resnet56", "--seed=" + "9" * 40], "argument --seed: 99999999999999999999"),
        (["landscape", "--net", "resnet56", "--seed=-1"], "argument --seed: -1 is out of range"),
        (["landscape", "--net", "resnet56", "--seed", "1e3"], "argument --seed: not a whole number: '1e3'"),
        (["landscape", "--net", "resnet56", "--seed", "9" * 5000], "argument --seed: not a whole number"),
        (["summary"], "required: ARCH"),
        ([], "required: command"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors leave through parser.exit(2, ...)
        status = exc.code
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "Traceback" not in captured.err


def test_shell_pipe_into_head_is_quiet() -> None:
    """``... | head -3``: no 'Broken pipe' message, no traceback, exit 0.

    The JSON of resnet152 (~230 KB) is far larger than a pipe's buffer, so the writer is still writing when
    ``head`` leaves and always meets the closed pipe.
    """
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f"'{sys.executable}' -m resnet_viz summary resnet152 --json | head -3; exit ${{PIPESTATUS[0]}}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == ["{", ' "arch": "resnet152",', ' "title": "ResNet-152",']
    assert proc.stderr == ""


_TORCH_FREE = """
import contextlib, io, sys
from resnet_viz.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    statuses = [main(argv) for argv in ({commands})]
print(statuses, len(out.getvalue()) > 0, sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision")))
"""


@pytest.mark.slow  # two fresh interpreters, one of which imports torch: seconds, more on busy cores
def test_summary_params_and_diagram_run_without_importing_torch() -> None:
    """The arithmetic sub-commands never load torch (the start-up cost is in benchmarks/bench_cli.py)."""
    commands = [["summary", "resnet50"], ["params", "resnet50", "--by", "block"], ["diagram", "resnet34"]]
    code = _TORCH_FREE.format(commands=repr(commands))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 0] True []"
    # The check itself can fail: download-weights does import torch.
    code = _TORCH_FREE.format(commands=repr([["download-weights", "resnet20"]]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "'torch'" in proc.stdout and "[2]" in proc.stdout


def test_the_public_api_is_unchanged_and_torch_names_load_on_first_use() -> None:
    import resnet_viz
    from resnet_viz.models.build import build_model
    from resnet_viz.models.device import describe_device, select_device

    assert resnet_viz.build_model is build_model
    assert (resnet_viz.select_device, resnet_viz.describe_device) == (select_device, describe_device)
    assert set(resnet_viz.__all__) <= set(dir(resnet_viz))
    assert all(getattr(resnet_viz, name) is not None for name in resnet_viz.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        resnet_viz.no_such_name  # noqa: B018


def test_every_command_is_one_row_of_the_table() -> None:
    from resnet_viz.cli import COMMANDS, build_parser

    names = [c.name for c in COMMANDS]
    assert names == [
        "summary",
        "params",
        "diagram",
        "ladder",
        "diff",
        "download-weights",
        "landscape",
        "shattered",
    ]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == names


def test_every_seed_the_cli_accepts_seeds_a_torch_generator() -> None:
    import torch

    from resnet_viz.cli import SEED_MAX, build_parser

    for seed in (0, 2**63, SEED_MAX):
        args = build_parser().parse_args(["landscape", "--net", "resnet56", "--seed", str(seed)])
        assert args.seed == seed
        torch.Generator().manual_seed(args.seed)  # raises past the range the CLI promises
    with pytest.raises(ValueError, match="Overflow"):
        torch.Generator().manual_seed(SEED_MAX + 1)  # so the bound is torch's, not a guess
