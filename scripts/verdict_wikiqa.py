"""Measure the verdict out of style, on WikiQA dev (measurement only: never fit on it).

    python scripts/verdict_wikiqa.py [../shared/eval/wikiqa-dev.tsv]

Each WikiQA document becomes one article (its title line, then its sentences as one
paragraph); all are indexed together and every question is asked as ``bot ask`` asks it. The
best sentence is right when WikiQA labels it as answering the question; questions with no
answering sentence in their document are the unanswerable ones (on topic: their document is
indexed). Prints the verdict's figures with the shipped model and threshold, beside the AUROC
of plain dense cosine and BM25 of the best sentence used as the confidence.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from bot.answering import Answerer
from bot.confidence import threshold
from bot.evaluation.metrics import auroc, verdict_scores
from index.embed.encoders import EncoderSpec, load_encoder
from index.indexer import update_index
from index.paths import cache_dir
from index.search.searcher import Searcher
from index.store.generations import IndexDir

ROOT = Path(__file__).resolve().parent.parent
WIKIQA = ROOT.parent / "shared" / "eval" / "wikiqa-dev.tsv"


def load(path: Path) -> tuple[dict[str, tuple[str, list[str]]],
                             dict[str, tuple[str, str, set[int]]]]:
    """Documents (title, sentences) and questions (text, document, answering sentence numbers)."""
    documents: dict[str, tuple[str, list[str]]] = {}
    questions: dict[str, tuple[str, str, set[int]]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            title, sentences = documents.setdefault(row["DocumentID"],
                                                    (row["DocumentTitle"], []))
            number = int(row["SentenceID"].rsplit("-", 1)[1])
            while len(sentences) <= number:
                sentences.append("")
            sentences[number] = row["Sentence"]
            question = questions.setdefault(row["QuestionID"],
                                            (row["Question"], row["DocumentID"], set()))
            if row["Label"] == "1":
                question[2].add(number)
    return documents, questions


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else WIKIQA
    if not path.exists():
        raise SystemExit(f"error: {path} not found")
    documents, questions = load(path)
    spec = EncoderSpec.from_env()
    encoder = load_encoder(spec)
    work = cache_dir() / "eval" / f"wikiqa-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
    folder = work / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    spans: dict[str, list[tuple[int, int]]] = {}
    for doc, (title, sentences) in documents.items():
        text, places = f"{title}\n\n", []
        for sentence in sentences:
            places.append((len(text), len(text) + len(sentence)))
            text += sentence + " "
        (folder / f"{doc}.txt").write_text(text.rstrip() + "\n", encoding="utf-8", newline="")
        spans[doc] = places
    store = IndexDir(work / "index")
    update_index([folder], store, encoder=encoder)
    answerer = Answerer(Searcher.open(store, encoder=encoder))
    conf, right, answerable, said = [], [], [], []
    dense, lexical = [], []
    for text, doc, gold in questions.values():
        answer = answerer.ask(text, k=1)
        top = answer.evidence[0] if answer.evidence else None
        holds = top is not None and Path(top.source).stem == doc and any(
            spans[doc][g][0] < top.end and top.start < spans[doc][g][1] for g in gold)
        conf.append(answer.confidence)
        said.append(answer.answered)  # the bot's verdict, by the model that judged the reply
        right.append(holds)
        answerable.append(bool(gold))
        dense.append(top.parts.get("dense", 0.0) if top else 0.0)
        lexical.append(top.parts.get("lexical_log", 0.0) if top else 0.0)
    conf_a, right_a, ans_a = np.array(conf), np.array(right), np.array(answerable)
    said_a = np.array(said, dtype=bool)
    # with the second stage gated, the replies it read are judged by its model and the others
    # by the first stage's: "answered" is each reply's own verdict, not one threshold
    cut, first_stage = threshold(reranked=answerer.searcher.rerank_depth > 0), threshold()
    scores = verdict_scores(conf_a, right_a, cut, ans_a, answered=said_a)
    print(f"WikiQA dev: {len(conf)} questions, {int(ans_a.sum())} with an answering sentence; "
          f"shipped threshold {cut:.3f}"
          + (f" where the second stage (depth {answerer.searcher.rerank_depth}) read the "
             f"reply, {first_stage:.3f} elsewhere" if cut != first_stage else ""))
    print(f"  best sentence right (answerable): {right_a[ans_a].mean():.3f}")
    print(f"  answered: precision {scores['precision']}, coverage {scores['coverage']}, "
          f"AUROC {scores['auroc']}, ECE {scores['ece']}")
    for name, values in (("dense cosine", dense), ("BM25 (log)", lexical)):
        v = np.array(values)
        print(f"  baseline: the best sentence's {name} as the confidence: AUROC "
              f"{auroc(v[right_a], v[~right_a]):.3f}")
    print(f"  answerable answered {np.mean(said_a[ans_a]):.3f}; "
          f"no answering sentence (on topic) answered {np.mean(said_a[~ans_a]):.3f}")


if __name__ == "__main__":
    main()
