"""The human-readable form of an answer for ``bot ask`` (colour only on a terminal)."""

from __future__ import annotations

import click

from .answering import Answer
from .citation import SEPARATOR, citation, display_path
from .date_marks import with_dates
from .safe_text import printable
from .verdicts import NO_MATCH, verdict

MAX_SHOWN_QUESTION = 300  # a pasted megabyte is echoed as its start and its length


def render(answer: Answer, read_with: list[str] | None = None) -> str:
    """Question, then each evidence sentence with its title, date and location; for a turn
    of a conversation read with earlier turns, what it was read with."""
    question = answer.question
    if len(question) > MAX_SHOWN_QUESTION:
        question = question[:MAX_SHOWN_QUESTION] + f"\u2026 ({len(answer.question)} characters)"
    lines = [click.style(f"Q: {printable(question)}", bold=True)]
    if read_with:
        lines.append(click.style(f"  (read with the earlier turns: "
                                 f"{printable(', '.join(read_with))})", italic=True))
    if answer.filter_note:
        lines.append(click.style(f"  ({printable(answer.filter_note)})", dim=True))
    if not answer.evidence:
        lines.append(f"  {NO_MATCH}")
        return "\n".join(lines)
    lines.append(click.style(f"  {verdict(answer)}", fg=None if answer.answered else "yellow",
                             dim=answer.answered))
    for rank, evidence in enumerate(answer.evidence, start=1):
        lines.append(f"  {rank}. \u201c{with_dates(evidence, printable)}\u201d")
        lines.append(click.style(f"     \u2014 {citation(evidence)}{SEPARATOR}"
                                 f"score {evidence.score:.3f}", dim=True))
        if len(evidence.sources) > 1:  # the same sentence in several articles, merged
            others = ", ".join(display_path(s["source"]) for s in evidence.sources[1:])
            lines.append(click.style(f"     also in: {others}", dim=True))
    return "\n".join(lines)

