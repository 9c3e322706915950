"""Every bold and italic in every message closes under CommonMark, in both languages: the shattered section's zh
bolds ("**标题：**正文") showed their asterisks on the page, and this checks every key, not one section. The only
asterisks meant to show are the optimum's star, θ*."""

from __future__ import annotations

import re

import pytest
import tomllib
from commonmark_emphasis import literal_asterisks
from repo import ROOT

I18N = ROOT / "resnet_viz" / "i18n"


def _strings(table: dict, prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _strings(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def _messages(lang: str) -> list[tuple[str, str]]:
    out = []
    for path in sorted((I18N / lang).glob("*.toml")):
        out += list(_strings(tomllib.loads(path.read_text(encoding="utf-8"))))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_emphasis_closes(lang: str) -> None:
    broken = []
    for key, text in _messages(lang):
        filled = re.sub(r"\{[^{}]*\}", "1", text)  # a placeholder stands for a value: a digit, the hard case
        if literal_asterisks(filled) != filled.count("θ*"):
            broken.append(f"{key}: {text[:80]}")
    assert not broken, "asterisks that would show on the page:\n" + "\n".join(broken)


def test_the_check_sees_a_zh_bold_that_does_not_close() -> None:
    assert literal_asterisks("**深度 1 的测量结果：**普通网络") == 4
    assert literal_asterisks("**深度 1 的测量结果**：普通网络") == 0
