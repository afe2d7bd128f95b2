"""scripts/choose_conversation.py: a setting chosen by cross-validation over stories from
tune_conversation's turn rows, each file counting as much whatever its number of turns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "choose_conversation.py"


def _rows(setting: str, file: str, stories: list[int], turns: int, right: int) -> list[dict]:
    return [{"setting": setting, "file": file, "story": s, "dialogue": s, "turn": t,
             "rank": 1 if t < right else 0, "best": 0}
            for s in stories for t in range(turns)]


def _choose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_the_small_style_counts_as_much_as_the_large_one(tmp_path: Path):
    coqa, news = [0, 2, 4, 6, 8], [0, 1, 2, 3, 4]
    rows = (_rows("long", "coqa", coqa, 10, 8) + _rows("long", "news", news, 2, 0)
            + _rows("both", "coqa", coqa, 10, 6) + _rows("both", "news", news, 2, 1)
            + _rows("half", "coqa", coqa, 10, 9))  # no news turns: not a candidate
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = _choose(str(path), "--folds", "5")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # pooled over turns "long" wins (40 of 60 right against 35); per file, "both" does
    assert lines[:2] == ["long: P@1 0.8000 / 0.0000, mean 0.4000",
                         "both: P@1 0.6000 / 0.5000, mean 0.5500"]
    assert lines[2:7] == [f"fold {k}: both" for k in range(5)]
    assert lines[7] == "cross-validated choice: P@1 0.6000 / 0.5000 (coqa, news), mean 0.5500"
    assert lines[8] == "chosen on all folds: both"


def test_each_fold_is_scored_with_the_setting_the_other_folds_chose(tmp_path: Path):
    news = [0, 1]
    rows = (_rows("a", "news", [0], 2, 2) + _rows("a", "news", [1], 2, 0)
            + _rows("b", "news", [0], 2, 0) + _rows("b", "news", [1], 2, 1))
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = _choose(str(path), "--folds", str(len(news))).stdout.splitlines()
    # fold 0 (story 0) is scored with b, chosen on story 1, and the other way round
    assert lines[2:4] == ["fold 0: b", "fold 1: a"]
    assert lines[4].startswith("cross-validated choice: P@1 0.0000 (news)")


def test_rows_of_no_complete_setting_or_a_bad_file_are_one_line_errors(tmp_path: Path):
    missing = _choose(str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and missing.stderr.startswith("error:")
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"setting": "a"}\n')
    run = _choose(str(bad))
    assert run.returncode == 1 and run.stderr.startswith("error:")
