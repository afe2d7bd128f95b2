"""The chat's widgets: the question box with history, answered turns and evidence cards."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from ..verdicts import verdict
from .rendering import citation_text, keyword_pattern, passage_text, printable, sentence_text

if TYPE_CHECKING:
    from .engine import Shown, Turn


class QuestionInput(Input):
    """Where questions are typed; up/down recall earlier questions."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier question", show=False),
        Binding("down", "history(1)", "Later question", show=False),
        Binding("tab", "to_evidence", "Evidence", show=False),
    ]

    def __init__(self, **kwargs) -> None:  # noqa: ANN003 - Input's keyword arguments
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._cursor = 0
        self._draft = ""

    def remember(self, question: str) -> None:
        """Add an asked question to the history (consecutive repeats once)."""
        if not self.history or self.history[-1] != question:
            self.history.append(question)
        self._cursor = len(self.history)
        self._draft = ""

    def action_to_evidence(self) -> None:
        """Focus the best sentence of the latest answer (or the next widget)."""
        turns = [t for t in self.screen.query(TurnView) if t.query(EvidenceCard)]
        if turns:
            turns[-1].query(EvidenceCard).first().focus()
        else:
            self.screen.focus_next()

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._cursor == len(self.history):
            self._draft = self.value
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        self.value = self._draft if self._cursor == len(self.history) else \
            self.history[self._cursor]
        self.cursor_position = len(self.value)


class EvidenceCard(Widget, can_focus=True):
    """One evidence sentence: in its paragraph when it is the best one or has focus."""

    BINDINGS = [
        Binding("enter,o", "open", "Open article", show=False),  # ctrl+o/ctrl+y in the footer
        Binding("c", "copy", "Copy quote", show=False),
        Binding("down,j", "move(1)", "Next evidence", show=False),
        Binding("up,k", "move(-1)", "Previous evidence", show=False),
        Binding("escape", "leave", "Back to question", show=False),
    ]

    class Open(Message):
        """Open the whole article at this card's sentence."""

        def __init__(self, card: "EvidenceCard") -> None:
            super().__init__()
            self.card = card

    class Copy(Message):
        """Copy this card's sentence as a Markdown quote."""

        def __init__(self, card: "EvidenceCard") -> None:
            super().__init__()
            self.card = card

    def __init__(self, shown: "Shown", rank: int, pattern: re.Pattern[str] | None,
                 expanded: bool) -> None:
        super().__init__(classes="-best" if expanded else "")
        self.shown = shown
        self.rank = rank
        self.pattern = pattern
        self.expanded = expanded

    @property
    def evidence(self):  # noqa: ANN201 - bot.answering.Evidence
        return self.shown.evidence

    def render(self) -> Text:
        body = (passage_text(self.shown.passage, self.pattern, evidence=self.shown.evidence)
                if self.expanded or self.has_focus else
                sentence_text(self.shown.evidence, self.pattern))
        return Text.assemble(citation_text(self.shown.evidence, self.rank), "\n", body)

    def on_focus(self) -> None:
        self.refresh(layout=True)
        self.scroll_visible()

    def on_blur(self) -> None:
        self.refresh(layout=True)

    def action_open(self) -> None:
        self.post_message(self.Open(self))

    def action_copy(self) -> None:
        self.post_message(self.Copy(self))

    def action_move(self, step: int) -> None:
        cards = list(self.screen.query(EvidenceCard))
        index = cards.index(self) + step
        if 0 <= index < len(cards):
            cards[index].focus()
        elif step > 0:
            self.app.query_one(QuestionInput).focus()

    def action_leave(self) -> None:
        self.app.query_one(QuestionInput).focus()


class TurnView(Vertical):
    """One question and, once it arrives, its answer."""

    def __init__(self, turn_id: int, question: str, waiting: str) -> None:
        super().__init__(classes="turn")
        self.turn_id = turn_id
        self.question = question
        self.turn: Turn | None = None
        self.pattern: re.Pattern[str] | None = None  # the key words shown emphasised
        self._waiting = waiting

    def compose(self):  # noqa: ANN201 - ComposeResult
        yield Static(Text.assemble(("Q  ", "bold"), printable(self.question)), classes="question")
        yield Static(Text(self._waiting), classes="verdict -waiting")

    def show(self, turn: "Turn") -> None:
        """Replace the waiting line with the verdict and the evidence cards."""
        self.turn = turn
        answer = turn.answer
        line = self.query_one(".verdict", Static)
        line.remove_class("-waiting")
        line.update(verdict_text(turn))
        line.set_class(answer.answered, "-answered")
        line.set_class(not answer.answered, "-unanswered")
        terms = [w for w in re.findall(r"\w+", answer.question) if len(w) > 2]
        terms += list(turn.reply.context)
        from ..conversation import key_terms

        self.pattern = pattern = keyword_pattern(key_terms(" ".join(terms)))
        self.mount_all(EvidenceCard(shown, rank, pattern, expanded=rank == 1 and answer.answered)
                       for rank, shown in enumerate(turn.shown, start=1))

    def fail(self, error: str) -> None:
        """Show why this question got no answer."""
        line = self.query_one(".verdict", Static)
        line.remove_class("-waiting")
        line.add_class("-error")
        line.update(Text(printable(f"error: {error}")))  # paths in it are data too


def verdict_text(turn: "Turn") -> Text:
    """``Answered`` / ``Not answered`` line, with the follow-up context when there was one, or
    why a later turn was read alone (a new question: bot/topic_change.py)."""
    text = Text(verdict(turn.answer))
    if turn.reply.follow_up:
        context = ", ".join(printable(t) for t in turn.reply.context)
        text.append(f"\nfollow-up: read with the previous turn ({context})", style="italic")
    elif turn.reply.check is not None:
        text.append(f"\nnew question: read alone ({printable(turn.reply.check.reason)})",
                    style="italic")
    return text
