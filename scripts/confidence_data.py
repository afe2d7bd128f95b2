"""Labelled replies for fitting the confidence model: was the bot's best sentence right?

Four kinds of question, each asked as the bot asks it, each reply kept with the score parts of
its two best sentences (what :func:`bot.confidence_features.verdict_features` reads):

- ``answerable``: SQuAD v1.1 questions, their article indexed; right when the best sentence
  holds an annotator's answer start. Half-a's articles are split into two groups (even / odd
  positions) and each group is indexed alone.
- ``ooc``: the other group's questions asked of that index: never right.
- ``impossible``: SQuAD v2.0 ``is_impossible`` questions, asked of the group index holding their
  article (on topic, yet the article does not say): never right.
- ``coqa``: CoQA conversations (all stories indexed together), asked turn by turn through
  :class:`bot.conversation.Conversation`, follow-ups included; right when the best sentence
  overlaps the turn's rationale (a turn without one is never right).
- ``natural`` / ``natural_impossible`` (natural-question files written for fitting, such as
  ``scripts/data/natural-train/questions.yaml``; never the measurement sets in ``bench/``): all
  of a file's articles indexed together, its answerable questions asked (right when the best
  sentence holds the named fragment) and its ``answer: null`` ones (on topic, never right).

Each reply carries a ``group`` (its article or story), so that fits can be cross-fitted by
article. Replies are cached in the work directory; nothing here is committed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from bot import answering, conversation
from bot.answering import Answerer
from bot.confidence import VERDICT_DEPTH
from bot.confidence_features import text_of
from bot.conversation import Conversation
from bot.evaluation.coqa import CoqaSet
from bot.evaluation.dialogues import gold_of
from bot.evaluation.runner import index_articles, prepare, work_dir_for
from bot.evaluation.squad import Question, SquadArticle, SquadSet, load_squad
from bot.questions import clean_question
from index.embed.encoders import Encoder, EncoderSpec
from index.paths import cache_dir
from index.progress import progress_bar
from index.search.searcher import Searcher

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
SQUAD_V1 = EVAL / "squad-v1.1-dev-half-a.json"
SQUAD_V2 = EVAL / "squad-v2.0-dev-half-a.json"
COQA = EVAL / "coqa-dev-wikipedia-literature.json"
NATURAL_TRAIN = ROOT / "scripts" / "data" / "natural-train" / "questions.yaml"  # ours: fit on it

# bump when what this script records changes (they key the caches of SQuAD's and CoQA's replies)
SQUAD_VERSION = 2
COQA_VERSION = 3
NATURAL_VERSION = 1
COQA_GROUP = 1000  # CoQA story n is group COQA_GROUP + n (SQuAD articles are 0..)
NATURAL_GROUP = 2000  # article n of the k-th natural file: NATURAL_GROUP + 100 * k + n
_TITLE_WORDS = re.compile(r"[A-Za-z0-9'\-]+")


@dataclass
class Reply:
    """One asked question: what the verdict saw, and whether the best sentence was right."""

    question: str
    kind: str  # answerable | ooc | impossible | coqa | natural | natural_impossible
    group: int  # the question's article (SQuAD position) or COQA_GROUP + story
    right: bool
    follow_up: bool
    parts: list[dict[str, float]]  # the two best sentences' score parts (fewer if fewer)
    texts: list[list[str]]  # their (sentence, title)


def _parts(hits) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in h.parts.items()} for h in hits[:VERDICT_DEPTH]]


def _texts(hits) -> list[list[str]]:
    return [list(text_of(h)) for h in hits[:VERDICT_DEPTH]]


def _code_key(version: int, *extra: Path) -> str:
    """A digest of the code that decides what a reply holds: the search (ranking, parts) and
    ``extra`` files, plus ``version`` for this script's own logic."""
    files = sorted((ROOT / "index" / "search").glob("*.py")) + sorted(
        (ROOT / "index" / "search").glob("*.json")) + sorted(
        (ROOT / "index" / "search").glob("*.npz")) + [ROOT / "index" / "choices.py", *extra]
    digest = hashlib.sha256(f"{version} {os.environ.get('BOT_RERANK_DEPTH', '')} "
                            f"{os.environ.get('BOT_RERANK_GAP', '')}".encode())
    for path in files:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _ranked_replies(searcher: Searcher, asked: SquadSet, vectors: np.ndarray,
                    gold: list[set[int]], kind: str, articles: list[int],
                    label: str) -> list[Reply]:
    """``asked``'s questions ranked by ``searcher`` (``gold``: each one's right sentence
    ids; ``articles``: the position in half-a of each of ``asked``'s articles)."""
    replies = []
    with progress_bar(len(asked.questions), label, unit="question") as bar:
        for q, wanted, vector in zip(asked.questions, gold, vectors):
            hits = searcher.rank(clean_question(q.text), vector, VERDICT_DEPTH)
            right = bool(hits) and hits[0].sentence.id in wanted
            replies.append(Reply(q.text, kind, articles[q.article], right, False,
                                 _parts(hits), _texts(hits)))
            bar.update(1)
    return replies


