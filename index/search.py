"""Search a built index: a question in, ranked sentences with their score parts out.

Candidates come from dense sentence search (FAISS) and BM25; each candidate is then scored with
exact cosine to the question, its passage's cosine (the paragraph with its title) and its
normalised BM25 score. :mod:`index.ranking` combines those parts into one score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ann
from .docstore import DocReader, SentenceRow
from .documents import Article
from .encoders import Encoder, EncoderSpec, load_encoder
from .errors import IndexMismatch
from .indexer import PASSAGE_VECTORS, SENTENCE_ANN, SENTENCE_VECTORS
from .lexical import Bm25
from .ranking import Ranker
from .store import IndexDir, Manifest

CANDIDATES = 100


@dataclass
class Hit:
    """One retrieved sentence with where it stands and why it ranked."""

    sentence: SentenceRow
    article: Article
    score: float
    parts: dict[str, float] = field(default_factory=dict)


class Searcher:
    """A loaded generation plus its encoder; cheap to query many times."""

    def __init__(self, generation: Path, manifest: Manifest, encoder: Encoder) -> None:
        self.generation = generation
        self.manifest = manifest
        self.encoder = encoder
        self.docs = DocReader(generation)
        self.sentence_vectors = np.load(generation / SENTENCE_VECTORS, mmap_mode="r",
                                        allow_pickle=False)
        self.passage_vectors = np.load(generation / PASSAGE_VECTORS, allow_pickle=False)
        self.ann = ann.load(generation / SENTENCE_ANN,
                            ann.AnnConfig.from_json(manifest.ann.get("sentences", {})))
        self.bm25 = Bm25.load(generation)
        self.ranker = Ranker()
        self._articles: dict[int, Article] = {}

    @classmethod
    def open(cls, index_dir: str | Path | IndexDir, encoder: Encoder | None = None) -> "Searcher":
        """Load the live generation of ``index_dir`` and the encoder it was built with."""
        store = index_dir if isinstance(index_dir, IndexDir) else IndexDir(index_dir)
        generation = store.require_current()
        manifest = store.read_manifest(generation)
        built = EncoderSpec(model=manifest.encoder["model"], backend=manifest.encoder["backend"])
        if encoder is not None and encoder.spec != built:
            raise IndexMismatch(f"index was built with '{built.model}' ({built.backend}), "
                                f"not '{encoder.spec.model}' ({encoder.spec.backend})")
        encoder = encoder or load_encoder(built)
        if encoder.dim != manifest.encoder.get("dim"):
            raise IndexMismatch(f"index vectors have {manifest.encoder.get('dim')} dimensions, "
                                f"the model gives {encoder.dim}")
        return cls(generation, manifest, encoder)

    @property
    def size(self) -> int:
        return len(self.sentence_vectors)

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The ``k`` best-supporting sentences for ``question``, best first."""
        if self.size == 0 or k <= 0:
            return []
        query = self.encoder.encode_query(question)
        _, dense_ids = ann.search(self.ann, query, CANDIDATES)
        lexical = self.bm25.scores(question)
        top_lexical = np.argpartition(-lexical, min(CANDIDATES, len(lexical) - 1))[:CANDIDATES]
        top_lexical = top_lexical[lexical[top_lexical] > 0]
        ids = np.unique(np.concatenate([dense_ids, top_lexical]).astype(np.int64))
        rows = self.docs.sentences(ids.tolist())
        ids = np.array([i for i in ids if i in rows], dtype=np.int64)
        passages = np.array([rows[i].passage for i in ids], dtype=np.int64)
        parts = {
            "dense": np.asarray(self.sentence_vectors[ids]) @ query,
            "passage": self.passage_vectors[passages] @ query,
            "lexical": lexical[ids] / max(float(lexical.max()), 1e-9),
        }
        scores = self.ranker.score(parts)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(rows[int(ids[i])], self.article(rows[int(ids[i])].article),
                    float(scores[i]), {name: float(v[i]) for name, v in parts.items()})
                for i in order]

    def article(self, article_id: int) -> Article:
        """An article's metadata and text (cached)."""
        if article_id not in self._articles:
            self._articles[article_id] = self.docs.article(article_id)
        return self._articles[article_id]
