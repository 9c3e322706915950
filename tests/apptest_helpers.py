"""One way for the page tests to read what a page shows: every string of every element, main area and sidebar.

``page_texts(at)`` walks AppTest's whole element tree, blocks included (expander, status and tab labels), and
takes every string field of every element's protobuf: markdown, captions, titles and headers, alerts, metrics'
labels, values and deltas, widgets' labels, options, placeholders and help, buttons, image captions, graphviz
specs. Two kinds of element keep their words in an encoded payload, and are decoded so that their visible strings
are read too:

* tables and dataframes (Arrow IPC bytes): column names, index labels and every cell, as pandas shows them;
* plotly charts (a JSON spec whose non-ASCII characters may be escaped as ``\\u27e6``): every string in it.

``missing_keys(at)`` is the translation check every page test makes: the ``⟦key⟧`` markers
(:data:`resnet_viz.i18n.MISSING`) found anywhere in those texts. ``tests/test_apptest_helpers.py`` checks on a
small app with one of each element kind that nothing is left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from resnet_viz.i18n import MISSING

_OPEN, _CLOSE = MISSING.format("")  # "⟦", "⟧"
_MARKER = re.compile(re.escape(_OPEN) + r"[^" + re.escape(_CLOSE) + r"]*" + re.escape(_CLOSE) + "?")
#: The same marker as JSON writes it escaped, in a spec that did not parse as JSON.
_ESCAPED = re.compile(r"\\u27e6[^\s\"]{0,60}", re.IGNORECASE)


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def _arrow_strings(data: bytes) -> Iterator[str]:
    df = dataframe_util.convert_arrow_bytes_to_pandas_df(data)
    for name in [*df.columns, *df.index]:
        yield from (str(n) for n in (name if isinstance(name, tuple) else (name,)))
    for column in df.columns:
        yield from (str(v) for v in df[column].tolist())


def _string(text: str) -> Iterator[str]:
    yield text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):  # a plotly (or other JSON) spec: read it decoded, escapes and all
        try:
            yield from _json_strings(json.loads(text))
        except ValueError:
            pass


def _proto_strings(msg: Message) -> Iterator[str]:
    for field, value in msg.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if isinstance(v, Message):
                    yield from _proto_strings(v)
            elif field.type == FieldDescriptor.TYPE_STRING:
                yield from _string(v)
            elif field.type == FieldDescriptor.TYPE_BYTES and field.name == "data" and v:
                try:
                    yield from _arrow_strings(v)  # ArrowProto.data of st.table / st.dataframe
                except Exception:  # noqa: BLE001 - not Arrow: no visible text in it
                    pass


def page_texts(at: AppTest) -> list[str]:
    """Every non-empty string the page's elements and blocks carry (main area and sidebar), in page order."""
    out: list[str] = []
    for node in at:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            out += [s for s in _proto_strings(proto) if s]
    return out


def missing_keys(at: AppTest) -> list[str]:
    """The ``⟦key⟧`` missing-translation markers anywhere on the page, sorted, each once."""
    found: set[str] = set()
    for text in page_texts(at):
        found.update(_MARKER.findall(text))
        for escaped in _ESCAPED.findall(text):  # the same marker JSON-escaped: counted once, decoded
            try:
                found.update(_MARKER.findall(json.loads(f'"{escaped}"')))
            except ValueError:
                found.add(escaped)
    return sorted(found)


def assert_translated(at: AppTest, where: str) -> None:
    """No exception on the page, and no missing translation key in anything it shows."""
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    missing = missing_keys(at)
    assert not missing, f"{where}: missing translation keys {missing[:10]}"


def uploader(at, base: str):
    """The uploader ``base`` of the page (``fm_upload``, ``fm_ckpt_file``): its key is ``base`` until a file is
    refused, then a new one each time (ui.upload_key), so that the refused bytes are dropped at once."""
    (found,) = [u for u in at.file_uploader if (u.key or "") == base or (u.key or "").startswith(base + "_")]
    return found
