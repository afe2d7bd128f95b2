"""Follow-up questions: "When did it end?" after "Who did Leica partner with before Xiaomi?".

A question that leans on the previous turn (a pronoun such as *it*, *they* or *its*, or an
opening such as *and* or *what about*) is answered on the retrieval side, in two steps:

1. **Two searches.** The question as typed (it says *what* is asked) and the question joined to
   the previous turn's key terms (the content words of its question and the names in its best
   sentence: *what about*). Their candidates are pooled, so sentences of the previous topic
   are considered even in a large index where the bare question would not reach them.
2. **Topic continuity.** Candidates are ordered by their rank for the question as typed, each
   place worth ``RANK_STEP``; standing in the same paragraph as the previous best sentence is
   worth ten places, in the same article four: answers to a follow-up usually stand next to
   the previous answer. Ranks, not scores, so this holds whatever scale the ranker uses.

Plain Python: the chat UI and any other client use it through :class:`Conversation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from .confidence import VERDICT_DEPTH, verdict

if TYPE_CHECKING:  # the answering API pulls in numpy and FAISS: import it only when used
    from index.search.filters import ArticleFilter

    from .answering import Answer, Evidence

RANK_STEP = 0.05  # what one place in the ranking for the question as typed is worth
SAME_PASSAGE_BONUS = 0.5  # = 10 places
SAME_ARTICLE_BONUS = 0.2  # = 4 places
POOL = 30  # candidates fetched per search for a follow-up
MAX_CONTEXT_TERMS = 8
MAX_FOLLOW_UP_WORDS = 12

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_PRONOUNS = frozenset(
    "it its it's itself they them their theirs themselves he him his she her hers".split())
_DEMONSTRATIVES = frozenset("this that these those there then".split())  # short questions only
_ANAPHORS = _PRONOUNS | _DEMONSTRATIVES
MAX_DEMONSTRATIVE_WORDS = 6
_OPENERS = ("and ", "but ", "also ", "what about ", "how about ", "and what ", "so ")
_STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can could did didn't do does doesn't doing don't down during each
few for from further had has have having here how i if in into is isn't it it's its itself just
me more most my no nor not now of off on once only or other our ours out over own same she should
so some such than that the their theirs them then there these they this those through to too
under until up very was wasn't we were what when where which while who whom whose why will with
would you your yours also did does done get got make made many much new say said tell told
""".split())
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9\-]+\b")


class Asker(Protocol):
    """What a conversation needs from :class:`bot.answering.Answerer`."""

    def ask(self, question: str, k: int = ..., **filters: Any) -> Answer: ...


@dataclass(frozen=True)
class Reply:
    """One answered turn: the answer and, for a follow-up, the context it was read in."""

    answer: Answer
    follow_up: bool = False
    context: tuple[str, ...] = ()  # the previous turn's key terms used for a follow-up

    @property
    def read_with(self) -> tuple[str, ...]:
        """What the turn was read with besides its own words (empty: read alone)."""
        return self.context


