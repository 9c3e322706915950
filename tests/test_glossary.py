"""The Chinese glossary (resnet_viz/i18n/glossary.toml): one term per concept across every page.

Every chosen term is used somewhere in the zh translations, no rejected variant appears anywhere, and Chinese
sentences use full-width punctuation. The checks can fail: each rejection pattern is shown to match the variant it
names.
"""

from __future__ import annotations

import re

import pytest
import tomllib
from repo import ROOT

I18N = ROOT / "resnet_viz" / "i18n"
GLOSSARY = tomllib.loads((I18N / "glossary.toml").read_text(encoding="utf-8"))["term"]


def _zh() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((I18N / "zh").glob("*.toml")):
        for section, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
            out.update({f"{section}.{k}": v for k, v in table.items() if isinstance(v, str)})
    return out


ZH = _zh()
CJK = "\u3400-\u4dbf\u4e00-\u9fff"


@pytest.mark.parametrize("term", GLOSSARY, ids=lambda t: t["concept"])
def test_zh_uses_the_chosen_term(term: dict) -> None:
    assert any(term["use"] in v for v in ZH.values()), f"the chosen term {term['use']!r} is used nowhere"


@pytest.mark.parametrize("term", GLOSSARY, ids=lambda t: t["concept"])
def test_zh_uses_no_rejected_variant(term: dict) -> None:
    hits = {
        key: [m.group(0) for p in term["reject"] for m in re.finditer(p, text)]
        for key, text in ZH.items()
        if any(re.search(p, text) for p in term["reject"])
    }
    assert not hits, f"{term['concept']}: use {term['use']!r}, not {hits}"


def test_every_rejection_matches_what_it_rejects() -> None:
    """The glossary's patterns are not vacuous: each rejects a sentence that uses the variant."""
    samples = {
        "stride": "步幅为 2；步长为 2；stride 为 2",
        "residual block (BasicBlock / Bottleneck)": "每个模块",
        "stage (layer1 … layer4, conv2_x … conv5_x)": "每个 stage 的",
        "batch normalisation": "批量归一化",
        "normalisation (of a layer's inputs, of an image's channels)": "输入标准化",
        "padding": "padding 为 1；补零",
        "shortcut": "经过 shortcut 相加",
        "the residual addition F(x) + x": "加法的两项",
        "plain network": "34 层 plain",
        "channel reduction (1×1 conv in the Bottleneck)": "一路降维到 7×7",
        "giga (10⁹) multiply-adds": "四十亿次乘加",
        "option A / option B shortcuts": "选项 A",
        "one pixel in every s (a stride-s sampling)": "每隔 {s} 个像素取一个",
        "the stem (conv1, bn1, ReLU, max-pool)": "默认只列出 stem；开头的卷积",
        "et al. after an author's name": "Luo 等，2016",
        "evaluation mode (model.eval())": "在 eval 模式下",
        "layer scale (a learnt factor per channel, ConvNeXt's γ)": "并加了 layer scale",
    }
    assert set(samples) == {t["concept"] for t in GLOSSARY}, "a glossary term has no sample here"
    for term in GLOSSARY:
        assert any(re.search(p, samples[term["concept"]]) for p in term["reject"]), term["concept"]
    # and the kept forms pass
    kept = (
        "步距为 2 的 3×3 卷积；torchvision 的模块名；shortcut(x) 与 F(x) 相加；{stride}、{padding} 与 {stage}"
    )
    for term in GLOSSARY:
        assert not any(re.search(p, kept) for p in term["reject"]), term["concept"]


# ASCII punctuation touching a Chinese character: "残差块,", "步距:", "捷径分支(" … A tuple such as (28, 28, 128)
# or a formula such as F(x) keeps its ASCII punctuation: it touches no Chinese character.
_HALF_WIDTH = re.compile(rf"[{CJK}][,;:!?()]|[,;:!?(][{CJK}]|[{CJK}]\s+[,;:!?]")


def _half_width(text: str) -> list[str]:
    return [m.group(0) for m in _HALF_WIDTH.finditer(text)]


def test_zh_sentences_use_full_width_punctuation() -> None:
    found = {k: hits for k, v in ZH.items() if (hits := _half_width(v))}
    assert not found, f"ASCII punctuation inside Chinese sentences (use ，；：！？（）): {found}"


def test_the_punctuation_check_can_fail() -> None:
    for bad in ("残差块,然后", "步距:2", "捷径分支(shortcut)", "相加 ,"):
        assert _half_width(bad), bad
    for fine in ("形状为 (28, 28, 128)。", "F(x) + x", "ResNet-34：{n} 层", "（见 §3.3）"):
        assert not _half_width(fine), fine
