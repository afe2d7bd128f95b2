"""Split article text into paragraphs and sentences with exact character offsets.

Sentence boundaries come from ``sentencex`` (Wikimedia's rule-based splitter: abbreviations,
decimals, quotes); this module only turns its segments into exact ``(start, end)`` spans of the
original text, so that ``text[start:end] == sentence`` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

SPLITTER_VERSION = "sentencex-2"
MAX_SENTENCE_CHARS = 3000  # longer "sentences" (tables, run-on text) are cut at a space
_CHUNK_CHARS = 10_000

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# sentencex panics on some non-ASCII white space after a letter ("U.S\u00a0."); it is given
# ASCII stand-ins of the same length, so positions in its input are positions in the text
_LINE_SEPARATORS = re.compile("[\x85\u2028\u2029]")
_OTHER_SPACE = re.compile("[^\\S\n\t\r\f\v \x85\u2028\u2029]")


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
    end = len(text) if end is None else end
    plain = _ascii_space(text[start:end])
    spans: list[Span] = []
    cursor = 0
    for piece_start, piece_end in _segments(plain):
        if piece_start > cursor and plain[cursor:piece_start].strip():
            # text the splitter skipped: keep it rather than lose it
            _append_trimmed(text, start + cursor, start + piece_start, spans, MAX_SENTENCE_CHARS)
        _append_trimmed(text, start + piece_start, start + piece_end, spans, MAX_SENTENCE_CHARS)
        cursor = piece_end
    _append_trimmed(text, start + cursor, end, spans, MAX_SENTENCE_CHARS)
    return spans


def _segments(plain: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each sentence sentencex finds in ``plain``, fed to it in chunks of
    about ``_CHUNK_CHARS`` (its time grows with the square of its input on some texts); the
    last sentence of a chunk is split again with the next chunk."""
    cursor = 0
    while cursor < len(plain):
        stop = min(len(plain), cursor + _CHUNK_CHARS)
        final = stop == len(plain)
        found: list[tuple[int, int]] = []
        for piece in _segment(plain[cursor:stop]):
            stripped = piece.strip()
            at = plain.find(stripped, found[-1][1] if found else cursor, stop) if stripped else -1
            if at < 0:  # blank, or the splitter altered the text: the rest is found later
                continue
            found.append((at, at + len(stripped)))
        if not final and len(found) > 1:
            found.pop()  # may go on past the chunk: split it again with what follows
            yield from found
            cursor = found[-1][1]
        elif final or not found:
            yield from found
            cursor = stop
        else:  # one sentence longer than a chunk: cut it at its last space in the chunk
            at = found[0][0]
            space = max(plain.rfind(" ", at + 1, stop), plain.rfind("\n", at + 1, stop))
            cursor = space if space > at else stop
            yield at, cursor


def _segment(text: str) -> list[str]:
    from sentencex import segment  # light import, deferred so a query never pays for it

    try:
        return list(segment("en", text))
    except BaseException as exc:  # a Rust panic is a BaseException; keep the text whole
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return [text]


def _ascii_space(text: str) -> str:
    """``text`` with every non-ASCII white space replaced by one ASCII character."""
    if text.isascii():
        return text
    return _OTHER_SPACE.sub(" ", _LINE_SEPARATORS.sub("\n", text))


def _append_trimmed(text: str, start: int, end: int, out: list[Span],
                    limit: int | None = None) -> None:
    """Append ``[start, end)`` without surrounding whitespace, unless it is blank; runs longer
    than ``limit`` become several spans, cut at white space where there is any."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while limit and end - start > limit:
        cut = start + limit
        space = max(text.rfind(" ", start + 1, cut), text.rfind("\n", start + 1, cut))
        cut = space if space > start else cut
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append(Span(start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append(Span(start, end))
