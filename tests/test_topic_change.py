"""The topic-change decision of a later conversation turn (bot/topic_change.py)."""

from __future__ import annotations

from bot.topic_change import SWITCH_LEAD, TopicCheck, lead_of, normal


def test_lead_is_how_far_another_article_leads_the_topics_best_sentence() -> None:
    hits = [(7, 12.0), (3, 9.5), (3, 4.0), (5, 1.0)]
    assert lead_of(hits, 3) == 2.5
    assert lead_of(hits, 7) == 0.0  # the topic's article leads
    assert lead_of(hits, 9) == 11.0  # the topic's article is not among them: over the lowest
    assert lead_of(hits, None) == lead_of([], 3) == 0.0


def test_a_question_that_refers_back_is_a_follow_up_whatever_else_points_away() -> None:
    far = SWITCH_LEAD + 10
    assert not TopicCheck(refers_back=True, lead=far, new_names=("Xiaomi",)).stands_alone
    assert TopicCheck(refers_back=False, lead=far).stands_alone
    assert "another article leads" in TopicCheck(refers_back=False, lead=far).reason


def test_a_new_name_makes_a_new_question_only_when_nothing_is_shared() -> None:
    new = TopicCheck(refers_back=False, lead=0.0, new_names=("Xiaomi",))
    assert new.stands_alone and new.reason == "names Xiaomi, new to the dialogue"
    assert not TopicCheck(refers_back=False, lead=0.0, new_names=("Xiaomi",),
                          shared=("partner",)).stands_alone
    assert not TopicCheck(refers_back=False, lead=SWITCH_LEAD).stands_alone


def test_words_are_compared_without_possessives_or_plurals() -> None:
    assert normal("Leica's") == normal("leica") == "leica"
    assert normal("Partners") == normal("partner")
    assert normal("Glass") == "glass"


def test_a_new_name_is_shown_without_its_possessive() -> None:
    """The chat's "why" reads "names Leica, new to the dialogue", not "Leica's"."""
    from bot.conversation import _check

    check = _check("Where is Leica’s headquarters?", {"xiaomi", "founder"}, [], None)
    assert check.new_names == ("Leica",)
    assert check.reason == "names Leica, new to the dialogue"


def test_the_short_question_rule_reads_the_constant_when_asked(monkeypatch) -> None:  # noqa: ANN001
    """scripts/topic_switches.py --set SHORT_WORDS=N changes bot.topic_change's constant: the
    conversation's check must read it then, not a copy taken at import."""
    from bot import topic_change
    from bot.conversation import _check

    assert _check("In what city?", set(), [], None).refers_back
    monkeypatch.setattr(topic_change, "SHORT_WORDS", 2)
    assert not _check("In what city?", set(), [], None).refers_back
