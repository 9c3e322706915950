"""The Why residual page's three translation sections (why_residual, why_residual_training, landscape) against the
claims register and the text rules of issue 21:

* every key is registered with its source or declared a label in ``[not_claims]`` (tests/test_claims.py checks
  that every register entry resolves; here: that none of these sections' keys is left out);
* no translation types a number that code or data should supply (a percentage, points, a ratio, "N of M", a
  paper's figure such as 64,000 iterations or a Table 6 error);
* the Chinese uses one word per concept (步距, 残差块, 归一化, 阶段, 填充, 普通网络) and full-width punctuation
  around Chinese text.
"""

from __future__ import annotations

import re

import pytest
import tomllib
from repo import ROOT

I18N = ROOT / "resnet_viz" / "i18n"
SECTIONS = ("why_residual", "why_residual_training", "landscape")
REGISTER = tomllib.loads((I18N / "claims.toml").read_text(encoding="utf-8"))


def _section(lang: str, section: str) -> dict[str, str]:
    return tomllib.loads((I18N / lang / f"{section}.toml").read_text(encoding="utf-8"))[section]


@pytest.mark.parametrize("section", SECTIONS)
def test_every_key_is_registered_or_a_label(section: str) -> None:
    keys = set(_section("en", section))
    assert keys == set(_section("zh", section)), "en and zh hold different keys"
    registered = {k.split(".", 1)[1] for k in REGISTER["claims"] if k.startswith(section + ".")}
    labels = set(REGISTER["not_claims"].get(section, []))
    assert not registered & labels, f"both a claim and a label: {sorted(registered & labels)}"
    assert not labels - keys, f"labels that are no key: {sorted(labels - keys)}"
    assert keys == registered | labels, (
        f"neither registered nor a label: {sorted(keys - registered - labels)}"
    )


# A number from data or a paper, typed: 12.3%, +5 pp, 个百分点, 倍, 17×, "15 of 25", epoch 3, and the paper's
# figures this page quotes (its iterations, widths and Table 6 errors come from resnet_viz.experiments.paper).
_TYPED = [
    re.compile(r"\d[\d.,]*\s*(%|％|pp\b|个百分点|倍)"),
    re.compile(r"\d[\d.,–-]*\s*×(?![\s\d(])"),
    re.compile(r"\b\d+ of \d+\b"),
    re.compile(r"\bepochs? \d"),
    re.compile(r"64[,.]?000|64k|\b16 (?:channels|filters)|\(论文是 16"),
    re.compile(r"\b(8\.75|6\.97|6\.43|7\.93|19\.4)\b"),
]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("section", SECTIONS)
def test_no_number_from_data_or_a_paper_is_typed(lang: str, section: str) -> None:
    found = {
        k: hits
        for k, v in _section(lang, section).items()
        if (hits := [m.group(0) for p in _TYPED for m in p.finditer(v)])
    }
    assert not found, f"format these from code or data at render time: {found}"


def test_the_typed_number_check_can_fail() -> None:
    for bad in (
        "7.93%",
        "64,000 steps",
        "the paper's 16 channels",
        "+5 pp",
        "8.1×",
        "7 of 27",
        "上升 3 个百分点",
    ):
        assert any(p.search(bad) for p in _TYPED), bad
    for fine in ("{e1202}", "{paper_steps}", "{pct}%", "ResNet-56", "3×3", "{times}×"):
        assert not any(p.search(fine) for p in _TYPED), fine


# One word per concept in the zh of these sections: the rejected variants.
_ZH_REJECTED = {
    "步距": re.compile(r"步幅|步长"),
    "残差块": re.compile(r"模块"),
    "归一化": re.compile(r"标准化"),
    "阶段": re.compile(r"(?i)\bstage\b"),
    "填充": re.compile(r"补零"),
    "普通网络": re.compile(r"(?i)plain(?![_}])"),
    "评估模式": re.compile(r"eval 模式"),
    "BN": re.compile(r"BatchNorm"),
}
# ASCII , ; : ( ) touching a Chinese character: inside a Chinese sentence the punctuation is full-width.
_HALF_WIDTH = re.compile(r"[\u4e00-\u9fff][,;:()]|[,;:(][\u4e00-\u9fff]")


def _zh_text(value: str) -> str:
    """The Chinese as a student reads it: placeholders, code spans and formulas removed."""
    return re.sub(r"\{[^}]*\}|`[^`]*`", "", value)


@pytest.mark.parametrize("section", SECTIONS)
def test_zh_uses_one_word_per_concept_and_full_width_punctuation(section: str) -> None:
    zh = {k: _zh_text(v) for k, v in _section("zh", section).items()}
    variants = {
        (term, k): pattern.findall(v) for term, pattern in _ZH_REJECTED.items() for k, v in zh.items()
    }
    assert not {k: v for k, v in variants.items() if v}, "rejected zh variants"
    half = {k: _HALF_WIDTH.findall(v) for k, v in zh.items() if _HALF_WIDTH.search(v)}
    assert not half, f"half-width punctuation in zh sentences: {half}"


def test_the_zh_checks_can_fail() -> None:
    assert _ZH_REJECTED["步距"].search("步长为 2") and _ZH_REJECTED["普通网络"].search("plain-56 的误差")
    assert not _ZH_REJECTED["普通网络"].search(_zh_text("{plain} 的误差"))
    assert _HALF_WIDTH.search("误差(测试)") and not _HALF_WIDTH.search("误差（测试）")
