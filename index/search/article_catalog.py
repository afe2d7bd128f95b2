"""Every article's date and source names, as arrays a filter is matched against.

Read from ``docs.sqlite`` the first time a filter is used (one query; 25,000 articles in ~30
ms), so questions without a filter never pay for it.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from index.search.filters import ArticleFilter, DateSpan, article_span

UNDATED = -1


@dataclass
class ArticleCatalog:
    """Per article id: the first and last day its date covers (``UNDATED`` when it has none)
    and the lower-cased names a source pattern is matched against (path or URL, URL,
    ``source`` and ``feed`` metadata)."""

    first_day: np.ndarray  # int64 (articles,)
    last_day: np.ndarray
    names: list[tuple[str, ...]]

    @classmethod
    def read(cls, db: sqlite3.Connection) -> "ArticleCatalog":
        rows = db.execute("SELECT file, date, url, meta FROM articles ORDER BY id").fetchall()
        first = np.full(len(rows), UNDATED, dtype=np.int64)
        last = np.full(len(rows), UNDATED, dtype=np.int64)
        names: list[tuple[str, ...]] = []
        for i, (file, date, url, meta) in enumerate(rows):
            if (span := _date_span(date)) is not None:
                first[i], last[i] = span.first, span.last
            names.append(tuple(n.casefold() for n in (file, url, *_meta_sources(meta)) if n))
        return cls(first, last, names)

    def __len__(self) -> int:
        return len(self.first_day)

    @property
    def anchored(self) -> np.ndarray:
        """Bool per article: its date is a whole day (its relative dates can be resolved)."""
        return (self.first_day != UNDATED) & (self.first_day == self.last_day)

    def allowed(self, wanted: ArticleFilter) -> np.ndarray:
        """Boolean per article: does ``wanted`` keep it."""
        keep = np.ones(len(self), dtype=bool)
        if wanted.dated:
            first, last = wanted.day_range()
            keep &= (self.first_day != UNDATED) & (self.last_day >= first) \
                & (self.first_day <= last)
        if (pattern := wanted.source_pattern()) is not None:
            match = pattern.match
            keep &= np.fromiter((any(match(n) for n in names) for names in self.names),
                                dtype=bool, count=len(self))
        return keep


def _meta_sources(meta: str | None) -> list[str]:
    """The ``source`` and ``feed`` (a feed item's feed URL) strings of an article's
    metadata JSON."""
    if not meta or ('"source"' not in meta and '"feed"' not in meta):
        return []
    import json

    try:
        data = json.loads(meta)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return [v for v in (data.get("source"), data.get("feed")) if isinstance(v, str)]


_ISO = re.compile(r"\s*\d{4}(?:-\d{2}(?:-\d{2})?)?(?!\d)")


@lru_cache(maxsize=4096)
def _date_span(date: str | None) -> DateSpan | None:
    """The days an article's stored date covers: ISO at its start, else read by dateparser
    ("May 23, 2022"); None when neither gives a date."""
    if not date:
        return None
    if _ISO.match(date):
        return article_span(date)
    from index.search.date_expressions import parse_date_text

    return parse_date_text(date)
