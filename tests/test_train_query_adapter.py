"""scripts/train_query_adapter.py: a linear map of the question's vector, fitted to bring it
nearer its answering sentence, cross-fitted by article and measured on a set it never saw
(small made-up fixtures and the hashing encoder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from . import verdict_fixture as fx
from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import train_query_adapter as tqa  # noqa: E402

OTHER_TOWNS = [("Ivybridge", "Erme", 1290, "Nicola Bray", 3, "paper", "June", "Tom Ince"),
               ("Kelton", "Kale", 1377, "Osric Penn", 9, "salt", "November", "Una Wyatt")]


def made_up_set(dim: int = 16, articles: int = 8, per_article: int = 6,
                seed: int = 0) -> tqa.DenseSet:
    """Sentences as random unit vectors; each question is its gold sentence turned by a fixed
    random rotation, plus noise, so that plain cosine finds few and the rotation back is
    what a fit can learn."""
    rng = np.random.default_rng(seed)
    mixing = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    sentences = rng.standard_normal((articles * per_article, dim)).astype(np.float32)
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    gold = rng.integers(0, len(sentences), 4 * len(sentences))
    questions = sentences[gold] @ mixing.T + 0.05 * rng.standard_normal((len(gold), dim))
    questions = (questions / np.linalg.norm(questions, axis=1, keepdims=True)).astype(np.float32)
    article_of = np.repeat(np.arange(articles), per_article)
    return tqa.DenseSet("made up", questions, sentences, article_of,
                        [np.array([g]) for g in gold], article_of[gold],
                        bm25=np.zeros(len(gold), dtype=np.int64))


def test_the_identity_ranks_as_plain_dense_retrieval():
    ds = made_up_set()
    eye = np.eye(ds.questions.shape[1], dtype=np.float32)
    assert np.array_equal(tqa.ranks(ds, eye), tqa.ranks(ds, None))
    assert np.allclose(tqa.own_average_precision(ds, eye), tqa.own_average_precision(ds, None))


def test_a_fit_undoes_a_distortion_on_articles_it_never_saw():
    ds = made_up_set()
    held = tqa.cross_fit([ds], dict(pull=1e-4, temperature=0.05, iterations=100))
    plain = tqa.ranks(ds, None)
    assert np.mean(plain == 1) < 0.2
    assert np.mean(held["made up"] == 1) > 0.8, held["made up"]


def test_a_strong_pull_keeps_the_identity():
    ds = made_up_set()
    W = tqa.fit_adapter([(ds, ds.sentence_article >= 0)], pull=1e3, iterations=50)
    assert np.abs(W - np.eye(len(W))).max() < 1e-3


def test_diagonal_and_low_rank_maps_have_their_shape():
    ds = made_up_set()
    every = ds.sentence_article >= 0
    W = tqa.fit_adapter([(ds, every)], kind="diagonal", pull=1e-3, iterations=30)
    assert np.count_nonzero(W - np.diag(np.diag(W))) == 0
    W = tqa.fit_adapter([(ds, every)], kind="low-rank", rank=2, pull=1e-3, iterations=30)
    assert np.linalg.matrix_rank(W - np.eye(len(W)), tol=1e-4) <= 2


def test_the_script_cross_fits_and_reports_a_set_it_never_saw(tmp_path: Path):
    for name, data in (("squad.json", fx.squad(fx.TOWNS)), ("coqa.json", fx.coqa(fx.TOWNS)),
                       ("other.json", fx.squad(OTHER_TOWNS))):
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_query_adapter.py"),
         "--squad", str(tmp_path / "squad.json"), "--coqa", str(tmp_path / "coqa.json"),
         "--natural", str(ROOT / "scripts" / "data" / "natural-train" / "questions.yaml"),
         "--natural-weight", "2", "--report", str(tmp_path / "other.json"),
         "--backend", "hashing", "--model", "hashing", "--iterations", "20"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    # 8 towns: 48 SQuAD questions; CoQA: every turn whose rationale lies in one sentence
    assert lines[0].startswith("fitting sets: SQuAD 48, CoQA ")
    assert ", natural-train " in lines[0]
    assert [line.split(":")[0] for line in lines[1:4]] == [
        "cross-fitted SQuAD", "cross-fitted CoQA", "cross-fitted natural-train"]
    report = next(line for line in lines if line.startswith("out of style other.json (12)"))
    adapted, plain, bm25 = (float(part.split("P@1 ")[1].split()[0])
                            for part in report.split("; plain "))
    assert 0.0 <= adapted <= 1.0 and 0.0 <= plain <= 1.0
    # each made-up question names its town and the words of its answer's sentence
    assert bm25 > 0.5
    assert any(line.startswith("pooled out of style (not dialogues, 12)") for line in lines)
