"""Conversations: each question read with the earlier turns of its dialogue.

"Which phone will be the first with Leica branding?" then "When will it debut?": the second
question means little alone. Every turn after the first is read with the dialogue so far, on
the retrieval side, in two searches:

1. **The context search**: the question joined to the earlier turns' key terms (content words
   of the last two questions, names in the previous best sentence: the turn's ``read_with``),
   its vector blended with the earlier questions'. Its best candidates (the first stage's
   order: the second stage reads only the bare question's) vote for their articles in the
   dialogue's topic (:mod:`bot.topic`), and join the candidates of the second search.
2. **The bare question**, with those candidates and every sentence of the topic's leading
   articles added, so the article being talked about is ranked whole even in a large index.
   Each candidate's ranker score (a listwise-softmax log-odds scale) gets the topic's
   log-prior for its article (``TOPIC_WEIGHT``) and the walk's log-prior for where it stands
   from the previous best sentence (:data:`STEPS`: a dialogue tends to stay on a sentence or
   walk on through its article), trusted as far as that turn's verdict was sure of it (a
   doubted answer does not pull the next turn back to itself). The question's own words
   decide *what* is asked; the dialogue decides *where*. A question that clearly belongs
   elsewhere still wins there.

The first turn is asked exactly as a standalone question, and so is a later turn that changes
the subject: after the two searches, :mod:`bot.topic_change` decides whether the turn follows up
the dialogue (it refers back, or nothing points elsewhere) or is a new question (another
article's best sentence leads the topic's by far, or it names only things the dialogue never
used). A new question is asked again alone, exactly as ``bot ask`` would, and starts the topic
afresh: the next turns are read with it, not with the old subject (the old articles' votes fade
to :data:`~bot.topic_change.SWITCH_FADE`). Constants were tuned on the CoQA dev dialogues by
``scripts/tune_conversation.py`` and ``scripts/topic_switches.py``. Plain Python: the chat,
``bot ask`` (JSON lines with ``"conversation"``), ``bot check`` (golden ``turns:``) and
``bot eval`` on dialogues all use :class:`Conversation`, made by
:meth:`bot.answering.Answerer.conversation`.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .confidence import VERDICT_DEPTH, verdict
from .questions import clean_question
from .topic import Topic
from . import topic_change
from .topic_change import TopicCheck, bare, is_name, lead_of, normal

if TYPE_CHECKING:  # the answering API pulls in FAISS: import it only when used
    from index.search.filters import ArticleFilter

    from index.search.searcher import Hit

    from .answering import Answer, Answerer, Evidence

POOL = 30  # candidates ranked per turn before the topic prior reorders them
CONTEXT_WEIGHTS = (0.6, 0.3)  # weights of the previous question's vector, the one before
TOPIC_WEIGHT = 3.0  # how strongly the topic's log-prior (bot/topic.py) counts
CONTEXT_SHARE = 1.0  # weight of the context search's candidates in the topic
PLAIN_SHARE = 0.0  # weight of a follow-up's bare-question candidates in the topic
TOPIC_ARTICLES = 2  # the articles whose sentences all join a turn's candidates
TOPIC_SENTENCES = 400  # at most this many sentences of one article join them
# Where the next turn's evidence stands from the previous turn's, in sentences: log of its
# share over a far sentence's (CoQA dev dialogues, 3,017 consecutive turn pairs: the same
# sentence 47%, the next 20%, two on 7%, the one before 4%; any other one about 0.5% each).
# Counted by ``python scripts/tune_conversation.py FILE --steps``.
# Refitted with news dialogues mixed in (scripts/data/dialogues-train/, where the next sentence
# answers most often): CoQA's table kept (docs/quality.md, "Fitting the walk on news dialogues").
STEPS = {0: 3.85, 1: 3.02, 2: 2.0, 3: 1.13, 4: 0.96, 5: 0.53, -1: 1.31, -2: 0.92, -3: 0.53}
WALK_WEIGHT = 1.0  # how much of it counts
# How far the walk trusts the previous best sentence: its verdict's confidence (P(right)),
# raised to at least this floor. The walk's prior is then the mixture "right with that chance,
# else it says nothing" (see :func:`_walk`); 1.0: always trusted (as before).
ANCHOR_FLOOR = 0.0
MAX_CONTEXT_TERMS = 8
KEPT_TURNS = 20  # turns a conversation keeps (its memory stays bounded)
MAX_FOLLOW_UP_WORDS = 12

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_PRONOUNS = frozenset(
    "it its it's itself they them their theirs themselves he him his she her hers".split())
_DEMONSTRATIVES = frozenset("this that these those there then".split())  # in short questions
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


@dataclass(frozen=True)
class Reply:
    """One answered turn: the answer and what it was read with besides its own words."""

    answer: Answer
    follow_up: bool = False  # read with earlier turns (False: asked as a standalone question)
    context: tuple[str, ...] = ()  # the earlier turns' key terms added to its search
    check: TopicCheck | None = None  # a later turn's topic-change decision (None: first turn)

    @property
    def read_with(self) -> tuple[str, ...]:
        """What the turn was read with besides its own words (empty: read alone)."""
        return self.context


@dataclass
class Conversation:
    """Questions asked one after the other, each read with the earlier turns."""

    answerer: Answerer
    turns: deque[Reply] = field(default_factory=lambda: deque(maxlen=KEPT_TURNS))
    _vectors: deque[tuple[str, np.ndarray | None]] = field(  # the last questions, embedded
        default_factory=lambda: deque(maxlen=2))
    _topic: Topic = field(default_factory=Topic)
    _members: OrderedDict[int, np.ndarray] = field(default_factory=OrderedDict)
    _on_topic: int = 0  # how many of the last turns belong to the current topic

    def ask(self, question: str, k: int = 3, filters: ArticleFilter | None = None) -> Reply:
        """Answer ``question`` in the context of the earlier turns of its topic (the first
        turn, and a new question that stands alone: alone), from the articles ``filters``
        keeps."""
        on_topic = list(self.turns)[len(self.turns) - self._on_topic:]
        previous = next((t for t in reversed(on_topic) if t.answer.evidence), None)
        check, leading = None, []
        if previous is not None:
            first = self._answer_frame(question, filters)
            terms = context_terms(on_topic)
            leading = self._topic.best(1)
            hits, read = self._read(question, terms, first.filters)
            said = set().union(*(_said(turn) for turn in on_topic))
            check = _check(question, said, hits, leading[0] if leading else None)
        alone = check is None or check.stands_alone
        if alone:  # exactly a standalone question
            # a new question was embedded by _read: keep its vector past the restart
            asked = self._vectors[-1] if check is not None else (question, None)
            first = self.answerer.ask(question, k=max(k, POOL), filters=filters,
                                      vector=asked[1])
            evidence = first.evidence  # its top POOL kept for the topic
            same = check is not None and bool(evidence) and bool(leading) and \
                evidence[0].article_id == leading[0]  # the article stays: keep its votes
            self._restart(1.0 if same else topic_change.SWITCH_FADE)
            plain = [(e.article_id, e.score) for e in evidence]
            self._vectors.append(asked)  # embedded (if not yet) when a next turn needs it
            terms = []
        else:
            plain = [(h.sentence.article, h.score) for h in hits]
            evidence = self._reorder(hits, previous.answer.evidence[0], max(k, VERDICT_DEPTH),
                                     trust(previous.answer.confidence))
            # the verdict reads the question as understood (with its context) and the
            # sentences' parts for that reading, where the context search found them
            conf, answered = verdict(f"{question} {' '.join(terms)}",
                                     [_as_read(read.get(e.sentence_id), e)
                                      for e in evidence[:VERDICT_DEPTH]], follow_up=True)
            first = replace(first, answered=answered, confidence=conf)
        self._topic.fade()
        self._topic.add(plain, 1.0 if alone else PLAIN_SHARE)  # the ranker's scores
        answer = replace(first, question=question, evidence=evidence[:k])
        reply = Reply(answer, follow_up=not alone, context=tuple(terms), check=check)
        self.turns.append(reply)
        self._on_topic = min(self._on_topic + 1, KEPT_TURNS)
        return reply

    def _restart(self, keep: float = 0.0) -> None:
        """Start the topic afresh: the next turns are read with this one and those after; the
        articles' votes are kept ``keep`` times (0: forgotten)."""
        if keep:
            self._topic.fade(keep)
        else:
            self._topic.clear()
        self._vectors.clear()
        self._on_topic = 0

    def _answer_frame(self, question: str, scope: ArticleFilter | None) -> Answer:
        """An empty answer to ``question`` under ``scope``, as :meth:`Answerer.ask` frames
        one (the filter checked, how many articles it keeps)."""
        from index.search.filters import NO_FILTER

        from .answering import Answer

        clean_question(question)  # an empty question is refused, as alone
        wanted = scope or NO_FILTER
        if not wanted.active:
            return Answer(question, False, 0.0, [], filters=wanted)
        within = self.answerer.searcher.restriction(wanted)
        return Answer(question, False, 0.0, [], filters=wanted,
                      kept_articles=within.kept_articles, total_articles=len(within.articles))

    def _read(self, question: str, terms: list[str],
              scope: ArticleFilter) -> tuple[list[Hit], dict[int, Hit]]:
        """A later turn's candidates, ranked for the bare question: the context search's
        best ones and the topic's sentences among them (see the module's docstring); and the
        context search's best by sentence id."""
        searcher = self.answerer.searcher
        within = searcher.restriction(scope) if scope.active else None
        text = clean_question(question)
        vector = searcher.encoder.encode_query(text)
        topic = self._topic_sentences()
        for n, (asked, embedded) in enumerate(self._vectors):
            if embedded is None:
                self._vectors[n] = (asked, searcher.encoder.encode_query(clean_question(asked)))
        earlier = [embedded for _, embedded in self._vectors]
        self._vectors.append((question, vector))
        search = f"{text} {' '.join(terms)}" if terms else text
        if not searcher.takes_extra_candidates:  # sharded: the topic prior alone keeps it
            context = searcher.rank(search, _blend(vector, earlier), POOL, within,
                                    second_stage=False)
            self._topic.add(((h.sentence.article, h.score) for h in context), CONTEXT_SHARE)
            return searcher.rank(text, vector, 2 * POOL, within), \
                {h.sentence.id: h for h in context}
        context = searcher.rank(search, _blend(vector, earlier), POOL, within, also=topic,
                                second_stage=False)
        read = {h.sentence.id: h for h in context}
        self._topic.add(((h.sentence.article, h.score) for h in context), CONTEXT_SHARE)
        pool = np.array(list(read), dtype=np.int64)
        also = np.concatenate([pool, self._topic_sentences()])
        return searcher.rank(text, vector, _every(also), within, also=also), read

    def clear(self) -> None:
        """Forget every turn (the next question starts a new topic)."""
        self.turns.clear()
        self._restart(0.0)

    def _reorder(self, hits: list[Hit], anchor: Evidence, keep: int,
                 sure: float) -> list[Evidence]:
        """The ``keep`` best of ``hits`` by the bare question's ranker score plus the topic's
        log-prior for its article and the walk's from the previous best sentence (right with
        probability ``sure``)."""
        from .answering import Evidence

        prior = self._topic.priors({h.sentence.article for h in hits})
        scored = [h.score + TOPIC_WEIGHT * prior[h.sentence.article]
                  + _walk(h.sentence.article, h.sentence.id, anchor, sure) for h in hits]
        order = sorted(range(len(hits)), key=lambda i: -scored[i])[:max(keep, 2)]
        ranked = [replace(Evidence.from_hit(hits[i]), score=round(scored[i], 6))
                  for i in order]
        if len(ranked) > 1:  # the lead over the next answer, as the ranker's margin part
            lead = scored[order[0]] - scored[order[1]]
            ranked[0] = replace(ranked[0], parts={**ranked[0].parts, "margin": lead})
        return ranked[:keep]

    def _topic_sentences(self) -> np.ndarray:
        """The sentence ids of the :data:`TOPIC_ARTICLES` heaviest articles of the topic."""
        if not self.answerer.searcher.takes_extra_candidates:
            return np.zeros(0, dtype=np.int64)
        top = self._topic.best(TOPIC_ARTICLES)
        return np.concatenate([self._sentences_of(a) for a in top]) if top else \
            np.zeros(0, dtype=np.int64)

    def _sentences_of(self, article: int) -> np.ndarray:
        if article not in self._members:
            ids = np.flatnonzero(self.answerer.searcher.table.article == article)
            self._members[article] = ids[:TOPIC_SENTENCES]
            while len(self._members) > 2 * TOPIC_ARTICLES:
                self._members.popitem(last=False)
        return self._members[article]


