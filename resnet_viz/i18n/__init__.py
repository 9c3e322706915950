"""User-facing text, one catalogue per language.

Each language's catalogue is the union of the TOML files in ``i18n/<lang>/``: one file per page or topic
(``common.toml``, ``shapes.toml`` …), each holding one table named after the file, so keys read ``shapes.title``.
Texts are ``str.format`` templates: ``t("shapes.conv_out", size=112)``. Technical names (conv1, layer2.0,
BasicBlock) stay as they are in every language.

A key missing from a catalogue renders as ``⟦key⟧`` (never an exception in front of a class); the tests look
for that marker on every page in every language.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomllib

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
MISSING = "⟦{}⟧"
_DIR = Path(__file__).parent


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of ``lang`` as ``{"section.key": text}``."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    flat: dict[str, str] = {}
    for path in sorted((_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            for section, table in tomllib.load(fh).items():
                _flatten(section, table, flat)
    return flat


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(name, value, out)
        else:
            out[name] = str(value)


def tr(lang: str, key: str, /, **kwargs: Any) -> str:
    """The text for ``key`` in ``lang``, formatted with ``kwargs``; ``⟦key⟧`` where it is missing."""
    text = catalogue(lang).get(key)
    if text is None:
        return MISSING.format(key)
    return text.format(**kwargs) if kwargs else text


#: What every renderer takes to put words in a figure: ``t("section.key", **values) -> str``.
Translator = Callable[..., str]


def translator(lang: str) -> Translator:
    """``t = translator("zh"); t("common.network")``."""
    return functools.partial(tr, lang)


def browser_language(locale: str | None) -> str:
    """Map a browser locale ('zh-CN', 'zh-Hans-TW', 'en-GB', None) to one of :data:`LANGUAGES`."""
    if locale and locale.lower().split("-")[0] == "zh":
        return "zh"
    return DEFAULT_LANGUAGE


def arch_title(t: Callable[..., str], arch: str) -> str:
    """A network's title in ``t``'s language: ``common.title_<family>`` with the depth filled in (the catalogue's
    English ``title`` is what the CLI prints)."""
    from resnet_viz.architecture.catalogue import get_spec

    spec = get_spec(arch)
    return t(f"common.title_{spec.family}", depth=spec.depth)