def squad_replies(v1: SquadSet, v2: SquadSet | None, encoder: Encoder,
                  spec: EncoderSpec) -> list[Reply]:
    """``answerable``, ``ooc`` and ``impossible`` replies over half-a split in two groups."""
    from ranker_data import question_vectors

    position = {a.title: n for n, a in enumerate(v1.articles)}
    replies: list[Reply] = []
    for own in (0, 1):
        mine = list(range(own, len(v1.articles), 2))
        other = list(range(1 - own, len(v1.articles), 2))
        group = v1.subset(mine)
        work = work_dir_for(group, spec)
        prepared = prepare(group, work, encoder)
        searcher = prepared.searcher
        replies += _ranked_replies(searcher, group, question_vectors(group, encoder, work),
                                   prepared.gold, "answerable", mine, f"group {own}: own")
        outside = v1.subset(other)
        replies += _ranked_replies(searcher, outside, question_vectors(outside, encoder, work),
                                   [set()] * len(outside.questions), "ooc", other,
                                   f"group {own}: other")
        if v2 is None:
            continue
        held = [n for n, a in enumerate(v2.articles) if position.get(a.title, -1) in mine]
        replies += _unanswerable_replies(
            searcher, v2.subset(held).unanswerable, "impossible",
            [position[v2.articles[n].title] for n in held])
    return replies


def _unanswerable_replies(searcher: Searcher, questions: list[Question], kind: str,
                          articles: list[int]) -> list[Reply]:
    """On-topic questions the articles do not answer, each embedded alone and ranked as ``bot
    ask`` ranks it: never right (``articles``: each question's article number, by its
    ``article`` index)."""
    replies = []
    for q in questions:
        text = clean_question(q.text)
        hits = searcher.search(text, VERDICT_DEPTH)
        replies.append(Reply(q.text, kind, articles[q.article], False, False, _parts(hits),
                             _texts(hits)))
    return replies


def natural_replies(path: Path, number: int, encoder: Encoder,
                    spec: EncoderSpec) -> list[Reply]:
    """``natural`` and ``natural_impossible`` replies: the file's articles indexed together,
    each question asked as ``bot ask`` asks it (``number``: the file's place, for groups)."""
    from ranker_data import load_natural_set, question_vectors

    asked = load_natural_set(path)
    work = work_dir_for(asked, spec)
    prepared = prepare(asked, work, encoder)
    groups = [NATURAL_GROUP + 100 * number + n for n in range(len(asked.articles))]
    replies = _ranked_replies(prepared.searcher, asked, question_vectors(asked, encoder, work),
                              prepared.gold, "natural", groups, f"{path.parent.name}: answerable")
    return replies + _unanswerable_replies(prepared.searcher, asked.unanswerable,
                                           "natural_impossible", groups)


@contextlib.contextmanager
def recorded_verdicts() -> Iterator[list[tuple[str, list, bool]]]:
    """Record what each verdict of the answering API and the conversation reads (question as
    read, ranked sentences, follow-up or not), so a reply is stored exactly as the verdict
    sees it; the verdict itself is a placeholder meanwhile (nothing recorded depends on it,
    and the model may not be readable while it is being refitted)."""
    calls: list[tuple[str, list, bool]] = []

    def record(question: str, ranked, follow_up: bool = False) -> tuple[float, bool]:  # noqa: ANN001
        calls.append((question, list(ranked), follow_up))
        return 0.5, bool(ranked)

    saved = answering.verdict, conversation.verdict
    answering.verdict = conversation.verdict = record  # type: ignore[assignment]
    try:
        yield calls
    finally:
        answering.verdict, conversation.verdict = saved  # type: ignore[assignment]


def coqa_title(story: str) -> str:
    """A headline for a story without one: its first five words."""
    return " ".join(_TITLE_WORDS.findall(story)[:5]) or "Story"


