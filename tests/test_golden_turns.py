"""Golden cases that are dialogues (``turns:``): each turn checked after the earlier ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.golden.format import GoldenFormatError, parse_golden

from .conftest import write_corpus
from .test_conversation import FACTORY, PARTNERS

DIALOGUE = """\
corpus: news
model: hashing
k: 3
cases:
  - name: acme
    turns:
      - question: Who did Acme sign a partnership with in 2015?
        expect: {contains: Globex in 2015}
      - question: When did it end?
        expect: {contains: ended in 2019}
  - question: When did it end?
    expect: {contains: demand for umbrellas}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "news", {"acme.txt": PARTNERS, "umbrella.txt": FACTORY})
    (tmp_path / "talk.qa.yaml").write_text(DIALOGUE, encoding="utf-8")
    return tmp_path


def test_a_dialogue_becomes_one_case_per_turn_with_the_earlier_questions(project: Path):
    golden = parse_golden(DIALOGUE, project / "talk.qa.yaml")
    names = [c.name for c in golden.cases]
    assert names == ["acme · turn 1", "acme · turn 2", "When did it end?"]
    first, second, alone = golden.cases
    assert (first.earlier, second.earlier, alone.earlier) == (
        (), ("Who did Acme sign a partnership with in 2015?",), ())
    assert first.dialogue == second.dialogue == "acme" and alone.dialogue is None
    assert second.line > first.line and second.k == 3


@pytest.mark.parametrize("text, message", [
    ("  - turns: []\n", "'turns' must be a non-empty list"),
    ("  - turns:\n      - question: x\n", "turn 1 of case 1 has no 'expect:'"),
    ("  - turns:\n      - {question: x, expect: {abstain: true}, k: 2}\n",
     "unknown key 'k' in turn 1 of case 1"),
    ("  - question: x\n    turns:\n      - {question: y, expect: {abstain: true}}\n",
     "case 1 has 'turns:', so its 'question:' belongs in a turn"),
])
def test_malformed_dialogues_are_one_line_errors(project: Path, text: str, message: str):
    with pytest.raises(GoldenFormatError) as raised:
        parse_golden("corpus: news\ncases:\n" + text, project / "bad.qa.yaml")
    assert message in str(raised.value) and str(raised.value).startswith(
        f"{project / 'bad.qa.yaml'}:")


def test_bot_check_reads_each_turn_with_the_earlier_ones(project: Path):
    result = CliRunner().invoke(cli, ["check", str(project / "talk.qa.yaml"), "--json",
                                      "--index-dir", str(project / "indexes")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    cases = {c["name"]: c for c in report["cases"]}
    assert cases["acme · turn 2"]["status"] == "pass"
    assert cases["acme · turn 2"]["answers"][0]["text"].startswith("The agreement between Acme")
    assert cases["When did it end?"]["answers"][0]["source"].endswith("umbrella.txt")


def test_a_turn_fails_when_its_earlier_turns_are_taken_away(project: Path):
    alone = DIALOGUE.replace("      - question: Who did Acme sign a partnership with in 2015?\n"
                             "        expect: {contains: Globex in 2015}\n", "")
    (project / "talk.qa.yaml").write_text(alone, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(project / "talk.qa.yaml"),
                                      "--index-dir", str(project / "indexes")])
    assert result.exit_code == 1
    assert "acme · turn 1" in result.output and "ended in 2019" in result.output


def test_a_dialogues_filters_apply_to_every_turn(project: Path):
    """A dialogue case's ``filters`` keep every turn, the earlier ones included, to the
    articles it names."""
    (project / "talk.qa.yaml").write_text(DIALOGUE.replace(
        "  - name: acme\n", "  - name: acme\n    filters: {source: '*umbrella*'}\n"),
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(project / "talk.qa.yaml"), "--json",
                                      "--index-dir", str(project / "indexes")])
    report = json.loads(result.output)
    turns = [c for c in report["cases"] if c["name"].startswith("acme")]
    assert [c["status"] for c in turns] == ["fail", "fail"]  # Acme's article is filtered out
    assert all(a["source"].endswith("umbrella.txt") for c in turns for a in c["answers"])
