"""The words every front end (``bot ask``, the chat, its saved transcript) uses for a reply's
verdict, so that they always say the same thing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .answering import Answer

NO_MATCH = "No sentence in the index matches this question."
NOT_ANSWERED = "Not answered: no sentence really supports an answer"
CANDIDATES = "Closest candidates:"


def verdict(answer: "Answer") -> str:
    """One line: answered or not, with the confidence, or that nothing matched at all."""
    if not answer.evidence:
        return NO_MATCH
    if answer.answered:
        return f"Answered (confidence {answer.confidence:.2f})."
    return f"{NOT_ANSWERED} (confidence {answer.confidence:.2f}). {CANDIDATES}"
