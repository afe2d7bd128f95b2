"""What ``bot check`` prints: a compact pass/fail table for people, one JSON object for machines."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from ..citation import display_path
from ..safe_text import printable
from .runner import CaseResult

NAME_WIDTH = 48
LABELS = {"pass": ("PASS ", "green"), "fail": ("FAIL ", "red"), "error": ("ERROR", "red")}


def summary(results: list[CaseResult], seconds: float) -> str:
    """``20 passed, 1 failed, 0 errors; drift in 2 cases in 3.1s``."""
    counts = Counter(r.status for r in results)
    drifted = sum(1 for r in results if r.drift)
    line = (f"{counts['pass']} passed, {counts['fail']} failed, {counts['error']} "
            f"error{'s' if counts['error'] != 1 else ''}")
    if drifted:
        line += f"; drift in {drifted} case{'s' if drifted != 1 else ''}"
    return f"{line} in {seconds:.1f}s"


def table(results: list[CaseResult], seconds: float) -> str:
    """One row per case (``STATUS  file:line  name``), each failure's reason under its row,
    then the drift against the baseline and a summary line."""
    width = max((len(_where(r)) for r in results), default=0)
    lines: list[str] = []
    for result in results:
        label, colour = LABELS[result.status]
        name = printable(result.case.name)
        if len(name) > NAME_WIDTH:
            name = name[:NAME_WIDTH - 1] + "\u2026"
        lines.append(f"{click.style(label, fg=colour, bold=True)}  "
                     f"{_where(result).ljust(width)}  {name}")
        for reason in ([result.error] if result.error else result.failures):
            lines.append(f"       \u21b3 {printable(reason)}")
        if result.drift:
            lines.extend(click.style(f"       ~ {printable(change)}", fg="yellow")
                         for change in result.drift.lines())
    failed = any(not r.ok for r in results)
    lines.append(click.style(summary(results, seconds), fg="red" if failed else "green",
                             bold=True))
    return "\n".join(lines)


def details(result: CaseResult) -> list[str]:
    """A failed case for a reader (JUnit, pytest): the question, why it failed (indented), and
    what came back, ranked."""
    lines = [f"Q: {printable(result.case.question)}"]
    lines += [f"  {printable(reason)}"
              for reason in ([result.error] if result.error else result.failures)]
    if result.answer is not None:
        answer = result.answer
        lines.append(f"got: {'answered' if answer.answered else 'abstained'} "
                     f"(confidence {answer.confidence:.2f})")
        lines += [f"  #{rank} {printable(e.text)}"
                  for rank, e in enumerate(answer.evidence, start=1)]
    return lines


def as_json(results: list[CaseResult], seconds: float) -> dict[str, Any]:
    """Counts plus every case's status, reasons, answer and drift."""
    counts = Counter(r.status for r in results)
    return {"passed": counts["pass"], "failed": counts["fail"], "errors": counts["error"],
            "drifted": sum(1 for r in results if r.drift), "seconds": round(seconds, 3),
            "cases": [r.to_json() for r in results]}


def _where(result: CaseResult) -> str:
    return f"{display_path(str(result.case.file))}:{result.case.line}"
