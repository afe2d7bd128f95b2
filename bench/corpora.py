"""Corpora for the benchmarks, written to a scratch folder at run time (never committed).

- :func:`squad_corpus`: the SQuAD v1.1 dev half-a paragraphs as ``.txt`` articles, repeated (each
  copy its own file) until the corpus has the wanted number of sentences: real sentences, for the
  encoder, indexing, ``bot ask`` and re-index benchmarks.
- :func:`synthetic_corpus`: sentences drawn from SQuAD's word frequencies (unigram, so BM25
  posting lists have realistic lengths) for 100k–1M-sentence indexes whose vectors come from
  :class:`SyntheticEncoder` instead of the model (1M real embeddings would take ~20 min of CPU).
- :func:`clustered_vectors`: unit vectors scattered around real sentence embeddings with the
  real embeddings' covariance (cosine ~0.79 to their seed, ~0.02 between random pairs, like real
  embeddings), used for 1M-scale ANN recall; queries are real question embeddings.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / \
    "squad-v1.1-dev-half-a.json"
SPREAD = 0.8  # noise scale of clustered_vectors around their seed embedding


@dataclass
class Squad:
    """Paragraphs (with their article title) and questions with their gold sentence offset."""

    paragraphs: list[tuple[str, str]]
    questions: list[tuple[str, int, int]]  # (question, paragraph index, answer_start)


@lru_cache(maxsize=1)
def load_squad(path: Path = SQUAD) -> Squad:
    if not path.exists():
        raise SystemExit(f"error: {path} is missing (the benchmarks measure on it)")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: list[tuple[str, str]] = []
    questions: list[tuple[str, int, int]] = []
    for article in data:
        title = article["title"].replace("_", " ")
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                questions.append((qa["question"], len(paragraphs),
                                  qa["answers"][0]["answer_start"]))
            paragraphs.append((title, para["context"]))
    return Squad(paragraphs, questions)


def squad_questions(count: int | None = None) -> list[str]:
    """The first ``count`` questions of SQuAD half-a (all by default), as asked."""
    return [q for q, _, _ in load_squad().questions[:count]]


def squad_corpus(folder: Path, sentences: int) -> Path:
    """Write SQuAD articles (one ``.txt`` per article and copy) until ``sentences`` is reached;
    returns ``folder``. Reuses a folder already written for the same size."""
    marker = folder / ".sentences"
    if marker.exists() and marker.read_text() == str(sentences):
        return folder
    from sentencex import segment

    squad = load_squad()
    articles: dict[str, list[str]] = {}
    for title, context in squad.paragraphs:
        articles.setdefault(title, []).append(context)
    per_copy = sum(len(list(segment("en", c))) for _, c in squad.paragraphs)
    copies = max(1, -(-sentences // per_copy))
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for copy in range(copies):
        for number, (title, paras) in enumerate(articles.items()):
            if written >= sentences:
                break
            text = f"{title}\n\n" + "\n\n".join(paras) + "\n"
            (folder / f"c{copy:02d}-{number:02d}.txt").write_text(text, encoding="utf-8")
            written += sum(len(list(segment("en", p))) for p in paras)
    marker.write_text(str(sentences))
    return folder


def squad_sentences() -> tuple[list[str], list[int], list[tuple[int, int, int]]]:
    """All SQuAD sentences, the paragraph of each, and each question's gold sentence as
    ``(question index, first sentence index of its paragraph, gold sentence index)``."""
    from index.ingest.splitter import sentences as split

    squad = load_squad()
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    first: list[int] = []
    for _, context in squad.paragraphs:
        first.append(len(texts))
        for span in split(context):
            texts.append(context[span.start:span.end])
            spans.append((span.start, span.end))
    owner = [0] * len(texts)
    for p, start in enumerate(first):
        end = first[p + 1] if p + 1 < len(first) else len(texts)
        owner[start:end] = [p] * (end - start)
    gold: list[tuple[int, int, int]] = []
    for q, (_, p, answer) in enumerate(squad.questions):
        end = first[p + 1] if p + 1 < len(first) else len(texts)
        hit = next((s for s in range(first[p], end) if spans[s][0] <= answer < spans[s][1] + 1),
                   None)
        if hit is not None:
            gold.append((q, first[p], hit))
    return texts, owner, gold


def word_frequencies() -> tuple[list[str], np.ndarray]:
    """SQuAD's words and their relative frequencies."""
    counts = Counter(w for _, c in load_squad().paragraphs for w in re.findall(r"[A-Za-z]+", c))
    words, freq = zip(*counts.most_common())
    p = np.array(freq, dtype=np.float64)
    return list(words), p / p.sum()


