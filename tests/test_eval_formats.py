"""``bot eval`` on question sets in other formats: WikiQA TSV (with MAP on each question's own
candidates), CoQA JSON and the natural-questions YAML files; and the shipped natural set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.evaluation.formats import load_question_set
from bot.evaluation.metrics import mean_average_precision
from index.errors import BadInput

from .conftest import ROOT

WIKIQA_ROWS = [
    ("Q1", "where do honey bees store honey", "D1", "Honey bee", "A honey bee colony has one queen.", 0),
    ("Q1", "where do honey bees store honey", "D1", "Honey bee", "Bees store honey in wax combs.", 1),
    ("Q1", "where do honey bees store honey", "D1", "Honey bee", "Workers dance to show flowers.", 0),
    ("Q2", "when was the bell rock lighthouse built", "D2", "Bell Rock Lighthouse",
     "The lighthouse stands off the coast of Angus.", 0),
    ("Q2", "when was the bell rock lighthouse built", "D2", "Bell Rock Lighthouse",
     "It was built between 1807 and 1810.", 1),
    ("Q3", "what is chess", "D3", "Chess", "Chess is a board game.", 0),
]


def write_wikiqa(path: Path) -> Path:
    header = "QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tLabel\n"
    lines = [f"{q}\t{text}\t{d}\t{t}\t{d}-{n}\t{s}\t{label}"
             for n, (q, text, d, t, s, label) in enumerate(WIKIQA_ROWS)]
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_wikiqa_documents_become_articles_and_unanswered_questions_are_left_out(tmp_path: Path):
    squad = load_question_set(write_wikiqa(tmp_path / "wiki.tsv"))
    assert [a.title for a in squad.articles] == ["Honey bee", "Bell Rock Lighthouse", "Chess"]
    assert [q.qid for q in squad.questions] == ["Q1", "Q2"]  # Q3 has no answering sentence
    assert squad.own_candidates
    first = squad.questions[0]
    text = squad.articles[first.article].text
    assert text[first.answer_starts[0]:].startswith("Bees store honey")


def test_bot_eval_reports_map_on_own_candidates_beside_the_baselines(tmp_path: Path):
    result = CliRunner().invoke(cli, ["eval", str(write_wikiqa(tmp_path / "wiki.tsv")),
                                      "--json", "--fast", "--backend", "hashing",
                                      "--model", "hashing", "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["rerank_depth"] == 0
    assert set(report["own_candidates"]) == {"bot", "bm25", "dense"}
    for row in report["own_candidates"].values():
        assert 0.0 < row["map"] <= 1.0 and row["mrr"] >= row["map"] - 1e-9


def test_mean_average_precision():
    assert mean_average_precision([[1, 2, 3]], [{1, 3}]) == pytest.approx((1 + 2 / 3) / 2)
    assert mean_average_precision([[{5, 6}, 2]], [{6}]) == 1.0
    assert mean_average_precision([[1]], [set()]) == 0.0  # no answer: not counted


def test_coqa_turns_become_questions_with_their_rationale(tmp_path: Path):
    story = "The ferry left at dawn. It carried forty people to the island of Kell."
    data = {"data": [{"source": "news", "story": story,
                      "questions": [{"input_text": "Where did the ferry go?", "turn_id": 1},
                                    {"input_text": "Who knows?", "turn_id": 2}],
                      "answers": [{"span_start": story.index("It carried"),
                                   "span_end": len(story), "turn_id": 1},
                                  {"span_start": -1, "span_end": -1, "turn_id": 2}]}]}
    path = tmp_path / "coqa.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    squad = load_question_set(path)
    assert [q.text for q in squad.questions] == ["Where did the ferry go?"]
    start = squad.questions[0].answer_starts[0]
    assert squad.articles[0].text[start:].startswith("It carried")


def test_natural_file_names_each_answer_by_a_fragment(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Title\n\nThe cat sat. The dog ran.\n", encoding="utf-8")
    (tmp_path / "q.yaml").write_text(
        "questions:\n  - {q: \"What did the dog do?\", article: a.txt, answer: The dog}\n",
        encoding="utf-8")
    squad = load_question_set(tmp_path / "q.yaml")
    assert squad.articles[0].text[squad.questions[0].answer_starts[0]:].startswith("The dog")
    (tmp_path / "bad.yaml").write_text(
        "questions:\n  - {q: \"What?\", article: a.txt, answer: not there}\n", encoding="utf-8")
    with pytest.raises(BadInput, match="'not there' is not in a.txt"):
        load_question_set(tmp_path / "bad.yaml")


def test_a_natural_question_answered_by_null_is_an_unanswerable_one(tmp_path: Path):
    """``answer: null``: on topic, but the article does not say (SQuAD v2.0's
    ``is_impossible``); a question with no ``answer`` key at all is an error, not one of them."""
    (tmp_path / "a.txt").write_text("Title\n\nThe cat sat. The dog ran.\n", encoding="utf-8")
    (tmp_path / "q.yaml").write_text(
        "questions:\n  - {q: \"What did the dog do?\", article: a.txt, answer: The dog}\n"
        "  - {q: \"What colour is the cat?\", article: a.txt, answer: null}\n",
        encoding="utf-8")
    squad = load_question_set(tmp_path / "q.yaml")
    assert [q.text for q in squad.questions] == ["What did the dog do?"]
    assert [(q.text, q.article, q.answer_starts) for q in squad.unanswerable] == [
        ("What colour is the cat?", 0, [])]
    (tmp_path / "forgot.yaml").write_text(
        "questions:\n  - {q: \"What did the dog do?\", article: a.txt, answer: The dog}\n"
        "  - {q: \"What colour is the cat?\", article: a.txt}\n", encoding="utf-8")
    with pytest.raises(BadInput, match="question 2 has no 'answer'"):
        load_question_set(tmp_path / "forgot.yaml")
    (tmp_path / "none.yaml").write_text(
        "questions:\n  - {q: \"What colour is the cat?\", article: a.txt, answer: null}\n",
        encoding="utf-8")
    with pytest.raises(BadInput, match="holds no answerable questions"):
        load_question_set(tmp_path / "none.yaml")


def test_eval_asks_and_counts_a_natural_files_unanswerable_questions(tmp_path: Path):
    (tmp_path / "a.txt").write_text(
        "Town news\n\nThe mayor opened the new library on Monday. The bakery sells bread.\n",
        encoding="utf-8")
    (tmp_path / "q.yaml").write_text(
        "questions:\n"
        "  - {q: \"Who opened the library?\", article: a.txt, answer: The mayor opened}\n"
        "  - {q: \"How much did the library cost?\", article: a.txt, answer: null}\n"
        "  - {q: \"When does the bakery open?\", article: a.txt, answer: null}\n",
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "q.yaml"), "--json", "--work-dir",
                                      str(tmp_path / "w"), "--backend", "hashing",
                                      "--model", "hashing"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    verdict = report["verdict"]
    assert verdict["unanswerable"]["questions"] == 2
    assert verdict["all"]["replies"] == 3  # the answerable one and both unanswerable ones
    assert report["questions"] == 1  # ranking figures: the answerable question alone


def test_the_natural_training_set_reads_and_each_answer_is_one_sentence():
    """scripts/data/natural-train/ (for fitting only): twenty articles, about a fifth of the
    questions unanswerable (some in every article), every answer fragment inside one
    sentence."""
    from index.ingest.splitter import sentences

    folder = ROOT / "scripts" / "data" / "natural-train"
    squad = load_question_set(folder / "questions.yaml")
    assert len(squad.articles) == 20
    asked = len(squad.questions) + len(squad.unanswerable)
    assert asked == 566 and len(squad.unanswerable) == 110
    assert {q.article for q in squad.unanswerable} == set(range(20))
    for article in squad.articles:
        assert 25 <= len(sentences(article.text)) <= 45
    for question in squad.questions:
        text = squad.articles[question.article].text
        spans = sentences(text)
        for start in question.answer_starts:
            assert sum(s.start <= start < s.end for s in spans) == 1


def test_the_shipped_natural_set_reads():
    squad = load_question_set(ROOT / "bench" / "data" / "natural" / "questions.yaml")
    assert len(squad.articles) == 5 and len(squad.questions) >= 60
    seed = [q for q in squad.questions if q.article == 0]
    assert len(seed) >= 24


def test_the_reader_questions_read_and_each_answer_is_one_sentence_of_its_article():
    """bench/data/natural/reader-questions.yaml: 19 questions about the four news articles the
    dialogues use (their files beside the dialogue set), each answer fragment found."""
    squad = load_question_set(ROOT / "bench" / "data" / "natural" / "reader-questions.yaml")
    assert len(squad.articles) == 4 and len(squad.questions) == 19
    assert {a.title for a in squad.articles} == {"ashcombe-heath-fire", "bakery-sandwich-recall",
                                                 "old-mill-bridge-closure",
                                                 "rovers-manager-sacked"}
    for question in squad.questions:
        text = squad.articles[question.article].text
        assert all(0 < start < len(text) for start in question.answer_starts)


def test_the_natural_news_set_reads_each_answer_inside_one_sentence_as_its_header_counts():
    """bench/data/natural-news/ (measurement only): ten articles, every answer fragment whole
    inside one sentence of its article, and the unanswerable share and the reader / search
    split its header states."""
    import re

    import yaml

    from index.ingest.splitter import sentences

    path = ROOT / "bench" / "data" / "natural-news" / "questions.yaml"
    raw = path.read_text(encoding="utf-8")
    header = " ".join(line.lstrip("# ") for line in raw.splitlines() if line.startswith("#"))
    unanswered, asked, percent = map(int, re.search(
        r"(\d+) of the (\d+) questions \((\d+)%\) are unanswerable", header).groups())
    searches = int(re.search(r"\((\d+) search queries\)", header).group(1))
    readers = int(re.search(r"\((\d+) reader questions\)", header).group(1))

    squad = load_question_set(path)
    assert len(squad.articles) == 10
    assert len(squad.unanswerable) == unanswered
    assert len(squad.questions) + len(squad.unanswerable) == asked == readers + searches
    assert round(100 * unanswered / asked) == percent
    entries = yaml.safe_load(raw)["questions"]
    assert sum("?" not in e["q"] and e["q"] == e["q"].lower() for e in entries) == searches
    for article in squad.articles:  # the title and date line read as one sentence
        assert 23 <= len(sentences(article.text)) <= 31
    texts = {article.title: article.text for article in squad.articles}  # title: file stem
    for entry in entries:
        if entry["answer"] is None:
            continue
        text = texts[Path(entry["article"]).stem]
        spans = sentences(text)
        fragments = entry["answer"] if isinstance(entry["answer"], list) else [entry["answer"]]
        for fragment in fragments:
            assert text.count(fragment) == 1, fragment
            start = text.index(fragment)
            assert sum(s.start <= start and start + len(fragment) <= s.end
                       for s in spans) == 1, fragment


def test_the_style_split_reproduces_bot_eval_and_splits_readers_from_searches(
        tmp_path: Path, hashing_spec, monkeypatch):  # noqa: ANN001
    """scripts/natural_styles.py: its "all" row is what ``bot eval FILE`` reports on the same
    index (the second stage as shipped, each reply answered as its verdict said), and reader
    questions and search queries are told apart by their form."""
    from index.embed.encoders import load_encoder

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from natural_styles import measure, style

    assert style("teachers strike pay offer") == "search"
    assert style("Why are teachers on strike?") == style("Harbour ferry strike") == "reader"
    (tmp_path / "a.txt").write_text(
        "Town news\n\nThe mayor opened the new library on Monday. The bakery sells bread "
        "and cakes. Roadworks closed the bridge for a week.\n", encoding="utf-8")
    (tmp_path / "q.yaml").write_text(
        "questions:\n"
        "  - {q: \"Who opened the library?\", article: a.txt, answer: The mayor opened}\n"
        "  - {q: \"What does the bakery sell?\", article: a.txt, answer: The bakery sells}\n"
        "  - {q: \"bridge closed roadworks\", article: a.txt, answer: Roadworks closed}\n"
        "  - {q: \"How much did the library cost?\", article: a.txt, answer: null}\n"
        "  - {q: \"bakery opening hours\", article: a.txt, answer: null}\n", encoding="utf-8")
    split = measure(tmp_path / "q.yaml", load_encoder(hashing_spec), tmp_path / "w")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "q.yaml"), "--json",
                                      "--work-dir", str(tmp_path / "w"), "--backend",
                                      "hashing", "--model", "hashing"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    for name in ("bot", "dense", "bm25"):
        assert split["all"]["methods"][name] == {k: v for k, v in report["methods"][name].items()
                                                 if k != "answered"}
    assert split["all"]["verdict"] == report["verdict"]["all"]
    assert (split["reader"]["questions"], split["search"]["questions"]) == (2, 1)
    assert (split["reader"]["unanswerable"], split["search"]["unanswerable"]) == (1, 1)
    assert split["reader"]["verdict"]["replies"] + split["search"]["verdict"]["replies"] == 5
    assert len(split["misses"]) == sum(round((1 - split[s]["methods"]["bot"]["p@1"])
                                             * split[s]["questions"]) for s in ("reader", "search"))
