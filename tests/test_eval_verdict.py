"""``bot eval``'s verdict figures: precision and coverage of "answered", AUROC, ECE, the
answered rates of on-topic unanswerable (SQuAD v2.0 ``is_impossible``) and out-of-corpus
questions, and ``--plot``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.evaluation.metrics import (expected_calibration_error, precision_coverage,
                                    reliability, verdict_scores)
from bot.evaluation.squad import load_squad

from . import verdict_fixture as fx


@pytest.fixture
def v2_file(tmp_path: Path) -> Path:
    path = tmp_path / "towns-v2.json"
    path.write_text(json.dumps(fx.squad(fx.TOWNS[:4], impossible=True)), encoding="utf-8")
    return path


@pytest.fixture
def other_file(tmp_path: Path) -> Path:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(fx.squad(fx.TOWNS[4:6])), encoding="utf-8")
    return path


def run_eval(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["eval", *args, "--backend", "hashing",
                                      "--model", "hashing"])
    return result.exit_code, result.stdout, result.stderr


def test_v2_unanswerable_questions_are_kept_apart(v2_file: Path):
    squad = load_squad(v2_file)
    assert len(squad.questions) == 4 * 6 and len(squad.unanswerable) == 4 * 2
    assert all(not q.answer_starts for q in squad.unanswerable)
    half = squad.subset([1, 3])
    assert len(half.unanswerable) == 4 and {q.article for q in half.unanswerable} == {0, 1}


def test_eval_reports_the_verdict_on_all_kinds_of_question(v2_file, other_file, tmp_path):
    code, out, err = run_eval(str(v2_file), "--ooc", str(other_file), "--json",
                              "--work-dir", str(tmp_path / "w"))
    assert code == 0, err
    verdict = json.loads(out)["verdict"]
    assert verdict["unanswerable"]["questions"] == 8 and verdict["ooc"]["questions"] == 12
    mix = verdict["all"]
    assert mix["replies"] == 24 + 8 + 12
    assert 0.0 <= mix["coverage"] <= mix["answered"] * mix["replies"] / 24 + 1e-3  # rounded
    assert 0.0 <= mix["ece"] <= 1.0 and 0.0 <= mix["auroc"] <= 1.0
    assert set(verdict["baseline_auroc"]) == {"dense", "bm25"}  # plain baselines, same replies
    assert all(0.0 <= v <= 1.0 for v in verdict["baseline_auroc"].values())
    assert sum(n for _, _, n in verdict["reliability"]) == mix["replies"]
    thresholds = [t for t, _, _ in verdict["precision_coverage"]]
    assert thresholds == sorted(thresholds, reverse=True)
    coverage = [c for _, _, c in verdict["precision_coverage"]]
    assert coverage == sorted(coverage) and coverage[-1] <= 1.0


def test_eval_draws_the_verdict_in_the_terminal_and_as_a_picture(v2_file, tmp_path):
    svg, png = tmp_path / "verdict.svg", tmp_path / "verdict.png"
    code, out, err = run_eval(str(v2_file), "--work-dir", str(tmp_path / "w"), "--plot", str(svg))
    assert code == 0, err
    assert "reliability" in out and "precision-coverage" in out and "unanswerable answered" in out
    assert "plain dense cosine" in out and "plain BM25" in out
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    code, _, err = run_eval(str(v2_file), "--work-dir", str(tmp_path / "w"), "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_refuses_a_picture_it_cannot_draw_before_any_work(v2_file, tmp_path):
    code, out, err = run_eval(str(v2_file), "--work-dir", str(tmp_path / "w"),
                              "--plot", str(tmp_path / "verdict.gif"))
    assert code == 1 and err.startswith("error: --plot") and ".svg or .png" in err
    assert not (tmp_path / "w").exists()


def test_ece_is_zero_when_confidence_matches_the_share_right():
    conf = np.array([0.25] * 4 + [0.75] * 4)
    right = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    assert expected_calibration_error(conf, right) == pytest.approx(0.0)
    assert reliability(conf, right) == [(0.25, 0.25, 4), (0.75, 0.75, 4)]
    assert expected_calibration_error(np.full(4, 0.9), np.zeros(4, bool)) == pytest.approx(0.9)


def test_precision_coverage_and_verdict_scores_by_hand():
    conf = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    right = np.array([True, True, False, True, False])
    answerable = np.array([True, True, True, True, False])
    t, p, c = precision_coverage(conf, right, answerable)
    assert t.tolist() == [0.9, 0.8, 0.3, 0.1]  # tied confidences answered together
    assert p.tolist() == pytest.approx([1.0, 2 / 3, 3 / 4, 3 / 5])
    assert c.tolist() == pytest.approx([1 / 4, 2 / 4, 3 / 4, 3 / 4])
    s = verdict_scores(conf, right, 0.5, answerable)
    assert s["answered"] == 0.6 and s["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert s["coverage"] == 0.5 and s["auroc"] == pytest.approx(4 / 6 + 0.5 / 6, abs=1e-4)
    weighted = verdict_scores(conf, right, 0.5, answerable, weight=[1, 1, 3, 1, 1])
    assert weighted["precision"] == 0.4  # the wrong answer weighs three
    assert verdict_scores(conf, right, 0.95)["precision"] is None  # nothing answered


def test_answered_is_each_replys_own_verdict_when_two_models_judged_them():
    """A gated second stage: the replies it read are judged by its model at its threshold,
    the others by the first stage's at another; precision and coverage read those verdicts,
    not one threshold over all confidences."""
    from bot.evaluation.runner import Asked, verdict_report

    conf = np.array([0.70, 0.70, 0.60])
    right = np.array([True, False, True])
    said = np.array([True, False, True])  # 0.70 under the read model's 0.75, 0.60 over 0.58
    s = verdict_scores(conf, right, 0.75, answered=said)
    assert s["answered"] == pytest.approx(2 / 3, abs=1e-4) and s["precision"] == 1.0
    assert s["coverage"] == pytest.approx(2 / 3, abs=1e-4)
    assert verdict_scores(conf, right, 0.75)["answered"] == 0.0  # one threshold: none
    asked = Asked(confidence=conf.tolist(), answered=said.tolist(), right=right.tolist(),
                  best_dense=[0.5] * 3, best_bm25=[1.0] * 3, reranked=True)
    report = verdict_report(asked, None, None)
    assert report["all"]["precision"] == 1.0 and report["answerable"]["answered"] == \
        pytest.approx(2 / 3, abs=1e-4)
    from bot.confidence import threshold
    from bot.evaluation.report import render_verdict

    # the shipped file holds both models, at two thresholds: the line says which reads which
    assert report["first_stage_threshold"] == threshold(False) != report["threshold"]
    assert f">= {threshold(False):.3f} elsewhere" in render_verdict(report)[0]
