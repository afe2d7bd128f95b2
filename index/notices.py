"""Warnings for the person running a command: one line each, to stderr by default.

The engine never prints to stdout; applications may redirect notices with :func:`set_sink`.
"""

from __future__ import annotations

import sys
from typing import Callable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Send notices to ``sink`` instead of stderr (``None`` restores stderr)."""
    global _sink
    _sink = sink


def warn(message: str) -> None:
    """Report one problem that did not stop the work (a skipped file, a bad line)."""
    line = " ".join(message.split())  # one line, whatever the message held
    if _sink is not None:
        _sink(line)
    else:
        print(f"warning: {line}", file=sys.stderr, flush=True)
