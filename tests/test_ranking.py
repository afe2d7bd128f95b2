"""Each ranking component: term matching, answer-type cues, candidate parts, rankers,
near-duplicate merging."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answering import Answerer
from index.search.answer_types import has_kind, question_kind
from index.search.features import FEATURES
from index.indexer import update_index
from index.store.bm25 import Bm25
from index.search.ranking import HAND_WEIGHTS, Ranker, learned_weights, rrf
from index.search.searcher import Searcher
from index.search.term_match import match_terms

from .conftest import write_corpus

TEXTS = ["The harbour crane lifted containers all night.",
         "A rare orchid blooms in the harbour garden.",
         "Nothing here mentions it."]


def test_term_match_scores_equal_bm25_and_coverage_weighs_rarity():
    bm25 = Bm25.build(TEXTS)
    match = match_terms(bm25, "harbour orchid")
    assert np.allclose(match.scores, bm25.scores("harbour orchid"), atol=1e-5)
    present = match.present(np.array([0, 1, 2]))
    assert present.tolist() == [[True, False], [True, True], [False, False]]
    coverage = match.coverage(present)
    assert coverage[1] == pytest.approx(1.0) and coverage[2] == 0.0
    # "orchid" is in one text, "harbour" in two: the rarer term weighs more
    orchid_only = match.coverage(np.array([[False, True]]))[0]
    assert orchid_only > 0.5


def test_term_match_unknown_words():
    match = match_terms(Bm25.build(TEXTS), "zebra quantum")
    assert match.terms == [] and not match.scores.any()
    assert match.coverage(match.present(np.array([0]))).tolist() == [0.0]


@pytest.mark.parametrize("question, kind", [
    ("When did the war end?", "date"), ("In what year was it built?", "date"),
    ("How many people live there?", "number"), ("How much did it cost?", "number"),
    ("Who founded the company?", "name"), ("Whose idea was it?", "name"),
    ("What colour is the sky?", None),
])
def test_question_kind(question: str, kind: str | None):
    assert question_kind(question) == kind


def test_sentence_holds_kind():
    assert has_kind("date", "It opened in March 1998.", set())
    assert not has_kind("date", "It opened to great acclaim.", set())
    assert has_kind("number", "Some 40,000 fans came.", set())
    assert has_kind("number", "Three teams played.", set())
    assert not has_kind("number", "Few teams played.", set())
    assert has_kind("name", "The firm was founded by Lei Jun.", {"who", "founded", "the", "firm"})
    # the only capitalised words are the sentence start and words from the question
    assert not has_kind("name", "Xiaomi makes phones.", {"who", "makes", "phones", "xiaomi"})


def test_rrf_and_linear_rankers():
    dense = np.array([0.9, 0.1, 0.5, 0.2])
    lexical = np.array([0.0, 1.0, 0.8, 0.1])
    fused = rrf(dense, lexical)
    assert fused.argmax() == 2  # second in both lists beats first in one and last in the other
    assert fused[0] == pytest.approx(1 / 61 + 1 / 64)
    parts = {"dense": dense, "lexical": lexical, "passage": np.zeros(4)}
    assert Ranker.named("rrf").score(parts).argmax() == 2
    hand = Ranker.named("hand").score(parts)
    assert hand == pytest.approx(0.5 * dense + 0.3 * lexical)
    assert set(learned_weights()) <= set(FEATURES)
    assert learned_weights() != HAND_WEIGHTS  # the shipped weights were learned


@pytest.fixture
def context_index(tmp_path: Path, hashing_spec) -> Path:
    corpus = write_corpus(tmp_path / "news", {
        "telescope.txt": "Telescope news\n\nThe Vera Rubin telescope opened in Chile. "
                         "It will map the southern sky every three nights.\n\n"
                         "Weather delayed the first images.\n",
        "wire-a.txt": "Wire A\n\nThe merger of the two canal companies was approved on Monday.\n",
        "wire-b.txt": "Wire B\n\nThe merger of the two canal companies was approved on Monday.\n"
                      "\nShareholders cheered.\n",
    })
    update_index([corpus], tmp_path / "idx", spec=hashing_spec)
    return tmp_path / "idx"


def test_context_parts_credit_the_neighbouring_sentence(context_index: Path):
    searcher = Searcher.open(context_index)
    question = "How often will the Vera Rubin telescope map the sky?"
    pool = searcher.candidates(question, searcher.encoder.encode_query(question))
    assert pool is not None
    parts = pool.parts
    assert set(parts) == set(FEATURES) | {"known_terms"}
    assert all(len(v) == len(pool.ids) for v in parts.values())
    texts = searcher.table.texts(pool.ids)
    second = next(n for n, text in enumerate(texts) if text.startswith("It will map"))
    # "Vera Rubin telescope" is only in the sentence before: context covers more of the question
    assert parts["context_coverage"][second] > parts["coverage"][second]
    assert parts["cue_number"][second] == 1.0  # "how often" wants a number; "three" is one
    assert parts["title"][second] > 0  # "telescope" is in the title


def test_same_sentence_in_two_articles_is_one_answer_with_both_sources(context_index: Path):
    answer = Answerer.open(context_index).ask("When was the canal companies merger approved?",
                                              k=3)
    texts = [e.text for e in answer.evidence]
    assert len(texts) == len(set(texts))
    first = answer.to_json()["answers"][0]
    assert first["text"].startswith("The merger of the two canal companies")
    assert sorted(Path(s["source"]).name for s in first["sources"]) == ["wire-a.txt",
                                                                        "wire-b.txt"]
    for place in first["sources"]:
        text = Path(place["source"]).read_text(encoding="utf-8")
        assert text[place["start"]:place["end"]] == first["text"]
    assert {"question", "answered", "answers"} <= set(answer.to_json())
    assert {"text", "source", "start", "end", "score", "title", "date",
            "scores"} <= set(first)
    json.dumps(answer.to_json())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["In", " ", "1998", "3rd century", "1990s", "May 4", "4 May",
                                 "BC", "AD", "ce", "Monday", "tuesDAY", "today", "next week",
                                 "this Year", "band", "weekend", "Tueſday", "x", ".", "\u0663",
                                 "yesterday's", "ad-hoc", "_AD"]), max_size=12).map("".join))
def test_date_precheck_never_changes_the_date_cue(text: str):
    from index.search.answer_types import _DATE, has_kind

    assert has_kind("date", text, set()) == (_DATE.search(text) is not None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["In", " ", "1998", "2024", "3rd century", "1990s", "May 4",
                                 "4 MAY", "BC", "bce", "Monday", "tuesDAY", "next week", "band",
                                 "Seven", "HUNDREDS", "twice", "percent", "one-time", "alone",
                                 "x", ".", "_", "Tueſday", "ſix", "\u0663", "é"]),
                max_size=12).map("".join))
def test_recorded_kinds_are_what_the_patterns_find(text: str):
    from index.search.answer_types import _DATE, _NUMBER, HELD_BITS, held_kinds

    expected = (HELD_BITS["date"] if _DATE.search(text) else 0) | \
        (HELD_BITS["number"] if _NUMBER.search(text) else 0)
    assert held_kinds(text) == expected


@pytest.mark.parametrize("content", [None, "not json", '{"weights": []}', '{"weights": {}}',
                                     '{"weights": {"dense": "high"}}', "[1, 2]"])
def test_missing_or_damaged_ranker_weights_fail_loudly(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       content: str | None):
    from click.testing import CliRunner

    from bot.cli import cli
    from index.errors import BrokenInstall
    from index.search import ranking

    weights = tmp_path / "ranker_weights.json"
    if content is not None:
        weights.write_text(content)
    monkeypatch.setattr(ranking, "WEIGHTS_FILE", weights)
    ranking.learned_weights.cache_clear()
    try:
        with pytest.raises(BrokenInstall, match="ranker weights .* reinstall sentence-bot"):
            ranking.learned_weights()
        (tmp_path / "news").mkdir()
        (tmp_path / "news" / "a.txt").write_text("Otters hold hands while they sleep.\n")
        runner = CliRunner()
        runner.invoke(cli, ["index", str(tmp_path / "news"), "--index-dir",
                            str(tmp_path / "idx"), "--backend", "hashing", "--model", "hashing"])
        result = runner.invoke(cli, ["ask", "otters", "--index-dir", str(tmp_path / "idx")])
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.startswith("error: the shipped ranker weights")
        assert len(result.stderr.splitlines()) == 1
    finally:
        ranking.learned_weights.cache_clear()
