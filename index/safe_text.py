"""Article and question text is data: make it safe to print to a terminal."""

from __future__ import annotations

import re

# C0/C1 controls (ESC, CSI, OSC, BEL, a lone CR, ...) and the bidirectional formatting
# characters that can make text read differently from what it is ("Trojan Source")
_CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
                      r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, OSC, BEL, ...) shown as visible ``\\xNN`` or
    ``\\uNNNN`` escapes, so that nothing in an article can move the cursor, recolour, link or
    retitle a terminal. Line breaks (``\\n``, ``\\r\\n``) and tabs stay as they are."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
