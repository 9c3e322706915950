"""What CommonMark (and so Streamlit's markdown, micromark underneath) leaves of ``*`` emphasis as literal
asterisks: the spec's delimiter-run rules (https://spec.commonmark.org/0.31.2/#emphasis-and-strong-emphasis), for
``*`` only, without links or raw HTML. No CommonMark parser is installed with the app, and the bug this guards
against is one rule: a closing ``**`` must be *right-flanking*, so "**标题：**正文" (punctuation before the run, a
letter after it) does not close and the reader sees both pairs of asterisks."""

from __future__ import annotations

import re
import unicodedata

_RUN = re.compile(r"(?<!\\)\*+")
_CODE = re.compile(r"`[^`]*`")


def _punctuation(ch: str) -> bool:
    # CommonMark 0.31: a Unicode punctuation character is one of general category P or S
    return bool(ch) and unicodedata.category(ch)[0] in "PS"


def _space(ch: str) -> bool:
    return not ch or ch.isspace()  # the start and the end of the text count as whitespace


def literal_asterisks(text: str) -> int:
    """How many ``*`` of ``text`` CommonMark shows as themselves (0 where every emphasis run pairs up)."""
    text = _CODE.sub(lambda m: " " * len(m.group()), text)  # code spans take no emphasis
    stack: list[dict] = []
    for m in _RUN.finditer(text):
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        left = not _space(after) and (not _punctuation(after) or _space(before) or _punctuation(before))
        right = not _space(before) and (not _punctuation(before) or _space(after) or _punctuation(after))
        stack.append({"n": len(m.group()), "orig": len(m.group()), "open": left, "close": right, "on": True})
    # process emphasis (spec §6.2, "process emphasis"), * runs only
    for c, closer in enumerate(stack):
        while closer["on"] and closer["close"] and closer["n"]:
            for o in range(c - 1, -1, -1):
                opener = stack[o]
                if not (opener["on"] and opener["open"] and opener["n"]):
                    continue
                both = opener["close"] or closer["open"]
                sum3 = (opener["orig"] + closer["orig"]) % 3 == 0
                if both and sum3 and (opener["orig"] % 3 or closer["orig"] % 3):
                    continue  # the rule of 3
                used = 2 if opener["n"] >= 2 and closer["n"] >= 2 else 1
                opener["n"] -= used
                closer["n"] -= used
                for between in stack[o + 1 : c]:
                    between["on"] = False  # their asterisks stay literal
                break
            else:
                break
    return sum(d["n"] for d in stack)