def coqa_replies(path: Path, encoder: Encoder, spec: EncoderSpec,
                 stories: int | None = None) -> list[Reply]:
    """``coqa`` replies: every story indexed, every conversation asked turn by turn."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"][:stories]
    key = hashlib.sha256(path.read_bytes() + repr(stories).encode()).hexdigest()[:12]
    work = cache_dir() / "eval" / f"coqa-{key}-{spec.backend}"
    titles = [coqa_title(item["story"]) for item in data]
    headlined = CoqaSet([SquadArticle(title, f"{title}\n\n{item['story']}\n", f"{n:03d}.txt")
                         for n, (title, item) in enumerate(zip(titles, data))], [], key)
    indexed = index_articles(headlined, work, encoder)
    spans, answerer = indexed.spans, Answerer(indexed.searcher)
    replies: list[Reply] = []
    turns = sum(len(item["questions"]) for item in data)
    with recorded_verdicts() as calls, progress_bar(turns, "CoQA turns", unit="turn") as bar:
        for n, item in enumerate(data):
            offset = len(titles[n]) + 2  # the story's place in its file, after the headline
            dialogue = Conversation(answerer)
            answers = {a["turn_id"]: a for a in item["answers"]}
            for turn in item["questions"]:
                answer = answers.get(turn["turn_id"], {"span_start": -1, "span_end": -1})
                start, end = int(answer["span_start"]), int(answer["span_end"])
                gold = gold_of(spans[n], (offset + start, offset + end) if start >= 0 else None)
                reply = dialogue.ask(turn["input_text"], k=3)
                evidence = reply.answer.evidence
                right = bool(evidence) and evidence[0].sentence_id in gold
                read_as, seen, follow_up = calls[-1]  # what the reply's verdict read
                replies.append(Reply(read_as, "coqa", COQA_GROUP + n, right, follow_up,
                                     _parts(seen), _texts(seen)))
                bar.update(1)
    return replies


def collect(encoder: Encoder, spec: EncoderSpec, v1: Path = SQUAD_V1, v2: Path | None = SQUAD_V2,
            coqa: Path | None = COQA, articles: int | None = None,
            stories: int | None = None, natural: list[Path] | tuple[Path, ...] = ()
            ) -> list[Reply]:
    """All labelled replies: SQuAD's, CoQA's and those of the ``natural`` files (article files
    beside each), each cached by its data and code."""
    def cached(sources: list[Path], code: str, make) -> list[Reply]:  # noqa: ANN001
        key = hashlib.sha256(b"".join(p.read_bytes() for p in sources)
                             + repr((articles, stories, spec.backend, spec.model)).encode()
                             + code.encode()).hexdigest()[:16]
        path = cache_dir() / "eval" / f"verdict-replies-{key}.json.gz"
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return [Reply(**r) for r in json.load(f)]
        replies = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            json.dump([asdict(r) for r in replies], f)
        return replies

    def squad() -> list[Reply]:
        v1_set = load_squad(v1)
        if articles is not None:
            v1_set = v1_set.subset(list(range(min(articles, len(v1_set.articles)))))
        return squad_replies(v1_set, load_squad(v2) if v2 else None, encoder, spec)

    vectors = ROOT / "scripts" / "ranker_data.py"  # how the questions are embedded
    replies = cached([p for p in (v1, v2) if p is not None], _code_key(SQUAD_VERSION, vectors),
                     squad)
    if coqa is not None:
        # a follow-up's ranking reads the previous turn's verdict (the walk's trust in it)
        replies += cached([coqa], _code_key(COQA_VERSION, *(
            ROOT / "bot" / name for name in ("conversation.py", "topic.py", "topic_change.py",
                                             "answering.py", "confidence_weights.json"))),
                          lambda: coqa_replies(coqa, encoder, spec, stories))
    for number, path in enumerate(natural):
        beside = sorted(p for p in path.parent.iterdir() if p.suffix == ".txt")
        replies += cached([path, *beside], _code_key(NATURAL_VERSION, vectors) + str(number),
                          lambda: natural_replies(path, number, encoder, spec))
    return replies


def summary(replies: list[Reply]) -> str:
    """Counts and right rates per kind."""
    lines = []
    for kind in ("answerable", "ooc", "impossible", "coqa", "natural", "natural_impossible"):
        rows = [r for r in replies if r.kind == kind]
        if rows:
            lines.append(f"{kind:<11} {len(rows):>6} replies, right {np.mean([r.right for r in rows]):.3f}")
    return "\n".join(lines)
