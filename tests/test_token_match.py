"""Token matching, the second stage (the default: depth 10, gated): each question token's best
cosine with a token of the sentence, averaged; the searcher reads those of the first stage's
best ``rerank_depth`` sentences that are close to its best with it, records it as the part
``rerank`` and reorders them; depth 0 (``--fast``) skips it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.search.token_match import QuestionTokenWeights, TokenMatcher, token_match

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


def test_weighted_question_tokens_count_by_their_weight():
    question = np.eye(4, dtype=np.float32)[:2]
    first_only, second_only = np.eye(4, dtype=np.float32)[[0]], np.eye(4, dtype=np.float32)[[1]]
    assert token_match(question, [first_only, second_only], np.array([3.0, 1.0])).tolist() == \
        pytest.approx([0.75, 0.25])
    assert token_match(question, [first_only, second_only], np.array([1.0, 1.0])).tolist() == \
        token_match(question, [first_only, second_only]).tolist()


def test_learned_weights_put_first_the_sentence_holding_the_word_that_counts(hashing_spec):
    """Weights of the encoder's own model that make "paid" count (its hashed slot) turn the
    order: the sentence with "paid" beats one with more of the question's other words; the
    shipped weights (fitted for MiniLM) are not applied to another encoder's states."""
    from index.embed.encoders import load_encoder

    encoder = load_encoder(hashing_spec)
    texts = ["Who restored the old wheel of the mill?", "The council paid."]
    plain = TokenMatcher(encoder).score("who paid for the old mill wheel", texts)
    assert TokenMatcher(encoder).weights is None and plain[0] > plain[1]
    paid = encoder.token_states(["paid"], specials=False)[0][0]
    weights = QuestionTokenWeights(8.0 * paid.astype(np.float64), -4.0, encoder.spec.model)
    weighted = TokenMatcher(encoder, weights).score("who paid for the old mill wheel", texts)
    assert weighted[1] > weighted[0]
    other = QuestionTokenWeights(weights.u, weights.c, "all-MiniLM-L6-v2")
    assert TokenMatcher(encoder, other).weights is None  # fitted for another model's states


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


def test_a_reprinted_sentence_is_read_once(hashing_spec):
    from index.embed.encoders import load_encoder

    encoder = load_encoder(hashing_spec)
    read: list[list[str]] = []
    states = encoder.token_states

    def counted(texts, specials=True):  # noqa: ANN001, ANN202
        read.append(list(texts))
        return states(texts, specials)

    encoder.token_states = counted  # type: ignore[method-assign]
    texts = ["Mill: The wheel turns.", "Mill: The council paid for it.", "Mill: The wheel turns."]
    scores = TokenMatcher(encoder).score("Who paid for it?", texts)
    assert read[1:] == [["Mill: The wheel turns.", "Mill: The council paid for it."]]
    assert scores[0] == scores[2] and scores[1] != scores[0]


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
    monkeypatch.setenv("BOT_RERANK_GAP", "inf")  # every question, however sure the first stage
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
    searcher.rerank_gap = float("inf")  # all ten, the gate aside (its own test below)
    question = "Who paid for the old mill wheel?"
    searcher.rerank_depth = 0
    assert searcher.search(question, 3)[0].sentence.text == "The old mill wheel is old."
    searcher.rerank_depth = 10
    read = searcher.search(question, 3)
    assert read[0].sentence.text == "The council paid for the work on the wheel."
    assert read[0].parts["rerank"] > read[1].parts["rerank"]


def test_the_gated_second_stage_is_the_default_and_fast_mode_is_the_first_stage(
        tmp_path: Path, hashing_spec, monkeypatch: pytest.MonkeyPatch):
    from index.choices import RERANK_DEPTH, RERANK_GAP

    monkeypatch.delenv("BOT_RERANK_DEPTH", raising=False)
    searcher = _searcher(tmp_path, hashing_spec)
    assert RERANK_DEPTH > 0
    assert (searcher.rerank_depth, searcher.rerank_gap) == (RERANK_DEPTH, RERANK_GAP)
    question = "Who paid for the mill wheel?"  # close call: read again
    assert "rerank" in searcher.search(question, 3)[0].parts
    monkeypatch.setenv("BOT_RERANK_DEPTH", "0")  # what --fast sets
    fast = _searcher(tmp_path / "again", hashing_spec)
    assert fast.rerank_depth == 0
    assert all("rerank" not in h.parts for h in fast.search(question, 3))


def test_the_gate_reads_again_only_where_the_first_stage_is_unsure(
        tmp_path: Path, hashing_spec, monkeypatch: pytest.MonkeyPatch):
    """At the shipped gate, a question whose best sentence the first stage puts far ahead is
    answered by the first stage alone (no ``rerank`` part, its order); one where another
    sentence is close is read again, and the answering sentence moves up."""
    from index.choices import RERANK_GAP

    monkeypatch.setenv("BOT_RERANK_DEPTH", "10")
    searcher = _searcher(tmp_path, hashing_spec)
    assert searcher.rerank_gap == RERANK_GAP
    sure, unsure = "Who repaired the mill wheel?", "Who paid for the mill wheel?"
    searcher.rerank_depth = 0
    first = {q: searcher.search(q, 3) for q in (sure, unsure)}
    assert first[sure][0].parts["margin"] > RERANK_GAP > first[unsure][0].parts["margin"]
    assert first[unsure][0].sentence.text.startswith("Volunteers who repaired")
    searcher.rerank_depth = 10
    kept = searcher.search(sure, 3)
    assert all("rerank" not in h.parts for h in kept)
    assert [h.sentence.id for h in kept] == [h.sentence.id for h in first[sure]]
    read = searcher.search(unsure, 3)
    assert all("rerank" in h.parts for h in read)
    assert read[0].sentence.text == "The council paid for the work on the wheel."


