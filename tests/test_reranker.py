"""The cross-encoder reranker: the shipped int8 model loads without torch and orders sentences
by whether they answer; the export script produces an int8 model that agrees with its source;
the searcher adds the ``rerank`` part and keeps a fast mode without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.errors import ModelUnavailable
from index.search.reranker import MODEL_DIR, Reranker, pair_text

from .conftest import ROOT, write_corpus

needs_model = pytest.mark.skipif(
    not (MODEL_DIR / "model.onnx").is_file(),
    reason="no trained reranker in index/search/reranker/ (python scripts/train_reranker.py)")

ARTICLE = """Harbour ferries stop as crews walk out

Crews on the harbour ferries stopped work on Monday, leaving 40,000 daily passengers stranded.
The walkout was called by the Maritime Workers Union after talks with the operator broke down.
The company's chief executive, Graham Pell, called the strike deeply disappointing.
Transport officials added twelve extra buses to the routes around the harbour.
"""


@needs_model
def test_shipped_model_is_small_int8_onnx_and_loads_without_torch():
    model = MODEL_DIR / "model.onnx"
    assert model.is_file() and model.stat().st_size < 25_000_000
    ops = {n.op_type for n in __import__("onnx").load(str(model)).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear"}, "the weights are not int8"
    code = ("import sys; from index.search.reranker import Reranker; "
            "r = Reranker(); print(r.score('who?', ['a.', 'b.']).shape); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == ["(2,)", "False"]


def test_missing_model_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ModelUnavailable, match="no reranker model in"):
        Reranker(tmp_path)


@needs_model
@pytest.mark.parametrize("question, answer", [
    ("Who runs the ferry company?", 2),
    ("Why did the ferries stop?", 1),
    ("How are people getting around the harbour instead?", 3),
    ("How many commuters are affected?", 0),
])
def test_the_answering_sentence_scores_highest(question: str, answer: int):
    sentences = ARTICLE.splitlines()[2:6]
    texts = [pair_text("Harbour ferries stop as crews walk out", s) for s in sentences]
    scores = Reranker().score(question, texts)
    assert int(np.argmax(scores)) == answer, (question, scores)


@needs_model
def test_searcher_reranks_the_first_stage_best_and_fast_mode_skips_it(tmp_path: Path,
                                                                       hashing_spec):
    from index.embed.encoders import load_encoder
    from index.indexer import update_index
    from index.search.searcher import Searcher

    encoder = load_encoder(hashing_spec)
    update_index([write_corpus(tmp_path / "news", {"ferry.txt": ARTICLE})], tmp_path / "idx",
                 encoder=encoder)
    searcher = Searcher.open(tmp_path / "idx", encoder=encoder)
    searcher.rerank_depth = 20
    question = "Who runs the ferry company?"
    reranked = searcher.search(question, 3)
    assert "Graham Pell" in reranked[0].sentence.text
    assert all("rerank" in h.parts for h in reranked)
    assert reranked[0].parts["rerank"] >= max(h.parts["rerank"] for h in reranked)
    searcher.rerank_depth = 0
    fast = searcher.search(question, 3)
    assert all("rerank" not in h.parts for h in fast)
    searcher.rerank_depth = 1  # only the first stage's best is read; it stays first
    assert searcher.search(question, 3)[0].sentence.id == fast[0].sentence.id


@pytest.mark.slow
def test_export_gives_an_int8_model_that_agrees_with_the_trained_one(tmp_path: Path):
    """A tiny pair scorer (2 layers) saved as the training script saves it, exported and
    quantised: the int8 ONNX model scores pairs as the torch model does."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    sys.path.insert(0, str(ROOT / "scripts"))
    from train_reranker import base_model, export, pair_scorer, save_scorer

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=128)
    scorer = pair_scorer(BertModel(config, add_pooling_layer=False), 64).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_model()))
    save_scorer(scorer, tokenizer, tmp_path / "trained")
    target = export(tmp_path / "trained", tmp_path / "onnx")
    assert json.loads((target / "reranker.json").read_text())["layers"] == 2
    ops = {n.op_type for n in __import__("onnx").load(str(target / "model.onnx")).graph.node}
    assert "MatMulInteger" in ops or "QAttention" in ops
    question = "who runs the ferry company?"
    texts = ARTICLE.splitlines()[2:6]
    with torch.no_grad():
        batch = tokenizer([question] * 4, texts, padding=True, return_tensors="pt")
        expected = scorer(batch["input_ids"], batch["attention_mask"],
                          batch["token_type_ids"]).view(-1).numpy()
    got = Reranker(target, threads=1).score(question, texts)
    assert np.corrcoef(expected, got)[0, 1] > 0.9, (expected, got)


def fit_combiner_on_tiny_articles(tmp_path: Path, scorer: str) -> dict:
    """Run scripts/fit_combiner.py on three tiny articles (hashing encoder) with the second
    stage ``scorer`` (``$BOT_RERANKER``: "" token matching, "cross-encoder"), check that it
    cross-validated and printed its figures, and return the weights file it wrote."""
    import os

    from .test_eval import ARTICLES, QUESTIONS, squad_json

    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(squad_json(ARTICLES, QUESTIONS)), encoding="utf-8")
    out = tmp_path / "combiner.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fit_combiner.py"), "--squad", str(squad),
         "--coqa", "", "--fold", "-1", "--folds", "2", "--depth", "5", "--backend", "hashing",
         "--model", "hashing", "--write", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "BOT_RERANKER": scorer})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rerank alone: p@1" in result.stdout and "combined, l2=" in result.stdout
    return json.loads(out.read_text())


@needs_model
def test_combiner_fitting_script_runs_on_a_small_fixture(tmp_path: Path):
    """scripts/fit_combiner.py on three tiny articles (hashing encoder, the shipped
    reranker): it cross-validates, prints held-out figures and writes the two weights."""
    written = fit_combiner_on_tiny_articles(tmp_path, "cross-encoder")
    assert set(written["weights"]) == {"rerank", "first_stage"}
    assert written["weights"]["rerank"] > 0  # the reranker's score counts for the answer
