"""Follow-up questions are read in the previous turn's context (bot/conversation.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot import conversation
from bot.conversation import Conversation, is_follow_up, key_terms
from tests.conftest import SEEDS, write_corpus

PARTNERS = """Acme and Globex

date 2021-03-04

Acme signed a partnership with the chip maker Globex in 2015. The agreement between Acme and \
Globex ended in 2019 after a long dispute over patents. Acme now works with Initech instead.

Analysts expect Initech to supply Acme for years.
"""

FACTORY = """Umbrella factory

date 2020-06-01

It ended when demand for umbrellas ended, the owners said.

The Umbrella factory in Raccoon City closed its doors after sales fell.
"""

HIKER = """Hiker found on Carrick Fell

date 2026-11-30

A hiker missing for two days was found alive on Carrick Fell on Sunday.
Daniel Frost, 34, set out alone from the village of Brackenthwaite on Friday morning.
His sister reported him missing when he did not come home that night.
Mountain rescue volunteers searched the fell through thick fog.
A dog team found him in a gully below the summit on Sunday afternoon.
He had a broken ankle and was cold but he was talking, the rescue leader said.
He was flown to hospital in Carlisle by helicopter.
Doctors said he would stay there for a few days.
The road to the fell was closed for the afternoon.
His family thanked the volunteers for their work.
"""


@pytest.mark.parametrize("question", [
    "When did it end?", "What did they sign?", "Who runs its factory?", "And the price?",
    "What about Globex?", "When was that?", "Where is he now?",
])
def test_questions_that_refer_back_are_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    "Who did Leica partner with before Xiaomi?", "When did the Huawei deal end?",
    "Who is Xiaomi's founder and CEO?", "",
    "Which company announced that the sensor in the new phone would be larger than before?",
])
def test_self_contained_questions_are_not_follow_ups(question: str) -> None:
    assert not is_follow_up(question)


def test_key_terms_drop_stop_words_pronouns_and_repeats() -> None:
    assert key_terms("Who did Leica partner with before Xiaomi? And Leica?") == [
        "Leica", "partner", "Xiaomi"]


@pytest.fixture
def partners_index(tmp_path: Path, hashing_spec) -> Path:
    from index.indexer import update_index

    corpus = write_corpus(tmp_path / "corpus", {"acme.txt": PARTNERS, "umbrella.txt": FACTORY})
    update_index([corpus], tmp_path / "index", spec=hashing_spec)
    return tmp_path / "index"


def test_follow_up_stays_with_the_previous_topic(partners_index: Path) -> None:
    from bot.answering import Answerer

    answerer = Answerer.open(partners_index)
    alone = Answerer.open(partners_index).ask("When did it end?", k=3)
    assert "umbrella" in alone.evidence[0].source  # without context: the other article

    chat = Conversation(answerer)
    first = chat.ask("Who did Acme sign a partnership with in 2015?", k=3)
    assert not first.follow_up
    assert "Globex in 2015" in first.answer.evidence[0].text
    second = chat.ask("When did it end?", k=3)
    assert second.follow_up
    assert {"Acme", "partnership"} <= set(second.context)
    assert second.answer.question == "When did it end?"
    assert second.answer.evidence[0].text.startswith("The agreement between Acme and Globex "
                                                     "ended in 2019")
    assert len(second.answer.evidence) == 3
    scores = [e.score for e in second.answer.evidence]
    assert scores == sorted(scores, reverse=True)


def test_chained_follow_ups_keep_the_topic_and_clear_forgets_it(partners_index: Path) -> None:
    from bot.answering import Answerer

    chat = Conversation(Answerer.open(partners_index))
    chat.ask("Who did Acme sign a partnership with in 2015?", k=2)
    chat.ask("When did it end?", k=2)
    third = chat.ask("Who replaced them?", k=2)
    assert third.follow_up
    assert "Acme" in third.context  # the topic, named in the second turn's best sentence
    assert "partnership" in third.context  # carried from the first question through the chain
    chat.clear()
    assert not chat.ask("When did it end?", k=2).follow_up


@pytest.mark.slow
def test_follow_ups_on_the_seed_article_with_the_real_model(seed_index: Path,
                                                            real_encoder) -> None:
    """The acceptance examples: the real model on the shipped seeds."""
    from bot.answering import Answerer

    assert SEEDS.is_dir()
    answerer = Answerer.open(seed_index, encoder=real_encoder)
    chat = answerer.conversation()
    chat.ask("Which phone will likely be the first with Leica branding?", k=3)
    reply = chat.ask("When will it debut?", k=3)
    assert reply.follow_up and "Leica" in reply.read_with
    assert "debut in July 2022" in reply.answer.evidence[0].text
    chat = answerer.conversation()
    chat.ask("When did Huawei announce its partnership with Leica?", k=3)
    ended = chat.ask("When did it end?", k=3)
    assert any(e.text.startswith("The deal between the two companies reportedly expired in "
                                 "2021") for e in ended.answer.evidence[:2])


def test_a_new_question_in_a_dialogue_is_read_alone(partners_index: Path) -> None:
    """Changing the subject: a question naming the other article's subject, and nothing the
    dialogue said, is answered as if asked alone (and starts a new topic); a pronoun after it
    follows the new topic, not the old one."""
    from bot.answering import Answerer

    answerer = Answerer.open(partners_index)
    chat = Conversation(answerer)
    chat.ask("Who did Acme sign a partnership with in 2015?", k=3)
    ended = chat.ask("When did it end?", k=3)
    assert ended.follow_up and "acme" in ended.answer.evidence[0].source

    question = "Where is the Umbrella factory?"
    alone = answerer.ask(question, k=3)
    switched = chat.ask(question, k=3)
    assert not switched.follow_up and switched.read_with == ()
    assert "umbrella" in switched.answer.evidence[0].source
    assert [e.sentence_id for e in switched.answer.evidence] == \
        [e.sentence_id for e in alone.evidence]
    assert (switched.answer.answered, switched.answer.confidence) == \
        (alone.answered, alone.confidence)

    closed = chat.ask("Why did it close?", k=3)
    assert closed.follow_up and "Umbrella" in closed.read_with
    assert not {"Acme", "Globex", "partnership"} & set(closed.read_with)
    assert "umbrella" in closed.answer.evidence[0].source


@pytest.mark.slow
def test_a_change_of_subject_on_the_seed_article_is_answered_as_alone(seed_index: Path,
                                                                      real_encoder) -> None:
    """"Who runs Xiaomi?" after "Where is Leica's headquarters?" is a new question: read with
    the first, it was answered (0.83) from a sentence about Leica's partners; alone it is
    not answered, and that is what the dialogue shows now."""
    from bot.answering import Answerer

    answerer = Answerer.open(seed_index, encoder=real_encoder)
    chat = answerer.conversation()
    chat.ask("Where is Leica's headquarters?", k=3)
    reply = chat.ask("Who runs Xiaomi?", k=3)
    alone = answerer.ask("Who runs Xiaomi?", k=3)
    assert not reply.follow_up and reply.read_with == ()
    assert [e.text for e in reply.answer.evidence] == [e.text for e in alone.evidence]
    assert (reply.answer.answered, reply.answer.confidence) == \
        (alone.answered, alone.confidence)


def test_a_new_question_in_a_dialogue_is_embedded_once(partners_index: Path) -> None:
    """The topic check's embedding of a subject-changing question is the one its standalone
    search and the next turn's context use (an encode is the costliest step of a turn)."""
    from bot.answering import Answerer

    answerer = Answerer.open(partners_index)
    encoder = answerer.searcher.encoder
    embedded: list[str] = []
    encode = encoder.encode_query

    def counted(text: str):  # noqa: ANN202
        embedded.append(text)
        return encode(text)

    encoder.encode_query = counted  # type: ignore[method-assign]
    chat = Conversation(answerer)
    chat.ask("Who did Acme sign a partnership with in 2015?", k=3)
    switched = chat.ask("Where is the Umbrella factory?", k=3)
    assert not switched.follow_up
    chat.ask("Why did it close?", k=3)
    assert embedded.count("Where is the Umbrella factory?") == 1
    assert embedded.count("Why did it close?") == 1


