"""Answer-type cues: what kind of answer a question asks for, and whether a sentence has one.

``When`` and ``what year`` questions want dates, ``how many`` questions want numbers, ``who``
questions want names. A sentence holding the wanted kind is a better candidate, all else equal.
Whether a sentence holds a date or a number does not depend on the question, so the indexer
records it per sentence (:func:`held_kinds`); names are checked at question time, since a name
the question already mentions does not count.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

KINDS = ("date", "number", "name")
HELD_BITS = {"date": 1, "number": 2}  # the kinds recorded per sentence, as bits

_QUESTION_KIND = [
    ("date", re.compile(r"\b(when|what (year|years|date|day|month|decade|century|time|era|"
                        r"period)|which (year|date|century|decade|month)|how long ago|"
                        r"since when)\b",
                        re.I)),
    ("number", re.compile(r"\b(how (many|much|long|far|old|large|big|tall|high|fast|often)|"
                          r"what (percentage|percent|number|amount|proportion|fraction|size|"
                          r"population)|what is the (population|number|size|cost|value))\b",
                          re.I)),
    ("name", re.compile(r"\b(who|whom|whose|what (person|company|team|group|organization|name)|"
                        r"which (person|company|team|group|organization))\b", re.I)),
]
# _DATE and _NUMBER decide what the indexer records per sentence (held_kinds): changing them
# means a new index.store.generations.FORMAT_VERSION and dropping the older ones from index.store.generations.READABLE,
# so that 'bot ask' refuses existing indexes and 'bot index' updates them.
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec")
_DATE = re.compile(rf"\b(1\d{{3}}|20\d{{2}}|\d{{1,2}}(st|nd|rd|th)? century|\d+s|"
                   rf"({_MONTHS})\.? \d{{1,2}}|\d{{1,2}} ({_MONTHS})|BC|AD|BCE|CE|"
                   r"(mon|tues|wednes|thurs|fri|satur|sun)day|yesterday|today|tomorrow|"
                   r"(last|next|this) (week|month|year))\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|"
                     r"dozens?|half|twice|percent)\b", re.I)
# Every match of _DATE holds a digit or one of these words; checking that first skips the slow
# pattern for most sentences without changing any result (tests/test_ranking.py).
_DATE_WORDS = frozenset(("bc", "ad", "bce", "ce", "monday", "tuesday", "wednesday", "thursday",
                         "friday", "saturday", "sunday", "yesterday", "today", "tomorrow",
                         "week", "month", "year"))
_DIGIT = re.compile(r"\d")
# The same patterns for lower-cased ASCII text, matched case-sensitively (they hold no upper-case
# escape such as \D, so lower-casing them changes only their letters): ~2.5x faster.
_DATE_LOWER = re.compile(_DATE.pattern.lower())
_NUMBER_LOWER = re.compile(_NUMBER.pattern.lower())
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=256)  # asked twice per question: whether texts are needed, and the cues
def question_kind(question: str) -> str | None:
    """``"date"``, ``"number"``, ``"name"`` or None: the kind of answer ``question`` wants."""
    for kind, pattern in _QUESTION_KIND:
        if pattern.search(question):
            return kind
    return None


def has_kind(kind: str | None, text: str, question_words: set[str]) -> bool:
    """Whether ``text`` holds an answer of ``kind`` (names must be absent from the question)."""
    if kind == "date":
        return may_hold_date(text) and _DATE.search(text) is not None
    if kind == "number":
        return _NUMBER.search(text) is not None
    if kind == "name":
        return any(m.group(0).lower() not in question_words for m in _CAPITALISED.finditer(text))
    return False


def may_hold_date(text: str) -> bool:
    """A cheap necessary condition for a date: a digit, or a word such as "Monday" or "BC"."""
    return _DIGIT.search(text) is not None or \
        not _DATE_WORDS.isdisjoint(_WORD.findall(text.casefold()))


def held_kinds(text: str) -> int:
    """The :data:`HELD_BITS` of the kinds ``text`` holds, whatever the question (for ASCII
    text by the lower-case patterns: what :func:`has_kind` says, at a third of the cost)."""
    if not text.isascii():
        return sum(bit for kind, bit in HELD_BITS.items() if has_kind(kind, text, set()))
    low = text.lower()
    digit = _DIGIT.search(low) is not None
    date = (digit or not _DATE_WORDS.isdisjoint(_WORD.findall(low))) \
        and _DATE_LOWER.search(low) is not None
    number = digit or _NUMBER_LOWER.search(low) is not None
    return (HELD_BITS["date"] if date else 0) | (HELD_BITS["number"] if number else 0)


def cues_read_texts(question: str) -> bool:
    """Whether :func:`cue_features` needs the candidates' texts for ``question`` (a name: the
    recorded kinds cannot say whether a name is one the question already has)."""
    kind = question_kind(question)
    return kind is not None and kind not in HELD_BITS


def cue_features(question: str, texts: list[str], held: np.ndarray,
                 relative: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One 0/1 array per kind: the question wants that kind and the text holds one (``held``:
    each text's :func:`held_kinds`; ``texts`` are read only when :func:`cues_read_texts`;
    ``relative``: whether each text holds a relative date its article's date resolves, which
    counts as a date: see :func:`resolved_relative_dates`)."""
    kind = question_kind(question)
    out = {f"cue_{k}": np.zeros(len(held), dtype=np.float64) for k in KINDS}
    if kind in HELD_BITS:
        has = (np.asarray(held) & HELD_BITS[kind]) != 0
        if kind == "date" and relative is not None:
            has |= relative
        out[f"cue_{kind}"] = has.astype(np.float64)
    elif kind is not None:
        words = {w.lower() for w in _WORD.findall(question)}
        out[f"cue_{kind}"] = np.array([has_kind(kind, t, words) for t in texts], dtype=np.float64)
    return out


# The relative dates _DATE misses, and words without which each cannot occur: "two years
# ago" (ago, earlier), "in three weeks" (in and a unit), "in March" (a capitalised month).
# Texts without them are not parsed.
_UNITS = frozenset(("day", "days", "week", "weeks", "month", "months", "year", "years",
                    "decade", "decades"))
_MONTH_NAMES = frozenset(("January", "February", "March", "April", "May", "June", "July",
                          "August", "September", "October", "November", "December", "Jan",
                          "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct",
                          "Nov", "Dec"))


def resolved_relative_dates(texts: list[str]) -> np.ndarray:
    """Bool per text (of an article with a date): it holds a relative date expression
    (:mod:`index.search.date_expressions`: "two years ago", "in March") the date resolves."""
    from index.search.date_expressions import holds_relative_date

    out = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        words = set(_WORD.findall(text))
        low = {w.lower() for w in words}
        kinds = (("ago",) if "ago" in low or "earlier" in low else ()) \
            + (("ahead",) if "in" in low and not _UNITS.isdisjoint(low) else ()) \
            + (("bare_month",) if not _MONTH_NAMES.isdisjoint(words) else ())
        out[i] = bool(kinds) and holds_relative_date(text, kinds)
    return out
