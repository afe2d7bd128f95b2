"""Baselines: where they live, what they keep, and the drift they reveal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answering import Answer, Evidence
from bot.golden.baseline import (baseline_path, compare, load_baseline, snapshot,
                                 write_baseline)
from index.errors import BadInput


def snap(*texts: str, answered: bool = True, source: str = "a.txt") -> dict:
    return {"answered": answered,
            "evidence": [{"text": t, "source": source, "start": 0, "end": 1, "score": 0.5}
                         for t in texts]}


def test_baseline_sits_next_to_the_golden_file(tmp_path: Path) -> None:
    assert baseline_path(tmp_path / "seed.qa.yaml") == tmp_path / "seed.qa.baseline.json"
    assert baseline_path(tmp_path / "x.qa.yml") == tmp_path / "x.qa.baseline.json"


def test_identical_ranking_has_no_drift() -> None:
    drift = compare(snap("A", "B", "C"), snap("A", "B", "C"))
    assert not drift and drift.lines() == []


def test_lost_gained_reranked_and_flipped() -> None:
    drift = compare(snap("A", "B", "C"), snap("B", "A", "D", answered=False))
    assert drift.moved == [(2, 1, "B"), (1, 2, "A")]
    assert drift.lost == [(3, "C")] and drift.gained == [(3, "D")]
    assert drift.answered == (True, False)
    assert drift.lines() == ['now abstains (baseline: answered)', 're-ranked #2\u2192#1: "B"',
                             're-ranked #1\u2192#2: "A"', 'lost (was #3): "C"',
                             'gained (now #3): "D"']


def test_same_text_from_another_article_is_a_different_sentence() -> None:
    drift = compare(snap("A"), snap("A", source="b.txt"))
    assert drift.lost == [(1, "A")] and drift.gained == [(1, "A")]


def test_only_the_common_depth_is_compared() -> None:
    # k grew from 2 to 3: the new third sentence is not "gained"
    assert not compare(snap("A", "B"), snap("A", "B", "C"))
    assert compare(snap("A", "B"), snap("A", "C", "B")).lost == [(2, "B")]


def test_unrecorded_case() -> None:
    drift = compare(None, snap("A"))
    assert drift.recorded is False and drift
    assert drift.lines() == ["not in the baseline yet (--update records it)"]


def test_write_and_load_roundtrip_keeps_cases_not_run(tmp_path: Path) -> None:
    golden = tmp_path / "g.qa.yaml"
    article = tmp_path / "news" / "a.txt"
    answer = Answer("q?", True, 0.812345, [Evidence("A.", str(article), 3, 5, 0.71234, None,
                                                    None)])
    write_baseline(golden, {"one": snapshot(answer, golden), "two": snap("X")})
    write_baseline(golden, {"one": snap("Y")}, keep=["one", "two"])  # "two" was not run
    cases = load_baseline(golden)
    assert cases["two"] == snap("X")
    assert cases["one"] == snap("Y")
    write_baseline(golden, {"one": snapshot(answer, golden)}, keep=["one"])  # "two" left
    cases = load_baseline(golden)
    assert list(cases) == ["one"]
    assert cases["one"] == {"question": "q?", "answered": True, "confidence": 0.8123,
                            "evidence": [{"text": "A.", "source": "news/a.txt", "start": 3,
                                          "end": 5, "score": 0.7123}]}
    assert [p.name for p in tmp_path.iterdir()] == ["g.qa.baseline.json"]  # no temp files


def test_missing_and_broken_baselines(tmp_path: Path) -> None:
    golden = tmp_path / "g.qa.yaml"
    assert load_baseline(golden) is None
    baseline_path(golden).write_text("{not json", encoding="utf-8")
    with pytest.raises(BadInput, match="unreadable baseline.*--update"):
        load_baseline(golden)
    baseline_path(golden).write_text(json.dumps({"version": 99, "cases": {}}), encoding="utf-8")
    with pytest.raises(BadInput, match="not a version-1 baseline"):
        load_baseline(golden)
