"""SVG snapshots of what a ``bot chat`` user sees: empty, answered, not answered, follow-up,
article view, help and error. The engine is a stub with fixed answers, so the pictures change
only when the UI does (not when ranking or confidence is tuned).

Update after an intended UI change: ``python -m pytest tests/test_chat_snapshots.py
--snapshot-update``.
"""

from __future__ import annotations

import re

from bot.chat.app import make_app
from bot.chat.engine import ChatEngine, Loaded, Shown, Turn
from bot.conversation import Reply
from index.errors import IndexCorrupt

SIZE = (100, 30)
NARROW = (80, 24)
SOURCE = "corpus/acme-globex.txt"
ARTICLE = """Acme and Globex end their chip deal

date 2021-03-04

Acme signed a partnership with the chip maker Globex in 2015. The agreement between Acme and \
Globex ended in 2019 after a long dispute over patents. Acme now works with Initech instead, \
and says the [bold red]switch[/] went smoothly.

Analysts expect Initech to supply Acme with chips for years. Globex declined to comment.

""" + "\n\n".join(f"Background paragraph {i}: chip supply contracts usually run for several "
                  f"years and are renewed quietly." for i in range(1, 25)) + """

Acme's founder said in a statement that the company would announce more partners next year.
"""


def _evidence(sentence: str, score: float):  # noqa: ANN202
    from bot.answering import Evidence, PassageView

    start = ARTICLE.index(sentence)
    end = start + len(sentence)
    para_start = ARTICLE.rfind("\n\n", 0, start) + 2
    para_end = ARTICLE.find("\n\n", end)
    text = ARTICLE[para_start:para_end]
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.\s*", text)]
    spans = [(a, a + len(text[a:b].rstrip())) for a, b in spans]
    focus = next(i for i, (a, b) in enumerate(spans) if para_start + a == start)
    line = ARTICLE.count("\n", 0, start) + 1
    evidence = Evidence(text=sentence, source=SOURCE, start=start, end=end, score=score,
                        title="Acme and Globex end their chip deal", date="2021-03-04",
                        line=line, column=start - ARTICLE.rfind("\n", 0, start),
                        article_id=0, passage_id=para_start, sentence_id=start)
    return Shown(evidence, PassageView(text, spans, focus))


class StubEngine(ChatEngine):
    """Fixed answers for fixed questions; no model, no index."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(["corpus"], "index")
        self.fail = fail

    def load(self, status, rebuild=False):  # noqa: ANN001, ANN202
        if self.fail:
            raise IndexCorrupt("live generation gen-7 is missing; rebuild with bot index")
        self.answerer = object()  # marks the engine as loaded
        return Loaded(articles=1, sentences=31, model="stub", summary="index up to date")

    def ask(self, question: str, k: int) -> Turn:
        from bot.answering import Answer

        if "qwphlorb" in question:
            shown = (_evidence("Globex declined to comment.", 0.11),
                     _evidence("Acme signed a partnership with the chip maker Globex in 2015.",
                               0.08))
            reply = Reply(Answer(question, False, 0.12, [s.evidence for s in shown]))
        else:
            shown = (
                _evidence("The agreement between Acme and Globex ended in 2019 after a long "
                          "dispute over patents.", 0.81),
                _evidence("Acme signed a partnership with the chip maker Globex in 2015.", 0.64),
                _evidence("Analysts expect Initech to supply Acme with chips for years.", 0.52),
            )[:k]
            follow_up = question.startswith("When did it")
            reply = Reply(Answer(question, True, 0.93, [s.evidence for s in shown]),
                          follow_up=follow_up,
                          context=("Acme", "partner", "Globex") if follow_up else ())
        return Turn(reply, shown)

    def article(self, evidence):  # noqa: ANN001, ANN202
        from bot.answering import Article

        return Article(source=SOURCE, text=ARTICLE, body_start=0, body_end=len(ARTICLE),
                       title="Acme and Globex end their chip deal", date="2021-03-04")

    def forget(self) -> None:
        pass


def _app(fail: bool = False):  # noqa: ANN202
    return make_app(engine=StubEngine(fail=fail))


async def _ready(pilot) -> None:  # noqa: ANN001
    # a blinking cursor would be drawn or not depending on when the picture is taken
    pilot.app.question_input.cursor_blink = False
    for _ in range(200):
        if pilot.app.ready or pilot.app.error:
            break
        await pilot.pause(0.05)
    await pilot.pause()


async def _ask(pilot, question: str) -> None:  # noqa: ANN001
    await _ready(pilot)
    pilot.app.question_input.value = question
    await pilot.press("enter")
    view = list(pilot.app.turns.values())[-1]
    for _ in range(200):
        if view.turn is not None or "-error" in view.query_one(".verdict").classes:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)


def test_empty(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(_app(), run_before=_ready, terminal_size=SIZE)


def test_answered(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ask(pilot, "When did the agreement between Acme and Globex end?")

    assert snap_compare(_app(), run_before=run_before, terminal_size=SIZE)


def test_answered_narrow_with_follow_up_and_focus(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ask(pilot, "Who did Acme partner with?")
        await _ask(pilot, "When did it end?")
        await pilot.press("tab", "down")
        await pilot.pause(0.1)

    assert snap_compare(_app(), run_before=run_before, terminal_size=NARROW)


def test_not_answered(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ask(pilot, "Zzyzx qwphlorb vrimble?")

    assert snap_compare(_app(), run_before=run_before, terminal_size=SIZE)


def test_article_view(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ask(pilot, "When did the agreement between Acme and Globex end?")
        await pilot.press("ctrl+o")
        for _ in range(100):
            if pilot.app.screen.query(".paragraph"):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(_app(), run_before=run_before, terminal_size=SIZE)


def test_help(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ready(pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)

    assert snap_compare(_app(), run_before=run_before, terminal_size=SIZE)


def test_error(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _ask(pilot, "Who did Acme partner with?")

    assert snap_compare(_app(fail=True), run_before=run_before, terminal_size=SIZE)
