"""Rich ``Text`` for article content: evidence in its paragraph, citations, whole articles.

Article text is data, never markup: everything here is built from ``Text`` segments (no markup
parsing) after :func:`bot.safe_text.printable` has made control characters (ANSI/OSC escapes)
visible, so no article can style, link or trigger anything.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from rich.text import Text

from ..citation import SEPARATOR, citation
from ..date_marks import marks
from ..safe_text import printable as _printable

if TYPE_CHECKING:
    from ..answering import Article, Evidence, PassageView

FOCUS_STYLE = "bold"
CONTEXT_STYLE = "dim"
KEYWORD_STYLE = "underline"
CONTEXT_SENTENCES = 1  # neighbours shown either side of an evidence sentence
DATE_STYLE = "italic not bold"  # the resolved date beside a relative one: "today [2022-05-23]"


def printable(text: str) -> str:
    """``text`` safe to show: line ends normalised, control characters made visible."""
    return _printable(text.replace("\r\n", "\n").replace("\r", "\n"))


def keyword_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching words that start with one of ``terms``."""
    stems = sorted({re.escape(t.lower()) for t in terms if len(t) >= 2}, key=len, reverse=True)
    if not stems:
        return None
    return re.compile(r"\b(?:%s)\w*" % "|".join(stems), re.IGNORECASE)


def emphasise(text: Text, pattern: re.Pattern[str] | None) -> Text:
    """Underline the question's key words in ``text`` (in place; returns it)."""
    if pattern is not None:
        for match in pattern.finditer(text.plain):
            text.stylize(KEYWORD_STYLE, match.start(), match.end())
    return text


def sentence_text(evidence: "Evidence", pattern: re.Pattern[str] | None = None) -> Text:
    """The evidence sentence alone, verbatim (control characters made visible), with the
    resolved date beside each relative one."""
    return emphasise(dated_text(evidence, FOCUS_STYLE), pattern)


def dated_text(evidence: "Evidence", style: str) -> Text:
    """The sentence in ``style`` with `` [YYYY-MM-DD]`` after each resolved relative date
    (:mod:`bot.date_marks`)."""
    out, cursor, text = Text(style=style), 0, evidence.text
    for start, end, date in marks(evidence):
        out.append(printable(text[cursor:end]))
        out.append(f" [{date}]", style=DATE_STYLE)
        cursor = end
    out.append(printable(text[cursor:]))
    return out


def passage_text(view: "PassageView", pattern: re.Pattern[str] | None = None,
                 window: int | None = CONTEXT_SENTENCES,
                 evidence: "Evidence | None" = None) -> Text:
    """The paragraph: the evidence sentence highlighted (with its resolved dates, given the
    ``evidence``), its neighbours quieter.

    With ``window``, only that many sentences either side are shown, the rest elided with "…".
    """
    spans = view.sentences
    first, last = 0, len(spans) - 1
    if window is not None:
        first, last = max(0, view.focus - window), min(len(spans) - 1, view.focus + window)
    out = Text()
    if first > 0:
        out.append("… ", style=CONTEXT_STYLE)
    cursor = spans[first][0]
    for index in range(first, last + 1):
        start, end = spans[index]
        if start > cursor:
            out.append(printable(view.text[cursor:start]), style=CONTEXT_STYLE)
        style = FOCUS_STYLE if index == view.focus else CONTEXT_STYLE
        if index == view.focus and evidence is not None and marks(evidence):
            out.append_text(dated_text(evidence, style))
        else:
            out.append(printable(view.text[start:end]), style=style)
        cursor = end
    if last < len(spans) - 1:
        out.append(" …", style=CONTEXT_STYLE)
    return emphasise(out, pattern)


def citation_text(evidence: "Evidence", rank: int | None = None) -> Text:
    """``#1 · Title · date · path:line:col`` as plain, safe text (no character offsets: a
    card's citation fits one line; the copied quote has them)."""
    cited = citation(evidence, chars=False)
    return Text(f"#{rank}{SEPARATOR}{cited}" if rank is not None else cited, style="italic")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each blank-line separated block of ``text`` (whitespace trimmed)."""
    spans = []
    for match in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
        block = match.group()
        start = match.start() + (len(block) - len(block.lstrip()))
        end = match.end() - (len(block) - len(block.rstrip()))
        if end > start:
            spans.append((start, end))
    return spans


def article_paragraph(article: "Article", start: int, end: int, focus: tuple[int, int] | None,
                      pattern: re.Pattern[str] | None = None) -> Text:
    """One paragraph of the article view; ``focus`` (absolute offsets) is highlighted."""
    text = article.text
    if focus is None or focus[1] <= start or focus[0] >= end:
        return emphasise(Text(printable(text[start:end])), pattern)
    a, b = max(focus[0], start), min(focus[1], end)
    out = Text()
    out.append(printable(text[start:a]))
    out.append(printable(text[a:b]), style="bold reverse")
    out.append(printable(text[b:end]))
    return emphasise(out, pattern)

