"""The bm25s-free query path (tokenizer, loading, scores) gives exactly what bm25s gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.store.bm25 import STOPWORDS, Bm25, _stemmer, tokenize

TEXTS = ["The Xiaomi 12S Ultra uses Leica's optics, the companies said on Monday.",
         "Running runners ran; the run-off was counted twice: 2,500 votes.",
         "Ça coûte 3,50 € — naïve café owners said it's \u201cfine\u201d.",
         "a an the of to", "", "Is it? No. It is not.", "Camera camera CAMERA cameras"]


def test_stop_words_are_bm25s_english_ones() -> None:
    from bm25s.stopwords import STOPWORDS_EN

    assert STOPWORDS == frozenset(STOPWORDS_EN)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), max_size=5))
def test_tokens_are_bm25s_tokens(texts: list[str]) -> None:
    import bm25s

    expected = bm25s.tokenize(list(texts) + TEXTS, stopwords="en", stemmer=_stemmer(),
                              return_ids=False, show_progress=False)
    assert tokenize(list(texts) + TEXTS) == expected


@pytest.mark.parametrize("query", ["Leica camera optics", "camera camera", "votes counted",
                                   "unknownword", "the of", "", "CAFÉ owners"])
def test_loaded_index_scores_like_bm25s(tmp_path: Path, query: str) -> None:
    built = Bm25.build(TEXTS)
    built.save(tmp_path)
    loaded = Bm25.load(tmp_path)
    terms = [t for t in tokenize([query])[0] if t in built.retriever.vocab_dict]
    expected = (built.retriever.get_scores(terms) if terms
                else np.zeros(len(TEXTS), dtype=np.float32))
    assert np.allclose(loaded.scores(query), expected, atol=1e-6)
    assert loaded.retriever.vocab_dict == built.retriever.vocab_dict
