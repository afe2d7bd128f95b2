"""One input line of ``bot ask``'s stream: a plain question, or a JSON object.

A line that starts with ``{`` (after leading spaces) is a JSON object::

    {"question": str, "conversation": str, "k": int,
     "filters": {"since": str, "until": str, "source": [str]}}   # all but "question" optional

Lines with the same ``conversation`` are the turns of one dialogue. Every key is checked: a
key this version does not know is an error naming the allowed keys (a misspelt
``"conversaton"`` must not silently turn a dialogue into standalone questions). To add a key,
add it to :data:`KEYS` and read it in :func:`parse_line` into a field of :class:`StreamLine`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from index.search.filters import ArticleFilter, BadFilter

from .questions import MAX_K, question_problem
from .safe_text import valid_unicode

KEYS = ("question", "conversation", "k", "filters")
MAX_CONVERSATION_CHARS = 200  # a conversation name is a label, not a document


@dataclass(frozen=True)
class StreamLine:
    """What one input line asks: the question, the dialogue it belongs to and how many
    sentences to show (``None``: the command's ``-k``)."""

    question: str
    conversation: str | None = None
    k: int | None = None
    is_object: bool = False  # written as a JSON object (its reply echoes "conversation")
    filters: ArticleFilter | None = None  # None: the command's --since/--until/--source


class LineProblem(ValueError):
    """Why a line cannot be asked (one line of text); ``line`` holds what could be read of it,
    so the error reply can still echo its question and conversation."""

    def __init__(self, message: str, line: StreamLine) -> None:
        super().__init__(message)
        self.line = line


def is_object_line(text: str) -> bool:
    """True for a line written as a JSON object (it starts with ``{``)."""
    return text.lstrip().startswith("{")


def parse_line(text: str) -> StreamLine:
    """The question a stream line asks (raises :class:`LineProblem` when it cannot be asked)."""
    if not is_object_line(text):
        plain = StreamLine(text)
        if problem := question_problem(text):
            raise LineProblem(problem, plain)
        return plain
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # [[[[… nested thousands deep
        reason = (str(exc).splitlines() or ["nested too deeply"])[0]
        raise LineProblem(f"not a JSON object ({reason})", StreamLine(text, is_object=True)) \
            from None
    if not isinstance(data, dict):
        raise LineProblem("not a JSON object", StreamLine(text, is_object=True))
    # a "\ud800" escape is valid JSON but not text: U+FFFD before it goes anywhere
    question, conversation = (valid_unicode(v) if isinstance(v, str) else v
                              for v in (data.get("question"), data.get("conversation")))
    echo = StreamLine(question if isinstance(question, str) else text,
                      conversation if isinstance(conversation, str) else None, is_object=True)
    if unknown := sorted(set(data) - set(KEYS)):
        raise LineProblem(f"unknown key {unknown[0]!r} (allowed: {', '.join(KEYS)})", echo)
    if "question" not in data:
        raise LineProblem("missing 'question'", echo)
    if not isinstance(question, str):
        raise LineProblem(f"'question' must be a string, not {_kind(question)}", echo)
    if problem := question_problem(question):
        raise LineProblem(problem, echo)
    if "conversation" in data:
        if not isinstance(conversation, str):
            raise LineProblem(f"'conversation' must be a string, not {_kind(conversation)}",
                              echo)
        if not conversation.strip():
            raise LineProblem("'conversation' must not be empty", echo)
        if len(conversation) > MAX_CONVERSATION_CHARS:
            raise LineProblem(f"'conversation' is longer than {MAX_CONVERSATION_CHARS} "
                              "characters", echo)
    k = data.get("k")
    if "k" in data and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
        raise LineProblem(f"'k' must be a whole number from 1 to {MAX_K}, not {k!r}"[:200], echo)
    filters = None
    if "filters" in data:
        try:
            filters = ArticleFilter.from_json(data["filters"])
        except BadFilter as exc:
            raise LineProblem(f"'filters': {exc}"[:300], echo) from None
    return StreamLine(question, conversation, k, is_object=True, filters=filters)


def _kind(value: object) -> str:
    names = {type(None): "null", bool: "true/false", int: "a number", float: "a number",
             str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)
