"""Checking an :class:`~bot.answering.Answer` against a case's expectations.

Each failed expectation becomes one sentence a person understands at a glance: what was
expected, what came back, and at which rank.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..answering import Answer, Evidence
from .format import Case, Expect

SHOWN_CHARS = 110


def check(case: Case, answer: Answer) -> list[str]:
    """Why ``answer`` fails ``case`` (an empty list when it passes)."""
    expect = case.expect
    problems: list[str] = []
    if expect.abstain is True and answer.answered:
        top = f": {quote(answer.evidence[0].text)}" if answer.evidence else ""
        problems.append(f"expected to abstain, but it answered (confidence "
                        f"{answer.confidence:.2f}){top}")
    elif expect.abstain is False and not answer.answered:
        problems.append(f"expected an answer, but it abstained (confidence "
                        f"{answer.confidence:.2f})")
    if expect.wants_sentence:
        problem = _check_sentence(expect, answer.evidence, case.file.parent)
        if problem:
            problems.append(problem)
    return problems


def matching_rank(expect: Expect, evidence: list[Evidence], base: Path) -> int | None:
    """1-based rank of the first sentence meeting the sentence expectations, if any."""
    for rank, item in enumerate(evidence, start=1):
        if matches(expect, item, base):
            return rank
    return None


def matches(expect: Expect, evidence: Evidence, base: Path) -> bool:
    """True when one sentence meets ``contains``, ``equals`` and ``article`` together."""
    text = normal(evidence.text)
    folded = text.casefold()
    if any(normal(phrase).casefold() not in folded for phrase in expect.contains):
        return False
    if expect.equals is not None and text != normal(expect.equals):
        return False
    return expect.article is None or from_article(expect.article, evidence, base)


def from_article(article: str, evidence: Evidence, base: Path) -> bool:
    """``article`` names the sentence's file (name or path relative to ``base``), URL or
    title."""
    if article == evidence.source:
        return True
    if evidence.title and normal(evidence.title).casefold() == normal(article).casefold():
        return True
    if os.path.basename(evidence.source) == article:
        return True
    return os.path.abspath(base / Path(article).expanduser()) == os.path.abspath(evidence.source)


def describe(expect: Expect) -> str:
    """``a sentence containing "x" from article "y"`` for the sentence expectations."""
    if expect.equals is not None:
        what = f"the sentence {quote(expect.equals)}"
        if expect.contains:
            what += " containing " + " and ".join(f'"{p}"' for p in expect.contains)
    elif expect.contains:
        what = "a sentence containing " + " and ".join(f'"{p}"' for p in expect.contains)
    else:
        what = "a sentence"
    if expect.article is not None:
        what += f" from article '{expect.article}'"
    return what


def _check_sentence(expect: Expect, evidence: list[Evidence], base: Path) -> str | None:
    where = "as the top answer" if expect.within == 1 else f"in the top {expect.within}"
    wanted = f"expected {describe(expect)} {where}"
    if not evidence:
        return f"{wanted}; got no sentences at all (is the corpus empty?)"
    rank = matching_rank(expect, evidence, base)
    if rank is not None and rank <= expect.within:
        return None
    found = f"it is at rank {rank}" if rank else f"none in the top {len(evidence)}"
    top = evidence[0]
    source = f" ({os.path.basename(top.source)})" if expect.article is not None else ""
    return f"{wanted}; {found}; rank 1 was {quote(top.text)}{source}"


def normal(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return " ".join(text.split())


def quote(text: str, limit: int = SHOWN_CHARS) -> str:
    """``"text"`` on one line, cut with an ellipsis past ``limit`` characters."""
    text = normal(text)
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "\u2026"
    return f'"{text}"'
