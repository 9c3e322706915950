"""The claims register (resnet_viz/i18n/claims.toml) and the rules for the words students read:

* every register entry resolves: its i18n key exists in en and zh; a paper is one the register names; a source note
  exists in ../shared/seeds/ (or, where ../shared is absent, is a well-formed note file name); a command is one the
  CLI or the benchmarks offer (parsed against the CLI's own parser) or a script that exists; a data file exists;
  a code reference imports;
* every key of the Why residual and home sections is registered or declared a label (so a new factual sentence
  cannot slip in unsourced);
* no translation on those pages quotes a number from data (percentages, percentage points, ratios, epoch counts,
  "N of M"): such numbers are formatted at render time;
* (the Chinese texts' one term per concept is tests/test_glossary.py's, from resnet_viz/i18n/glossary.toml).
"""

from __future__ import annotations

import importlib
import re
import shlex

import pytest
import tomllib
from repo import ROOT

from resnet_viz import cli
from resnet_viz.i18n import LANGUAGES

I18N = ROOT / "resnet_viz" / "i18n"
REGISTER = tomllib.loads((I18N / "claims.toml").read_text(encoding="utf-8"))
SEEDS = ROOT.parent / "shared" / "seeds"
SECTIONS = (
    "home", "shapes", "diagrams", "feature_maps", "inspector", "parameters", "why_residual",
    "why_residual_training", "landscape", "lesson", "common", "nav", "links", "images", "ladder", "classroom",
    "shattered",
)  # fmt: skip
NOTE_NAME = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


