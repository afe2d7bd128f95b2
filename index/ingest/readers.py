"""Read article files (.txt, .md, .html/.htm, .jsonl) into :class:`Article` objects.

Every reader works on the file's bytes decoded as UTF-8 and returns offsets into that text (or,
for HTML and JSONL, into the extracted article text). A file that cannot be read raises
:class:`UnreadableFile` with a one-line reason; callers skip it and go on.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any, Callable

from index.ingest.documents import Article
from index.errors import UnreadableFile

SUFFIXES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
            ".jsonl": "jsonl"}

_DATE_MARKER = re.compile(r"date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*:?[ \t]*", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)", re.DOTALL)
_MD_HEADING = re.compile(r"#{1,6}[ \t]+(.+)")
_SENTENCE_END = tuple('.!?;:,"\u201d\'')
_MAX_TITLE_CHARS = 200
MAX_ARTICLE_FILE_BYTES = 128 * 1024 * 1024  # a bigger file is skipped with a warning
MAX_FRONT_MATTER_BYTES = 64 * 1024  # YAML front matter is metadata, not a document
MAX_NESTING = 32  # levels of lists/mappings in front matter or a JSONL record


def file_format(path: Path) -> str | None:
    """The reader name for ``path`` from its suffix, or None when it is not an article file."""
    return SUFFIXES.get(path.suffix.lower())


def decode(data: bytes, source: str) -> str:
    """Decode file bytes as UTF-8 text, refusing empty, binary and non-UTF-8 content."""
    if not data.strip():
        raise UnreadableFile(source, "empty file")
    if b"\x00" in data[:8192]:
        raise UnreadableFile(source, "binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(source, f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_articles(path: Path, data: bytes) -> list[Article]:
    """All articles in one file (one for most formats, one per line for .jsonl)."""
    fmt = file_format(path)
    if fmt is None:
        raise UnreadableFile(str(path), f"unsupported file type '{path.suffix or path.name}'")
    source = str(path)
    text = decode(data, source)
    return _READERS[fmt](source, text)


def read_txt(source: str, text: str) -> list[Article]:
    """Plain text: optional title line and ``date YYYY-MM-DD`` marker, then paragraphs."""
    pos = _skip_space(text, 0)
    title = date = None
    for _ in range(2):  # the date marker may come before or after the title line
        if date is None and (match := _DATE_MARKER.match(text, pos)):
            date = match.group(1)
            pos = _skip_space(text, match.end())
        elif title is None and (line := _title_line(text, pos)):
            title, pos = line[0], _skip_space(text, line[1])
    return [Article(source, text, pos, len(text), title=title, date=date)]


def read_md(source: str, text: str) -> list[Article]:
    """Markdown with optional YAML front matter (title, date, source/url; other keys kept)."""
    pos = _skip_space(text, 0)
    meta: dict[str, Any] = {}
    if match := _FRONT_MATTER.match(text, pos):
        meta = _front_matter(source, text, pos, match.group(1))
        pos = _skip_space(text, match.end())
    title = _as_text(meta.pop("title", None))
    date = _as_date(meta.pop("date", None))
    url = _as_text(meta.pop("url", None) or meta.pop("source", None))
    if title is None and (heading := _MD_HEADING.match(text, pos)):
        title = heading.group(1).strip()
        pos = _skip_space(text, heading.end())
    return [Article(source, text, pos, len(text), title=title, date=date, url=url, meta=meta)]


# htmldate (through trafilatura) looks for a date in the markup (meta tags, <time>, JSON-LD,
# the URL) and, with its "extensive search", in the page's text too, where it takes
# "Copyright 2022" in a footer for 2022-01-01: a date the page never gave. Markup only.
_HTML_DATES = {"extensive_search": False, "original_date": True}


def read_html(source: str, text: str, title: str | None = None, date: str | None = None,
              url: str | None = None, meta: dict[str, Any] | None = None) -> list[Article]:
    """HTML: the main article text (no navigation, scripts or boilerplate) via trafilatura;
    its date only from the markup (never from a copyright line or the file's time).
    ``title``/``date``/``url``, when given (a feed item's), win over the page's own."""
    import trafilatura

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False,
                                      include_tables=False, output_format="python",
                                      date_extraction_params=_HTML_DATES)
    fields = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    body = fields.get("text") or ""
    if not body.strip():
        raise UnreadableFile(source, "no article text found in the HTML")
    return [extracted_article(source, body, title or fields.get("title"),
                              date or fields.get("date"), url or fields.get("url"), meta)]


def read_jsonl(source: str, text: str) -> list[Article]:
    """One JSON object per line with ``text`` (or ``content``/``body``) plus title/date/url."""
    articles: list[Article] = []
    problems: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):  # JSON strings may hold U+2028
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: invalid JSON ({exc.msg})")
            continue
        except (RecursionError, ValueError) as exc:  # [[[[… thousands deep, huge numbers
            problems.append(f"line {number}: unusable JSON ({type(exc).__name__})")
            continue
        if _depth(record) > MAX_NESTING:
            problems.append(f"line {number}: JSON nested over {MAX_NESTING} levels")
            continue
        body = record.get("text") or record.get("content") or record.get("body") \
            if isinstance(record, dict) else None
        if not isinstance(body, str) or not body.strip():
            problems.append(f"line {number}: no 'text' string")
            continue
        meta = {k: v for k, v in record.items()
                if k not in {"text", "content", "body", "title", "date", "url", "source"}}
        articles.append(extracted_article(source, body, record.get("title"),
                                          record.get("date"),
                                          record.get("url") or record.get("source"), meta,
                                          number))
    if not articles:
        raise UnreadableFile(source, "no readable JSONL records" +
                             (f" ({problems[0]})" if problems else ""))
    if problems:
        from index.notices import warn

        warn(f"{source}: skipped {len(problems)} bad line(s): {'; '.join(problems[:3])}")
    return articles


def extracted_article(source: str, body: str, title: Any, date: Any, url: Any,
                      meta: dict[str, Any] | None = None, record: int | None = None) -> Article:
    """An article whose offsets refer to its extracted text, one paragraph per input line."""
    lines = [line.strip() for line in body.replace("\r\n", "\n").split("\n")]
    text = "\n\n".join(line for line in lines if line)
    title_text = _as_text(title)
    start = 0
    if title_text and text.startswith(title_text + "\n"):  # extractors repeat the headline
        start = _skip_space(text, len(title_text))
    return Article(source, text, start, len(text), title=title_text, date=_as_date(date),
                   url=_as_text(url), meta=meta or {}, offsets="extracted", record=record)


def _front_matter(source: str, text: str, pos: int, block: str) -> dict[str, Any]:
    import yaml

    from index.ingest.limited_yaml import load_limited

    if len(block.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER_BYTES:
        raise UnreadableFile(source, f"YAML front matter over {MAX_FRONT_MATTER_BYTES:,} bytes")
    try:
        data = load_limited(block, MAX_NESTING)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = text.count("\n", 0, pos) + 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UnreadableFile(source, f"malformed YAML front matter at line {line}: {problem}") \
            from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an int of 5,000 digits
        raise UnreadableFile(source, f"unusable YAML front matter ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UnreadableFile(source, "YAML front matter is not a mapping of keys to values")
    return {str(k): _jsonable(v) for k, v in data.items()}


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_NESTING:
                stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                      else item))
    return deepest


def _title_line(text: str, pos: int) -> tuple[str, int] | None:
    """``(title, end)`` when the line at ``pos`` reads as a headline followed by more text."""
    newline = text.find("\n", pos)
    if newline < 0:
        return None
    line = text[pos:newline].strip()
    if not line or len(line) > _MAX_TITLE_CHARS or line.endswith(_SENTENCE_END):
        return None
    rest = text[newline + 1:]
    following = rest.lstrip(" \t\r")
    if not rest.strip():
        return None
    if not (following.startswith("\n") or _DATE_MARKER.match(following)):
        return None  # a hard-wrapped first line of a paragraph, not a headline
    return line, newline


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and (text[pos].isspace() or text[pos] == "\ufeff"):
        pos += 1
    return pos


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_date(value: Any) -> str | None:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    return _as_text(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_READERS: dict[str, Callable[[str, str], list[Article]]] = {
    "txt": read_txt, "md": read_md, "html": read_html, "jsonl": read_jsonl,
}
