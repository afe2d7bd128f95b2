"""Turning raw user input into a question the engine can search for."""

from __future__ import annotations

import re

from index.errors import BadInput

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_question(raw: str) -> str:
    """The question with control characters removed and whitespace collapsed.

    Raises :class:`BadInput` for an empty question; cuts questions longer than
    ``MAX_QUESTION_CHARS`` (no sentence retriever uses more).
    """
    text = " ".join(_CONTROL.sub(" ", raw).split())
    if not text:
        raise BadInput("empty question")
    return text[:MAX_QUESTION_CHARS]
