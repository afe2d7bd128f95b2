"""``bot eval``: SQuAD-format loading, gold sentences, metrics and the command itself."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.evaluation.metrics import auroc, first_hit_ranks, ranking_scores
from bot.evaluation.squad import load_squad, write_articles

from .conftest import SQUAD

# Three small articles on unrelated subjects; each question's answer is in one sentence.
ARTICLES = {
    "Lighthouse_keeping": [
        "The Bell Rock Lighthouse stands off the coast of Angus in Scotland. It was built "
        "between 1807 and 1810 by Robert Stevenson. Its light can be seen 35 miles away.",
        "Keepers lived in the tower in shifts of four weeks. The last keepers left in 1988, "
        "when the light was automated.",
    ],
    "Honey_bees": [
        "A honey bee colony has one queen, thousands of workers and a few hundred drones. "
        "Workers perform a waggle dance to show where flowers are.",
        "Bees make honey from nectar, which they store in wax combs. A strong hive can "
        "produce 30 kilograms of surplus honey in a season.",
    ],
    "Volcanic_islands": [
        "Surtsey emerged from the sea south of Iceland in 1963 during a volcanic eruption. "
        "Scientists have studied how plants and birds colonised the new island.",
    ],
}
QUESTIONS = [
    ("Who built the lighthouse between 1807 and 1810?", "Robert Stevenson"),
    ("When did the last keepers leave the tower?", "1988"),
    ("How far away can the Bell Rock light be seen?", "35 miles"),
    ("What dance do worker bees perform to show where flowers are?", "waggle dance"),
    ("How much surplus honey can a strong hive produce?", "30 kilograms"),
    ("When did Surtsey emerge from the sea?", "1963"),
]
OUTSIDE = {"Chess_openings": ["The Sicilian Defence begins with the move c5 in reply to e4."]}
OUTSIDE_QUESTIONS = [("Which move begins the Sicilian Defence?", "c5")]


def squad_json(articles: dict[str, list[str]], questions: list[tuple[str, str]]) -> dict:
    """A SQuAD v1.1 structure; each question goes to the paragraph holding its answer."""
    data = []
    for title, paragraphs in articles.items():
        entries = []
        for context in paragraphs:
            qas = [{"id": f"q{n}", "question": q,
                    "answers": [{"text": a, "answer_start": context.index(a)}]}
                   for n, (q, a) in enumerate(questions) if a in context]
            entries.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": entries})
    return {"version": "1.1", "data": data}


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(squad_json(ARTICLES, QUESTIONS)), encoding="utf-8")
    return path


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside.json"
    path.write_text(json.dumps(squad_json(OUTSIDE, OUTSIDE_QUESTIONS)), encoding="utf-8")
    return path


def run_eval(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["eval", *args, "--backend", "hashing",
                                      "--model", "hashing"])
    return result.exit_code, result.stdout, result.stderr


def test_answer_starts_map_to_the_written_files(squad_file: Path, tmp_path: Path):
    squad = load_squad(squad_file)
    paths = write_articles(squad, tmp_path / "articles")
    assert len(squad.questions) == len(QUESTIONS)
    for question in squad.questions:
        answer = dict(QUESTIONS)[question.text]
        text = paths[question.article].read_text(encoding="utf-8")
        assert text.splitlines()[0] == list(ARTICLES)[question.article].replace("_", " ")
        assert all(text[s:s + len(answer)] == answer for s in question.answer_starts)


def test_eval_reports_bot_and_baselines(squad_file: Path, tmp_path: Path):
    code, out, err = run_eval(str(squad_file), "--json", "--work-dir", str(tmp_path / "w"))
    assert code == 0, err
    report = json.loads(out)
    assert report["questions"] == len(QUESTIONS) and report["file_articles"] == 3
    assert set(report["methods"]) == {"bot", "bm25", "dense"}
    bot = report["methods"]["bot"]
    # every question shares rare words with its answer sentence only
    assert bot["p@1"] == 1.0 and bot["mrr@10"] == 1.0 and bot["r@10"] == 1.0
    assert report["methods"]["bm25"]["r@10"] == 1.0
    assert 0.0 <= bot["answered"] <= 1.0
    assert report["ms_per_question"] > 0


def test_eval_rerun_embeds_nothing(squad_file: Path, tmp_path: Path):
    work = str(tmp_path / "w")
    first = json.loads(run_eval(str(squad_file), "--json", "--work-dir", work)[1])
    second = json.loads(run_eval(str(squad_file), "--json", "--work-dir", work)[1])
    assert first["sentences_embedded"] > 0
    assert second["sentences_embedded"] == 0
    assert second["methods"] == first["methods"]


def test_eval_out_of_corpus(squad_file: Path, outside_file: Path, tmp_path: Path):
    code, out, err = run_eval(str(squad_file), "--ooc", str(outside_file), "--json",
                              "--work-dir", str(tmp_path / "w"))
    assert code == 0, err
    report = json.loads(out)
    ooc = report["ooc"]
    assert ooc["questions"] == 1
    # the chess question shares no word with the indexed articles: every in-corpus question
    # is more confident than it (AUROC 1), it is not answered while some in-corpus ones are
    assert ooc["auroc"] == 1.0
    assert ooc["answered"] == 0.0 < report["methods"]["bot"]["answered"]


def test_eval_human_table(squad_file: Path, tmp_path: Path):
    code, out, _ = run_eval(str(squad_file), "--work-dir", str(tmp_path / "w"))
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["method", "P@1", "MRR@10", "R@5", "R@10", "answered"]
    assert [line.split()[0] for line in lines[2:5]] == ["bot", "bm25", "dense"]


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    ('{"version": "1.1"}', "not a SQuAD-format file"),
    ('{"data": [{"title": "x", "paragraphs": [{"context": "c", "qas": []}]}]}',
     "no answerable questions"),
])
def test_eval_bad_files_fail_cleanly(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = run_eval(str(path), "--work-dir", str(tmp_path / "w"))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_eval_bad_ooc_file_fails_as_cleanly_as_a_bad_file(squad_file: Path, tmp_path: Path):
    """--ooc is read by the same reader as FILE: JSON nested too deeply is one error line."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    code, out, err = run_eval(str(squad_file), "--ooc", str(deep), "--work-dir",
                              str(tmp_path / "w"))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "is not JSON" in err and len(err.splitlines()) == 1


