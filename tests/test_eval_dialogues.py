"""``bot eval`` on a CoQA-format file: dialogues asked turn by turn, beside each question alone.

The fixture (tests/data/dialogues.coqa.json) was written for these tests: three short stories
whose follow-ups ("Who built it?", "When did it close?") only make sense in their dialogue.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.evaluation.coqa import load_coqa
from bot.evaluation.dialogues import METHODS

FIXTURE = Path(__file__).parent / "data" / "dialogues.coqa.json"


def test_dialogues_load_with_their_rationale_spans():
    coqa = load_coqa(FIXTURE)
    assert len(coqa.articles) == 3 and [len(d.turns) for d in coqa.dialogues] == [5, 5, 2]
    story = coqa.articles[0].text
    start, end = coqa.dialogues[0].turns[1].span
    assert story[start:end] == "built by the shipwright"
    assert coqa.dialogues[0].turns[4].span is None  # the story does not say


def test_bot_eval_asks_each_dialogue_turn_by_turn_beside_the_baselines(tmp_path: Path):
    result = CliRunner().invoke(cli, ["eval", str(FIXTURE), "--json", "--backend", "hashing",
                                      "--model", "hashing", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["stories"], report["dialogues"], report["turns"],
            report["unscored_turns"]) == (3, 3, 11, 1)
    assert set(report["methods"]) == set(METHODS)
    for row in report["methods"].values():
        assert row["questions"] == 11
        assert all(0.0 <= row[key] <= 1.0 for key in ("p@1", "mrr@10", "r@10", "story@1"))
    talk, alone = report["methods"]["conversation"], report["methods"]["alone"]
    assert talk["story@1"] == 1.0 > alone["story@1"]  # "When did it close?" is the theatre's
    assert talk["p@1"] > alone["p@1"]
    assert report["read_with_earlier_turns"] == 11 - 3 + 0  # every turn but the first ones


def test_a_relative_work_dir_measures_the_same(tmp_path: Path, monkeypatch):
    """The stories are found in the index (which keeps absolute paths) from a relative
    --work-dir too, as for SQuAD files: every turn with a rationale is scored."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["eval", str(FIXTURE), "--json", "--backend", "hashing",
                                      "--model", "hashing", "--work-dir", "w"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["turns"], report["unscored_turns"]) == (11, 1)
    assert Path(report["work_dir"]).is_absolute()


