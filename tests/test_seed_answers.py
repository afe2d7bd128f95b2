"""Integration: the real packaged model answering questions about the shipped seed article."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering import Answerer

pytestmark = pytest.mark.slow

QUESTIONS = [
    ("Which camera maker did Huawei partner with in 2016?", "Huawei was among the first"),
    ("When did the Huawei and Leica deal expire?", "The deal between the two companies"),
    ("What was the final project of Huawei and Leica?", "The deal between the two companies"),
    ("Who is Leica's new partner?", "Leica now has a new partner in Xiaomi"),
    ("When will the first Xiaomi phone with Leica branding debut?", "We will not have to wait"),
    ("Which phone will likely be the first with Leica branding?", "The device will likely be"),
    ("How will the cooperation help Xiaomi?", 'The "strategic cooperation" will allow'),
    ("Which other phone maker partnered with Hasselblad?", "Both companies could also"),
    ("How big was the sensor of the Mi 11 Ultra?", "Xiaomi's Mi 11 Ultra from 2021"),
    ("Which Sony sensor is rumoured for the follow-up model?", "This year's follow-up model"),
    ("How old is Leica?", "For those not in the know, Leica is a 150-year-old"),
    ("Besides Huawei and Xiaomi, who does Leica collaborate with?", "Apart from its partnerships"),
]


@pytest.fixture(scope="module")
def answerer(seed_index: Path, real_encoder) -> Answerer:
    return Answerer.open(seed_index, encoder=real_encoder)


def test_founder_question_ranks_the_lei_jun_sentence_first(answerer: Answerer):
    answer = answerer.ask("Who is Xiaomi's founder and CEO?", k=3)
    assert answer.evidence[0].text.startswith("Lei Jun, Xiaomi's founder and CEO, said")
    assert answer.answered


@pytest.mark.parametrize("question, expected_start", QUESTIONS)
def test_seed_question_finds_its_sentence_in_the_top_3(answerer: Answerer, question: str,
                                                       expected_start: str):
    answer = answerer.ask(question, k=3)
    texts = [e.text for e in answer.evidence]
    assert any(t.startswith(expected_start) for t in texts), texts


def test_evidence_offsets_point_into_the_seed_file(answerer: Answerer):
    for evidence in answerer.ask("Who is Leica's new partner?", k=5).evidence:
        text = Path(evidence.source).read_bytes().decode("utf-8")
        assert text[evidence.start:evidence.end] == evidence.text
        assert evidence.date == "2022-05-23"
