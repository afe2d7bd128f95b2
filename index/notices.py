"""Notices for the person running a command: one line each, to stderr by default.

``warning:`` lines report a problem that did not stop the work; ``note:`` lines say what is
happening when it takes a while for a good reason (the one-time model export). The engine
never prints to stdout; applications may redirect notices with :func:`set_sink`.
"""

from __future__ import annotations

import sys
from typing import Callable

from index.safe_text import printable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Send notices (whole lines, ``warning: …`` or ``note: …``) to ``sink`` instead of
    stderr (``None`` restores stderr)."""
    global _sink
    _sink = sink


def warn(message: str) -> None:
    """Report one problem that did not stop the work (a skipped file, a bad line)."""
    _emit("warning", message)


def note(message: str) -> None:
    """Say what slow but expected work is going on (nothing is wrong)."""
    _emit("note", message)


def _emit(label: str, message: str) -> None:
    # one line, whatever the message held, and no control character from a file name or a
    # URL (ESC, OSC, BEL...) reaches the terminal
    line = f"{label}: " + printable(" ".join(message.split()))
    if _sink is not None:
        _sink(line)
    else:
        print(line, file=sys.stderr, flush=True)
