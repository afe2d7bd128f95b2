"""scripts/train_ranker.py on a small made-up fixture (hashing encoder): the ranker's weights are
fitted on SQuAD-format questions and CoQA turns, cross-validated by article, and checked on the
half of the articles they never saw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from index.search.features import FEATURES

from . import verdict_fixture as fx
from .conftest import ROOT


def train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    for name, data in (("squad.json", fx.squad(fx.TOWNS)), ("coqa.json", fx.coqa(fx.TOWNS))):
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_ranker.py"),
         "--squad", str(tmp_path / "squad.json"), "--coqa", str(tmp_path / "coqa.json"),
         "--backend", "hashing", "--model", "hashing", "--folds", "2", "--l2", "0.001,0.01",
         *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)


def figures(line: str) -> dict[str, float]:
    words = line.split(": ")[-1].split()
    return {words[i]: float(words[i + 1]) for i in range(words.index("p@1"), len(words) - 1, 2)}


def test_fits_on_squad_and_every_coqa_turn_and_writes_all_parts(tmp_path: Path):
    out = tmp_path / "weights.json"
    run = train(tmp_path, "--write", "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    # 8 towns: 48 SQuAD questions, and 5 answerable turns per CoQA story, short follow-ups
    # ("When did he found it?") included: 40 more
    assert run.stdout.startswith("88 questions (SQuAD, CoQA)")
    written = json.loads(out.read_text(encoding="utf-8"))
    assert list(written["weights"]) == list(FEATURES)
    assert written["data"].startswith("SQuAD squad.json (8 articles) + CoQA dev (8 stories, "
                                      "turns of >= 1 words), 88 questions")
    # each made-up question names its town and asks for what one sentence holds
    assert written["cross_validated"]["p@1"] > 0.6


def test_fit_on_one_half_reports_the_other_beside_plain_dense_and_bm25(tmp_path: Path):
    run = train(tmp_path, "--fit-half", "even", "--coqa-min-words", "5")
    assert run.returncode == 0, run.stderr[-2000:]
    # fitted on 4 towns: 24 SQuAD questions, 3 turns of >= 5 words per story
    assert run.stdout.startswith("36 questions (SQuAD, CoQA)")
    held = [line for line in run.stdout.splitlines() if line.startswith("held out")]
    assert [line.split(" p@1")[0] for line in held] == [
        "held out, SQuAD odd half (24 questions): ranker", "held out, SQuAD odd half: plain dense",
        "held out, SQuAD odd half: plain BM25", "held out, CoQA odd half (12 questions): ranker",
        "held out, CoQA odd half: plain dense", "held out, CoQA odd half: plain BM25"]
    for line in held:
        row = figures(line)
        assert 0.0 <= row["p@1"] <= row["mrr@10"] <= row["r@10"] <= 1.0


def test_two_turn_sets_of_one_coqa_file_each_get_their_own_candidates(tmp_path: Path):
    """CoQA's turns of >= 5 words and all its turns share one work directory (the same
    stories, one index) but not their candidates: a fit on all turns after one on the long
    turns still fits on all of them."""
    long_turns = train(tmp_path, "--coqa-min-words", "5")
    assert long_turns.returncode == 0, long_turns.stderr[-2000:]
    assert long_turns.stdout.startswith("72 questions (SQuAD, CoQA)")  # 48 + 3 turns × 8
    every_turn = train(tmp_path)
    assert every_turn.returncode == 0, every_turn.stderr[-2000:]
    assert every_turn.stdout.startswith("88 questions (SQuAD, CoQA)")


@pytest.mark.parametrize("args, message", [
    (("--write", "--fit-half", "even"), "--write fits on all articles"),
    (("--features", "dense,nonsense"), "unknown features ['nonsense']"),
    (("--natural-weight", "-1"), "--natural-weight must not be negative"),
])
def test_contradictory_or_unknown_options_are_refused(tmp_path: Path, args, message):
    run = train(tmp_path, *args)
    assert run.returncode != 0 and message in run.stderr


def test_a_natural_training_file_is_fitted_on_weighted_and_reported_alone(tmp_path: Path):
    folder = tmp_path / "natural-train"
    folder.mkdir()
    path = fx.natural(fx.TOWNS, folder)
    out = tmp_path / "weights.json"
    run = train(tmp_path, "--natural", str(path), "--natural-weight", "3", "--write",
                "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    # 88 SQuAD and CoQA questions + 3 answerable ones a town (the null ones are not ranked)
    assert run.stdout.startswith("112 questions (SQuAD, CoQA, natural-train)")
    alone = [line for line in run.stdout.splitlines() if line.startswith("cross-validated,")]
    assert [line.split(" p@1")[0] for line in alone][-3:] == [
        "cross-validated, natural-train (24 questions): ranker",
        "cross-validated, natural-train: plain dense", "cross-validated, natural-train: plain BM25"]
    assert all(0.0 <= figures(line)["p@1"] <= 1.0 for line in alone)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["data"].split(", 112 questions")[0].endswith(
        " + natural-train (8 articles, 24 questions, each weighing 3)")
    assert written["fitted_by"].endswith(f"--natural {path} --natural-weight 3")
    # the weight counts: a natural set weighed far more pulls the fit towards it
    heavy = train(tmp_path, "--natural", str(path), "--natural-weight", "50", "--write",
                  "--out", str(tmp_path / "heavy.json"))
    assert heavy.returncode == 0, heavy.stderr[-2000:]
    assert json.loads((tmp_path / "heavy.json").read_text())["weights"] != written["weights"]


def test_fit_on_one_half_holds_out_the_other_half_of_the_natural_articles(tmp_path: Path):
    folder = tmp_path / "natural-train"
    folder.mkdir()
    run = train(tmp_path, "--natural", str(fx.natural(fx.TOWNS, folder)), "--fit-half", "even")
    assert run.returncode == 0, run.stderr[-2000:]
    held = [line for line in run.stdout.splitlines() if line.startswith("held out, natural")]
    assert [line.split(" p@1")[0] for line in held] == [
        "held out, natural-train odd half (12 questions): ranker",
        "held out, natural-train odd half: plain dense",
        "held out, natural-train odd half: plain BM25"]


def test_sets_never_fitted_on_are_reported_and_their_right_first_pooled(tmp_path: Path):
    folder = tmp_path / "other"
    folder.mkdir()
    other = fx.natural(fx.TOWNS[:4], folder)
    run = train(tmp_path, "--report", str(other), str(other))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    ranker = next(line for line in lines if line.startswith(
        f"held out, {other.name} (never fitted on) (12 questions): ranker"))
    pooled = next(line for line in lines if line.startswith("out of style, pooled"))
    right = round(figures(ranker)["p@1"] * 12)
    assert pooled.startswith("out of style, pooled (24 questions): right first ranker "
                             f"{2 * right}, plain dense ")
    refused = train(tmp_path, "--report", str(tmp_path / "coqa.json"))
    assert refused.returncode != 0 and "a question file, not dialogues" in refused.stderr
