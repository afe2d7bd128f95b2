"""Article and question text is data: make it safe to print to a terminal."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, OSC, BEL, ...) shown as visible ``\\xNN`` escapes,
    so that nothing in an article can move the cursor, recolour or retitle a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
