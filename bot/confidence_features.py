"""What the confidence model reads about a reply: the best sentence's score parts, its lead over
the next candidate, whether it holds the kind of answer the question asks for, and the question.

One function, :func:`verdict_features`, serves both the bot at query time and the fitting
script (``scripts/fit_confidence.py``), so the model is always fed what it was fitted on.
Everything is read from the score parts the search already computed: no extra query.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Protocol, Sequence

from index.search.answer_types import _DATE, _NUMBER, KINDS, question_kind
from index.search.date_expressions import MONTHS, WEEKDAYS
from index.store.bm25 import tokenize

# The best sentence's own parts, taken as they are (a part the ranker does not give reads 0).
# Not the parts whose scale depends on the corpus rather than on the question and sentence:
# ``known_terms`` (the share of the question's terms the index knows) and ``lexical_log`` (raw
# BM25: its IDFs grow with the number of sentences), fitted on indexes of ~2,500 sentences, made
# a small corpus look doubtful; nor ``title``, which reads 0 for articles without a title.
TOP_PARTS = ("dense", "passage", "neighbour", "dense_rank", "lexical", "context",
             "lexical_rank", "coverage", "context_coverage", "all_coverage", "article_dense",
             "article_lexical", "length", "margin", "rerank")
# Lead of the best sentence over the second one, part by part.
GAP_PARTS = ("dense", "lexical", "coverage", "context_coverage", "rerank")
WH_WORDS = ("what", "which", "who", "when", "where", "why", "how")
_WORD = re.compile(r"[A-Za-z0-9']+")
_NAMEISH = re.compile(r"\b[A-Z][A-Za-z\-]+\b")  # capitalised words
# "where" questions want a place: a capitalised name after a preposition of place ("in Wetzlar",
# "at the University of Chicago", "near Tarland"). A nationality ("a German company") is not
# one: it says where a thing is from, not where it is.
# "where" asks for a place when it opens the question or is followed by its verb ("where is",
# "where did"), not in a relative clause ("the stadium where Super Bowl 50 was played").
_WANTS_PLACE = re.compile(r"^\W*where\b|\bwhere\s+(?:is|are|was|were|do|does|did|can|could|will|"
                          r"would|has|have|had|should)\b|\b(?:what|which) (?:country|city|town|"
                          r"village|place|county|region|state)\b", re.I)
_PLACE = re.compile(r"\b(?:in|at|near|from|outside|across|into)\s+(?:[Tt]he\s+)?([A-Z][a-z]+)"
                    r"(\s+[a-z]+)?")
# Not places: months and weekdays ("in April", "on the Monday"), and a nationality before a
# noun ("from British researchers", "in European markets").
_NOT_PLACES = frozenset(MONTHS) | frozenset(WEEKDAYS)
_DEMONYM = re.compile(r"(?:ian|ish|ese|ean|can)$")


def _places(sentence: str) -> list[str]:
    """Capitalised names after a preposition of place, months, weekdays and nationalities
    before a noun left out."""
    out = []
    for m in _PLACE.finditer(sentence):
        name = m.group(1)
        if name.lower() in _NOT_PLACES or (m.group(2) and _DEMONYM.search(name)):
            continue
        out.append(name)
    return out


class Scored(Protocol):
    """A ranked sentence: a :class:`index.search.searcher.Hit` or a
    :class:`bot.answering.Evidence` (or anything with ``parts``, ``text`` and ``title``)."""

    parts: dict[str, float]


def text_of(item: Any) -> tuple[str, str]:
    """``(sentence, title)`` of a ranked sentence, whichever kind it is."""
    if hasattr(item, "sentence"):  # a search hit
        return item.sentence.text, item.article.title or ""
    return getattr(item, "text", "") or "", getattr(item, "title", "") or ""


def verdict_features(question: str, ranked: Sequence[Scored],
                     follow_up: bool = False) -> dict[str, float]:
    """The features of a reply whose ranked sentences are ``ranked`` (best first, not empty)."""
    top = ranked[0].parts
    second: Mapping[str, float] = ranked[1].parts if len(ranked) > 1 else {}
    out = {name: float(top.get(name, 0.0)) for name in TOP_PARTS}
    for name in GAP_PARTS:
        out[f"gap_{name}"] = float(top.get(name, 0.0)) - float(second.get(name, 0.0)) \
            if second else 1.0
    out["has_second"] = 1.0 if second else 0.0
    # agreement of the views: is the best sentence first by dense and by BM25 alone too?
    # (rank parts are log2(1 + rank): 1.0 means first)
    out["first_dense"] = 1.0 if top.get("dense_rank", 9.0) <= 1.0 else 0.0
    out["first_lexical"] = 1.0 if top.get("lexical_rank", 9.0) <= 1.0 else 0.0
    out["rank_spread"] = abs(float(top.get("dense_rank", 0.0)) - float(top.get("lexical_rank", 0.0)))
    # the kind of answer asked for, and whether the sentence holds one
    kind = question_kind(question)
    for k in KINDS:
        wanted = kind == k
        held = float(top.get(f"cue_{k}", 0.0)) > 0
        out[f"wants_{k}_held"] = 1.0 if wanted and held else 0.0
        out[f"wants_{k}_missing"] = 1.0 if wanted and not held else 0.0
    # question terms the sentence and its neighbours lack (IDF-weighted)
    out["missing_context"] = 1.0 - float(top.get("context_coverage", 0.0))
    words = [w.lower() for w in _WORD.findall(question)]
    first = next((w for w in words if w in WH_WORDS), "other")
    for wh in (*WH_WORDS, "other"):
        out[f"wh_{wh}"] = 1.0 if first == wh else 0.0
    out["question_words"] = math.log1p(len(words))
    out["follow_up"] = 1.0 if follow_up else 0.0
    out.update(text_features(question, text_of(ranked[0])[0], kind))
    return out


def text_features(question: str, sentence: str, kind: str | None) -> dict[str, float]:
    """What the best sentence's words say: how much it adds to the question, and whether it
    holds an answer of the kind asked for that the question does not already give (a date,
    a number, a name; a place for "where", read here: the ranking has no place cue). (Which
    question terms it lacks is read from the coverage parts, weighted by rarity.)"""
    asked = set(tokenize([question])[0])
    held = set(tokenize([sentence])[0])
    q_lower = question.lower()
    if kind == "date":
        fresh = any(m.group(0).lower() not in q_lower for m in _DATE.finditer(sentence))
    elif kind == "number":
        fresh = any(m.group(0).lower() not in q_lower for m in _NUMBER.finditer(sentence))
    elif kind == "name":
        fresh = any(w.lower() not in q_lower for w in _NAMEISH.findall(sentence)[1:])
    else:
        fresh = False
    place = None
    if kind is None and _WANTS_PLACE.search(question):
        place = any(name.lower() not in q_lower for name in _places(sentence))
    return {
        "wants_place_held": 1.0 if place else 0.0,
        "wants_place_missing": 1.0 if place is False else 0.0,
        "new_terms": len(held - asked) / len(held) if held else 0.0,
        "answer_new": 1.0 if fresh else 0.0,
        "answer_new_missing": 1.0 if kind is not None and not fresh else 0.0,
    }


def feature_row(features: Mapping[str, float], names: Sequence[str]) -> list[float]:
    """``features`` in the order of ``names`` (a name not computed reads 0)."""
    return [float(features.get(name, 0.0)) for name in names]


def as_parts(parts: Mapping[str, Any]) -> dict[str, float]:
    """A parts mapping with plain float values (for storing and reloading)."""
    return {str(k): float(v) for k, v in parts.items()}
