"""``bot chat``: ask questions, see the supporting sentences in their paragraph and article.

The UI never touches the model or the index: one engine worker owns a
:class:`~bot.chat.engine.ChatEngine` (which calls :mod:`bot.answering`), takes jobs from a
queue, runs them one at a time off the UI thread and posts results back as messages. Questions asked while the model loads wait in that
queue. :func:`make_app` builds the app for the CLI and for the tests.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from ..citation import display_path
from ..questions import DEFAULT_K
from . import messages as msg
from .commands import ChatCommands
from .engine import ChatEngine
from .rendering import printable
from .screens import ArticleScreen, CorpusScreen, FilterScreen, HelpScreen, binding_rows
from .widgets import EvidenceCard, QuestionInput, TurnView

if TYPE_CHECKING:
    from index.search.filters import ArticleFilter

    from ..answering import Evidence

POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Ask:
    turn_id: int
    question: str
    k: int
    filters: "ArticleFilter | None" = None


@dataclass(frozen=True)
class _Article:
    evidence: "Evidence"


@dataclass(frozen=True)
class _Load:
    paths: tuple[str, ...] | None  # None: keep the current corpus
    rebuild: bool = False


@dataclass(frozen=True)
class _Forget:
    pass


class ChatApp(App[None]):
    """The chat: a conversation pane, a status line and the question box."""

    CSS_PATH = "chat.tcss"
    TITLE = "sentence-bot"
    COMMANDS = App.COMMANDS | {ChatCommands}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+o", "open_article", "Open article"),
        Binding("ctrl+y", "copy_evidence", "Copy quote"),
        Binding("ctrl+s", "save_transcript", "Save"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("pageup", "scroll_conversation(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_conversation(1)", "Scroll down", show=False),
    ]

    def __init__(self, engine: ChatEngine, k: int = DEFAULT_K,
                 transcript_dir: str | Path | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.k = k
        self.transcript_dir = Path(transcript_dir) if transcript_dir else Path.cwd()
        self.ready = False
        self.error: str | None = None
        self.turns: dict[int, TurnView] = {}
        self._jobs: queue.Queue[object] = queue.Queue()
        self._next_turn = 1
        self._status = "starting…"
        self._corpus = _corpus_name(engine.paths, engine.index_dir)
        from index.search.filters import NO_FILTER

        self.filters: ArticleFilter = NO_FILTER

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._title_text(), id="title")
        yield Static(Text(""), id="filter")
        with VerticalScroll(id="conversation"):
            yield Static(_welcome_text(), id="welcome")
        yield Static(Text(self._status), id="status")
        yield QuestionInput(placeholder="Ask a question about the articles (F1: keys)",
                            id="question")
        yield Footer()

    @property
    def question_input(self) -> QuestionInput:
        return self.query_one("#question", QuestionInput)

    @property
    def conversation(self) -> VerticalScroll:
        return self.query_one("#conversation", VerticalScroll)

    @property
    def status_line(self) -> Static:
        return self.query_one("#status", Static)

    @property
    def filter_line(self) -> Static:
        return self.query_one("#filter", Static)

    def on_mount(self) -> None:
        self.filter_line.display = False
        self.conversation.can_focus = False  # tab goes from the question to the evidence
        self.question_input.focus()
        self._jobs.put(_Load(tuple(self.engine.paths) or None))
        self.run_engine()

    # ----- engine worker (the only thread that touches the engine) -----------------------
    @work(thread=True, exclusive=True, group="engine", name="engine")
    def run_engine(self) -> None:
        """Run the queued jobs one at a time, each in a daemon thread this worker waits on, so
        that quitting never waits for a model export or an index build to finish."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self._jobs.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            runner = threading.Thread(target=self._run_job, args=(job,), daemon=True,
                                      name="bot-chat-engine")
            runner.start()
            while runner.is_alive() and not worker.is_cancelled:
                runner.join(POLL_SECONDS)

    def _run_job(self, job: object) -> None:
        from index.errors import EngineError

        try:
            if isinstance(job, _Load):
                if job.paths is not None:
                    self.engine.paths = list(job.paths)
                loaded = self.engine.load(lambda text: self.post_message(msg.StatusChanged(text)),
                                          rebuild=job.rebuild)
                self.post_message(msg.EngineReady(loaded))
            elif isinstance(job, _Ask):
                if self.engine.answerer is None:
                    self.post_message(msg.AskFailed(job.turn_id, self.error or "no index loaded"))
                else:
                    within = {"filters": job.filters} if job.filters is not None else {}
                    self.post_message(msg.Answered(job.turn_id, self.engine.ask(
                        job.question, job.k, **within)))
            elif isinstance(job, _Article):
                self.post_message(msg.ArticleLoaded(job.evidence,
                                                    self.engine.article(job.evidence)))
            elif isinstance(job, _Forget):
                self.engine.forget()
        except (EngineError, OSError, ValueError) as exc:
            self._fail(job, " ".join(str(exc).split()) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the engine thread
            self._fail(job, f"{type(exc).__name__}: {' '.join(str(exc).split())}")

    def _fail(self, job: object, error: str) -> None:
        if isinstance(job, _Load):
            self.post_message(msg.EngineFailed(error))
        elif isinstance(job, _Ask):
            self.post_message(msg.AskFailed(job.turn_id, error))
        else:
            self.post_message(msg.StatusChanged(f"error: {error}"))

    # ----- engine messages ----------------------------------------------------------------
    def on_status_changed(self, message: msg.StatusChanged) -> None:
        self._set_status(message.text)

    def on_engine_ready(self, message: msg.EngineReady) -> None:
        self.ready, self.error = True, None
        loaded = message.loaded
        self._corpus = _corpus_name(self.engine.paths, self.engine.index_dir)
        self.query_one("#title", Static).update(self._title_text())
        self._set_status(f"ready \u00b7 {_count(loaded.articles, 'article')}, "
                         f"{_count(loaded.sentences, 'sentence')} \u00b7 {loaded.model} "
                         f"\u00b7 {loaded.summary}")
        self.status_line.set_class(False, "-error")

    def on_engine_failed(self, message: msg.EngineFailed) -> None:
        self.ready, self.error = False, message.error
        self._set_status(f"error: {message.error} (ctrl+p: rebuild, re-index or switch corpus)")
        self.status_line.add_class("-error")

    def on_answered(self, message: msg.Answered) -> None:
        view = self.turns.get(message.turn_id)
        if view is None:  # cleared meanwhile
            return
        view.show(message.turn)
        if (note := message.turn.answer.filter_note) and message.turn.answer.filters == \
                self.filters:
            self.filter_line.update(Text(printable(note)))
        self.call_after_refresh(self.conversation.scroll_to_widget, view, top=True,
                                animate=False)

    def on_ask_failed(self, message: msg.AskFailed) -> None:
        view = self.turns.get(message.turn_id)
        if view is not None:
            view.fail(message.error)

    def on_article_loaded(self, message: msg.ArticleLoaded) -> None:
        if isinstance(self.screen, ArticleScreen):  # opened twice in a row
            return
        turn = next((v for v in self.turns.values() if v.turn and any(
            s.evidence is message.evidence for s in v.turn.shown)), None)
        pattern = turn.pattern if turn is not None else None  # the same words as its card
        self.push_screen(ArticleScreen(message.article, message.evidence, pattern))

    # ----- asking -------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    def ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        self.question_input.remember(question)
        self.question_input.value = ""
        self.submit(question)

    def submit(self, question: str) -> int:
        """Show ``question`` at once and queue it for the engine; returns its turn id."""
        turn_id = self._next_turn
        self._next_turn += 1
        waiting = "searching…" if self.ready else "queued: the model is still loading…"
        if self.error:
            waiting = "queued: the index is not loaded (see the status line)"
        view = TurnView(turn_id, question, waiting)
        self.turns[turn_id] = view
        self.query_one("#welcome").display = False
        self.conversation.mount(view)
        self.conversation.scroll_end(animate=False)
        self._jobs.put(_Ask(turn_id, question, self.k,
                            self.filters if self.filters.active else None))
        return turn_id

    # ----- evidence -----------------------------------------------------------------------
    def _selected(self) -> "Evidence | None":
        """The focused evidence card's sentence, else the best one of the latest answer."""
        focused = self.focused
        if isinstance(focused, EvidenceCard):
            return focused.evidence
        for view in reversed(list(self.turns.values())):
            if view.turn is not None and view.turn.shown:
                return view.turn.shown[0].evidence
        return None

    @on(EvidenceCard.Open)
    def _open_card(self, event: EvidenceCard.Open) -> None:
        self._jobs.put(_Article(event.card.evidence))

    @on(EvidenceCard.Copy)
    def _copy_card(self, event: EvidenceCard.Copy) -> None:
        self._copy(event.card.evidence)

    @property
    def article_open(self) -> bool:
        """Whether the article view is open (under the command palette, if that is open)."""
        return any(isinstance(screen, ArticleScreen) for screen in self.screen_stack)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The article view has its own keys: the chat's open, copy and clear are off there
        (ctrl+l would clear the conversation unseen behind it) and out of its footer, also
        while the command palette is open over it."""
        return not (action in ARTICLE_VIEW_OFF and self.article_open)

    def action_open_article(self) -> None:
        if isinstance(self.screen, ArticleScreen):
            return
        evidence = self._selected()
        if evidence is None:
            self.notify("No evidence to open yet.", markup=False)
        else:
            self._jobs.put(_Article(evidence))

    def action_copy_evidence(self) -> None:
        if isinstance(self.screen, ArticleScreen):  # from the palette: the article's sentence
            self.screen.action_copy()
            return
        evidence = self._selected()
        if evidence is None:
            self.notify("No evidence to copy yet.", markup=False)
        else:
            self._copy(evidence)

    def _copy(self, evidence: "Evidence") -> None:
        from ..transcript import quote

        self.copy_to_clipboard(quote(evidence))
        self.notify("Copied the sentence as a Markdown quote with its citation.", markup=False)

    # ----- commands -----------------------------------------------------------------------
    def action_save_transcript(self) -> None:
        from ..transcript import transcript

        answered = [v.turn for v in self.turns.values() if v.turn is not None]
        if not answered:
            self.notify("Nothing to save yet.", markup=False)
            return
        path = self.transcript_dir / time.strftime("chat-%Y%m%d-%H%M%S.md")
        try:
            path.write_text(transcript(answered), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not save the transcript: {exc.strerror or exc}",
                        severity="error", markup=False)
            return
        self.notify(f"Saved the transcript to {printable(str(path))}", markup=False)

    def action_clear(self) -> None:
        """Clear the conversation and the filter: a new topic, from every article."""
        for view in self.turns.values():
            view.remove()
        self.turns.clear()
        self.clear_filter(quiet=True)
        self.query_one("#welcome").display = True
        self._jobs.put(_Forget())
        self.question_input.focus()

    def action_filter(self) -> None:
        """Ask for a filter (since, until, source) for the next questions."""
        from .filter_text import filter_text

        def chosen(value: str | None) -> None:
            if value is not None:
                self.set_filter_text(value)

        self.push_screen(FilterScreen(filter_text(self.filters)), chosen)

    def set_filter_text(self, text: str) -> bool:
        """Answer the next questions from the articles ``text`` keeps (``since 2022 source
        *reuters*``; empty: all); False, with a notice, when it cannot be read."""
        from index.search.filters import BadFilter

        from .filter_text import parse_filter_text

        try:
            wanted = parse_filter_text(text)
        except BadFilter as exc:
            self.notify(f"Filter not changed: {exc}", severity="error", markup=False)
            return False
        self.filters = wanted
        self._show_filter()
        return True

    def clear_filter(self, quiet: bool = False) -> None:
        """Answer from every article again."""
        from index.search.filters import NO_FILTER

        had = self.filters.active
        self.filters = NO_FILTER
        self._show_filter()
        if had and not quiet:
            self.notify("Filter cleared: answers come from every article.", markup=False)

    def _show_filter(self) -> None:
        active = self.filters.active
        self.filter_line.display = active
        self.filter_line.update(Text(printable(f"filter: {self.filters.describe()}")
                                     if active else ""))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(help_sections()))

    def action_reindex(self, rebuild: bool = False) -> None:
        if rebuild and not self.engine.paths:
            self.notify("No corpus paths to rebuild from: use Switch corpus.", markup=False)
            return
        self.ready = False
        self._set_status("rebuilding the index…" if rebuild else "re-indexing…")
        self._jobs.put(_Load(None, rebuild=rebuild))

    def action_switch_corpus(self) -> None:
        def switch(value: str | None) -> None:
            if not value:
                return
            paths = _named_sources(value)
            if self._all_exist(paths):
                self.switch_corpus(paths)

        self.push_screen(CorpusScreen(), switch)

    def action_add_source(self) -> None:
        """Add a feed or page URL (or a path) to the corpus and index it (the rest stays)."""
        if not self.engine.paths:
            self.notify("This index was opened as it is: use Switch corpus to name everything "
                        "it should hold, feeds included.", markup=False)
            return

        def add(value: str | None) -> None:
            if not value:
                return
            added = [p for p in _named_sources(value) if p not in self.engine.paths]
            if added and self._all_exist(added):
                self.ready = False
                self._set_status(f"adding {printable(added[0])}…")
                self._jobs.put(_Load((*self.engine.paths, *added)))

        self.push_screen(CorpusScreen("Add a feed or an article URL (or a path) to the corpus, "
                                      "then enter", "e.g. https://example.com/feed.xml"), add)

    def _all_exist(self, paths: Sequence[str]) -> bool:
        """True when every path exists (URLs are fetched later); else says which does not."""
        from index.ingest.sources import is_url

        missing = [p for p in paths if not is_url(p) and not os.path.exists(p)]
        if missing:
            self.notify(f"No such file or folder: {printable(missing[0])}",
                        severity="error", markup=False)
        return not missing

    def switch_corpus(self, paths: Sequence[str]) -> None:
        """Index ``paths`` and chat about them (same index directory, updated in place)."""
        self.ready = False
        self.action_clear()
        self._set_status("switching corpus…")
        self._jobs.put(_Load(tuple(str(p) for p in paths)))

    def set_k(self, k: int) -> None:
        """Show ``k`` sentences per answer from the next question on."""
        self.k = k
        self.query_one("#title", Static).update(self._title_text())
        self.notify(f"k = {k}: {k} sentence{'s' if k > 1 else ''} per answer", markup=False)

    def get_system_commands(self, screen: Screen):  # noqa: ANN201 - Iterable[SystemCommand]
        for command in super().get_system_commands(screen):
            if command.title not in {"Keys", "Quit"}:
                yield command
        yield SystemCommand("Quit", "Quit the chat", self.action_quit)

    def action_scroll_conversation(self, direction: int) -> None:
        if direction < 0:
            self.conversation.scroll_page_up(animate=False)
        else:
            self.conversation.scroll_page_down(animate=False)

    # ----- helpers ------------------------------------------------------------------------
    def _set_status(self, text: str) -> None:
        self._status = text
        queued = sum(1 for v in self.turns.values() if v.turn is None) if not self.ready else 0
        suffix = f" \u00b7 {queued} question{'s' if queued > 1 else ''} queued" if queued else ""
        self.status_line.update(Text(printable(text) + suffix))

    def _title_text(self) -> Text:
        return Text.assemble(("sentence-bot", "bold"), "  ", printable(self._corpus),
                             f"  \u00b7 k={self.k}")


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every binding a user can press, grouped by where it works."""
    chat = binding_rows(ChatApp.BINDINGS) + [
        ("enter", "Ask the question"),
        ("up / down", "Earlier / later questions (in the question box)"),
        ("tab / shift+tab", "Move between the question box and the evidence"),
        ("ctrl+p", "Command palette: k, filter, re-index, switch corpus, save, clear"),
    ]
    return [("Chat", chat),
            ("Evidence (focused)", binding_rows(EvidenceCard.BINDINGS)),
            ("Article view", binding_rows(ArticleScreen.BINDINGS))]


# The chat's actions that mean nothing in the article view (it copies with c and ctrl+y).
ARTICLE_VIEW_OFF = frozenset({"open_article", "copy_evidence", "clear"})


# The welcome box's follow-up: after the README's "Who is Xiaomi's founder and CEO?" on the
# shipped seeds it is answered with Lei Jun's words (tests/test_chat.py checks it).
WELCOME_FOLLOW_UP = "What did he say?"


def _welcome_text() -> Text:
    return Text.assemble(
        ("Ask a question in plain language", "bold"), " \u2014 the answer is the sentences of "
        "the articles that support it, verbatim, shown in their paragraph.\n",
        f"Follow-ups work: ask \u201c{WELCOME_FOLLOW_UP}\u201d after a question about someone.\n",
        ("enter", "bold"), " ask  ", ("tab", "bold"), " evidence  ", ("ctrl+o", "bold"),
        " open article  ", ("ctrl+y", "bold"), " copy quote  ", ("f1", "bold"), " all keys")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _named_sources(value: str) -> tuple[str, ...]:
    """What a user typed to name a corpus: paths (``~`` expanded) and URLs."""
    from index.ingest.sources import is_url

    return tuple(p if is_url(p) else os.path.expanduser(p) for p in value.split())


def _corpus_name(paths: Sequence[str], index_dir: Path) -> str:
    if not paths:
        return f"index {display_path(str(index_dir))}"
    first = display_path(str(paths[0]))
    return first if len(paths) == 1 else f"{first} and {len(paths) - 1} more"


def make_app(paths: Sequence[str | Path] | None = None, index_dir: str | Path = ".bot-index",
             k: int = DEFAULT_K, transcript_dir: str | Path | None = None,
             engine: ChatEngine | None = None) -> ChatApp:
    """The chat app on ``paths`` (indexed into ``index_dir`` first) — for the CLI and tests."""
    return ChatApp(engine or ChatEngine(paths, index_dir), k=k, transcript_dir=transcript_dir)
