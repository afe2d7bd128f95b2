"""Date expressions in evidence sentences, resolved against the article's date.

The anchor 2022-05-23 is a Monday (the seed article's date).
"""

from __future__ import annotations

import pytest

from index.search.date_expressions import find_dates, holds_relative_date

MONDAY = "2022-05-23"
FRIDAY = "2022-05-27"

TABLE = [
    # (sentence, anchor, [(text, date)])
    ("Both companies announced a strategic cooperation today.", MONDAY, [("today", MONDAY)]),
    ("The licence expired in 2021.", MONDAY, [("2021", "2021")]),
    ("This year's follow-up model ships soon.", MONDAY, [("This year's", "2022")]),
    ("The phone ships in July 2022 in China.", MONDAY, [("July 2022", "2022-07")]),
    ("It was founded on May 23, 2019 in Beijing.", None, [("May 23, 2019", "2019-05-23")]),
    ("On 5 March 2020 it fell.", None, [("5 March 2020", "2020-03-05")]),
    ("The filing is dated 2022-05-20.", None, [("2022-05-20", "2022-05-20")]),
    ("Talks began on Monday.", MONDAY, [("Monday", MONDAY)]),
    ("Talks began on Tuesday.", MONDAY, [("Tuesday", "2022-05-17")]),
    ("Talks will resume on Tuesday.", MONDAY, [("Tuesday", "2022-05-24")]),
    ("They met last Friday.", FRIDAY, [("last Friday", "2022-05-20")]),
    ("They meet next Friday.", MONDAY, [("next Friday", "2022-06-03")]),
    ("Prices fell last week.", MONDAY, [("last week", "2022-W20")]),
    ("Sales rose last month.", MONDAY, [("last month", "2022-04")]),
    ("It opens next year.", MONDAY, [("next year", "2023")]),
    ("The deal was signed two years ago.", MONDAY, [("two years ago", "2020")]),
    ("It happened 3 days ago.", MONDAY, [("3 days ago", "2022-05-20")]),
    ("It returns in three weeks.", MONDAY, [("in three weeks", "2022-06-13")]),
    ("Yesterday's vote was close.", MONDAY, [("Yesterday's", "2022-05-22")]),
    ("It rained yesterday and will rain tomorrow.", MONDAY,
     [("yesterday", "2022-05-22"), ("tomorrow", "2022-05-24")]),
    ("Friday's vote was close.", MONDAY, [("Friday's", "2022-05-20")]),
    ("Rates rise in March.", MONDAY, [("March", "2022-03")]),
    ("Rates rise in December.", "2022-01-15", [("December", "2021-12")]),
    ("The plant closed last March.", MONDAY, [("last March", "2022-03")]),
    ("The plant closes by the end of June.", MONDAY, [("June", "2022-06")]),
    ("It started on May 5.", MONDAY, [("May 5", "2022-05-05")]),
    ("It ends on January 3.", "2022-12-20", [("January 3", "2023-01-03")]),
    ("Output grew 12% in 2020.", None, [("2020", "2020")]),
    ("He left last month and returns next year.", None,
     [("last month", None), ("next year", None)]),  # no article date: unresolved
    ("Both companies announced a strategic cooperation today.", None, [("today", None)]),
    # wrong-looking ones: not dates
    ("May I ask what the partnership means?", MONDAY, []),  # "May" the verb
    ("Prices may rise, analysts said.", MONDAY, []),
    ("May 5 people win the draw?", MONDAY, []),  # a wish, not the 5th of May
    ("Protesters March on the capital.", MONDAY, []),  # "March" the verb
    ("Workers will march to the square.", MONDAY, []),
    ("They met at Friday's on Main Street.", MONDAY, []),  # a shop called Friday's
    ("Dinner at TGI Friday's was late.", MONDAY, []),
    ("Theresa May spoke to the press.", MONDAY, []),
    ("The company sold 2021 units.", MONDAY, []),
    ("The plant employs 1,984 people.", MONDAY, []),
]


@pytest.mark.parametrize("sentence, anchor, expected", TABLE,
                         ids=[row[0][:40] for row in TABLE])
def test_date_expressions(sentence: str, anchor: str | None, expected):
    found = find_dates(sentence, anchor)
    assert [(m.text, m.date) for m in found] == expected
    for m in found:
        assert sentence[m.start:m.end] == m.text


def test_relative_expressions_are_told_from_absolute_ones():
    assert holds_relative_date("The deal was signed two years ago.")
    assert holds_relative_date("Rates rise in March.")
    assert not holds_relative_date("The licence expired in 2021.")
    assert not holds_relative_date("May I ask?")


def test_anchor_is_a_whole_day_only():
    """A month or year alone cannot say which day "yesterday" was."""
    assert find_dates("It rained yesterday.", "2022-05")[0].date is None
    assert find_dates("It rained yesterday.", "2022-05-23T22:10:00Z")[0].date == "2022-05-22"


def test_bot_ask_shows_resolved_dates(tmp_path, seed_corpus, hashing_spec):
    """``--json`` answers carry each date expression in article offsets; the human output
    shows the resolved date beside a relative one."""
    import json

    from click.testing import CliRunner

    from bot.cli import cli
    from index.embed.encoders import load_encoder
    from index.indexer import update_index

    update_index([seed_corpus], tmp_path / "idx", encoder=load_encoder(hashing_spec))
    question = "Which companies announced a strategic cooperation today?"
    args = ["ask", "--index-dir", str(tmp_path / "idx"), "-k", "1", question]
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    [answer] = data["answers"]
    text = open(answer["source"], encoding="utf-8").read()
    assert answer["dates"] and all(text[d["start"]:d["end"]] == d["text"]
                                   for d in answer["dates"])
    assert {"text": "today", "date": "2022-05-23"}.items() <= answer["dates"][-1].items()
    human = CliRunner().invoke(cli, args).stdout
    assert "today [2022-05-23]" in human


def test_when_questions_count_resolved_relative_dates(tmp_path, hashing_spec):
    """A relative date that the article's date resolves is a date for "when" questions;
    the same words in an undated article are not."""
    from index.embed.encoders import load_encoder
    from index.indexer import update_index
    from index.search.searcher import Searcher

    from .conftest import write_corpus

    corpus = write_corpus(tmp_path / "news", {
        "dated.txt": "Mill\ndate 2022-05-23\n\nThe mill closed two years ago after a flood.\n",
        "undated.txt": "Mill\n\nThe old mill closed two years ago after the flood.\n"})
    update_index([corpus], tmp_path / "idx", encoder=load_encoder(hashing_spec))
    searcher = Searcher.open(tmp_path / "idx", encoder=load_encoder(hashing_spec))
    for question, wanted in (("When did the mill close?", {"dated.txt": 1.0,
                                                            "undated.txt": 0.0}),
                             ("Why did the mill close?", {"dated.txt": 0.0,
                                                           "undated.txt": 0.0})):
        cues = {hit.article.source.rsplit("/", 1)[-1]: hit.parts["cue_date"]
                for hit in searcher.search(question, k=5)}
        assert cues == wanted, question


def test_held_out_date_sentences_are_measured():
    """bench/data/dates/heldout.yaml (news sentences written apart from the table above) is
    read by its measuring script: every expected text is in its sentence, figures printed."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, str(root / "scripts" / "date_heldout.py")],
                         capture_output=True, text=True, cwd=root)
    assert run.returncode == 0, run.stderr
    assert "48 sentences, 42 expected expressions" in run.stdout
    assert "found with the right date" in run.stdout and "exactly right" in run.stdout
