"""The resolved date shown beside a relative date expression: "today [2022-05-23]".

``bot ask``, the chat and transcripts show it; ``--json`` has the same in each answer's
``dates``. Absolute expressions ("July 2022") are shown as written: their date says nothing
more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .answering import Evidence


def marks(evidence: "Evidence") -> list[tuple[int, int, str]]:
    """``(start, end, date)`` of each resolved relative date in the sentence, offsets in the
    sentence's own text."""
    return [(d.start - evidence.start, d.end - evidence.start, d.date)
            for d in evidence.dates if d.relative and d.date]


def with_dates(evidence: "Evidence", piece: Callable[[str], str] = str) -> str:
    """The sentence with `` [date]`` after each resolved relative date; ``piece`` makes each
    stretch of article text safe to show."""
    text, out, cursor = evidence.text, [], 0
    for start, end, date in marks(evidence):
        out.append(piece(text[cursor:end]))
        out.append(f" [{date}]")
        cursor = end
    out.append(piece(text[cursor:]))
    return "".join(out)
