"""Candidate features and labels for SQuAD questions, shared by the fitting scripts.

Indexes a SQuAD-format file's articles (reusing ``bot eval``'s work directory, so unchanged
articles embed nothing), embeds the questions once (cached beside the index) and returns, per
question, the score parts of every candidate sentence and which candidates are gold.
Nothing here is committed: only the fitted figures are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from bot.evaluation.coqa import is_coqa
from bot.evaluation.formats import coqa_set, load_natural
from bot.evaluation.runner import prepare, work_dir_for
from bot.evaluation.squad import SquadSet, load_squad, read_json
from bot.questions import clean_question
from index.errors import BadInput
from index.embed.encoders import EncoderSpec, load_encoder
from index.progress import progress_bar
from index.search.features import FEATURES
from index.search.searcher import Pool, Searcher

ROOT = Path(__file__).resolve().parent.parent
HALF_A = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev-half-a.json"
COQA = ROOT.parent / "shared" / "eval" / "coqa-dev-wikipedia-literature.json"
QUESTION_VECTORS = "single"  # how questions are embedded (in the cache keys): one at a time
SELF_CONTAINED_WORDS = 5  # CoQA turns this long mostly read alone (the fitting scripts keep them)


@dataclass
class Candidates:
    """Stacked candidates of many questions: ``X[offsets[q]:offsets[q+1]]`` are question q's."""

    X: np.ndarray  # (candidates, features) in FEATURES order
    gold: np.ndarray  # (candidates,) bool
    offsets: np.ndarray  # (questions + 1,)
    article: np.ndarray  # (questions,) article position of each question

    def questions(self) -> int:
        return len(self.offsets) - 1

    def reachable(self) -> np.ndarray:
        """Per question: is a gold sentence among its candidates?"""
        return np.array([self.gold[s:e].any() for s, e in zip(self.offsets[:-1],
                                                              self.offsets[1:])], dtype=bool)


def stack(parts: list[Candidates]) -> Candidates:
    """Several question sets as one."""
    offsets, base = [np.zeros(1, dtype=np.int64)], 0
    for part in parts:
        offsets.append(part.offsets[1:] + base)
        base += part.offsets[-1]
    return Candidates(np.concatenate([p.X for p in parts]),
                      np.concatenate([p.gold for p in parts]), np.concatenate(offsets),
                      np.concatenate([p.article for p in parts]))


def question_vectors(squad: SquadSet, encoder, work_dir: Path) -> np.ndarray:
    """All questions, cleaned as ``bot ask`` cleans them, embedded by :func:`text_vectors`."""
    return text_vectors([clean_question(q.text) for q in squad.questions], encoder, work_dir)


def text_vectors(texts: list[str], encoder, work_dir: Path) -> np.ndarray:
    """``texts`` embedded one at a time, as ``bot ask`` embeds a question (the int8
    model's activations are scaled per batch, so a batch's vectors differ slightly: cosine
    0.987-0.993 to the served ones), cached in ``work_dir``."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = work_dir / f"questions-{QUESTION_VECTORS}-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    with progress_bar(len(texts), "embedding questions", unit="question") as bar:
        for row, text in enumerate(texts):
            vectors[row] = encoder.encode_query(text)
            bar.update(1)
    np.save(path, vectors)
    return vectors


def collect(squad: SquadSet, spec: EncoderSpec | None = None,
            work_dir: Path | None = None) -> Candidates:
    """Index ``squad``'s articles and gather every question's candidate parts."""
    code = "".join((ROOT / "index" / name).read_text(encoding="utf-8") for name in
                   ("search/features.py", "search/answer_types.py", "search/term_match.py",
                    "search/searcher.py", "indexer.py", "store/sentence_table.py",
                    "store/title_terms.py")) + QUESTION_VECTORS
    # keyed by the questions too: one file's sets (CoQA turns of >= 1 or >= 5 words) share
    # a work directory (the same articles, one index) but not their candidates
    asked = "".join(f"{q.text}\n{q.article} {q.answer_starts}\n" for q in squad.questions)
    return gather(squad, spec or EncoderSpec(),
                  f"candidates-{hashlib.sha256((code + asked).encode()).hexdigest()[:12]}.npz",
                  lambda searcher, text, pool: (
                      np.column_stack([pool.parts[f] for f in FEATURES]), pool.ids),
                  "features", work_dir)


Rows = Callable[[Searcher, str, Pool], tuple[np.ndarray, np.ndarray]]  # block, ids


def gather(squad: SquadSet, spec: EncoderSpec, cache_name: str, rows: Rows, label: str,
           work_dir: Path | None = None) -> Candidates:
    """Index ``squad``'s articles (``bot eval``'s work directory unless ``work_dir``) and
    stack, for every question with candidates, ``rows(searcher, question, pool)``: a feature
    block and the candidate ids it covers (gold-labelled here). Cached as ``cache_name``
    beside the index."""
    encoder = load_encoder(spec)
    work_dir = work_dir or work_dir_for(squad, spec)
    prepared = prepare(squad, work_dir, encoder)
    cached = work_dir / cache_name
    if cached.exists():
        with np.load(cached) as saved:
            return Candidates(saved["X"], saved["gold"], saved["offsets"], saved["article"])
    vectors = question_vectors(squad, encoder, work_dir)
    blocks, labels, offsets = [], [], [0]
    with progress_bar(len(squad.questions), label, unit="question") as bar:
        for question, gold, vector in zip(prepared.questions, prepared.gold, vectors):
            text = clean_question(question.text)
            pool = prepared.searcher.candidates(text, vector)
            if pool is not None:
                block, ids = rows(prepared.searcher, text, pool)
                blocks.append(block)
                labels.append(np.isin(ids, list(gold)))
            offsets.append(offsets[-1] + (len(labels[-1]) if pool is not None else 0))
            bar.update(1)
    data = Candidates(np.concatenate(blocks), np.concatenate(labels), np.array(offsets),
                      np.array([q.article for q in squad.questions]))
    np.savez(cached, X=data.X, gold=data.gold, offsets=data.offsets, article=data.article)
    return data


def load_half_a(path: Path = HALF_A) -> SquadSet:
    if not path.exists():
        raise SystemExit(f"error: {path} not found (pass --squad PATH)")
    return load_squad(path)


def load_coqa_turns(path: str | Path, min_words: int = SELF_CONTAINED_WORDS) -> SquadSet:
    """A CoQA-format file as a question set: its stories, and its turns of at least
    ``min_words`` words (the self-contained ones) as questions (:mod:`bot.evaluation`'s
    reading; the set's digest is the file's)."""
    data, raw = read_json(path)
    if not is_coqa(data):
        raise SystemExit(f"error: {path} is not a CoQA-format file")
    return coqa_set(data["data"], hashlib.sha256(raw).hexdigest(), str(path), min_words)


def load_natural_set(path: Path) -> SquadSet:
    """A natural-questions YAML file (:func:`bot.evaluation.formats.load_natural`: articles
    beside it, ``answer: null`` for the questions they leave open); a bad file is a one-line
    error."""
    try:
        return load_natural(Path(path))
    except BadInput as exc:
        raise SystemExit(f"error: {exc}") from None
