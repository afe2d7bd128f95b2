"""The words every front end (``bot ask``, the chat, its saved transcript) uses for a reply's
verdict, so that they always say the same thing.

``confidence`` is the estimated chance that the best sentence is right (``bot.confidence``),
so the words follow it and claim no more: *very likely right* from :data:`VERY_LIKELY`,
*likely right* from :data:`LIKELY`, and below that an answer is given only as a tentative one,
to be checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .answering import Answer

NO_MATCH = "No sentence in the index matches this question."
NOT_ANSWERED = "Not answered: no sentence clearly supports an answer"
CANDIDATES = "Closest candidates:"
VERY_LIKELY = 0.9  # about 9 in 10 such answers are right
LIKELY = 0.75


def how_sure(confidence: float) -> str:
    """The words for an answered reply's confidence."""
    if confidence >= VERY_LIKELY:
        return "very likely right"
    if confidence >= LIKELY:
        return "likely right"
    return "but unsure: check the sentence"


def verdict(answer: "Answer") -> str:
    """One line: answered (and how sure) or not, with the confidence, or that nothing matched
    at all."""
    if not answer.evidence:
        return NO_MATCH
    if answer.answered:
        sure = how_sure(answer.confidence)
        if sure.startswith("but"):
            return f"Answered (confidence {answer.confidence:.2f}), {sure}."
        return f"Answered, {sure} (confidence {answer.confidence:.2f})."
    return f"{NOT_ANSWERED} (confidence {answer.confidence:.2f}). {CANDIDATES}"