def test_a_follow_up_is_read_by_the_second_stage_once(partners_index: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With the second stage on every question (no gate), a follow-up turn's two searches
    read it once: the bare question's; the context search keeps the first stage's order (and
    the verdict reads its parts: the first stage's model judges a follow-up)."""
    from bot.answering import Answerer

    monkeypatch.setenv("BOT_RERANK_GAP", "inf")
    answerer = Answerer.open(partners_index, rerank_depth=10)
    searcher = answerer.searcher
    read: list[str] = []
    scores = searcher.rerank_scores

    def counted(question: str, ids, table=None):  # noqa: ANN001, ANN202
        read.append(question)
        return scores(question, ids, table)

    searcher.rerank_scores = counted  # type: ignore[method-assign]
    chat = Conversation(answerer)
    chat.ask("Who did Acme sign a partnership with in 2015?", k=3)
    assert read == ["Who did Acme sign a partnership with in 2015?"]
    second = chat.ask("When did it end?", k=3)
    assert second.follow_up
    assert read[1:] == ["When did it end?"]
    assert "rerank" in second.answer.evidence[0].parts
    # the topic keeps the Acme agreement in the evidence; read ungated, the hashing encoder's
    # word share for the lure ("It ended when ...": "it", "when") at the combiner refitted with
    # the question-token weights (second stage / first stage 56, was 28) outweighs the topic
    # prior and puts it first (docs/quality.md, "Weighted question tokens": conversations)
    assert any(e.text.startswith("The agreement between Acme and Globex")
               for e in second.answer.evidence)


@pytest.fixture
def hiker_index(tmp_path: Path, hashing_spec) -> Path:
    from index.indexer import update_index

    corpus = write_corpus(tmp_path / "corpus", {"hiker.txt": HIKER})
    update_index([corpus], tmp_path / "index", spec=hashing_spec)
    return tmp_path / "index"


def _second_turn(index: Path, confidence: float) -> str:
    """The best sentence for "What did the family do?" after "Who searched the fell?", whose
    reply is recorded with the verdict's ``confidence`` (the first stage's order, ``--fast``:
    what moves it here is the walk alone)."""
    from bot.answering import Answerer

    chat = Conversation(Answerer.open(index, rerank_depth=0))
    first = chat.ask("Who searched the fell?", k=3)
    assert first.answer.evidence[0].text.startswith("Mountain rescue volunteers searched")
    chat.turns[-1] = replace(first, answer=replace(first.answer, confidence=confidence))
    second = chat.ask("What did the family do?", k=3)
    assert second.follow_up
    return second.answer.evidence[0].text


def test_an_unsure_previous_answer_does_not_pull_the_next_turn_to_itself(
        hiker_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk trusts the previous best sentence as far as its verdict did: after an answer
    the verdict was sure of, the next turn leans towards the same sentence again; after an
    unsure one (most likely wrong) it follows the question's own words. Trusted always (as
    before, ``ANCHOR_FLOOR`` 1), the unsure answer was repeated too."""
    assert _second_turn(hiker_index, 0.98).startswith("Mountain rescue volunteers searched")
    assert _second_turn(hiker_index, 0.02).startswith("His family thanked the volunteers")
    monkeypatch.setattr(conversation, "ANCHOR_FLOOR", 1.0)
    assert _second_turn(hiker_index, 0.02).startswith("Mountain rescue volunteers searched")
