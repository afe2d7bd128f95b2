"""Decode fetched pages by their declared or detected character set.

News is not all UTF-8: ISO-8859-1, Windows-1252 and Shift_JIS pages are common. The charset
comes from, in order: a byte order mark, the HTTP ``Content-Type`` header, the document's own
declaration (``<meta charset>``, ``<?xml encoding?>``); without one, UTF-8 is tried and then
charset-normalizer guesses. Bytes that do not decode in a declared charset are refused, not
guessed around. Labels follow browsers: ISO-8859-1 and US-ASCII mean Windows-1252.
"""

from __future__ import annotations

import codecs
import re

from index.errors import UnreadableFile

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_AS_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii",
                    "iso_8859-1", "cp819", "ibm819", "windows-1252", "cp1252", "x-cp1252"}
_SNIFF_BYTES = 4096


def declared_charset(body: bytes, content_type: str = "") -> str | None:
    """The charset ``body`` says it is in (BOM, header, then document), or None."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if header := _HEADER_CHARSET.search(content_type):
        return header.group(1).lower()
    head = body[:_SNIFF_BYTES]
    if inside := _XML_ENCODING.match(head) or _META_CHARSET.search(head):
        return inside.group(1).decode("ascii", "replace").lower()
    return None


def decode_body(url: str, body: bytes, content_type: str = "") -> str:
    """``body`` as text (see the module docstring); raises :class:`UnreadableFile` with the
    reason when it cannot be decoded."""
    if not body.strip():
        raise UnreadableFile(url, "empty response")
    charset = declared_charset(body, content_type)
    if charset:
        return _decode_declared(url, body, charset)
    if b"\x00" in body[:_SNIFF_BYTES]:
        raise UnreadableFile(url, "binary content (contains NUL bytes)")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _detected(url, body)


def _detected(url: str, body: bytes) -> str:
    """charset-normalizer's guess; on a tie, Windows-1252 (what browsers assume for legacy
    pages that declare nothing), not a Central European or Baltic code page."""
    from charset_normalizer import from_bytes

    matches = from_bytes(body)
    best = matches.best()
    if best is None:
        raise UnreadableFile(url, "bytes in no character set that could be detected")
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos and \
                match.coherence >= best.coherence:
            return str(match)
    return str(best)


def _decode_declared(url: str, body: bytes, charset: str) -> str:
    name = "cp1252" if charset in _AS_WINDOWS_1252 else charset
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise UnreadableFile(url, f"unknown character set '{charset}'") from None
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        if codec == "cp1252":  # the five bytes Windows-1252 leaves undefined: ISO-8859-1's
            text = body.decode("latin-1")
        else:
            raise UnreadableFile(url, f"bytes do not decode as {charset} (invalid byte at "
                                      f"offset {exc.start})") from None
    return text.removeprefix("\ufeff")
