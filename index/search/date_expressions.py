"""Date expressions in a sentence, resolved against the article's date.

A small grammar of its own (regular expressions and a resolver), not dateparser's
``search_dates``: on the table in ``tests/test_date_expressions.py`` dateparser 1.5 took
"May" the verb, "March" the verb and "may" for dates, missed "this year's" and "Friday's
vote", reported "two years ago and" with the next word, and gave a day for "in July 2022"
(the anchor's day filled in); it took ~3 ms a sentence where this takes ~0.1 ms (ten
sentences of the table, on this machine).

Absolute expressions resolve on their own ("in July 2022" → ``2022-07``, "May 23, 2022" →
``2022-05-23``, "in 2021" → ``2021``); relative ones need the article's date, the anchor
("today" → the anchor, "this year's" → its year, "last week", "on Monday", "two years ago",
"in March" → the nearest March). ``date`` is as precise as the text: ``YYYY``, ``YYYY-MM``,
``YYYY-MM-DD``, or for a week ``YYYY-Www`` (ISO week); ``None`` when a relative expression has
no anchor.

Words that only look like dates are left alone: a month name counts when it is capitalised
and comes with a day or a year or after a preposition ("in May", not "May I" or "they may");
a weekday's possessive counts before a lower-case noun ("Friday's vote", not "at Friday's").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

MONTHS = {name: number for number, names in enumerate((
    (), ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
    ("october", "oct"), ("november", "nov"), ("december", "dec"))) for name in names}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
           "several": None, "few": None}

_MONTH = (r"(?P<month>January|February|March|April|May|June|July|August|September|October|"
          r"November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|"
          r"Oct\.?|Nov\.?|Dec\.?)")
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>1[89]\d\d|20\d\d|2100)"
_WEEKDAY = r"(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH_LEAD = (r"(?P<lead>(?i:(?:in|since|by|until|till|from|during|before|after|through|"
               r"throughout|early|late|mid|last|next|this)(?:-|\s+)|"
               r"(?:the\s+)?(?:end|start|beginning|middle)\s+of\s+))")
_YEAR_LEAD = (r"(?P<lead>(?i:(?:in|since|by|until|till|from|during|before|after|through|"
              r"throughout|of|to|and|early|late|mid)(?:-|\s+)(?:the\s+(?:year|end|start)\s+"
              r"(?:of\s+)?)?))")
_COUNT = (r"(?P<count>\d{1,3}|(?i:a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
          r"eleven|twelve))")
_UNIT = r"(?P<unit>(?i:day|week|month|year|decade))s?"
_B = r"(?<![\w-])"  # a word start (not inside a word or a hyphenated one)
_E = r"(?![\w])"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [(name, re.compile(pattern)) for name, pattern in (
    ("iso", rf"{_B}{_YEAR}-(?P<mm>[01]\d)-(?P<dd>[0-3]\d){_E}"),
    ("month_day_year", rf"{_B}(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY},?\s+{_YEAR}{_E}"),
    ("day_month_year", rf"{_B}(?:{_WEEKDAY},?\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}{_E}"),
    ("month_year", rf"{_B}{_MONTH},?\s+{_YEAR}{_E}"),
    ("month_day", rf"{_B}(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY}{_E}(?!,?\s*\d)"),
    ("day_month", rf"{_B}(?:{_WEEKDAY},?\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}{_E}"),
    ("ago", rf"{_B}{_COUNT}\s+{_UNIT}\s+(?:ago|earlier){_E}"),
    ("ahead", rf"{_B}(?i:in)\s+{_COUNT}\s+{_UNIT}(?:'|’)?(?:\s+time)?{_E}"),
    ("shifted", rf"{_B}(?P<which>(?i:this|last|next|past|coming))\s+"
                rf"(?P<span>(?i:week|month|year))"
                rf"(?:'s|’s)?{_E}"),
    ("weekday", rf"{_B}(?:(?P<which>(?i:last|next|this|on|this\s+coming|past))\s+)?{_WEEKDAY}"
                rf"(?P<possessive>'s|’s)?{_E}"),
    ("day_word", rf"{_B}(?P<word>(?i:today|tonight|yesterday|tomorrow|"
                 rf"this\s+(?:morning|afternoon|evening)))(?:'s|’s)?{_E}"),
    ("bare_month", rf"{_B}{_MONTH_LEAD}{_MONTH}(?!\s*\d)(?:'s|’s)?{_E}"),
    ("year", rf"{_B}{_YEAR_LEAD}{_YEAR}(?!\d)(?:'s|’s)?(?![,.]\d|\s*(?:%|percent))"),
    ("year_possessive", rf"{_B}{_YEAR}(?:'s|’s){_E}"),
)]
_FUTURE = re.compile(r"\b(will|shall|would|to be|is set to|are set to|plans? to|scheduled|"
                     r"expected to|due to|upcoming)\b", re.I)
_NOT_A_NOUN = frozenset(("in", "on", "at", "and", "or", "the", "a", "an", "to", "for", "of",
                         "with", "by", "from", "is", "was", "has", "had", "restaurant", "bar"))
_WORD_AFTER = re.compile(r"\s+([A-Za-z]+)")


@dataclass(frozen=True)
class DateMention:
    """One date expression: its text, span (in the sentence, or shifted by :meth:`shifted`)
    and the date it means (``None``: relative with no anchor)."""

    text: str
    start: int
    end: int
    date: str | None
    relative: bool = False

    def shifted(self, offset: int) -> "DateMention":
        return DateMention(self.text, self.start + offset, self.end + offset, self.date,
                           self.relative)

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "start": self.start, "end": self.end, "date": self.date}


def anchor_of(date: str | None) -> dt.date | None:
    """An article's stored date as the anchor of its relative expressions (a full ISO date
    at its start; a month or year alone is too vague to anchor "yesterday")."""
    if not date:
        return None
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})(?!\d)", date)
    if not match:
        return None
    try:
        return dt.date(*map(int, match.groups()))
    except ValueError:
        return None


def find_dates(text: str, anchor: dt.date | str | None = None) -> list[DateMention]:
    """Every date expression in ``text``, in order, resolved against ``anchor`` (the
    article's date, a date or its ISO text)."""
    if isinstance(anchor, str):
        anchor = anchor_of(anchor)
    return [m for m in _mentions(text, anchor) if m is not None]


# Every expression holds a digit, a month or weekday name or one of these words: a sentence
# with none is not scanned by the patterns (most sentences: ~2 µs instead of ~100).
_CUE = re.compile(r"\d|(?i:today|tonight|yesterday|tomorrow|morning|afternoon|evening|ago|"
                  r"earlier|day|week|month|year|decade)|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                  r"Nov|Dec|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday")


def _mentions(text: str, anchor: dt.date | None) -> list[DateMention | None]:
    if _CUE.search(text) is None:
        return []
    taken: list[tuple[int, int]] = []
    found: list[DateMention] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = _span_of(kind, match)
            if any(start < b and a < end for a, b in taken):
                continue
            mention = _resolve(kind, match, text, anchor, start, end)
            if mention is not None:
                taken.append((start, end))
                found.append(mention)
    return sorted(found, key=lambda m: m.start)


def _span_of(kind: str, match: re.Match[str]) -> tuple[int, int]:
    """The expression's span: without a leading preposition kept for context ("in May" →
    "May"), with "on"/"last"/"next" kept since they change the day."""
    if kind == "bare_month" and match["lead"].strip(" -").lower() in ("last", "next", "this"):
        return match.start(), match.end()
    if kind in ("bare_month", "year"):
        return match.end("lead"), match.end()
    if kind == "weekday" and match.group("which") and match.group("which").lower() == "on":
        return match.start("weekday"), match.end()
    return match.start(), match.end()


def _resolve(kind: str, m: re.Match[str], text: str, anchor: dt.date | None, start: int,
             end: int) -> DateMention | None:
    """The mention ``m`` makes, or None when it is not a date after all."""
    def mention(date: str | None, relative: bool) -> DateMention:
        return DateMention(text[start:end], start, end, date, relative)

    groups = m.groupdict()
    month = MONTHS.get((groups.get("month") or "").lower().rstrip(".")) if "month" in \
        m.re.groupindex else None
    if kind == "iso":
        date = _day(int(m["year"]), int(m["mm"]), int(m["dd"]))
        return mention(date, False) if date else None
    if kind in ("month_day_year", "day_month_year"):
        date = _day(int(m["year"]), month, int(m["day"]))
        return mention(date, False) if date else None
    if kind == "month_year":
        return mention(f"{int(m['year']):04d}-{month:02d}", False)
    if kind in ("month_day", "day_month"):
        day = int(m["day"])
        if not 1 <= day <= 31 or (kind == "month_day" and m["month"].lower() == "may"
                                  and not m["weekday"] and _verb_may(text, m.start())):
            return None
        if anchor is None:
            return mention(None, True)
        date = _day(_nearest_year(anchor, month, day), month, day)
        return mention(date, True) if date else None
    if kind in ("year", "year_possessive"):
        return mention(m["year"], False)
    if kind == "bare_month":
        if anchor is None:
            return mention(None, True)
        lead = m["lead"].strip(" -").lower()
        if lead.startswith("the ") or lead.endswith(" of"):
            lead = ""
        year = anchor.year - 1 if lead == "last" and month >= anchor.month else \
            anchor.year + 1 if lead == "next" and month <= anchor.month else \
            anchor.year if lead in ("last", "next", "this") else _nearest_year(anchor, month, 1)
        return mention(f"{year:04d}-{month:02d}", True)
    if kind == "day_word":
        if anchor is None:
            return mention(None, True)
        shift = {"yesterday": -1, "tomorrow": 1}.get(m["word"].lower(), 0)
        return mention((anchor + dt.timedelta(days=shift)).isoformat(), True)
    if kind == "weekday":
        which = (m["which"] or "").lower()
        if m["possessive"] and not which:
            after = _WORD_AFTER.match(text, m.end())
            if after is None or not after.group(1).islower() or \
                    after.group(1).lower() in _NOT_A_NOUN:
                return None  # "at Friday's", "TGI Friday's": a name
        if anchor is None:
            return mention(None, True)
        return mention(_weekday(anchor, WEEKDAYS.index(m["weekday"].lower()), which,
                                bool(_FUTURE.search(text))).isoformat(), True)
    if kind == "shifted":
        if anchor is None:
            return mention(None, True)
        step = {"this": 0, "last": -1, "past": -1, "next": 1, "coming": 1}[m["which"].lower()]
        return mention(_shift(anchor, m["span"].lower(), step, exact=False), True)
    if kind in ("ago", "ahead"):
        count = NUMBERS.get(m["count"].lower()) if not m["count"].isdigit() \
            else int(m["count"])
        if not count:
            return None
        if anchor is None:
            return mention(None, True)
        step = -count if kind == "ago" else count
        unit = m["unit"].lower()
        if unit == "decade":
            unit, step = "year", step * 10
        return mention(_shift(anchor, unit, step, exact=True), True)
    return None


def _day(year: int, month: int | None, day: int) -> str | None:
    try:
        return dt.date(year, month or 0, day).isoformat()
    except ValueError:
        return None


def _verb_may(text: str, at: int) -> bool:
    """Whether "May 5" at ``at`` opens a question or wish ("May 5 people...") rather than a
    date: only at the very start of the sentence."""
    return not text[:at].strip()


def _nearest_year(anchor: dt.date, month: int, day: int) -> int:
    """The year that puts ``month``/``day`` nearest to ``anchor`` (ties: the past)."""
    best = None
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        day_in = min(day, calendar.monthrange(year, month)[1])
        distance = (dt.date(year, month, day_in) - anchor).days
        key = (abs(distance), distance > 0)
        if best is None or key < best[0]:
            best = (key, year)
    return best[1]


def _weekday(anchor: dt.date, weekday: int, which: str, future: bool) -> dt.date:
    """The day a weekday names, seen from ``anchor``: "last" the one before, "next" the one
    in the following week, else the nearest one in the sentence's direction (the anchor's
    own weekday is the anchor)."""
    back = (anchor.weekday() - weekday) % 7
    ahead = (weekday - anchor.weekday()) % 7
    if which == "last":
        return anchor - dt.timedelta(days=back or 7)
    if which == "next":  # in the following week
        return anchor + dt.timedelta(days=7 - anchor.weekday() + weekday)
    if which in ("this coming",) or (future and which != "past"):
        return anchor + dt.timedelta(days=ahead)
    return anchor - dt.timedelta(days=back)


def _shift(anchor: dt.date, unit: str, step: int, exact: bool) -> str:
    """``anchor`` moved ``step`` units, as precise as the unit: a day (``exact``: "two weeks
    ago" is a day; "last week" a week), an ISO week, a month or a year."""
    if unit == "day":
        return (anchor + dt.timedelta(days=step)).isoformat()
    if unit == "week":
        moved = anchor + dt.timedelta(weeks=step)
        if exact:
            return moved.isoformat()
        year, week, _ = moved.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if unit == "month":
        index = anchor.year * 12 + anchor.month - 1 + step
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return f"{anchor.year + step:04d}"


@lru_cache(maxsize=4096)
def parse_date_text(text: str):  # noqa: ANN201 - index.search.filters.DateSpan | None
    """The days a stored article date that is not ISO covers ("May 23, 2022", "July 2022"),
    by this grammar; None when it names no absolute date."""
    from index.search.filters import DateSpan

    for mention in find_dates(text):
        if mention.date and not mention.relative:
            return DateSpan.parse(mention.date)
    return None


_BY_KIND = dict(_PATTERNS)
_RELATIVE_KINDS = ("ago", "ahead", "bare_month", "month_day", "day_month", "shifted",
                   "weekday", "day_word")


def holds_relative_date(text: str, kinds: tuple[str, ...] = _RELATIVE_KINDS) -> bool:
    """Whether ``text`` has a relative date expression (one an article's date resolves), of
    ``kinds`` only when given (the ranking asks for those its recorded kinds miss:
    ``("ago", "ahead", "bare_month")``, a third of the patterns)."""
    anchor = dt.date(2000, 1, 1)
    for kind in kinds:
        for match in _BY_KIND[kind].finditer(text):
            start, end = _span_of(kind, match)
            mention = _resolve(kind, match, text, anchor, start, end)
            if mention is not None and mention.relative:
                return True
    return False
