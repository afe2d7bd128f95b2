"""How an evidence sentence is cited, in ``bot ask``, the chat and Markdown transcripts:

``Title · date · path:line:col (chars a–b)`` for text read straight from a file, and
``Title · date · path record N (extracted text, chars a–b)`` for text extracted from a record
(JSONL, HTML, ...). Title, date and path come from the articles, so each is data: made
printable (:func:`bot.safe_text.printable`) and kept on one line.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .safe_text import printable

if TYPE_CHECKING:
    from .answering import Evidence

SEPARATOR = " \u00b7 "
_LINE_BREAK = re.compile(r"[\t\n\r]")
_URL = re.compile(r"^https?://", re.IGNORECASE)  # an article fetched from the web


def citation(evidence: "Evidence", chars: bool = True) -> str:
    """``Title · date · path:line:col (chars a–b)``, safe to print on one line; without
    ``chars`` (where space is short, as in the chat) the character offsets are left out."""
    parts = [_one_line(value) for value in (evidence.title, evidence.date) if value]
    parts.append(display_path(evidence.source) + location(evidence, chars))
    return SEPARATOR.join(parts)


def location(evidence: "Evidence", chars: bool = True) -> str:
    """``:line:col (chars a–b)`` for file offsets; `` record N (extracted text, chars a–b)``
    for text extracted from a record. Without ``chars``: ``:line:col`` or `` record N``."""
    span = f"chars {evidence.start}\u2013{evidence.end}"
    record = f" record {evidence.record}" if evidence.record is not None else ""
    if evidence.offsets == "file":
        where = f":{evidence.line}:{evidence.column}"
        return f"{where} ({span})" if chars else where
    return f"{record} (extracted text, {span})" if chars else record


def display_path(source: str) -> str:
    """``source`` relative to the current directory when it lies below it (a URL as it is),
    printable and on one line (a tab or line break in a file name is shown as
    ``\\x09``/``\\x0a``)."""
    if _URL.match(source):
        return _LINE_BREAK.sub(lambda m: f"\\x{ord(m.group()):02x}", printable(source))
    try:
        rel = os.path.relpath(source)
    except ValueError:  # another drive (Windows)
        rel = source
    shown = source if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel
    return _LINE_BREAK.sub(lambda m: f"\\x{ord(m.group()):02x}", printable(shown))


def _one_line(text: str) -> str:
    """A title or date as one printable line (runs of whitespace become one space)."""
    return printable(" ".join(text.split()))
