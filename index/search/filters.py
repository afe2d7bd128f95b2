"""Which articles a question may be answered from: a date range and source patterns.

One meaning everywhere (``bot ask --since/--until/--source``, JSON lines, the Python API,
golden files, the chat):

- ``since`` / ``until``: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, inclusive; a year or month
  means all of it (``until 2022`` keeps 2022-12-31). An article is kept when its date falls in
  the range (an article dated only to a month or year: when that month or year overlaps it).
  While a date bound is set, articles without a date are left out.
- ``sources``: shell-style patterns (``*``, ``?``, ``[abc]``), matched case-insensitively against
  the whole of the article's source path, its URL and its ``source`` metadata; an article is
  kept when any pattern matches any of them. ``*`` also matches ``/``.

The filter is a restriction of the candidate set inside the search (see
:mod:`index.search.restriction`), never a cut of its results.
"""

from __future__ import annotations

import calendar
import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from typing import Iterable

from index.errors import BadInput

DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"
_BOUND = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


class BadFilter(BadInput):
    """A filter value that cannot be used (a malformed date, since after until...)."""


@dataclass(frozen=True)
class DateSpan:
    """A calendar day, month or year as its first and last day (proleptic ordinals)."""

    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> "DateSpan | None":
        """The span ``text`` names when it is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a valid
        date), else None."""
        match = _BOUND.fullmatch(text.strip())
        if match is None:
            return None
        year, month, day = (int(g) if g else None for g in match.groups())
        try:
            if month is None:
                return cls(dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal())
            if day is None:
                last = calendar.monthrange(year, month)[1]
                return cls(dt.date(year, month, 1).toordinal(),
                           dt.date(year, month, last).toordinal())
            day_number = dt.date(year, month, day).toordinal()
        except ValueError:  # month 13, February 30, year 0
            return None
        return cls(day_number, day_number)


def parse_bound(value: str, name: str) -> DateSpan:
    """The date ``value`` given as ``--since``/``--until`` (``name``); :class:`BadFilter`
    naming the accepted forms when it is not one."""
    span = DateSpan.parse(str(value))
    if span is None:
        raise BadFilter(f"{name} {not_a_date(value)}")
    return span


def not_a_date(value: object) -> str:
    """Why ``value`` is refused as a date bound, with the accepted forms."""
    return f"{str(value)!r} is not a date; use {DATE_FORMS} (e.g. 2022, 2022-05, 2022-05-23)"


@dataclass(frozen=True)
class ArticleFilter:
    """A date range (each end optional) and source patterns (any may match); build it with
    :meth:`of` from what a user typed."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def of(cls, since: str | None = None, until: str | None = None,
           sources: Iterable[str] | str | None = ()) -> "ArticleFilter":
        """A checked filter: :class:`BadFilter` for a malformed date, ``since`` after
        ``until``, or an empty pattern."""
        if isinstance(sources, str):
            sources = (sources,)
        since = None if since is None or str(since).strip() == "" else str(since).strip()
        until = None if until is None or str(until).strip() == "" else str(until).strip()
        patterns = tuple(str(p) for p in (sources or ()))
        first = parse_bound(since, "since") if since is not None else None
        last = parse_bound(until, "until") if until is not None else None
        if first is not None and last is not None and first.first > last.last:
            raise BadFilter(f"since {since} is after until {until}")
        if any(not p.strip() for p in patterns):
            raise BadFilter("an empty source pattern")
        return cls(since, until, patterns)

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None or bool(self.sources)

    @property
    def dated(self) -> bool:
        """Whether a date bound is set (undated articles are then left out)."""
        return self.since is not None or self.until is not None

    def day_range(self) -> tuple[int, int]:
        """The first and last day kept (ordinals; open ends as the extreme dates)."""
        first = DateSpan.parse(self.since).first if self.since else dt.date.min.toordinal()
        last = DateSpan.parse(self.until).last if self.until else dt.date.max.toordinal()
        return first, last

    def source_pattern(self) -> re.Pattern[str] | None:
        """One case-insensitive regular expression for all the source patterns."""
        if not self.sources:
            return None
        return re.compile("|".join(f"(?:{fnmatch.translate(p.casefold())})"
                                   for p in self.sources))

    def describe(self) -> str:
        """The filter in words, as the CLI and the chat show it (``""`` when none)."""
        parts = []
        if self.since and self.until:
            parts.append(f"dated {self.since} to {self.until}")
        elif self.since:
            parts.append(f"dated {self.since} or later")
        elif self.until:
            parts.append(f"dated {self.until} or earlier")
        if self.sources:
            parts.append("source " + " or ".join(self.sources))
        return ", ".join(parts)

    def to_json(self) -> dict[str, object]:
        """The ``{"since", "until", "source"}`` form of JSON lines and golden files."""
        data: dict[str, object] = {}
        if self.since:
            data["since"] = self.since
        if self.until:
            data["until"] = self.until
        if self.sources:
            data["source"] = list(self.sources)
        return data

    @classmethod
    def from_json(cls, data: object) -> "ArticleFilter":
        """A filter from a ``{"since", "until", "source"}`` mapping (``source`` a pattern or a
        list of them); :class:`BadFilter` for anything else."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise BadFilter("filters must be an object with since, until and source")
        unknown = sorted(set(data) - {"since", "until", "source"})
        if unknown:
            raise BadFilter(f"unknown filter {unknown[0]!r} (known: since, until, source)")
        sources = data.get("source")
        if sources is None:
            sources = []
        elif isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise BadFilter("filter source must be a pattern or a list of patterns")
        for key in ("since", "until"):
            if data.get(key) is not None and not isinstance(data[key], (str, int)):
                raise BadFilter(f"filter {key} must be a date ({DATE_FORMS})")
        since, until = data.get("since"), data.get("until")
        return cls.of(None if since is None else str(since),
                      None if until is None else str(until), sources)


NO_FILTER = ArticleFilter()


def article_span(date: str | None) -> DateSpan | None:
    """The days an article's stored date covers: an ISO date or date-time at its start
    (``2022-05-23``, ``2022-05-23T10:00:00Z``, ``2022-05``, ``2022``), else None."""
    if not date:
        return None
    match = re.match(r"\s*(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?![\d])", date)
    return DateSpan.parse(match.group(1)) if match else None
