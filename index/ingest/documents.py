"""The data an index is made of: articles, their passages and their sentences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from index.safe_text import valid_unicode

OffsetKind = Literal["file", "extracted"]


@dataclass(frozen=True)
class Article:
    """One article read from a file.

    ``text`` is what every offset refers to: for ``.txt``/``.md`` it is the file's whole content
    decoded as UTF-8 (``offsets == "file"``); for ``.html``/``.jsonl`` it is the extracted article
    text (``offsets == "extracted"``). ``body_start:body_end`` is the part holding the article
    body (after any title line, date marker or front matter).
    """

    source: str
    text: str
    body_start: int
    body_end: int
    title: str | None = None
    date: str | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    offsets: OffsetKind = "file"
    record: int | None = None  # 1-based line of a .jsonl file

    def __post_init__(self) -> None:
        """Every text field is valid Unicode before it reaches the tokenizer or SQLite: a lone
        surrogate (a JSON ``"\\ud800"``, a YAML escape, a feed) becomes U+FFFD, one character
        for one, so offsets stay right."""
        for name in ("source", "text", "title", "date", "url"):
            value = getattr(self, name)
            if isinstance(value, str) and (fixed := valid_unicode(value)) is not value:
                object.__setattr__(self, name, fixed)
        object.__setattr__(self, "meta", _valid_data(self.meta))


def _valid_data(value: Any) -> Any:
    """``value`` (JSON-like metadata, nesting bounded by its reader) with valid Unicode."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_unicode(str(k)): _valid_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid_data(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Passage:
    """A paragraph-sized run of sentences of one article."""

    article: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: ``article.text[start:end] == text``."""

    article: int
    passage: int
    start: int
    end: int
    text: str


@dataclass
class SplitArticle:
    """An article with its passages and sentences (ids local to this article)."""

    article: Article
    passages: list[tuple[int, int]]
    sentences: list[tuple[int, int, int]]  # (passage index, start, end)

    def sentence_texts(self) -> list[str]:
        return [self.article.text[s:e] for _, s, e in self.sentences]
