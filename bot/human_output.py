"""The human-readable form of an answer for ``bot ask`` (colour only on a terminal)."""

from __future__ import annotations

import os

import click

from .answering import Answer, Evidence
from .safe_text import printable


def render(answer: Answer) -> str:
    """Question, then each evidence sentence with its title, date and location."""
    lines = [click.style(f"Q: {printable(answer.question)}", bold=True)]
    if not answer.evidence:
        lines.append("  No sentence in the index matches this question.")
        return "\n".join(lines)
    if not answer.answered:
        lines.append(click.style("  Not answered: no sentence really supports an answer. "
                                 "Closest candidates:", fg="yellow"))
    for rank, evidence in enumerate(answer.evidence, start=1):
        lines.append(f"  {rank}. \u201c{printable(evidence.text)}\u201d")
        lines.append(click.style(f"     \u2014 {citation(evidence)}", dim=True))
    return "\n".join(lines)


def citation(evidence: Evidence) -> str:
    """``Title · date · path:line:col (chars a–b)`` for one evidence sentence."""
    parts = []
    if evidence.title:
        parts.append(printable(evidence.title))
    if evidence.date:
        parts.append(evidence.date)
    parts.append(f"{display_path(evidence.source)}{location(evidence)}")
    parts.append(f"score {evidence.score:.3f}")
    return " \u00b7 ".join(parts)


def location(evidence: Evidence) -> str:
    """``:line:col (chars a–b)`` for file offsets; ``record N (extracted ...)`` otherwise."""
    if evidence.offsets == "file":
        return f":{evidence.line}:{evidence.column} (chars {evidence.start}\u2013{evidence.end})"
    record = f" record {evidence.record}" if evidence.record is not None else ""
    return f"{record} (extracted text, chars {evidence.start}\u2013{evidence.end})"


def display_path(source: str) -> str:
    """``source`` relative to the current directory when it lies below it."""
    try:
        rel = os.path.relpath(source)
    except ValueError:
        return printable(source)
    return printable(rel if not rel.startswith("..") else source)