def test_the_gate_reads_the_sentences_close_to_the_best_and_a_reprint_is_no_rival():
    from index.search.searcher import unsure_head

    texts = {0: "The mill reopened.", 1: "the  mill REOPENED.", 2: "The wheel turns.",
             3: "Visitors came."}
    scores = np.array([5.0, 5.0, 3.9, 2.0])
    top = np.array([0, 1, 2, 3])
    assert unsure_head(scores, top, texts, 1.5).tolist() == [0, 1, 2]  # 3 is 3.0 behind
    assert unsure_head(scores, top, texts, 1.0).tolist() == []  # only the reprint is close
    assert unsure_head(scores, top, texts, float("inf")).tolist() == [0, 1, 2, 3]
    assert unsure_head(scores, top[:1], texts, float("inf")).tolist() == []


@pytest.mark.parametrize("value", ["-1", "many", "nan"])
def test_a_bad_gate_is_refused_in_one_line(value: str, monkeypatch: pytest.MonkeyPatch):
    from index.errors import BadInput
    from index.search.ranking import default_rerank_gap

    monkeypatch.setenv("BOT_RERANK_GAP", value)
    with pytest.raises(BadInput, match="BOT_RERANK_GAP"):
        default_rerank_gap()
    monkeypatch.setenv("BOT_RERANK_GAP", "inf")
    assert default_rerank_gap() == float("inf")


def test_the_combined_score_stays_on_the_first_stage_scale():
    """Dividing by the first-stage weight keeps the fitted order and the first stage's units
    (a conversation's priors and the verdict's margin read them)."""
    from index.search.ranking import combine

    weights = {"rerank": 15.0, "first_stage": 0.5}
    first, token = np.array([4.0, 3.0, 1.0]), np.array([0.5, 0.6, 0.9])
    combined = combine(token, first, weights)
    assert np.argsort(-combined).tolist() == \
        np.argsort(-(15.0 * token + 0.5 * first)).tolist()
    assert combined[0] - combined[1] == pytest.approx(1.0 - 30.0 * 0.1)


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


@pytest.mark.slow
def test_the_shipped_weights_fit_the_packaged_model_and_favour_the_answering_words(
        real_encoder):
    """The shipped question-token weights load for the packaged MiniLM and weigh the words a
    question turns on above its frame ("open", "store" above "its", "the"): the sentence
    repeating the question's frame ("The company said its store was the first") wins with
    every token alike; the one that says when the first shop opened wins with the weights."""
    weights = QuestionTokenWeights.load()
    assert weights is not None and weights.fits(real_encoder)
    question = "When did the company open its first store?"
    states = real_encoder.token_states([question], specials=False)[0]
    tokens = real_encoder.tokenizer.encode(question).tokens[1:-1]
    share = dict(zip(tokens, weights(states) / weights(states).sum()))
    assert min(share["open"], share["store"]) > max(share["its"], share["the"])
    texts = ["Acme: The company said its store was the first of many.",
             "Acme: Acme opened its first shop in 1998."]
    plain = TokenMatcher(real_encoder, QuestionTokenWeights.equal(real_encoder))
    assert plain.score(question, texts)[0] > plain.score(question, texts)[1]
    shipped = TokenMatcher(real_encoder).score(question, texts)
    assert shipped[1] > shipped[0]


def test_combiner_fitting_script_fits_token_matching(tmp_path: Path):
    """scripts/fit_combiner.py on three tiny articles with the hashing encoder: token
    matching's score gets a positive weight."""
    from .test_reranker import fit_combiner_on_tiny_articles

    written = fit_combiner_on_tiny_articles(tmp_path, "")
    assert written["scorer"] == "token matching"
    assert written["weights"]["rerank"] > 0


def test_token_head_fitting_script_writes_weights_the_matcher_reads(tmp_path: Path):
    """scripts/fit_token_head.py on three tiny articles (hashing encoder): it cross-fits by
    article and prints each mode's figures, and writes weights that token matching applies to
    that encoder's states (and to no other model's)."""
    import os

    from index.embed.encoders import EncoderSpec, load_encoder

    from .test_eval import ARTICLES, QUESTIONS, squad_json

    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(squad_json(ARTICLES, QUESTIONS)), encoding="utf-8")
    out = tmp_path / "token_weights.npz"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fit_token_head.py"), "--squad", str(squad),
         "--coqa", "", "--natural", "", "--depth", "5", "--backend", "hashing", "--model",
         "hashing", "--write", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cross-fitted SQuAD (6): first stage" in result.stdout
    assert "token match gated" in result.stdout
    weights = QuestionTokenWeights.load(out)
    assert weights is not None and weights.model == "hashing"
    assert np.all(np.isfinite(weights.u)) and np.isfinite(weights.c)
    encoder = load_encoder(EncoderSpec(model="hashing", backend="hashing"))
    assert TokenMatcher(encoder, weights).weights is weights


def test_a_missing_or_unreadable_weights_file_is_a_broken_install(tmp_path: Path):
    """The combiner was fitted with the shipped weights: equal ones would rank on another
    scale, so a lost or damaged file is said in one line, as the ranker's weights are."""
    from index.errors import BrokenInstall

    with pytest.raises(BrokenInstall, match="none.npz cannot be read.*fit_token_head.py"):
        QuestionTokenWeights.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(BrokenInstall, match="bad.npz cannot be read"):
        QuestionTokenWeights.load(tmp_path / "bad.npz")