@dataclass
class Conversation:
    """Questions asked one after the other; follow-ups are read in the previous turn's context."""

    answerer: Asker
    turns: list[Reply] = field(default_factory=list)
    filters: ArticleFilter | None = None  # kept for every turn (the chat's filter)

    def ask(self, question: str, k: int = 3, filters: ArticleFilter | None = None) -> Reply:
        """Answer ``question``, as a follow-up when it leans on the previous turn, from the
        articles ``filters`` (else the conversation's ``filters``) keeps."""
        scope = filters if filters is not None else self.filters
        within = {"filters": scope} if scope is not None else {}
        previous = self.turns[-1] if self.turns else None
        if previous is None or not previous.answer.evidence or not is_follow_up(question):
            reply = Reply(self.answerer.ask(question, k=k, **within))
        else:
            reply = self._follow_up(question, k, previous, within)
        self.turns.append(reply)
        return reply

    def clear(self) -> None:
        """Forget every turn (the next question starts a new topic); the filter stays."""
        self.turns.clear()

    def _follow_up(self, question: str, k: int, previous: Reply,
                   within: dict[str, Any]) -> Reply:
        terms = context_terms(previous)
        first = self.answerer.ask(question, k=max(k, POOL), **within)
        plain = first.evidence
        expanded = self.answerer.ask(f"{question} {' '.join(terms)}", k=max(k, POOL),
                                     **within).evidence
        anchor = previous.answer.evidence[0]
        rank = {e.sentence_id: i for i, e in enumerate(plain)}
        for i, e in enumerate(expanded):  # reached only through the context: after the rest
            rank.setdefault(e.sentence_id, len(plain) + i)
        pool = {e.sentence_id: e for e in (*expanded, *plain)}
        ranked = sorted(
            (replace(e, score=round(1.0 - RANK_STEP * rank[e.sentence_id]
                                    + continuity_bonus(e, anchor), 6))
             for e in pool.values()),
            key=lambda e: (-e.score, rank[e.sentence_id]))
        # the verdict reads the question as understood (with its context) and the sentences'
        # parts for that reading, where the search with the context found them
        seen = {e.sentence_id: e for e in expanded}
        conf, answered = verdict(f"{question} {' '.join(terms)}",
                                 [seen.get(e.sentence_id, e) for e in ranked[:VERDICT_DEPTH]],
                                 follow_up=True)
        answer = replace(first, question=question, answered=answered, confidence=conf,
                         evidence=ranked[:k])
        return Reply(answer, follow_up=True, context=tuple(terms))


def words(text: str) -> list[str]:
    """The words of ``text`` (letters, digits, inner apostrophes and hyphens)."""
    return _WORD.findall(text)


def is_follow_up(question: str) -> bool:
    """True for a question that refers back: a pronoun (*it*, *they*, *its*...), in a very
    short question a demonstrative (*that*, *then*...), or an opening such as *what about*."""
    lowered = " ".join(question.lower().split())
    tokens = [w.lower().replace("’", "'") for w in words(question)]
    if not tokens or len(tokens) > MAX_FOLLOW_UP_WORDS:
        return False
    if lowered.startswith(_OPENERS) or any(t in _PRONOUNS for t in tokens):
        return True
    return len(tokens) <= MAX_DEMONSTRATIVE_WORDS and any(t in _DEMONSTRATIVES for t in tokens)


def key_terms(text: str) -> list[str]:
    """Content words of ``text`` in order, without stop words, pronouns or duplicates."""
    seen: set[str] = set()
    out: list[str] = []
    for word in words(text):
        low = word.lower().replace("’", "'")
        if low in _STOPWORDS or low in _ANAPHORS or len(low) < 2 or low in seen:
            continue
        seen.add(low)
        out.append(word)
    return out


def context_terms(previous: Reply) -> list[str]:
    """The previous turn's key terms: its question's content words, then the names in its best
    sentence, then (for a chain of follow-ups) the context that turn was read in."""
    terms = key_terms(previous.answer.question)
    if previous.answer.evidence:
        terms += [n for n in _NAME.findall(previous.answer.evidence[0].text)
                  if n.lower() not in _STOPWORDS and n.lower() not in _ANAPHORS]
    terms += list(previous.context)
    seen: set[str] = set()
    unique = [t for t in terms if not (t.lower() in seen or seen.add(t.lower()))]
    return unique[:MAX_CONTEXT_TERMS]


def continuity_bonus(evidence: Evidence, anchor: Evidence) -> float:
    """Bonus for standing in the same paragraph (or article) as the previous best sentence."""
    if evidence.source == anchor.source and evidence.article_id == anchor.article_id:
        if evidence.passage_id == anchor.passage_id:
            return SAME_PASSAGE_BONUS
        return SAME_ARTICLE_BONUS
    return 0.0