def _said(turn: Reply) -> frozenset[str]:
    """The words a turn put into the dialogue: its question's and its best sentence's content
    words (:func:`bot.topic_change.normal`)."""
    shown = turn.answer.evidence[0].text if turn.answer.evidence else ""
    return frozenset(normal(t) for t in key_terms(f"{turn.answer.question} {shown}"))


def _as_read(context: Hit | None, shown: Evidence) -> Hit | Evidence:
    """A follow-up's sentence as its verdict reads it: the context search's hit (its parts for
    the question as understood; that search keeps the first stage's order, so the first
    stage's model judges a follow-up), else the shown evidence without the second stage's
    part (the bare question's token match says little of "What did he say?")."""
    if context is not None:
        return context
    if "rerank" not in shown.parts:
        return shown
    return replace(shown, parts={k: v for k, v in shown.parts.items() if k != "rerank"})


def _check(question: str, said: set[str], hits: list[Hit], leading: int | None) -> TopicCheck:
    """Whether ``question`` follows up a topic whose turns used the words ``said`` or stands
    alone (:mod:`bot.topic_change`), from the bare question's ranked ``hits`` and the topic's
    leading article."""
    terms = key_terms(question)
    opening = words(question)[:1]
    names = [t for t in terms if is_name(t) and [t] != opening]
    return TopicCheck(
        refers_back=is_follow_up(question) or (
            len(words(question)) <= topic_change.SHORT_WORDS and not names),
        lead=lead_of([(h.sentence.article, h.score) for h in hits], leading),
        new_names=tuple(bare(t) for t in names if normal(t) not in said),
        shared=tuple(t for t in terms if normal(t) in said))


