"""Answer quality on data the ranker and the confidence never saw: WikiQA dev (measurement
only, never fitted on), so that overfitting to SQuAD half-a would show here.

All 2,708 summary sentences of its 293 articles are indexed together (one article file each:
title line, one sentence per paragraph); each of the 126 questions with an answering sentence
is asked. Plain dense and BM25 retrieval on the same indexed sentences are measured beside the
bot in the same run (the figures are in docs/quality.md).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from .conftest import SHARED

WIKIQA = SHARED / "eval" / "wikiqa-dev.tsv"
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def load_wikiqa(path: Path) -> tuple[dict[str, tuple[str, list[str]]], list[tuple[str, set[str]]]]:
    """``(articles by document id: (title, sentences), [(question, answering sentences)])``."""
    articles: dict[str, tuple[str, list[str]]] = {}
    answers: dict[str, set[str]] = defaultdict(set)
    questions: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            title, sentences = articles.setdefault(row["DocumentID"], (row["DocumentTitle"], []))
            if row["Sentence"] not in sentences:
                sentences.append(row["Sentence"])
            questions[row["QuestionID"]] = row["Question"]
            if row["Label"] == "1":
                answers[row["QuestionID"]].add(_words(row["Sentence"]))
    return articles, [(questions[q], gold) for q, gold in answers.items()]


def _words(text: str) -> str:
    return " ".join(text.split()).lower()


def hit(text: str, gold: set[str]) -> bool:
    """A returned sentence answers when it is, holds or is held by an answering sentence."""
    found = _words(text)
    return any(found == g or (len(found) > 20 and found in g) or g in found for g in gold)


@pytest.mark.slow
@pytest.mark.skipif(not WIKIQA.exists(), reason="../shared/eval is absent")
def test_the_bot_on_held_out_wikiqa_beats_bm25_and_matches_dense(tmp_path: Path, real_encoder):
    from bot.answering import Answerer
    from index.indexer import update_index

    articles, questions = load_wikiqa(WIKIQA)
    assert len(questions) == 126
    corpus = tmp_path / "wikiqa"
    corpus.mkdir()
    for number, (doc, (title, sentences)) in enumerate(sorted(articles.items())):
        name = f"{number:03d}-{_UNSAFE.sub('-', title)[:40]}.txt"
        (corpus / name).write_text(title + "\n\n" + "\n\n".join(sentences) + "\n",
                                   encoding="utf-8")
    update_index([corpus], tmp_path / "idx", encoder=real_encoder)
    answerer = Answerer.open(tmp_path / "idx", encoder=real_encoder)
    searcher = answerer.searcher
    texts = searcher.docs.all_sentence_texts()
    bot = dense = bm25 = 0
    for question, gold in questions:
        answer = answerer.ask(question, k=1)
        bot += bool(answer.evidence) and hit(answer.evidence[0].text, gold)
        query = searcher.encoder.encode_query(question)
        dense += hit(texts[int(np.argmax(np.asarray(searcher.sentence_vectors) @ query))], gold)
        scores = searcher.bm25.scores(question)
        bm25 += bool(len(scores)) and scores.max() > 0 and hit(texts[int(np.argmax(scores))], gold)
    n = len(questions)
    print(f"\nWikiQA dev P@1 over {n} questions: bot {bot / n:.3f}, dense {dense / n:.3f}, "
          f"bm25 {bm25 / n:.3f}")
    assert bot / n > bm25 / n + 0.05  # the learned ranker carries over to unseen data
    assert bot / n >= dense / n - 0.04  # and does not fall below its own dense signal
    assert bot / n >= 0.50
