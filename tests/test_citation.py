"""Citations (bot/citation.py): one format everywhere, every article field made inert."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from bot.answering import Answer, Answerer, Evidence
from bot.chat.rendering import citation_text
from bot.citation import citation, display_path
from bot.cli import cli
from bot.human_output import render
from bot.transcript import quote, transcript
from index.indexer import update_index

from .conftest import write_corpus

OSC_TITLE = "\x1b]0;pwned\x07"  # would retitle the terminal window
HOSTILE_TITLE = f"Deal \x1b[31mnews{OSC_TITLE}"
HOSTILE_DATE = f"2024-01-02{OSC_TITLE}"


def evidence(**kw) -> Evidence:  # noqa: ANN003
    base = dict(text="Ann signed the deal.", source="/nowhere/news.txt", start=10, end=30,
                score=0.5, title="A title", date="2024-01-02", line=3, column=4)
    return Evidence(**{**base, **kw})


def test_file_offsets_cite_line_column_and_characters() -> None:
    assert citation(evidence()) == \
        "A title \u00b7 2024-01-02 \u00b7 /nowhere/news.txt:3:4 (chars 10\u201330)"


def test_extracted_text_cites_its_record_and_missing_fields_are_left_out() -> None:
    extracted = evidence(offsets="extracted", record=7, title=None, date=None)
    assert citation(extracted) == "/nowhere/news.txt record 7 (extracted text, chars 10\u201330)"
    assert citation(extracted, chars=False) == "/nowhere/news.txt record 7"


def test_short_form_leaves_out_only_the_character_offsets() -> None:
    assert citation(evidence(), chars=False) == \
        "A title \u00b7 2024-01-02 \u00b7 /nowhere/news.txt:3:4"


def test_path_below_the_current_folder_is_shown_relative(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(str(tmp_path / "news" / "a.txt")) == os.path.join("news", "a.txt")
    outside = str(tmp_path.parent / "elsewhere.txt")
    assert display_path(outside) == outside


def test_line_breaks_in_fields_cannot_split_the_citation() -> None:
    cited = citation(evidence(title="Two\nlines", source="/odd\nname.txt"))
    assert "\n" not in cited
    assert cited.startswith("Two lines \u00b7 ") and "/odd\\x0aname.txt:3:4" in cited


@pytest.fixture(scope="module")
def hostile_answer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Answer]:
    """An index of one JSONL record whose title and date carry escape sequences."""
    root = tmp_path_factory.mktemp("citation")
    record = {"title": HOSTILE_TITLE, "date": HOSTILE_DATE,
              "text": "The lighthouse keeper signed the harbour deal in spring."}
    corpus = write_corpus(root / "news", {"feed.jsonl": json.dumps(record) + "\n"})
    from index.embed.encoders import EncoderSpec

    update_index([corpus], root / "idx", spec=EncoderSpec("hashing", "hashing"))
    answer = Answerer.open(root / "idx").ask("lighthouse keeper harbour deal", k=1)
    assert (answer.evidence[0].title, answer.evidence[0].date) == (HOSTILE_TITLE, HOSTILE_DATE)
    return root / "idx", answer


def assert_neutralised(shown: str) -> None:
    """No escape character or BEL reaches the screen; the escapes are shown as text."""
    assert "\x1b" not in shown and "\x07" not in shown, repr(shown)
    assert "2024-01-02\\x1b]0;pwned\\x07" in shown
    assert "Deal \\x1b[31mnews" in shown


def test_bot_ask_shows_hostile_title_and_date_inertly(hostile_answer) -> None:
    index_dir, _ = hostile_answer
    result = CliRunner().invoke(cli, ["ask", "-k", "1", "--index-dir", str(index_dir),
                                      "lighthouse keeper harbour deal"], color=True)
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" in result.stdout  # colour is on, as on a terminal
    own_styles = [line for line in result.stdout.splitlines() if "pwned" in line]
    assert len(own_styles) == 1
    # the CLI's own colour codes wrap the line; inside it nothing from the article is live
    inside = own_styles[0].removeprefix("\x1b[2m").removesuffix("\x1b[0m")
    assert_neutralised(inside)
    assert "record 1" in inside and "(extracted text, chars" in inside


def test_transcript_and_quote_show_hostile_title_and_date_inertly(hostile_answer) -> None:
    _, answer = hostile_answer

    class Turn:
        def __init__(self, answer: Answer) -> None:
            self.answer = answer

    assert_neutralised(quote(answer.evidence[0]))
    assert_neutralised(transcript([Turn(answer)]))


def test_chat_citation_shows_hostile_title_and_date_inertly(hostile_answer) -> None:
    _, answer = hostile_answer
    text = citation_text(answer.evidence[0], rank=1)
    assert text.plain.startswith("#1 \u00b7 Deal ")
    buffer = StringIO()
    Console(file=buffer, force_terminal=True, color_system="truecolor", width=400).print(text)
    rendered = buffer.getvalue()
    assert "\x07" not in rendered and "\x1b]" not in rendered  # only Rich's own styling
    assert_neutralised(text.plain)


def test_the_three_outputs_cite_alike() -> None:
    """``bot ask``, the chat card and the Markdown quote show the same citation."""
    cited = citation(evidence())
    assert f"\u2014 {cited} \u00b7 score 0.500" in render(Answer("Q?", True, 0.9, [evidence()]))
    assert citation_text(evidence(), rank=2).plain == f"#2 \u00b7 {citation(evidence(), False)}"
    assert quote(evidence()).endswith(f"> \u2014 {cited}\n")
