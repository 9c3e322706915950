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
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    if not kwargs:
        return text
    return _format_zh(text, kwargs) if lang == "zh" else text.format(**kwargs)


# A Chinese sentence puts no space between two Chinese characters or next to full-width punctuation, but a
# template cannot know what a value will end with: "{title} 中" is right for "ResNet-34 中" and wrong for
# "ResNet-20（CIFAR） 中". So the space a template puts beside a placeholder is dropped where the value's edge is
# Chinese (str.format has no hook for this; string.Formatter.parse gives the pieces).
_WIDE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef“”]")


# Markdown emphasis around a value ("**{net}** 的") stands between the value and the template's space: look past it,
# unless the value's edge beside the emphasis is punctuation: CommonMark closes "**…）**" only before a space or
# punctuation, so "**ResNet-20（CIFAR）**中" would show its asterisks; that space stays.
_LEADING_SPACE = re.compile(r"^(\**) ")
_TRAILING_SPACE = re.compile(r" (\**)$")
_WIDE_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65“”]")


def _format_zh(template: str, kwargs: dict[str, Any]) -> str:
    pieces: list[str] = []
    previous_value = ""
    for literal, name, spec, conversion in string.Formatter().parse(template):
        lead = _LEADING_SPACE.match(literal)
        if (
            previous_value
            and _WIDE.match(previous_value[-1:])
            and lead
            and _WIDE.match(literal[lead.end() : lead.end() + 1])
            and not (lead.group(1) and _WIDE_PUNCTUATION.match(previous_value[-1:]))
        ):
            literal = lead.group(1) + literal[lead.end() :]
        value = ""
        if name is not None:
            value = (
                "{" + name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            ).format(**kwargs)
            trail = _TRAILING_SPACE.search(literal)
            if (
                trail
                and _WIDE.match(literal[trail.start() - 1 : trail.start()])
                and _WIDE.match(value[:1])
                and not (trail.group(1) and _WIDE_PUNCTUATION.match(value[:1]))
            ):
                literal = literal[: trail.start()] + trail.group(1)
        pieces += [literal, value]
        previous_value = value
    return "".join(pieces)


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


def arch_title(t: Callable[..., str], arch: str, *, plain: bool = False) -> str:
    """A network's title in ``t``'s language: ``common.title_<family>`` with the depth filled in (the catalogue's
    English ``title`` is what the CLI prints); ``common.title_plain_<family>`` for its plain network (plain-34, as
    the paper names it), so that a plain network's numbers never appear under the residual network's name."""
    from resnet_viz.architecture.catalogue import get_spec

    spec = get_spec(arch)
    return t(f"common.title_{'plain_' if plain else ''}{spec.family}", depth=spec.depth)


#: How a language joins the items of a list inside a sentence, and one sentence to the next in a paragraph.
LIST_SEPARATOR: dict[str, str] = {"en": ", ", "zh": "、"}
SENTENCE_SEPARATOR: dict[str, str] = {"en": " ", "zh": ""}


@dataclass(frozen=True)
class Sentence:
    """A sentence chosen by the data, not yet worded: a key and the values it is formatted with.

    Code that reads a measurement (``resnet_viz.experiments.summaries``) decides *which* sentence applies and
    with which numbers; :func:`say` words it in a language. A value may itself be a :class:`Sentence` (a network's
    name, "higher"/"lower"), or a list of strings (joined with the language's :data:`LIST_SEPARATOR`); ``then``
    holds sentences that continue the same paragraph."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)
    then: tuple[Sentence, ...] = ()


def say(t: Translator, sentence: Sentence, lang: str = DEFAULT_LANGUAGE) -> str:
    """``sentence`` worded by ``t`` (a translator for ``lang``)."""

    def value(v: Any) -> Any:
        if isinstance(v, Sentence):
            return say(t, v, lang)
        if isinstance(v, list):
            return LIST_SEPARATOR[lang].join(str(value(x)) for x in v)
        return v

    text = t(sentence.key, **{k: value(v) for k, v in sentence.args.items()})
    return "".join([text, *(SENTENCE_SEPARATOR[lang] + say(t, s, lang) for s in sentence.then)])
