"""Split article text into paragraphs and sentences with exact character offsets.

Sentence boundaries come from ``sentencex`` (Wikimedia's rule-based splitter: abbreviations,
decimals, quotes); this module only turns its segments into exact ``(start, end)`` spans of the
original text, so that ``text[start:end] == sentence`` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPLITTER_VERSION = "sentencex-1"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` of a text."""

    start: int
    end: int


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Non-blank paragraphs (separated by blank lines) of ``text[start:end]``, whitespace-trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        _append_trimmed(text, cursor, match.start(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of ``text[start:end]`` as trimmed spans, in order, covering all non-space text."""
    from sentencex import segment  # light import, deferred so a query never pays for it

    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for piece in segment("en", text[start:end]):
        stripped = piece.strip()
        if not stripped:
            cursor += len(piece) if text.startswith(piece, cursor) else 0
            continue
        found = text.find(stripped, cursor, end)
        if found < 0:  # the splitter altered the text; keep the rest as one span
            break
        if found > cursor and text[cursor:found].strip():
            # text the splitter skipped: keep it rather than lose it
            _append_trimmed(text, cursor, found, spans)
        spans.append(Span(found, found + len(stripped)))
        cursor = found + len(stripped)
    _append_trimmed(text, cursor, end, spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, out: list[Span]) -> None:
    """Append ``[start, end)`` without surrounding whitespace, unless it is blank."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Span(start, end))
