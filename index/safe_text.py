"""Text from articles, file names and questions is data: make it safe to print to a terminal
(:func:`printable`) and valid Unicode before it reaches the tokenizer or SQLite
(:func:`valid_unicode`).

:func:`printable` is the one escaping function: every warning, error line, answer and chat
widget that shows such text goes through it.
"""

from __future__ import annotations

import re

# C0/C1 controls (ESC, CSI, OSC, BEL, a lone CR, ...), the bidirectional formatting
# characters that can make text read differently from what it is ("Trojan Source") and lone
# surrogates (an undecodable byte of a file name or argument arrives as U+DC80-U+DCFF)
_CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
                      r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, OSC, BEL, ...) shown as visible ``\\xNN`` or
    ``\\uNNNN`` escapes, so that nothing in an article or a file name can move the cursor,
    recolour, link or retitle a terminal. An undecodable byte of a file name (a surrogate
    escape) shows as the ``\\xNN`` of that byte. Line breaks (``\\n``, ``\\r\\n``) and tabs
    stay as they are."""
    return _CONTROL.sub(_escape, str(text))


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate (from a JSON ``"\\ud800"`` escape or an undecodable
    byte) replaced by U+FFFD, one character for one, so offsets into it stay right."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (it cannot be encoded as UTF-8)."""
    return _SURROGATE.search(text) is not None


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape of the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
