"""scripts/tune_conversation.py: the conversation tuned on two styles at once (CoQA-format
files, each in its own index), the walk's step table counted from their gold rationales,
mixed, and cross-validated by story (the news dialogues written for fitting and the hashing
encoder)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from bot.evaluation.coqa import load_coqa
from index.indexer import split_article
from index.ingest.readers import read_txt

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import tune_conversation as tune  # noqa: E402

SCRIPT = ROOT / "scripts" / "tune_conversation.py"
TRAIN = ROOT / "scripts" / "data" / "dialogues-train" / "news-dialogues-train.json"


def _asked_without_index() -> tune.Asked:
    """The fitting set with each story's sentences numbered as an index numbers them."""
    coqa = load_coqa(TRAIN)
    spans, first = [], 0
    for article in coqa.articles:
        (read,) = read_txt("story.txt", article.text)
        sentences = split_article(read).sentences
        spans.append([(start, end, first + n) for n, (_, start, end) in enumerate(sentences)])
        first += len(sentences)
    return tune.Asked("news-dialogues-train.json", coqa, spans, answerer=None)


def test_the_step_table_is_the_mixed_log_share_of_each_step():
    first = {s: 0.0 for s in tune.STEP_RANGE} | {0: 0.5, 1: 0.1}
    other = {s: 0.0 for s in tune.STEP_RANGE} | {0: 0.1, 1: 0.5, -1: 0.005}
    assert tune.step_table(first, other, 0.0)[0] == round(math.log(50), 2)
    mixed = tune.step_table(first, other, 0.5)
    assert mixed[0] == mixed[1] == round(math.log(30), 2)
    assert mixed[-1] == 0.0  # rarer than a far sentence: no pull either way
    assert mixed[3] == 0.0  # counted in neither style
    assert set(mixed) == set(tune.STEP_RANGE)


def test_news_dialogues_step_on_to_the_next_sentence_more_than_they_stay():
    asked = _asked_without_index()
    steps = tune.step_counts(asked.coqa, asked.spans)
    assert sum(steps.values()) == asked.coqa.turns - len(asked.coqa.dialogues)
    assert steps[1] > 3 * steps[0]  # CoQA's shipped table weighs "the same again" highest
    whole = tune.table_maker([asked, asked], 1.0, None, asked)(0)
    assert whole == tune.step_table(*[tune.shares(steps)] * 2, 1.0)
    assert whole[1] > whole[0]


def test_each_fold_is_asked_with_a_table_counted_without_its_own_stories():
    asked = _asked_without_index()
    folds = tune.folds_of(asked.coqa, 5)
    assert sorted(folds.values()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    table_for = tune.table_maker([asked, asked], 1.0, 5, asked)
    for story, fold in folds.items():
        without = tune.step_counts(asked.coqa, asked.spans, lambda s: folds[s] == fold)
        assert table_for(story) == tune.step_table(*[tune.shares(without)] * 2, 1.0)
    whole = tune.table_maker([asked, asked], 1.0, None, asked)(0)
    assert any(table_for(story) != whole for story in folds)


def _tune(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_MODEL": "hashing", "BOT_BACKEND": "hashing",
           "BOT_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, str(SCRIPT), str(TRAIN), *args], env=env,
                          capture_output=True, text=True, cwd=tmp_path)


def test_two_files_are_asked_each_in_its_own_index_and_their_p_at_1_averaged(tmp_path: Path):
    rows = tmp_path / "rows.jsonl"
    run = _tune(tmp_path, "--half", "even", "--with", str(TRAIN), "--folds", "2",
                "--step-mix", "0,1", "--rows", str(rows))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "step_mix=0.0 [news-dialogues-train.json]", "step_mix=0.0 [news-dialogues-train.json]",
        "step_mix=0.0", "step_mix=1.0 [news-dialogues-train.json]",
        "step_mix=1.0 [news-dialogues-train.json]", "step_mix=1.0"]
    halved, whole = (eval(line.split(": ", 1)[1]) for line in lines[:2])  # noqa: S307
    assert (halved["questions"], whole["questions"]) == (72, 142)  # even stories; all
    assert lines[2] == f"step_mix=0.0: mean p@1 {(halved['p@1'] + whole['p@1']) / 2:.4f}"
    written = [json.loads(line) for line in rows.read_text().splitlines()]
    assert len(written) == 2 * (72 + 142)
    assert {(r["setting"], r["file"]) for r in written} == {
        ("step_mix=0.0", "news-dialogues-train.json"), ("step_mix=1.0", "news-dialogues-train.json")}


def test_a_step_mix_without_a_second_style_is_refused(tmp_path: Path):
    run = _tune(tmp_path, "--step-mix", "0.5")
    assert run.returncode == 2 and "give --with" in run.stderr
    run = _tune(tmp_path, "--with", str(TRAIN), "--folds", "5")
    assert run.returncode == 2 and "--folds needs --step-mix" in run.stderr


def test_a_step_table_is_set_by_naming_its_steps(tmp_path: Path):
    """``--set STEPS=...`` is the table the walk reads: one pulling hard to the same sentence
    repeats the previous best sentence nearly every follow-up, one without a pull rarely."""
    rows = tmp_path / "rows.jsonl"
    run = _tune(tmp_path, "--set", "STEPS=0:50,1:0/2:0", "--rows", str(rows))
    assert run.returncode == 0, run.stderr
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == [
        "STEPS={0", "STEPS={1"]
    written = [json.loads(line) for line in rows.read_text().splitlines()]
    repeats = {}
    for setting in ("STEPS={0: 50.0}", "STEPS={1: 0.0, 2: 0.0}"):
        turns = [r for r in written if r["setting"] == setting]
        repeats[setting] = sum(b["turn"] > 0 and b["best"] == a["best"]
                               for a, b in zip(turns, turns[1:])) / (142 - 30)
    assert repeats["STEPS={0: 50.0}"] > 0.9 and repeats["STEPS={1: 0.0, 2: 0.0}"] < 0.2
