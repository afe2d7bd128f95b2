"""Each expectation kind, passing and failing, with a reason a person reads at a glance."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering import Answer, Evidence
from bot.golden.expectations import check
from bot.golden.format import parse_golden

SENTENCES = [
    ("Mount Everest is the highest mountain on Earth.", "mountains.txt", "Peaks"),
    ("The Nile is the longest river in Africa.", "rivers.txt", None),
    ("K2 is the second   highest mountain.", "mountains.txt", "Peaks"),
]


def answer(tmp_path: Path, answered: bool = True, confidence: float = 0.9,
           order: tuple[int, ...] = (0, 1, 2)) -> Answer:
    evidence = [Evidence(text=SENTENCES[i][0], source=str(tmp_path / "news" / SENTENCES[i][1]),
                         start=0, end=len(SENTENCES[i][0]), score=1.0 - rank / 10,
                         title=SENTENCES[i][2], date=None)
                for rank, i in enumerate(order)]
    return Answer("q?", answered, confidence, evidence)


def case(tmp_path: Path, expect: str):
    (tmp_path / "news").mkdir(exist_ok=True)
    text = f"corpus: news\ncases:\n  - question: q?\n    expect: {expect}\n"
    return parse_golden(text, tmp_path / "t.qa.yaml").cases[0]


PASSING = [
    "{contains: Everest}",
    "{contains: 'mount EVEREST'}",  # case-insensitive
    "{contains: [Everest, highest]}",  # all phrases in one sentence
    "{contains: 'second highest', within: 3}",  # whitespace in the article is collapsed
    "{equals: 'Mount Everest is the highest mountain on Earth.'}",
    "{equals: 'The Nile is the longest river in Africa.', within: 2}",
    "{article: mountains.txt}",
    "{article: news/mountains.txt}",  # a path relative to the golden file
    "{article: Peaks}",  # or the article's title
    "{contains: Nile, article: rivers.txt, within: 2}",
    "{abstain: false}",
]


@pytest.mark.parametrize("expect", PASSING)
def test_expectation_passes(tmp_path: Path, expect: str) -> None:
    assert check(case(tmp_path, expect), answer(tmp_path)) == []


FAILING = [
    ("{contains: Nile}",
     'expected a sentence containing "Nile" as the top answer; it is at rank 2; rank 1 was '
     '"Mount Everest is the highest mountain on Earth."'),
    ("{contains: Amazon, within: 3}",
     'expected a sentence containing "Amazon" in the top 3; none in the top 3; rank 1 was '
     '"Mount Everest'),
    ("{contains: [Everest, Nile], within: 3}",
     'expected a sentence containing "Everest" and "Nile" in the top 3; none in the top 3'),
    ("{equals: 'Mount Everest is the highest mountain.'}",
     'expected the sentence "Mount Everest is the highest mountain." as the top answer; '
     'none in the top 3'),
    ("{article: rivers.txt}",
     "expected a sentence from article 'rivers.txt' as the top answer; it is at rank 2; "
     'rank 1 was "Mount Everest is the highest mountain on Earth." (mountains.txt)'),
    ("{contains: K2, article: rivers.txt, within: 3}",
     "expected a sentence containing \"K2\" from article 'rivers.txt' in the top 3; "
     "none in the top 3"),
    ("{abstain: true}",
     'expected to abstain, but it answered (confidence 0.90): "Mount Everest is the highest'),
]


@pytest.mark.parametrize("expect, reason", FAILING)
def test_expectation_fails_with_reason(tmp_path: Path, expect: str, reason: str) -> None:
    problems = check(case(tmp_path, expect), answer(tmp_path))
    assert len(problems) == 1
    assert problems[0].startswith(reason)


def test_must_answer_fails_when_it_abstains(tmp_path: Path) -> None:
    problems = check(case(tmp_path, "{abstain: false}"), answer(tmp_path, answered=False,
                                                                  confidence=0.21))
    assert problems == ["expected an answer, but it abstained (confidence 0.21)"]
    assert check(case(tmp_path, "{abstain: true}"), answer(tmp_path, answered=False)) == []


def test_every_broken_expectation_is_reported(tmp_path: Path) -> None:
    problems = check(case(tmp_path, "{contains: Nile, abstain: true}"), answer(tmp_path))
    assert len(problems) == 2
    assert problems[0].startswith("expected to abstain, but it answered")
    assert problems[1].startswith('expected a sentence containing "Nile" as the top answer; '
                                  "it is at rank 2")


def test_no_evidence_and_long_sentences(tmp_path: Path) -> None:
    empty = Answer("q?", False, 0.0, [])
    assert check(case(tmp_path, "{contains: x}"), empty) == [
        'expected a sentence containing "x" as the top answer; got no sentences at all '
        "(is the corpus empty?)"]
    long_text = "word " * 100
    long = Answer("q?", True, 0.9, [Evidence(long_text, "/a.txt", 0, 500, 1.0, None, None)])
    (problem,) = check(case(tmp_path, "{contains: x}"), long)
    assert problem.endswith("\u2026\"") and len(problem) < 250  # cut to stay readable