def test_half_and_rerank_options_apply_to_dialogues(tmp_path: Path):
    """--half asks the stories at odd (or even) positions, as for SQuAD files; --fast turns the
    reranker off and the report says so."""
    result = CliRunner().invoke(cli, ["eval", str(FIXTURE), "--json", "--half", "odd", "--fast",
                                      "--backend", "hashing", "--model", "hashing",
                                      "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    second = load_coqa(FIXTURE).dialogues[1]
    assert (report["stories"], report["dialogues"]) == (1, 1)
    assert report["turns"] + report["unscored_turns"] == len(second.turns)
    assert report["rerank_depth"] == 0


def test_human_report_has_a_row_per_method(tmp_path: Path):
    result = CliRunner().invoke(cli, ["eval", str(FIXTURE), "--backend", "hashing", "--model",
                                      "hashing", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "story@1" in result.output
    assert [line.split()[0] for line in result.output.splitlines()[2:7]] == list(METHODS)


def test_a_malformed_dialogue_file_is_one_line_error(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"story": "", "questions": [], "answers": []}]}))
    result = CliRunner().invoke(cli, ["eval", str(bad), "--backend", "hashing", "--model",
                                      "hashing", "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error:") and "malformed CoQA story 1" in result.output


NEWS = Path(__file__).parent.parent / "bench" / "data" / "dialogues"


def test_news_dialogues_load_each_article_once_with_their_rationales():
    """The out-of-style set (bench/data/dialogues): several dialogues per article, each
    article indexed once, every turn scored, the JSON file made from the YAML file."""
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(NEWS.parent.parent.parent / "scripts" /
                                                 "dialogues_to_coqa.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    elsewhere = subprocess.run([*check.args[:2], "--out", "elsewhere.json"],  # not ignored
                               capture_output=True, text=True)
    assert elsewhere.returncode == 2 and "--out goes with --distractors" in elsewhere.stderr
    coqa = load_coqa(NEWS / "news-dialogues.json")
    assert (len(coqa.articles), len(coqa.dialogues), coqa.turns) == (9, 18, 78)
    assert len({a.text for a in coqa.articles}) == 9
    assert sorted({d.story for d in coqa.dialogues}) == list(range(9))
    raw = json.loads((NEWS / "news-dialogues.json").read_text(encoding="utf-8"))["data"]
    for item, dialogue in zip(raw, coqa.dialogues):
        story = coqa.articles[dialogue.story].text
        assert story == item["story"]
        for turn, answer in zip(dialogue.turns, item["answers"]):
            assert turn.span is not None
            assert story[turn.span[0]:turn.span[1]] == answer["span_text"]


def test_bot_eval_runs_on_the_news_dialogues(tmp_path: Path):
    # --fast: which later turns count as new questions is the first stage's call here (the
    # hashing encoder's token matching is word overlap; the real model reads all 60 as
    # follow-ups with the second stage too, docs/quality.md)
    result = CliRunner().invoke(cli, ["eval", str(NEWS / "news-dialogues.json"), "--json",
                                      "--backend", "hashing", "--model", "hashing",
                                      "--work-dir", str(tmp_path), "--fast"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["stories"], report["dialogues"], report["turns"]) == (9, 18, 78)
    assert report["read_with_earlier_turns"] == 78 - 18
    assert set(report["methods"]) == set(METHODS)


NEWS2 = NEWS.parent / "dialogues2"
CONVERTER = NEWS.parent.parent.parent / "scripts" / "dialogues_to_coqa.py"


def _converted(folder: Path, json_name: str):
    """The dialogues of ``folder``'s JSON file, after the converter checked that it is what
    ``dialogues.yaml`` converts to."""
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(CONVERTER), "--check", "--source",
                            str(folder / "dialogues.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    return load_coqa(folder / json_name)


def _sentence_spans(story: str) -> list[tuple[int, int]]:
    """The article's sentences as the index splits the file (headline and date line apart)."""
    from index.indexer import split_article
    from index.ingest.readers import read_txt

    (article,) = read_txt("story.txt", story)
    return [(start, end) for _, start, end in split_article(article).sentences]


def test_second_news_dialogues_are_the_converted_yaml_each_turn_inside_one_sentence():
    """The second out-of-style set (bench/data/dialogues2): eight articles, three dialogues
    each, the JSON file what the converter writes from the YAML file, and every turn's
    fragment inside one sentence of its article (so each turn has one gold sentence)."""
    coqa = _converted(NEWS2, "news-dialogues2.json")
    assert (len(coqa.articles), len(coqa.dialogues), coqa.turns) == (8, 24, 123)
    assert all(3 <= len(d.turns) <= 6 for d in coqa.dialogues)
    for dialogue in coqa.dialogues:
        article = coqa.articles[dialogue.story]
        spans = _sentence_spans(article.text)
        for turn in dialogue.turns:
            assert turn.span is not None
            inside = [s for s in spans if s[0] <= turn.span[0] and turn.span[1] <= s[1]]
            assert len(inside) == 1, (turn.text, article.text[slice(*turn.span)])


def test_first_news_dialogues_fragments_sit_inside_one_sentence_too():
    coqa = load_coqa(NEWS / "news-dialogues.json")
    for dialogue in coqa.dialogues:
        article = coqa.articles[dialogue.story]
        spans = _sentence_spans(article.text)
        for turn in dialogue.turns:
            assert turn.span is not None
            assert any(s <= turn.span[0] and turn.span[1] <= e for s, e in spans), turn.text


def test_converter_check_names_the_set_whose_json_is_stale(tmp_path: Path):
    """``--source`` converts another set beside its YAML file (news-<folder>.json), and
    ``--check`` fails with the command to rerun once the YAML file has moved on."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "extra"
    shutil.copytree(NEWS2, copy)
    (copy / "news-dialogues2.json").unlink()
    source = copy / "dialogues.yaml"
    run = [sys.executable, str(CONVERTER), "--source", str(source)]
    written = subprocess.run(run, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    assert "24 dialogues, 123 turns, 8 articles" in written.stdout
    assert json.loads((copy / "news-extra.json").read_text(encoding="utf-8"))["version"] == \
        "news-extra-1"
    source.write_text(source.read_text(encoding="utf-8").replace(
        "Who reported him missing?", "Who called the police?"), encoding="utf-8")
    stale = subprocess.run([*run, "--check"], capture_output=True, text=True)
    assert stale.returncode == 1
    assert "news-extra.json is out of date" in stale.stderr and "--source" in stale.stderr


def test_bot_eval_runs_on_the_second_news_dialogues(tmp_path: Path):
    result = CliRunner().invoke(cli, ["eval", str(NEWS2 / "news-dialogues2.json"), "--json",
                                      "--fast", "--backend", "hashing", "--model", "hashing",
                                      "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["stories"], report["dialogues"], report["turns"]) == (8, 24, 123)
    assert report["unscored_turns"] == 0
    assert set(report["methods"]) == set(METHODS)


TRAIN = NEWS.parent.parent.parent / "scripts" / "data" / "dialogues-train"


def test_the_news_dialogues_for_fitting_read_each_turn_inside_one_sentence():
    """scripts/data/dialogues-train/ (for fitting only): ten articles on topics no measurement
    set uses, three dialogues each of 4-6 turns, the JSON file what the converter writes from
    the YAML file, every turn's fragment inside one sentence."""
    coqa = _converted(TRAIN, "news-dialogues-train.json")
    assert (len(coqa.articles), len(coqa.dialogues), coqa.turns) == (10, 30, 142)
    assert all(4 <= len(d.turns) <= 6 for d in coqa.dialogues)
    assert sorted(d.story for d in coqa.dialogues) == sorted(3 * list(range(10)))
    measured = {p.stem for p in (NEWS.parent).glob("*/*.txt")}
    natural_train = {p.stem for p in (TRAIN.parent / "natural-train").glob("*.txt")}
    assert not {p.stem for p in TRAIN.glob("*.txt")} & (measured | natural_train)
    for dialogue in coqa.dialogues:
        article = coqa.articles[dialogue.story]
        spans = _sentence_spans(article.text)
        assert 18 <= len(spans) <= 26
        for turn in dialogue.turns:
            assert turn.span is not None
            inside = [s for s in spans if s[0] <= turn.span[0] and turn.span[1] <= s[1]]
            assert len(inside) == 1, (turn.text, article.text[slice(*turn.span)])
