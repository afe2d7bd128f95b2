"""Feeds: tell a feed from a page by its content, and read a feed's items.

RSS 0.9x/1.0/2.0 and Atom are parsed by feedparser; JSON Feed (1.0/1.1, which feedparser 6
does not read) is plain JSON read here. An item gives an article's title, date and link, and
its text when the feed carries the full content (Atom ``content``, RSS ``content:encoded``,
JSON ``content_html``/``content_text``); otherwise the text comes from the linked page.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from index.errors import UnreadableFile
from index.ingest.charsets import decode_body, declared_charset
from index.ingest.documents import Article
from index.ingest.readers import extracted_article

Kind = Literal["feed", "json-feed", "html"]

# what may precede the root element: processing instructions, comments, and a doctype (not
# HTML's), with its internal subset of entity declarations when it has one
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?![ \t\r\n]+html)[^>\[]*"
                     r"(?:\[.*?\]\s*)?>)", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(r"\s*<(!DOCTYPE[ \t\r\n]+html|[A-Za-z_][\w:.-]*)", re.IGNORECASE)
_FEED_ROOTS = {"rss", "feed", "rdf"}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# feedparser flags these but reads the feed right: a feed served as text/plain, or an
# encoding header that disagreed with the bytes (checked separately, see parse_feed)
_BENIGN_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed."""

    link: str | None
    title: str | None
    date: str | None
    content: str | None  # the full text when the feed carries it
    content_is_html: bool = True
    id: str | None = None


def sniff(url: str, body: bytes, content_type: str = "") -> Kind:
    """What ``body`` is, judged by its content (the URL's name says nothing)."""
    head = body[:4096]
    charset = declared_charset(head, content_type)
    text = head.decode(charset if charset in ("utf-16", "utf-32") else "latin-1", "replace")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        if _is_json_feed(body, url, content_type):
            return "json-feed"
        raise UnreadableFile(url, "JSON that is not a JSON Feed")
    position = 0
    while match := _PROLOG.match(text, position):
        if match.end() == position:
            break
        position = match.end()
    if root := _ROOT.match(text, position):
        name = root.group(1).lower()
        if name.startswith("!doctype"):
            return "html"
        local = name.rsplit(":", 1)[-1]
        if local in _FEED_ROOTS:
            return "feed"
        if local == "html":
            return "html"
    if content_type.split(";")[0].strip().lower() in _HTML_TYPES:
        return "html"
    shown = content_type.split(";")[0].strip() or "no content type"
    raise UnreadableFile(url, f"not a feed or an HTML page ({shown})")


def parse_feed(url: str, body: bytes, content_type: str = "") -> list[FeedItem]:
    """The items of an RSS/Atom feed at ``url`` (relative links are read against it); raises
    :class:`UnreadableFile` for a malformed one."""
    import feedparser

    charset = declared_charset(body, content_type)
    if charset:  # bytes that do not decode as declared are refused, not guessed around
        decode_body(url, body, content_type)
    parsed = feedparser.parse(body, response_headers={"content-type": content_type or
                                                       "application/xml",
                                                       "content-location": url})
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and type(problem).__name__ not in _BENIGN_BOZO:
        if type(problem).__name__ == "CharacterEncodingUnknown":
            raise UnreadableFile(url, "feed bytes in no character set that could be decoded")
        raise UnreadableFile(url, f"malformed feed ({_one_line(problem)})")
    return [_rss_item(entry) for entry in parsed.entries]


def parse_json_feed(url: str, body: bytes, content_type: str = "") -> list[FeedItem]:
    """The items of a JSON Feed (https://jsonfeed.org) at ``url`` (relative links are read
    against it)."""
    data = _json(body, url, content_type)
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise UnreadableFile(url, "malformed JSON Feed (no 'items' list)")
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        html, plain = _text(item.get("content_html")), _text(item.get("content_text"))
        link = _text(item.get("url")) or _text(item.get("external_url"))
        if link:
            link = _absolute(url, link)
        found.append(FeedItem(link, _text(item.get("title")),
                              _text(item.get("date_published") or item.get("date_modified"),
                                    limit=10),
                              html or plain, content_is_html=html is not None,
                              id=_text(item.get("id"))))
    return found


def item_article(item: FeedItem, source: str, feed: str) -> Article:
    """The article a feed item carries whole (``item.content`` must be set)."""
    assert item.content is not None
    body = _html_text(item.content) if item.content_is_html else item.content
    if not body.strip():
        raise UnreadableFile(source, "the feed item carries no text")
    return extracted_article(source, body, item.title, item.date, item.link or source,
                             {"feed": feed})


def _rss_item(entry: Any) -> FeedItem:
    content = None
    is_html = True
    for part in entry.get("content") or []:
        value = part.get("value") or ""
        if value.strip():
            content = value
            is_html = "html" in (part.get("type") or "text/html")
            break
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedItem(_text(entry.get("link")), _text(entry.get("title")),
                    time.strftime("%Y-%m-%d", when) if when else None, content, is_html,
                    _text(entry.get("id")))


def _html_text(fragment: str) -> str:
    """The text of an HTML fragment, one paragraph per line (trafilatura, then plain lxml)."""
    import trafilatura

    text = trafilatura.extract(f"<html><body><article>{fragment}</article></body></html>",
                               include_comments=False, include_tables=False)
    if text and text.strip():
        return text
    import lxml.html

    try:
        return lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()
    except Exception:  # noqa: BLE001 - lxml raises several types for hopeless markup
        return ""


def _absolute(feed: str, link: str) -> str:
    """``link`` resolved against the feed's URL (a malformed one as it is: fetching it is
    refused with the reason)."""
    from urllib.parse import urljoin

    try:
        return urljoin(feed, link)
    except ValueError:
        return link


def _is_json_feed(body: bytes, url: str, content_type: str) -> bool:
    try:
        data = _json(body, url, content_type)
    except UnreadableFile:
        return False
    return isinstance(data, dict) and "jsonfeed.org/version" in str(data.get("version", ""))


def _json(body: bytes, url: str, content_type: str) -> Any:
    text = decode_body(url, body, content_type)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(url, f"malformed JSON ({exc.msg} at line {exc.lineno})") from None


def _text(value: Any, limit: int | None = None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return text[:limit] if limit else text


def _one_line(problem: object) -> str:
    return " ".join(str(problem).split()) or type(problem).__name__
