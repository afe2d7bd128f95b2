"""The document store of a generation: articles, passages and sentences in one SQLite file.

Row ids are dense and start at 0, so a sentence's id is also its row in the vector arrays and
its id in the FAISS index. Readers open the file read-only and fetch only the rows they show.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from index.ingest.documents import Article

DOCS = "docs.sqlite"

_SCHEMA = """
CREATE TABLE articles(
  id INTEGER PRIMARY KEY, file TEXT NOT NULL, record INTEGER, title TEXT, date TEXT, url TEXT,
  meta TEXT NOT NULL, offsets TEXT NOT NULL, body_start INTEGER, body_end INTEGER,
  text TEXT NOT NULL);
CREATE TABLE passages(
  id INTEGER PRIMARY KEY, article INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL);
CREATE TABLE sentences(
  id INTEGER PRIMARY KEY, article INTEGER NOT NULL, passage INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX articles_file ON articles(file);
CREATE INDEX sentences_passage ON sentences(passage);
CREATE INDEX passages_article ON passages(article);
CREATE INDEX sentences_article ON sentences(article);
"""


@dataclass(frozen=True, slots=True)
class SentenceRow:
    id: int
    article: int
    passage: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """What a citation needs of an article: everything but its text and metadata."""

    id: int
    source: str
    record: int | None
    title: str | None
    date: str | None
    url: str | None
    offsets: str


@dataclass(frozen=True, slots=True)
class PassageRow:
    id: int
    article: int
    start: int
    end: int


class DocWriter:
    """Appends rows to a new ``docs.sqlite``; ids are assigned in insertion order."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(folder / DOCS)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self.articles = self.passages = self.sentences = 0

    def add_article(self, article: Article) -> int:
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (self.articles, article.source, article.record, article.title, article.date,
             article.url, json.dumps(article.meta, ensure_ascii=False), article.offsets,
             article.body_start, article.body_end, article.text))
        self.articles += 1
        return self.articles - 1

    def add_passage(self, article: int, start: int, end: int) -> int:
        self.db.execute("INSERT INTO passages VALUES (?,?,?,?)",
                        (self.passages, article, start, end))
        self.passages += 1
        return self.passages - 1

    def add_sentences(self, rows: Iterable[tuple[int, int, int, int, str]]) -> None:
        """Rows of ``(article, passage, start, end, text)``."""
        batch = [(self.sentences + i, *row) for i, row in enumerate(rows)]
        self.db.executemany("INSERT INTO sentences VALUES (?,?,?,?,?,?)", batch)
        self.sentences += len(batch)

    def close(self) -> None:
        self.db.commit()
        self.db.close()


class DocReader:
    """Read-only access to a generation's ``docs.sqlite``."""

    def __init__(self, folder: Path) -> None:
        uri = (folder / DOCS).resolve().as_uri() + "?mode=ro&immutable=1"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)

    def passage_sentences(self, passage: int) -> list[SentenceRow]:
        rows = self.db.execute("SELECT id, article, passage, start, end, text FROM sentences "
                               "WHERE passage = ? ORDER BY id", (passage,))
        return [SentenceRow(*row) for row in rows]

    def article_infos(self, ids: Sequence[int]) -> dict[int, ArticleInfo]:
        """Citation data of articles by id, in one query."""
        return {row[0]: ArticleInfo(*row) for row in self._in(
            "SELECT id, file, record, title, date, url, offsets FROM articles", ids)}

    def all_titles(self) -> list[str | None]:
        """Every article's title, by article id."""
        return [r[0] for r in self.db.execute("SELECT title FROM articles ORDER BY id")]

    def article(self, article_id: int) -> Article:
        row = self.db.execute(
            "SELECT file, record, title, date, url, meta, offsets, body_start, body_end, text "
            "FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise KeyError(article_id)
        file, record, title, date, url, meta, offsets, body_start, body_end, text = row
        return Article(source=file, text=text, body_start=body_start, body_end=body_end,
                       title=title, date=date, url=url, meta=json.loads(meta),
                       offsets=offsets, record=record)

    def article_ids_of(self, file: str) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM articles WHERE file = ? ORDER BY id", (file,))]

    def article_rows(self, article_id: int) -> tuple[list[PassageRow], list[SentenceRow]]:
        """All passages and sentences of one article, in order."""
        passages = [PassageRow(*r) for r in self.db.execute(
            "SELECT id, article, start, end FROM passages WHERE article = ? ORDER BY id",
            (article_id,))]
        sentences = [SentenceRow(*r) for r in self.db.execute(
            "SELECT id, article, passage, start, end, text FROM sentences WHERE article = ? "
            "ORDER BY id", (article_id,))]
        return passages, sentences

    def all_sentence_texts(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT text FROM sentences ORDER BY id")]

    def close(self) -> None:
        self.db.close()

    def _in(self, select: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self.db.execute(f"{select} WHERE id IN ({marks})", ids).fetchall()