def _strings(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((I18N / lang).glob("*.toml")):
        for section, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
            out.update({f"{section}.{k}": v for k, v in table.items() if isinstance(v, str)})
    return out


STRINGS = {lang: _strings(lang) for lang in LANGUAGES}
CLAIMS: dict[str, list[str]] = REGISTER["claims"]


def _resolve(source: str) -> str | None:
    """None where ``source`` resolves, else why not."""
    kind, _, rest = source.partition(" ")
    if kind in REGISTER["papers"]:
        return (
            None
            if rest.strip() or kind == "torchvision"
            else "a paper source needs a section, figure or table"
        )
    if kind == "notes":
        name = rest.split(" ")[0]
        if SEEDS.is_dir():
            return None if (SEEDS / name).is_file() else f"no note {name} in {SEEDS}"
        return None if NOTE_NAME.match(name) else f"{name!r} is not a note file name"
    if kind == "data":
        return None if (ROOT / rest).is_file() else f"no file {rest}"
    if kind == "code":
        module, _, attr = rest.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            return f"cannot import {module}: {exc}"
        return None if not attr or hasattr(mod, attr) else f"{module} has no {attr}"
    if kind == "cmd":
        return _command(shlex.split(rest))
    return f"unknown kind of source {kind!r}"


def _command(argv: list[str]) -> str | None:
    if argv[:1] != ["python"]:
        return "a command starts with python"
    if argv[1:3] == ["-m", "resnet_viz"]:
        try:
            cli.build_parser().parse_args(argv[3:])
        except SystemExit:
            return f"python -m resnet_viz does not accept {argv[3:]}"
        return None
    if len(argv) >= 3 and argv[1] == "-m" and argv[2].split(".")[0] == "benchmarks":
        parts = argv[2].split(".")
        path = ROOT / "benchmarks" / ("__main__.py" if len(parts) == 1 else f"{parts[1]}.py")
        return None if len(parts) <= 2 and path.is_file() else f"no benchmark {argv[2]}"
    if len(argv) >= 2 and argv[1].endswith(".py"):
        return None if (ROOT / argv[1]).is_file() else f"no script {argv[1]}"
    return f"not a command this repository offers: {' '.join(argv)}"


@pytest.mark.parametrize("key", sorted(CLAIMS))
def test_register_entry_resolves(key: str) -> None:
    for lang in LANGUAGES:
        assert key in STRINGS[lang], f"{key} is not a {lang} translation key"
    assert CLAIMS[key], f"{key} has no source"
    problems = [f"{s}: {why}" for s in CLAIMS[key] if (why := _resolve(s))]
    assert not problems, problems


def test_the_resolver_rejects_what_does_not_exist() -> None:
    """The checks above can fail: a made-up source of every kind is refused."""
    for bad in (
        "He2099 §1",
        "He2015",
        "notes 999_00000000000000zz.txt",
        "notes seed.md",
        "data assets/curves/nothing.json",
        "code resnet_viz.experiments.summaries:no_such_function",
        "cmd python -m resnet_viz no-such-command",
        "cmd python -m resnet_viz summary no_such_net",
        "cmd python -m benchmarks.bench_nothing",
        "cmd python scripts/nothing.py",
        "cmd bash rm -rf /",
    ):
        assert _resolve(bad), bad
    if SEEDS.is_dir():  # a well-formed name is not enough where the notes are present: the file must exist
        assert _resolve("notes 999_0000000000000000.txt")


@pytest.mark.parametrize("section", SECTIONS)
def test_every_sentence_of_the_page_is_registered_or_a_label(section: str) -> None:
    keys = {k.split(".", 1)[1] for k in STRINGS["en"] if k.startswith(section + ".")}
    registered = {k.split(".", 1)[1] for k in CLAIMS if k.startswith(section + ".")}
    labels = set(REGISTER["not_claims"][section])
    assert not registered & labels, f"both a claim and a label: {registered & labels}"
    assert not (labels - keys), f"labels that are no key: {labels - keys}"
    assert keys == registered | labels, (
        f"neither registered nor a label: {sorted(keys - registered - labels)}"
    )


# Numbers quoted from data: a percentage, percentage points, a ratio (17×, 7.8–22×), "epoch 3", "epochs 1–5",
# "15 of 25", and their Chinese forms. Sizes and kernel shapes (3×3, 32×32, 1×1) and network names (ResNet-56)
# are allowed: they are not measurements.
_QUOTED = [
    re.compile(r"\d[\d.,]*\s*(%|％|pp\b|个百分点|倍)"),
    re.compile(r"\d[\d.,–-]*\s*×(?![\s\d({A-Za-zα-ωγβμσ])"),  # 3×3, 2×{p}, 2×C are formulas
    re.compile(r"\bepochs? \d"),
    re.compile(r"第 ?\d+ ?个 ?epoch"),
    re.compile(r"\b\d+ of \d+\b"),
    re.compile(r"\d+ 次删除中"),
    # the paper's figures the pages quote, which come from resnet_viz.experiments.paper: its 64,000 iterations,
    # 16 filters, and Table 6's errors
    re.compile(r"64[,.]?000|64k|\b16 (?:channels|filters)|\(论文是 16"),
    re.compile(r"\b(8\.75|6\.97|6\.43|7\.93|19\.4)\b"),
]


def _quoted_numbers(text: str) -> list[str]:
    return [m.group(0) for pattern in _QUOTED for m in pattern.finditer(text)]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("section", SECTIONS)
def test_no_translation_quotes_a_number_from_data(lang: str, section: str) -> None:
    found = {
        k: hits
        for k, v in STRINGS[lang].items()
        if k.startswith(section + ".") and (hits := _quoted_numbers(v))
    }
    assert not found, (
        f"numbers typed into {lang} translations (format them from data at render time): {found}"
    )


def test_the_number_check_catches_typed_numbers() -> None:
    for bad in ("22.8% vs 0.6%", "+70 pp", "15 of 25", "171×", "7.8–22×", "epochs 1–5", "at epoch 3",
                "上升 70 个百分点", "第 3 个 epoch", "25 次删除中", "64,000 steps", "the paper's 16 channels",
                "7.93%", "6.43"):  # fmt: skip
        assert _quoted_numbers(bad), bad
    for fine in (
        "ResNet-56",
        "3×3 conv",
        "1×1",
        "{size}×{size}",
        "{spread}×",
        "ResNet-18/34",
        "6n+2",
        "{pct}%",
        "2×{p}",
        "2×C",
    ):
        assert not _quoted_numbers(fine), fine


def test_zh_feature_maps_adds_no_dimension_words_to_the_shortcut() -> None:
    """降维/升维 mean the Bottleneck's channel reduction; the dashed shortcut's line must not borrow them."""
    assert "降维/升维" not in STRINGS["zh"]["feature_maps.shortcut_projection"]
