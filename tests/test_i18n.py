"""Both languages complete (issue 8): same keys, same placeholders, one table per file, and every page renders
in English and 简体中文 with no exception and no ``⟦key⟧`` missing-key marker.

The pages are discovered from ``app_pages/*.py``, so a page added later is checked without editing this file.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
import tomllib
from apptest_helpers import assert_translated, page_texts
from repo import ROOT
from streamlit.testing.v1 import AppTest

from resnet_viz.i18n import LANGUAGES, MISSING, catalogue, tr

I18N = ROOT / "resnet_viz" / "i18n"
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app_pages").glob("*.py"))
MARKER = MISSING.format("")[0]  # "⟦"
# Settings each page is rendered with. The key sets of the two languages are checked equal below, so a key
# missing on one network's path shows in either language; each page is still drawn in both languages, and each
# network family (BasicBlock, Bottleneck, CIFAR option A) at least once.
RENDERS = [("en", "resnet34"), ("zh", "resnet50"), ("zh", "resnet20")]


def _placeholders(template: str) -> set[str]:
    """The field names of a str.format template ('{size}×{size}' → {'size'}); raises on a stray brace."""
    names = set()
    for _literal, field, _spec, _conv in string.Formatter().parse(template):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return names


def test_languages_have_the_same_files() -> None:
    files = {lang: sorted(p.name for p in (I18N / lang).glob("*.toml")) for lang in LANGUAGES}
    assert files["en"], "no English catalogue files"
    assert files["en"] == files["zh"]


@pytest.mark.parametrize("path", sorted(I18N.glob("*/*.toml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_file_is_one_table_named_like_the_file(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert list(data) == [path.stem]
    assert isinstance(data[path.stem], dict) and data[path.stem]


def test_every_key_exists_in_both_languages() -> None:
    en, zh = set(catalogue("en")), set(catalogue("zh"))
    assert not en - zh, f"missing in zh: {sorted(en - zh)}"
    assert not zh - en, f"missing in en: {sorted(zh - en)}"


def test_placeholders_are_the_same_in_both_languages() -> None:
    en, zh = catalogue("en"), catalogue("zh")
    different = {
        key: (sorted(_placeholders(en[key])), sorted(_placeholders(zh[key])))
        for key in en.keys() & zh.keys()
        if _placeholders(en[key]) != _placeholders(zh[key])
    }
    assert not different, f"placeholders differ (en, zh): {different}"


def test_no_text_is_empty_or_a_marker() -> None:
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            assert text.strip(), f"{lang}: {key} is empty"
            assert MARKER not in text, f"{lang}: {key}"


def test_chinese_is_chinese() -> None:
    """A key copied over untranslated would pass the key checks; most Chinese texts must contain CJK."""
    en, zh = catalogue("en"), catalogue("zh")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    prose = [k for k in zh if len(en[k]) > 40]
    untranslated = [k for k in prose if not cjk.search(zh[k])]
    assert len(untranslated) <= len(prose) // 20, f"long texts without Chinese: {untranslated}"


def _literal_keys(path: Path) -> set[str]:
    """The keys of calls ``t("section.key", ...)`` written with a literal string (dynamic keys are skipped)."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "t"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            keys.add(node.args[0].value)
    return keys


def test_literal_keys_used_in_code_exist() -> None:
    """Every ``t("section.key")`` written literally in the app and the core is in the catalogue."""
    known = set(catalogue("en"))
    sources = [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "resnet_viz").rglob("*.py")]
    used = {key: path.relative_to(ROOT).as_posix() for path in sources for key in _literal_keys(path)}
    assert len(used) > 50  # the scan finds the pages' keys at all
    missing = {key: where for key, where in used.items() if key not in known}
    assert not missing, f"keys used but not in the catalogue: {missing}"


def test_translator_formats_and_marks_missing_keys() -> None:
    assert tr("en", "no_such.key") == "⟦no_such.key⟧"
    assert tr("zh", "nav.home") != tr("en", "nav.home")
    with pytest.raises(ValueError, match="unknown language"):
        catalogue("fr")


# ------------------------------------------------------------------------------------ pages via AppTest


def _assert_clean(at: AppTest, where: str) -> None:
    assert page_texts(at), f"{where}: nothing rendered"
    assert_translated(at, where)  # every element kind, plotly specs decoded (tests/apptest_helpers.py)


def test_every_page_is_in_the_navigation() -> None:
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    assert PAGES
    for page in PAGES:
        assert f'"{page}"' in app, f"{page} is not routed by app.py"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_both_languages_without_missing_keys(page: str, app_test) -> None:
    at = app_test(timeout=180)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page(page).run()
    for lang, arch in RENDERS:
        where = f"{page} [{lang}, {arch}]"
        if at.radio(key="rv_lang").value != lang:
            at.radio(key="rv_lang").set_value(lang).run()
        if at.selectbox(key="rv_arch").value != arch:
            at.selectbox(key="rv_arch").set_value(arch).run()
        assert at.session_state["rv_lang"] == lang and at.session_state["rv_arch"] == arch, where
        _assert_clean(at, where)
        # The page really is in the chosen language: the sidebar's label comes from the catalogue.
        assert at.selectbox(key="rv_arch").label == tr(lang, "common.network"), where


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh-CN", "zh"),
        ("zh-Hans-TW", "zh"),
        ("ZH", "zh"),
        ("en-GB", "en"),
        ("fr-FR", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_default_language_follows_the_browser_locale(locale, expected):
    from resnet_viz.i18n import browser_language

    assert browser_language(locale) == expected


def test_zh_drops_the_template_space_beside_a_chinese_value() -> None:
    """ "{title} 中" reads "ResNet-34 中" but "ResNet-20（CIFAR）中": a Chinese sentence has no space next to a Chinese
    character or full-width punctuation, whatever the value ends with. English keeps its spaces."""
    from resnet_viz.i18n import _format_zh

    assert _format_zh("{title} 中没有", {"title": "ResNet-20（CIFAR）"}) == "ResNet-20（CIFAR）中没有"
    assert _format_zh("{title} 中没有", {"title": "ResNet-34"}) == "ResNet-34 中没有"
    assert _format_zh("有 {n} 个", {"n": 3}) == "有 3 个"
    assert _format_zh("网络 {net} 的", {"net": "56 层普通网络"}) == "网络 56 层普通网络的"
    assert _format_zh("共 {n:,} 个（{p!r}）", {"n": 1234, "p": "x"}) == "共 1,234 个（'x'）"
    # inside bold, the space is dropped only where the bold still closes (CommonMark: not after punctuation)
    assert _format_zh("**{t}** 的", {"t": "56 层普通网络"}) == "**56 层普通网络**的"
    assert _format_zh("**{t}** 中", {"t": "ResNet-20（CIFAR）"}) == "**ResNet-20（CIFAR）** 中"
    assert _format_zh("是 **{t}**", {"t": "（CIFAR）"}) == "是 **（CIFAR）**"