SYNTHETIC_BLOCK = 256  # articles drawn at a time (and per sub-folder): bounded memory at 10M


def synthetic_corpus(folder: Path, sentences: int, per_article: int = 40,
                     seed: int = 0) -> Path:
    """``sentences`` unigram sentences as ``.txt`` articles of ``per_article`` sentences in
    paragraphs of five, 256 articles per sub-folder, drawn a sub-folder at a time (10M
    sentences need no more memory than 10k)."""
    marker = folder / ".sentences"
    if marker.exists() and marker.read_text() == str(sentences):
        return folder
    rng = np.random.default_rng(seed)
    words, p = word_frequencies()
    vocab = np.array(words, dtype=object)
    folder.mkdir(parents=True, exist_ok=True)
    articles = -(-sentences // per_article)
    for first in range(0, articles, SYNTHETIC_BLOCK):
        block = folder / f"s{first // SYNTHETIC_BLOCK:04d}"
        block.mkdir(exist_ok=True)
        for article in range(first, min(articles, first + SYNTHETIC_BLOCK)):
            count = min(per_article, sentences - article * per_article)
            lengths = rng.integers(8, 30, size=count)
            tokens = vocab[rng.choice(len(words), size=int(lengths.sum()), p=p)]
            out, cursor = [f"Article {article}", ""], 0
            for s, n in enumerate(lengths):
                chunk = tokens[cursor:cursor + n]
                cursor += n
                out.append(str(chunk[0]).capitalize() + " " + " ".join(chunk[1:]) + ".")
                if s % 5 == 4:
                    out.append("")
            (block / f"a{article:06d}.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    marker.write_text(str(sentences))
    return folder


class Seeds:
    """Real sentence embeddings and their covariance (principal axes) for synthetic vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        centred = self.vectors - self.vectors.mean(0)
        _, singular, axes = np.linalg.svd(centred, full_matrices=False)
        self.axes = (singular[:, None] / np.sqrt(len(centred)) * axes).astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator, spread: float = SPREAD) -> np.ndarray:
        """``n`` unit vectors, each a seed plus covariance-shaped noise."""
        out = np.empty((n, self.vectors.shape[1]), dtype=np.float32)
        for start in range(0, n, 65536):
            m = min(65536, n - start)
            seeds = self.vectors[rng.integers(0, len(self.vectors), m)]
            noise = rng.standard_normal((m, len(self.axes)), dtype=np.float32) @ self.axes
            v = seeds + spread * noise
            out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


class SyntheticEncoder:
    """Stands in for the model while indexing big synthetic corpora: same spec and dimension as
    the real encoder (so the index answers real questions), vectors from :class:`Seeds`."""

    def __init__(self, real, seeds: Seeds, seed: int = 0) -> None:
        self.spec = real.spec
        self.dim = real.dim
        self.details = getattr(real, "details", {})
        self.real = real
        self.seeds = seeds
        self.rng = np.random.default_rng(seed)

    def encode(self, texts: Sequence[str], progress=None) -> np.ndarray:
        vectors = self.seeds.sample(len(texts), self.rng)
        if progress:
            progress(len(texts))
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.seeds.sample(1, self.rng)[0]

    def token_states(self, texts: Sequence[str], specials: bool = True) -> list[np.ndarray]:
        return self.real.token_states(texts, specials)
