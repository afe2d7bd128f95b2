"""Screens over the chat: the whole article, the help, and the corpus prompt."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from .rendering import article_paragraph, citation_text, paragraphs

if TYPE_CHECKING:
    from ..answering import Article, Evidence


WINDOW = 150  # paragraphs shown either side of the evidence (whole typical articles)
BLOCK = 20  # paragraphs per widget outside the evidence's paragraph


class ArticleScreen(Screen):
    """The whole article, scrolled to the evidence sentence, which is highlighted."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back to chat"),
        Binding("c,ctrl+y", "copy", "Copy quote"),  # ctrl+y: the chat's copy key
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom", show=False),
    ]

    def __init__(self, article: "Article", evidence: "Evidence",
                 pattern: re.Pattern[str] | None = None) -> None:
        super().__init__(classes="article-screen")
        self.article = article
        self.evidence = evidence
        self.pattern = pattern

    def compose(self) -> ComposeResult:
        yield Static(citation_text(self.evidence), classes="article-title")
        spans = paragraphs(self.article.text)
        focus = (self.evidence.start, self.evidence.end)
        holds = [start < focus[1] and focus[0] < end for start, end in spans]
        first = holds.index(True) if any(holds) else 0
        last = len(holds) - 1 - holds[::-1].index(True) if any(holds) else -1
        low, high = max(0, first - WINDOW), min(len(spans), last + WINDOW + 1)
        with VerticalScroll(classes="article-body"):
            if low > 0:
                yield Static(Text(f"\u2026 {low} earlier paragraphs not shown", style="italic"),
                             classes="paragraph elided")
            yield from self._blocks(spans[low:first], focus=None)
            yield from self._blocks(spans[first:last + 1], focus=focus, classes="-focus")
            yield from self._blocks(spans[last + 1:high], focus=None)
            if high < len(spans):
                yield Static(Text(f"\u2026 {len(spans) - high} later paragraphs not shown",
                                  style="italic"), classes="paragraph elided")
        yield Footer()

    def _blocks(self, spans: list[tuple[int, int]], focus: tuple[int, int] | None,
                classes: str = "") -> ComposeResult:
        """Paragraphs in blocks of ``BLOCK`` (one widget each keeps long articles fast)."""
        size = len(spans) if focus else BLOCK
        for first in range(0, len(spans), max(size, 1)):
            text = Text("\n\n").join(
                article_paragraph(self.article, start, end, focus, self.pattern)
                for start, end in spans[first:first + size])
            yield Static(text, classes=f"paragraph {classes}".strip())

    def on_mount(self) -> None:
        self.call_after_refresh(self._scroll_to_focus)

    def _scroll_to_focus(self) -> None:
        body = self.query_one(".article-body", VerticalScroll)
        body.focus()
        for paragraph in self.query(".paragraph.-focus"):
            body.scroll_to_center(paragraph, animate=False)
            break

    def action_copy(self) -> None:
        from ..transcript import quote

        self.app.copy_to_clipboard(quote(self.evidence))
        self.notify("Copied the sentence as a Markdown quote.", markup=False)

    def action_top(self) -> None:
        self.query_one(".article-body", VerticalScroll).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(".article-body", VerticalScroll).scroll_end(animate=False)


class HelpScreen(ModalScreen[None]):
    """Every key binding of the chat, the evidence cards and the article view."""

    BINDINGS = [Binding("escape,q,f1", "app.pop_screen", "Close help")]

    def __init__(self, sections: Iterable[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        text = Text()
        for title, rows in self.sections:
            text.append(f"{title}\n", style="bold")
            for keys, description in rows:
                text.append(f"  {keys:<22}", style="bold")
                text.append(f"{description}\n")
            text.append("\n")
        text.append("Follow-ups: every question after the first is read with the conversation "
                    "so far (its key terms and the articles it is about); ctrl+l starts a new "
                    "topic.", style="italic")
        with VerticalScroll(classes="help"):
            yield Static(Text("Keys", style="bold"), classes="help-title")
            yield Static(text)


class CorpusScreen(ModalScreen[str | None]):
    """Asks for the folders, files or URLs to chat about (the command palette's "switch
    corpus", and "add a feed" with another prompt)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str = "Switch corpus: paths or URLs to index and chat about "
                                     "(separate several with spaces), then enter",
                 placeholder: str = "e.g. ~/news") -> None:
        super().__init__()
        self.prompt, self.placeholder = prompt, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="corpus"):
            yield Static(Text(self.prompt))
            yield Input(placeholder=self.placeholder, id="corpus-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterScreen(ModalScreen[str | None]):
    """Asks for the articles to answer from (the command palette's "Filter articles")."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="corpus"):
            yield Static(Text("Filter articles: since DATE, until DATE (YYYY, YYYY-MM or "
                              "YYYY-MM-DD), source PATTERN (repeatable), then enter; empty: "
                              "no filter"))
            yield Input(value=self.current, placeholder="e.g. since 2022-01 source *reuters*",
                        id="filter-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


def binding_rows(bindings: Iterable[Binding | tuple]) -> list[tuple[str, str]]:
    """``(keys, description)`` for each binding that has a description."""
    rows = []
    for binding in bindings:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        if binding.description:
            rows.append((binding.key.replace(",", " / "), binding.description))
    return rows
