"""Sentence and paragraph spans: exact offsets and the cases news text is full of."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest.splitter import paragraphs, sentences

from .conftest import SEED_ARTICLE


def texts(text: str) -> list[str]:
    return [text[s.start:s.end] for s in sentences(text)]


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith met Mr. Jones in the U.S. capital. They talked.",
     ["Dr. Smith met Mr. Jones in the U.S. capital.", "They talked."]),
    ("Its 1/1.12-inches sensor beat the Mi 11 Ultra. Prices rose 3.5% to $1.12 billion.",
     ["Its 1/1.12-inches sensor beat the Mi 11 Ultra.", "Prices rose 3.5% to $1.12 billion."]),
    ('Lei Jun said, "from optical design to tuning, both parties collided" with this. Done.',
     ['Lei Jun said, "from optical design to tuning, both parties collided" with this.', "Done."]),
    ("What? Really?! Yes.", ["What?", "Really?!", "Yes."]),
])
def test_sentences_respect_abbreviations_decimals_and_quotes(text: str, expected: list[str]):
    assert texts(text) == expected


def test_seed_article_sentences_reproduce_the_file_text():
    text = SEED_ARTICLE.read_bytes().decode("utf-8")
    paras = paragraphs(text)
    assert len(paras) == 6
    spans = [s for p in paras for s in sentences(text, p.start, p.end)]
    assert len(spans) >= 15
    assert any(text[s.start:s.end].startswith("Xiaomi's Mi 11 Ultra from 2021 raised") and
               text[s.start:s.end].endswith("50MP sensor.") for s in spans)


def test_paragraphs_split_on_blank_lines_including_crlf():
    text = "First para.\r\nStill first.\r\n\r\nSecond para.\n \n\nThird."
    assert [text[p.start:p.end] for p in paragraphs(text)] == [
        "First para.\r\nStill first.", "Second para.", "Third."]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("ab .?!\"'\n\t,1\r") + ["Dr. ", "U.S.", "é", "\u2019", "\n\n"]),
                max_size=80).map("".join))
def test_spans_are_exact_ordered_and_cover_all_non_space_text(text: str):
    spans = [s for p in paragraphs(text) for s in sentences(text, p.start, p.end)]
    covered = []
    last_end = 0
    for span in spans:
        piece = text[span.start:span.end]
        assert piece and piece == piece.strip()
        assert span.start >= last_end
        last_end = span.end
        covered.append(piece)
    assert "".join("".join(covered).split()) == "".join(text.split())
