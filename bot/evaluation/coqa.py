"""CoQA-format files (``{"data": [{"story", "questions", "answers"}]}``) as article files on
disk, with each dialogue's turns and the file offsets of their rationale spans.

Each story becomes one ``.txt`` file holding the story exactly (offsets in the file are offsets
in the story). A turn's gold evidence is every indexed sentence overlapping its rationale span
(``answers[].span_start/span_end``); turns whose rationale is ``-1`` (the story does not say)
are kept as context for the next turns but not scored. Items with the same story text are
several dialogues about one story: it becomes one article (indexing it twice would make its
sentences near-duplicates of each other).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import BadInput

from .squad import SquadArticle, read_json

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Turn:
    """One question of a dialogue and its rationale span in the story (None: not given)."""

    text: str
    span: tuple[int, int] | None


@dataclass
class Dialogue:
    """The turns asked about one story, in order."""

    story: int  # position of its story in the file
    turns: list[Turn] = field(default_factory=list)


@dataclass
class CoqaSet:
    """All stories (as articles) and dialogues of one CoQA-format file."""

    articles: list[SquadArticle]
    dialogues: list[Dialogue]
    digest: str

    @property
    def turns(self) -> int:
        return sum(len(d.turns) for d in self.dialogues)

    def subset(self, stories: list[int]) -> "CoqaSet":
        """Only the given stories (by position) and their dialogues."""
        keep = {a: n for n, a in enumerate(stories)}
        return CoqaSet([self.articles[a] for a in stories],
                       [Dialogue(keep[d.story], d.turns) for d in self.dialogues
                        if d.story in keep],
                       hashlib.sha256((self.digest + repr(stories)).encode()).hexdigest())


def is_coqa(data: Any) -> bool:
    """True for parsed JSON shaped like CoQA (a ``data`` list of items with a ``story``)."""
    items = data.get("data") if isinstance(data, dict) else None
    return isinstance(items, list) and bool(items) and isinstance(items[0], dict) \
        and "story" in items[0]


def load_coqa(path: str | Path) -> CoqaSet:
    """Read a CoQA-format JSON file."""
    data, raw = read_json(path)
    return coqa_dialogues(data, hashlib.sha256(raw).hexdigest(), path)


def coqa_dialogues(data: Any, digest: str, path: str | Path) -> CoqaSet:
    """The stories and dialogues of a CoQA-format file's parsed JSON ``data`` (``digest``: of
    the file's bytes; ``path``: named in errors)."""
    if not is_coqa(data):
        raise BadInput(f"{path} is not a CoQA-format file (no 'data' list of stories)")
    articles: list[SquadArticle] = []
    dialogues: list[Dialogue] = []
    told: dict[str, int] = {}  # story text -> its article: a story told twice is indexed once
    for number, item in enumerate(data["data"]):
        try:
            story = told.setdefault(str(item["story"]), len(articles))
            if story == len(articles):
                articles.append(_story(story, item))
            dialogues.append(_dialogue(story, item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInput(f"{path}: malformed CoQA story {number + 1} ({exc!r})") from None
    if not any(t.span for d in dialogues for t in d.turns):
        raise BadInput(f"{path} holds no question with a rationale span")
    return CoqaSet(articles, dialogues, digest)


def _story(number: int, item: dict[str, Any]) -> SquadArticle:
    story = str(item["story"])
    if not story.strip():
        raise ValueError("empty story")
    label = _UNSAFE.sub("_", str(item.get("source") or "story"))[:30].strip("_") or "story"
    return SquadArticle(f"Story {number + 1}", story, f"{number:03d}-{label}.txt")


def _dialogue(number: int, item: dict[str, Any]) -> Dialogue:
    story = str(item["story"])
    answers = {int(a["turn_id"]): a for a in item.get("answers", [])}
    dialogue = Dialogue(number)
    for question in sorted(item["questions"], key=lambda q: int(q["turn_id"])):
        text = str(question["input_text"])
        if not text.strip():
            continue
        answer = answers.get(int(question["turn_id"]))
        dialogue.turns.append(Turn(text, _span(story, answer)))
    return dialogue


def _span(story: str, answer: dict[str, Any] | None) -> tuple[int, int] | None:
    """The rationale's ``[start, end)`` without its surrounding spaces (None when absent)."""
    if not answer:
        return None
    start, end = int(answer.get("span_start", -1)), int(answer.get("span_end", -1))
    if not 0 <= start < end <= len(story):
        return None
    while start < end and story[start].isspace():
        start += 1
    while end > start and story[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
