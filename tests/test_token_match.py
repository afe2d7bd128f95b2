"""Token matching, the second stage (``--rerank-depth 10``): each question token's best cosine
with a token of the sentence, averaged; the searcher reads the first stage's best
``rerank_depth`` sentences with it, records it as the part ``rerank`` and reorders them; depth 0
(the default, ``--fast``) skips it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.search.token_match import TokenMatcher, token_match

from .conftest import ROOT, write_corpus

ARTICLE = """Mill wheel turns again in Harbury

The old mill in Harbury reopened on Saturday after two years of work.
Volunteers who repaired the wheel of the mill over two winters were thanked by the mayor at a crowded meeting in the village hall on Friday evening.
The old mill wheel is old.
Visitors can see the wheel turn every weekend until October.
The council paid for the work on the wheel.
"""


def test_each_question_token_counts_its_best_match_once():
    question = np.eye(4, dtype=np.float32)[:3]  # three tokens, orthogonal
    whole = np.eye(4, dtype=np.float32)[[2, 0, 1, 3]]  # all three, in another order
    part = np.eye(4, dtype=np.float32)[[0, 0, 0]]  # one of them, three times
    none = np.eye(4, dtype=np.float32)[[3]]
    assert token_match(question, [whole, part, none]).tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert token_match(question[:0], [whole]).tolist() == [0.0]


def test_hashing_tokens_are_words_so_the_score_is_the_share_of_question_words(hashing_spec):
    from index.embed.encoders import load_encoder

    encoder = load_encoder(hashing_spec)
    states = encoder.token_states(["Who repaired the wheel?"], specials=False)[0]
    assert states.shape == (4, encoder.dim)
    scores = TokenMatcher(encoder).score("who repaired the wheel", [
        "Volunteers who repaired the wheel were thanked.", "The wheel turns.", "Nothing here."])
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.5)
    assert scores[1] > scores[2]


def _searcher(tmp_path: Path, hashing_spec):
    from index.embed.encoders import load_encoder
    from index.indexer import update_index
    from index.search.searcher import Searcher

    encoder = load_encoder(hashing_spec)
    update_index([write_corpus(tmp_path / "news", {"mill.txt": ARTICLE})], tmp_path / "idx",
                 encoder=encoder)
    return Searcher.open(tmp_path / "idx", encoder=encoder)


def test_the_second_stage_reads_the_best_candidates_again_and_fast_mode_does_not(
        tmp_path: Path, hashing_spec, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOT_RERANK_DEPTH", "10")  # as --rerank-depth 10 sets it
    monkeypatch.delenv("BOT_RERANKER", raising=False)
    searcher = _searcher(tmp_path, hashing_spec)
    assert searcher.rerank_depth == 10
    hits = searcher.search("Who repaired the mill wheel?", 3)
    assert "Volunteers" in hits[0].sentence.text
    assert hits[0].parts["rerank"] == pytest.approx(1.0)  # every question word is in it
    assert [h.parts["rerank"] for h in hits] == sorted((h.parts["rerank"] for h in hits),
                                                       reverse=True)
    searcher.rerank_depth = 0
    assert all("rerank" not in h.parts for h in searcher.search("Who repaired the mill wheel?"))


def test_a_sentence_holding_more_of_the_question_moves_up(tmp_path: Path, hashing_spec):
    """The first stage prefers the short sentence sharing "the old mill wheel"; the second
    stage puts first the one that answers, holding more of the question's words ("paid
    for")."""
    searcher = _searcher(tmp_path, hashing_spec)
    question = "Who paid for the old mill wheel?"
    searcher.rerank_depth = 0
    assert searcher.search(question, 3)[0].sentence.text == "The old mill wheel is old."
    searcher.rerank_depth = 10
    read = searcher.search(question, 3)
    assert read[0].sentence.text == "The council paid for the work on the wheel."
    assert read[0].parts["rerank"] > read[1].parts["rerank"]


@pytest.mark.slow
def test_real_model_token_states(real_encoder):
    """One normalised row per token; ``specials=False`` drops [CLS] and [SEP]; the sentence
    holding the question's words scores highest."""
    states = real_encoder.token_states(["Who runs Xiaomi?", "Lei Jun founded Xiaomi in 2010."])
    assert [len(s) for s in states] == [len(real_encoder.tokenizer.encode(t).ids) for t in
                                        ("Who runs Xiaomi?", "Lei Jun founded Xiaomi in 2010.")]
    assert np.allclose(np.linalg.norm(states[1], axis=1), 1.0, atol=1e-4)
    alone = real_encoder.token_states(["Who runs Xiaomi?"])[0]  # int8: scaled per batch
    trimmed = real_encoder.token_states(["Who runs Xiaomi?"], specials=False)[0]
    assert np.allclose(trimmed, alone[1:-1], atol=1e-5)
    scores = TokenMatcher(real_encoder).score("Who founded Xiaomi?", [
        "Xiaomi: Lei Jun founded Xiaomi in 2010.", "Xiaomi: The phones sell well in Japan."])
    assert scores[0] > scores[1]


def test_combiner_fitting_script_fits_token_matching(tmp_path: Path):
    """scripts/fit_combiner.py on three tiny articles with the hashing encoder: token
    matching's score gets a positive weight."""
    from .test_reranker import fit_combiner_on_tiny_articles

    written = fit_combiner_on_tiny_articles(tmp_path, "")
    assert written["scorer"] == "token matching"
    assert written["weights"]["rerank"] > 0