def test_eval_missing_file(tmp_path: Path):
    code, _, err = run_eval(str(tmp_path / "absent.json"))
    assert code == 1 and err.startswith("error: cannot read")


def test_metrics_from_ranks():
    gold = [{1}, {2}, {3}, {4}]
    rankings = [[1, 9], [9, {7, 2}], [5, 6, 7, 8, 9, 10, 11, 12, 13, 3], [5]]
    ranks = first_hit_ranks(rankings, gold)
    assert ranks.tolist() == [1, 2, 10, 0]
    scores = ranking_scores(ranks)
    assert scores.p_at_1 == 0.25
    assert scores.mrr_at_10 == pytest.approx((1 + 0.5 + 0.1) / 4)
    assert scores.r_at_5 == 0.5 and scores.r_at_10 == 0.75


def test_auroc_matches_pair_counting():
    rng = random.Random(3)
    pos = [rng.choice([0.1, 0.5, 0.7, 0.9]) for _ in range(40)]
    neg = [rng.choice([0.1, 0.3, 0.5, 0.6]) for _ in range(30)]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert auroc(pos, neg) == pytest.approx(pairs / (len(pos) * len(neg)))
    assert auroc([1, 2], [0]) == 1.0 and auroc([0], [1, 2]) == 0.0


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.exists(), reason="../shared/eval is absent")
def test_eval_on_squad_subset_beats_baselines(tmp_path: Path, real_encoder, monkeypatch):
    """Three SQuAD articles with the real model: the bot ranks better than either baseline."""
    from bot.evaluation.runner import evaluate

    squad = load_squad(SQUAD).subset([0, 5, 19])
    report = evaluate(squad, load_squad(SQUAD).subset([2]), encoder=real_encoder,
                      work_dir=tmp_path / "w")
    methods = report["methods"]
    assert methods["bot"]["mrr@10"] > max(methods["bm25"]["mrr@10"], methods["dense"]["mrr@10"])
    assert methods["bot"]["p@1"] >= 0.7
    assert report["ooc"]["auroc"] > 0.8


@pytest.mark.parametrize("start", ["x", None, [3], 1.5, "1e999", True, {"a": 1}])
def test_eval_answer_start_that_is_not_an_integer_is_one_error(tmp_path: Path, start):
    data = squad_json(ARTICLES, QUESTIONS)
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = start
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run_eval(str(tmp_path / "bad.json"), "--work-dir", str(tmp_path / "w"))
    assert (code, out) == (1, "") and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "malformed SQuAD article 2" in err
    assert "is not an integer" in err or "answer_start" in err


def test_eval_text_with_lone_surrogates_is_measured(tmp_path: Path):
    data = squad_json(ARTICLES, QUESTIONS)
    data["data"][2]["paragraphs"][0]["context"] += " Odd \ud800 text."
    (tmp_path / "odd.json").write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run_eval(str(tmp_path / "odd.json"), "--json", "--work-dir",
                              str(tmp_path / "w"))
    assert code == 0, err
    assert json.loads(out)["methods"]["bot"]["p@1"] == 1.0


@pytest.mark.timeout(60)
def test_eval_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path):
    import os

    os.mkfifo(tmp_path / "fifo.json")
    code, _, err = run_eval(str(tmp_path / "fifo.json"), "--work-dir", str(tmp_path / "w"))
    assert code == 1 and "not a regular file (a FIFO)" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["work-dir", "BOT_CACHE_DIR", "XDG_CACHE_HOME"])
def test_eval_with_relative_directories_measures_the_same(squad_file: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          where: str):
    monkeypatch.chdir(tmp_path)
    args = [str(squad_file), "--json"]
    if where == "work-dir":
        args += ["--work-dir", "w"]
    else:
        monkeypatch.delenv("BOT_CACHE_DIR", raising=False)
        monkeypatch.setenv(where, "relative-cache")
    code, out, err = run_eval(*args)
    assert code == 0, err
    report = json.loads(out)
    assert report["methods"]["bot"]["p@1"] == 1.0 and report["methods"]["bm25"]["r@10"] == 1.0
    assert Path(report["work_dir"]).is_absolute()


def test_grouped_bootstrap_resamples_whole_groups():
    """A paired difference's interval: 99 questions of one article gaining and one of another
    not say little about articles (two groups), much about questions."""
    from bot.evaluation.metrics import grouped_bootstrap

    diff = [1.0] * 99 + [0.0]
    by_article = grouped_bootstrap(diff, ["a"] * 99 + ["b"])
    by_question = grouped_bootstrap(diff)
    assert by_article[0] < 0.05 and by_article[1] == 1.0
    assert 0.95 < by_question[0] <= by_question[1] <= 1.0
    assert grouped_bootstrap([0.25] * 10, list(range(10))) == (0.25, 0.25)
