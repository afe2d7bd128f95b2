"""Is a later turn of a dialogue a follow-up, or a new question that stands alone?

A conversation reads every turn after the first with the dialogue so far
(:mod:`bot.conversation`): its words join the search, its articles pull the evidence. That is
right for "When did it end?" and for CoQA's "What color was the car?", and wrong for "Who runs
Xiaomi?" after "Where is Leica's headquarters?": read with the dialogue, the new question was
answered from the old subject, and confidently. So each later turn is checked, cheaply, from
what the turn's own searches already found:

- **It refers back** (a pronoun, a demonstrative or an opener such as *what about*: the
  conversation's :func:`~bot.conversation.is_follow_up`; or at most :data:`SHORT_WORDS` words
  naming nothing, "Why?", "in what city?"): a follow-up, always.
- **Another article leads**: the bare question's best sentence (its ranker score, before any
  prior) is in another article than the topic's leading one, by more than :data:`SWITCH_LEAD`
  over the topic article's best sentence: a new question.
- **It names something new and shares nothing**: a name (a capitalised word, not the first) the
  dialogue never used, and not one content word in common with the topic's questions or the
  best sentences it was shown: a new question (this holds within one article too: "Who runs
  Xiaomi?" after Leica's headquarters).
- Otherwise a follow-up.

A new question is read exactly as a standalone question and starts the topic afresh
(:data:`SWITCH_FADE`). The constants were set on the CoQA dev dialogues at even positions,
joined to switch story (``python scripts/topic_switches.py FILE --half even``); figures in
docs/quality.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SWITCH_LEAD = 7.0  # ranker-score lead (log-odds) of another article's best sentence
SWITCH_FADE = 0.6  # how much of the old topic a new question in another article keeps
NEW_NAMES = True  # a question naming only things new to the dialogue is a new one
SHORT_WORDS = 3  # a question of at most this many words leans on the dialogue
_CAPITALISED = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class TopicCheck:
    """What a later turn's topic-change decision read, and the decision."""

    refers_back: bool  # an anaphor, an opener or a very short question
    lead: float  # another article's best score over the topic article's (0: the topic leads)
    new_names: tuple[str, ...] = ()  # names in the question the dialogue never used
    shared: tuple[str, ...] = ()  # the question's content words the dialogue used

    @property
    def stands_alone(self) -> bool:
        """True when the turn is a new question (see the module's docstring)."""
        return self._decision()[0]

    @property
    def reason(self) -> str:
        """Why, in a few words."""
        return self._decision()[1]

    def _decision(self) -> tuple[bool, str]:
        """Whether the turn stands alone, and why: the rule, in one place."""
        if self.refers_back:
            return False, "refers back"
        if self.lead > SWITCH_LEAD:
            return True, f"another article leads by {self.lead:.1f}"
        if NEW_NAMES and self.new_names and not self.shared:
            return True, f"names {', '.join(self.new_names)}, new to the dialogue"
        return False, "shares " + (", ".join(self.shared) if self.shared else "the topic")


def bare(term: str) -> str:
    """A word without its possessive (Leica's, Leica’s, Xiaomis' = Leica, Leica, Xiaomis)."""
    plain = term.replace("’", "'")
    if plain.lower().endswith("'s"):
        plain = plain[:-2]
    return plain.rstrip("'")


def normal(term: str) -> str:
    """A content word as compared with the dialogue's: lower case, no possessive, no plural
    *s* (Leica's = Leica, headquarters = headquarter)."""
    low = bare(term).lower()
    return low[:-1] if len(low) > 3 and low.endswith("s") and not low.endswith("ss") else low


def is_name(term: str) -> bool:
    """A capitalised word (the caller leaves out the question's first word)."""
    return bool(_CAPITALISED.match(term))


def lead_of(hits: list[tuple[int, float]], topic_article: int | None) -> float:
    """How far the best of ``hits`` (``(article, ranker score)``, any order) leads the best
    one of ``topic_article`` when it is another article's (0 when the topic's leads; when no
    hit is the topic's, the lead over the lowest hit)."""
    if not hits or topic_article is None:
        return 0.0
    best_article, best = max(hits, key=lambda h: h[1])
    if best_article == topic_article:
        return 0.0
    own = [score for article, score in hits if article == topic_article]
    floor = max(own) if own else min(score for _, score in hits)
    return best - floor if math.isfinite(best - floor) else 0.0