def _every(also: np.ndarray) -> int:
    """A ``k`` that ranks every candidate: the dense and BM25 lists plus ``also``."""
    from index.search.searcher import CANDIDATES

    return 2 * CANDIDATES + len(also)


def _blend(vector: np.ndarray, earlier: list[np.ndarray]) -> np.ndarray:
    """The question's vector plus the earlier questions' (latest first), unit length again."""
    blended = vector.astype(np.float32).copy()
    for weight, other in zip(CONTEXT_WEIGHTS, reversed(earlier)):
        blended += weight * other
    norm = float(np.linalg.norm(blended))
    return blended / norm if norm else vector


def trust(confidence: float) -> float:
    """How likely the walk takes the previous best sentence to be right: its verdict's
    ``confidence``, at least :data:`ANCHOR_FLOOR`."""
    return ANCHOR_FLOOR + (1.0 - ANCHOR_FLOOR) * min(max(confidence, 0.0), 1.0)


def _walk(article: int, sentence: int, anchor: Evidence, sure: float) -> float:
    """Log-prior of where a dialogue's next answer stands, from the previous best sentence:
    the same sentence again, or a few sentences on (:data:`STEPS`, counted from right
    answers). The anchor is right with probability ``sure``; if wrong, it says nothing about
    where the answer is (a far sentence's odds, 1), so the prior is the mixture's log-odds
    ``log(sure * e^STEP + 1 - sure)``: ``STEP`` when sure, fading to 0 as ``sure`` does."""
    if article != anchor.article_id:
        return 0.0
    step = STEPS.get(sentence - anchor.sentence_id, 0.0)
    if sure < 1.0:
        step = math.log(sure * math.exp(step) + 1.0 - sure)
    return WALK_WEIGHT * step


def words(text: str) -> list[str]:
    """The words of ``text`` (letters, digits, inner apostrophes and hyphens)."""
    return _WORD.findall(text)


def is_follow_up(question: str) -> bool:
    """True for a question that plainly refers back: a pronoun (*it*, *they*, *its*...), in a
    very short question a demonstrative (*that*, *then*...), or an opening such as *what
    about*. (Every turn of a conversation is read with the earlier ones; this only says
    whether the question needs them to make sense.)"""
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


def context_terms(turns: "deque[Reply] | list[Reply]") -> list[str]:
    """The earlier turns' key terms, latest turn first: its question's content words and the
    names in its best sentence, then the turn before's question."""
    recent = list(turns)[-2:][::-1]
    terms: list[str] = []
    for n, turn in enumerate(recent):
        terms += key_terms(turn.answer.question)
        if n == 0 and turn.answer.evidence:
            terms += [w for w in _NAME.findall(turn.answer.evidence[0].text)
                      if w.lower() not in _STOPWORDS and w.lower() not in _ANAPHORS]
    seen: set[str] = set()
    unique = [t for t in terms if not (t.lower() in seen or seen.add(t.lower()))]
    return unique[:MAX_CONTEXT_TERMS]
