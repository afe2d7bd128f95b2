"""Markdown quotes and transcripts (bot/transcript.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering import Answer, Evidence
from bot.transcript import quote, transcript


def evidence(text: str, **kw) -> Evidence:  # noqa: ANN003
    base = dict(source="/nowhere/news.txt", start=10, end=10 + len(text), score=0.5,
                title="A title", date="2024-01-02", line=3, column=4)
    return Evidence(text=text, **{**base, **kw})


def test_quote_is_a_block_quote_with_its_citation() -> None:
    q = quote(evidence("Line one\nline two \x1b[31mred"))
    assert q.splitlines() == [
        "> Line one", "> line two \\x1b[31mred", ">",
        "> \u2014 A title \u00b7 2024-01-02 \u00b7 /nowhere/news.txt:3:4 (chars 10\u201336)"]


def test_quote_of_extracted_text_names_the_record() -> None:
    q = quote(evidence("From a feed.", offsets="extracted", record=7, title=None, date=None))
    assert q.endswith("> \u2014 /nowhere/news.txt record 7 (extracted text, chars 10\u201322)\n")


@dataclass
class _Turn:
    answer: Answer


def test_transcript_lists_each_turn_and_says_when_unanswered() -> None:
    turns = [_Turn(Answer("Who?", True, 0.9, [evidence("Ann did it.")])),
             _Turn(Answer("Why [bold]?", False, 0.1, [evidence("Maybe.")])),
             _Turn(Answer("Nothing?", False, 0.0, []))]
    md = transcript(turns)
    assert md.startswith("# sentence-bot chat\n")
    assert "## Who?\n\nAnswered, very likely right (confidence 0.90)." in md
    assert "## Why [bold]?\n\nNot answered" in md and "> Maybe." in md
    assert "## Nothing?\n\nNo sentence in the index matches this question." in md


def test_every_front_end_words_the_verdict_the_same() -> None:
    from types import SimpleNamespace

    from click import unstyle

    from bot.chat.widgets import verdict_text
    from bot.human_output import render

    answers = [Answer("Who?", True, 0.93, [evidence("Ann did it.")]),
               Answer("Who else?", True, 0.8, [evidence("Bob did it.")]),
               Answer("Who then?", True, 0.6, [evidence("Cid did it.")]),
               Answer("Why?", False, 0.1, [evidence("Maybe.")]),
               Answer("Nothing?", False, 0.0, [])]
    said = []
    for answer in answers:
        chat = verdict_text(SimpleNamespace(answer=answer, reply=SimpleNamespace(
            follow_up=False, context=(), check=None))).plain
        assert f"\n{chat}\n" in transcript([_Turn(answer)])  # the saved chat says it too
        assert chat in unstyle(render(answer))  # and bot ask
        said.append(chat)
    assert said == ["Answered, very likely right (confidence 0.93).",
                    "Answered, likely right (confidence 0.80).",
                    "Answered (confidence 0.60), but unsure: check the sentence.",
                    "Not answered: no sentence clearly supports an answer (confidence 0.10). "
                    "Closest candidates:",
                    "No sentence in the index matches this question."]
