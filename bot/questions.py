"""Turning raw user input into a question the engine can search for."""

from __future__ import annotations

import re

from index.errors import BadInput
from index.safe_text import valid_unicode

MAX_QUESTION_CHARS = 2000
DEFAULT_K = 3  # evidence sentences shown per question (bot ask, bot chat)
MAX_K = 100  # the most one question may ask for
# C0/C1 controls, zero-width and bidirectional formatting characters, byte order marks
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
                      r"\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_question(raw: str, limit: int | None = MAX_QUESTION_CHARS) -> str:
    """The question with control characters removed and whitespace collapsed.

    Raises :class:`BadInput` for an empty question; cuts questions longer than ``limit``
    (no sentence retriever uses more).
    """
    text = " ".join(_CONTROL.sub(" ", valid_unicode(raw)).split())
    if not text:
        raise BadInput("empty question")
    return text[:limit]


def question_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be asked (one line), or None when it can."""
    if not raw.strip():
        return "empty question"
    if bad := _SURROGATE.search(raw):  # an argument's undecodable byte (surrogateescape)
        return f"question is not UTF-8 text (invalid byte at column {bad.start() + 1})"
    if not " ".join(_CONTROL.sub(" ", raw).split()):
        return "question has no text, only control characters"
    return None
