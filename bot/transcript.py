"""Markdown for evidence quotes (copied to the clipboard) and whole chat transcripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol

from .citation import citation
from .safe_text import printable
from .verdicts import verdict

if TYPE_CHECKING:
    from .answering import Answer, Evidence


class TurnLike(Protocol):
    """A question with its answer, as the chat keeps it."""

    @property
    def answer(self) -> "Answer": ...


def quote(evidence: "Evidence") -> str:
    """The evidence sentence as a Markdown block quote followed by its citation."""
    lines = printable(evidence.text.replace("\r\n", "\n")).split("\n")
    body = "\n".join(f"> {line}".rstrip() for line in lines)
    return f"{body}\n>\n> \u2014 {citation(evidence)}\n"


def transcript(turns: Iterable[TurnLike], title: str = "sentence-bot chat") -> str:
    """The whole conversation: each question, whether it was answered, and its evidence."""
    out = [f"# {title}", ""]
    for turn in turns:
        answer = turn.answer
        out += [f"## {printable(answer.question)}", ""]
        out += [verdict(answer), ""]
        for rank, evidence in enumerate(answer.evidence, start=1):
            out += [f"**{rank}.**", "", quote(evidence)]
    return "\n".join(out).rstrip() + "\n"

