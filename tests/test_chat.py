"""``bot chat``: Pilot tests of every interaction (hashing encoder; real model only when slow)."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.text import Text
from textual.command import CommandPalette
from textual.widgets import Input, Static

from bot.chat.app import ChatApp, help_sections, make_app
from bot.chat.commands import ChatCommands
from bot.chat.engine import ChatEngine
from bot.chat.screens import ArticleScreen, CorpusScreen, HelpScreen
from bot.chat.widgets import EvidenceCard, QuestionInput, TurnView
from tests.conftest import ROOT, write_corpus

SIZE = (100, 30)


def pilot_test(scenario):  # noqa: ANN001, ANN201
    """Run an ``async`` Pilot scenario as a plain test (fixtures pass through)."""
    @functools.wraps(scenario)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        asyncio.run(asyncio.wait_for(scenario(*args, **kwargs), timeout=120))
    return run

ACME = """Acme and Globex

date 2021-03-04

Acme signed a partnership with the chip maker Globex in 2015. The agreement between Acme and \
Globex ended in 2019 after a long dispute over patents. Acme now works with Initech instead.

Analysts expect Initech to supply Acme with chips for years.
"""

UMBRELLA = """Umbrella factory

date 2020-06-01

It ended when demand for umbrellas ended, the owners said.

The Umbrella factory in Raccoon City closed its doors after sales fell.
"""

INJECTION = """Markup test

date 2022-01-01

The lighthouse keeper wrote [bold red]x[/] and [link=https://example.com/evil]click me[/link] \
and [@click=app.quit]quit now[/] in the lighthouse logbook \x1b[31mred\x1b[0m \x1b]0;pwned\x07.
"""


def long_article() -> str:
    filler = [f"Paragraph {i} talks about the weather on day {i} in some detail." for i in
              range(120)]
    filler[100] = "The observatory recorded the comet Zanzibar on the hundredth evening."
    return "A long log\n\ndate 2023-02-02\n\n" + "\n\n".join(filler) + "\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", {
        "acme.txt": ACME, "umbrella.txt": UMBRELLA, "markup.txt": INJECTION,
        "long.txt": long_article()})


@pytest.fixture
def index(tmp_path: Path, corpus: Path, hashing_spec) -> Path:
    from index.indexer import update_index

    update_index([corpus], tmp_path / "index", spec=hashing_spec)
    return tmp_path / "index"


@pytest.fixture
def app(corpus: Path, index: Path, tmp_path: Path) -> ChatApp:
    return make_app([corpus], index, transcript_dir=tmp_path)


async def wait_for(pilot, condition, seconds: float = 20.0) -> None:  # noqa: ANN001
    """Let the app run until ``condition()`` holds (the engine works in its own thread)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out waiting for the app")


def palette_offers(app: ChatApp, text: str) -> bool:
    """Whether the command palette is open with a highlighted command containing ``text``."""
    from textual.command import CommandList

    if not isinstance(app.screen, CommandPalette):
        return False
    found = app.screen.query(CommandList)
    if not found or found.first().highlighted is None:
        return False
    options = found.first()
    return text.lower() in str(options.get_option_at_index(options.highlighted).prompt).lower()


async def run_from_palette(pilot, title: str) -> None:  # noqa: ANN001
    """Open the command palette, type ``title`` and run the command it highlights."""
    await pilot.press("ctrl+p", *title)
    await wait_for(pilot, lambda: palette_offers(pilot.app, title))
    await pilot.press("enter")


def scrolled_to_focus(screen) -> bool:  # noqa: ANN001
    """Whether an article screen shows its focused paragraph (laid out and scrolled to)."""
    body, focus = screen.query(".article-body"), screen.query(".paragraph.-focus")
    return bool(body and focus) and body.first().scroll_y > 0 and \
        body.first().region.contains_region(focus.first().region)


async def ask(pilot, question: str) -> TurnView:  # noqa: ANN001
    """Type ``question``, press enter and wait for its answer."""
    app: ChatApp = pilot.app
    await pilot.click("#question")
    app.question_input.value = question
    await pilot.press("enter")
    view = list(app.turns.values())[-1]
    await wait_for(pilot, lambda: view.turn is not None or "-error" in
                   view.query_one(".verdict").classes)
    await pilot.pause()
    return view


def rich_text(widget) -> Text:  # noqa: ANN001
    """What a Static or an evidence card shows, as the ``Text`` it was given."""
    rendered = widget.content if isinstance(widget, Static) else widget.render()
    assert isinstance(rendered, Text)  # never a markup string
    return rendered


def plain(widget) -> str:  # noqa: ANN001
    return rich_text(widget).plain


def cards(view: TurnView) -> list[EvidenceCard]:
    return list(view.query(EvidenceCard))


@pilot_test
async def test_ask_shows_best_sentence_in_its_paragraph(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        best = cards(view)[0]
        text = plain(best)
        assert "The agreement between Acme and Globex ended in 2019" in text
        assert "Acme signed a partnership" in text  # the neighbouring sentences, quieter
        assert "Acme and Globex · 2021-03-04 · " in text and "acme.txt:" in text
        assert len(cards(view)) == 3
        assert all(len(plain(c).split("\n")) == 2 for c in cards(view)[1:])  # collapsed
        styles = {str(span.style) for span in best.render().spans}
        assert "underline" in styles  # key words emphasised


@pilot_test
async def test_history_recalls_earlier_questions(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await ask(pilot, "Who supplies Acme?")
        await ask(pilot, "Where is the Umbrella factory?")
        box = app.question_input
        box.value = "half typed"
        await pilot.press("up")
        assert box.value == "Where is the Umbrella factory?"
        await pilot.press("up", "up")
        assert box.value == "Who supplies Acme?"
        await pilot.press("down", "down")
        assert box.value == "half typed"


@pilot_test
async def test_follow_up_is_read_with_the_previous_turn(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await ask(pilot, "Who did Acme sign a partnership with in 2015?")
        view = await ask(pilot, "When did it end?")
        assert view.turn.reply.follow_up
        assert "follow-up: read with the previous turn (Acme" in plain(
            view.query_one(".verdict"))
        assert "The agreement between Acme and Globex ended in 2019" in plain(cards(view)[0])


@pilot_test
async def test_a_new_question_is_shown_read_alone(app: ChatApp) -> None:
    """Changing the subject: the turn shows no follow-up context, and says why it was read
    alone."""
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await ask(pilot, "Who did Acme sign a partnership with in 2015?")
        view = await ask(pilot, "Where is the Umbrella factory?")
        assert not view.turn.reply.follow_up
        verdict = plain(view.query_one(".verdict"))
        assert "follow-up" not in verdict
        assert "new question: read alone (" in verdict
        assert "Umbrella factory in Raccoon City" in plain(cards(view)[0])


@pilot_test
async def test_keys_move_between_evidence_and_open_the_article(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await ask(pilot, "Who supplies Acme?")
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        await pilot.press("tab")
        assert app.focused is cards(view)[0]  # the latest answer's best sentence
        await pilot.press("down")
        assert app.focused is cards(view)[1]
        assert "\n" in plain(cards(view)[1])
        await pilot.press("up", "escape")
        assert isinstance(app.focused, QuestionInput)
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen))
        await pilot.pause()
        focus = app.screen.query_one(".paragraph.-focus")
        assert "The agreement between Acme and Globex ended in 2019" in plain(focus)
        spans = [s for s in rich_text(focus).spans if "reverse" in str(s.style)]
        assert [plain(focus)[s.start:s.end] for s in spans] == [
            cards(view)[0].evidence.text]
        assert app.screen.pattern is view.pattern  # the same key words as the answer's card
        await pilot.press("escape")
        assert not isinstance(app.screen, ArticleScreen)


@pilot_test
async def test_long_article_opens_scrolled_to_the_sentence(app: ChatApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "Which comet did the observatory record?")
        assert "comet Zanzibar" in cards(view)[0].evidence.text
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen)
                       and scrolled_to_focus(app.screen))
        body = app.screen.query_one(".article-body")
        assert body.scroll_y > 50


@pilot_test
async def test_copy_puts_a_markdown_quote_with_citation_on_the_clipboard(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        await pilot.press("ctrl+y")
        sentence = cards(view)[0].evidence.text
        assert app.clipboard.startswith(
            f"> {sentence}\n>\n> — Acme and Globex · 2021-03-04 · ")
        assert "acme.txt:" in app.clipboard
        await pilot.press("tab", "down", "c")
        assert app.clipboard.startswith(f"> {cards(view)[1].evidence.text}\n")


@pilot_test
async def test_save_transcript_and_clear(app: ChatApp, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await ask(pilot, "Who supplies Acme?")
        await ask(pilot, "Zzyzx qwphlorb vrimble?")
        await pilot.press("ctrl+s")
        saved = list(tmp_path.glob("chat-*.md"))
        assert len(saved) == 1
        text = saved[0].read_text(encoding="utf-8")
        assert "## Who supplies Acme?" in text and "## Zzyzx qwphlorb vrimble?" in text
        assert "\n> " in text
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.query(TurnView) and app.query_one("#welcome").display
        view = await ask(pilot, "When did it end?")
        assert not view.turn.reply.follow_up  # clearing starts a new topic


@pilot_test
async def test_no_answer_is_said_plainly(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "Zzyzx qwphlorb vrimble?")
        verdict = plain(view.query_one(".verdict"))
        assert not view.turn.answer.answered
        assert verdict.startswith(("Not answered", "No sentence"))
        assert all("-best" not in c.classes for c in cards(view))


@pilot_test
async def test_article_markup_and_escapes_are_shown_literally(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "What did the lighthouse keeper write in the logbook?")
        card = cards(view)[0]
        rendered = card.render()
        assert "[bold red]x[/]" in rendered.plain
        assert "[link=https://example.com/evil]click me[/link]" in rendered.plain
        assert "[@click=app.quit]quit now[/]" in rendered.plain
        assert "\\x1b[31mred" in rendered.plain and "\\x07" in rendered.plain
        assert "\x1b" not in rendered.plain and "\x07" not in rendered.plain
        for span in rendered.spans:
            style = span.style if not isinstance(span.style, str) else None
            assert style is None or (style.link is None and not style.meta)
            assert "red" not in str(span.style) and "link" not in str(span.style)
        await pilot.click(card)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen))
        await pilot.pause()
        focus = app.screen.query_one(".paragraph.-focus")
        assert "[@click=app.quit]quit now[/]" in plain(focus)
        await pilot.click(focus)  # clicking the "[@click=...]" text triggers nothing
        assert app.is_running
        await pilot.press("escape")
        question = await ask(pilot, "[bold]Acme[/] \x1b[2J?")
        assert "[bold]Acme[/] \\x1b[2J?" in plain(question.query_one(".question"))


@pilot_test
async def test_question_asked_before_the_model_is_ready_is_queued(
        corpus: Path, index: Path) -> None:
    gate = threading.Event()

    class SlowEngine(ChatEngine):
        def load(self, status, rebuild=False):  # noqa: ANN001, ANN202
            status("loading the model…")
            gate.wait(20)
            return super().load(status, rebuild)

    app = make_app(engine=SlowEngine([corpus], index))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "loading the model" in plain(app.status_line))
        app.question_input.value = "Who supplies Acme?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns and "queued" in plain(
            list(app.turns.values())[-1].query_one(".verdict")))
        view = list(app.turns.values())[-1]
        assert view.turn is None and not app.ready
        gate.set()
        await wait_for(pilot, lambda: view.turn is not None)
        assert app.ready and cards(view)
        assert "Initech" in cards(view)[0].evidence.text


@pilot_test
async def test_help_lists_every_binding(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = "".join(plain(s) for s in app.screen.query("Static"))
        for _, rows in help_sections():
            for keys, description in rows:
                assert keys in text and description in text
        for binding in ChatApp.BINDINGS + EvidenceCard.BINDINGS + ArticleScreen.BINDINGS:
            if binding.description:
                assert binding.description in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pilot_test
async def test_command_palette_changes_k(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await run_from_palette(pilot, "Set k = 5")
        await wait_for(pilot, lambda: app.k == 5)
        view = await ask(pilot, "Who supplies Acme?")
        assert len(cards(view)) == 5


@pilot_test
async def test_switch_corpus_and_reindex(app: ChatApp, tmp_path: Path) -> None:
    other = write_corpus(tmp_path / "other", {"moon.txt": "Moon\n\nThe Moon base opened."})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await run_from_palette(pilot, "Switch corpus")
        await wait_for(pilot, lambda: isinstance(app.screen, CorpusScreen))
        app.screen.query_one(Input).value = str(other)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ready and "other" in plain(app.query_one("#title")))
        view = await ask(pilot, "What opened on the Moon?")
        assert "Moon base" in cards(view)[0].evidence.text
        # the index now holds exactly the new corpus: the old articles are gone
        assert app.engine.answerer.searcher.manifest.counts["articles"] == 1
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        assert {Path(c.evidence.source).name for c in cards(view)} == {"moon.txt"}
        (other / "mars.txt").write_text("Mars\n\nThe Mars rover landed.", encoding="utf-8")
        app.action_reindex()
        assert not app.ready
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "What landed on Mars?")
        assert "Mars rover" in cards(view)[0].evidence.text


@pilot_test
async def test_broken_index_shows_an_error_and_questions_fail_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "CURRENT").write_text("gen-missing\n")
    app = make_app(None, broken)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.error is not None)
        assert plain(app.status_line).startswith("error: ")
        view = await ask(pilot, "Anything?")
        assert plain(view.query_one(".verdict")).startswith("error: ")


@pilot_test
async def test_narrow_terminal_and_resize(app: ChatApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        await pilot.resize_terminal(50, 16)
        await pilot.pause()
        assert cards(view)[0].size.width <= 50
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert cards(view)[0].region.width > 80


def test_cli_chat_options_and_bad_path(tmp_path: Path) -> None:
    from bot.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["chat", "--help"])
    assert result.exit_code == 0 and "--index-dir" in result.output and "-k" in result.output
    result = runner.invoke(cli, ["chat", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "error:" in result.output


def test_chat_opens_without_heavy_imports() -> None:
    """The first frame must not wait for numpy, FAISS or onnxruntime."""
    code = ("import sys, bot.chat.app, bot.chat.command; "
            "print(sorted(m for m in ('numpy', 'faiss', 'onnxruntime', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


async def _dialogue_in_the_chat(seed_index: Path, real_encoder, first: str,
                                then: str = "When did it end?") -> tuple:
    """The turn ``then`` asked after ``first`` and the sentences the chat shows for it."""
    from tests.conftest import SEEDS

    engine = ChatEngine(None, seed_index)
    engine.encoder = real_encoder
    app = make_app([SEEDS], seed_index, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready, seconds=60)
        await ask(pilot, first)
        view = await ask(pilot, then)
        return view.turn, [card.evidence.text for card in cards(view)]


DEAL_END = "The deal between the two companies reportedly expired in 2021"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known regression of the dialogue reader (issue 14): "
                   "the first turn's best sentence is the Xiaomi one (a ranking miss, issue "
                   "18) and the bare 'When did it end?' matches 'high-end'; the deal's end "
                   "comes 3rd (golden dialogue leica-before-xiaomi says within 5)")
@pilot_test
async def test_leica_follow_up_in_the_chat(seed_index: Path, real_encoder) -> None:
    _, shown = await _dialogue_in_the_chat(seed_index, real_encoder,
                                           "Who did Leica partner with before Xiaomi?")
    assert shown[0].startswith(DEAL_END)


@pytest.mark.slow
@pilot_test
async def test_follow_up_in_the_chat_is_read_with_the_first_turn(seed_index: Path,
                                                                 real_encoder) -> None:
    _, shown = await _dialogue_in_the_chat(
        seed_index, real_encoder, "When did Huawei announce its partnership with Leica?")
    assert any(text.startswith(DEAL_END) for text in shown[:2])


@pytest.mark.slow
@pilot_test
async def test_the_welcome_follow_up_works_on_the_shipped_seeds(seed_index: Path,
                                                                real_encoder) -> None:
    """The follow-up the welcome box suggests, asked after the README's question on the
    shipped seeds, is answered with the sentence it means (alone it is not answered)."""
    from bot.chat.app import WELCOME_FOLLOW_UP, _welcome_text

    assert WELCOME_FOLLOW_UP in _welcome_text().plain
    turn, shown = await _dialogue_in_the_chat(seed_index, real_encoder,
                                              "Who is Xiaomi's founder and CEO?",
                                              WELCOME_FOLLOW_UP)
    assert turn.answer.answered and turn.reply.follow_up
    assert shown[0].startswith("Lei Jun, Xiaomi's founder and CEO, said")
    from bot.answering import Answerer

    assert not Answerer.open(seed_index, encoder=real_encoder).ask(WELCOME_FOLLOW_UP).answered


@pilot_test
async def test_huge_article_opens_at_the_sentence_with_few_widgets(app: ChatApp) -> None:
    from bot.answering import Article, Evidence

    paragraphs = [f"Paragraph {i} is about the weather on day {i}." for i in range(3000)]
    text = "\n\n".join(paragraphs)
    start = text.index("Paragraph 2500 ")
    evidence = Evidence(text=paragraphs[2500], source="big.txt", start=start,
                        end=start + len(paragraphs[2500]), score=1.0, title="Big", date=None)
    article = Article(source="big.txt", text=text, body_start=0, body_end=len(text))
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ArticleScreen(article, evidence))
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen)
                       and bool(app.screen.query(".paragraph.-focus")))
        statics = list(app.screen.query(".paragraph"))
        assert len(statics) < 40
        shown = "\n".join(plain(s) for s in statics)
        assert "earlier paragraphs not shown" in shown and "later paragraphs not shown" in shown
        focus = app.screen.query_one(".paragraph.-focus")
        assert plain(focus) == paragraphs[2500]
        body = app.screen.query_one(".article-body")
        await wait_for(pilot, lambda: body.region.contains_region(focus.region), seconds=5)


@pytest.mark.parametrize("args, env, expected, opened", [
    ([], None, "seeds", ".bot-index"),
    (["{corpus}"], None, "corpus", ".bot-index"),
    (["--index-dir", "{index}"], None, None, "{index}"),
    (["--index-dir", "{fresh}"], None, "seeds", "{fresh}"),
    ([], "{index}", None, "{index}"),  # $BOT_INDEX_DIR holding an index: opened as it is
    ([], "{fresh}", "seeds", "{fresh}"),
    (["{corpus}"], "{index}", "corpus", "{index}"),
])
def test_cli_chat_chooses_corpus_and_index(args: list[str], env: str | None,
                                           expected: str | None, opened: str, corpus: Path,
                                           index: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """PATHS: exactly those; none: the index as it is, or the seeds when there is none yet."""
    calls = run_chat_cli(args, env, monkeypatch, tmp_path, corpus=str(corpus),
                         index=str(index), fresh=str(tmp_path / "fresh"))
    [(paths, index_dir, k)] = calls
    assert k == 4
    assert index_dir == Path(opened.format(index=index, fresh=tmp_path / "fresh"))
    if expected is None:
        assert paths is None
    else:
        from bot.cli import SEEDS_DIR

        assert paths == [str({"seeds": SEEDS_DIR, "corpus": corpus}[expected].resolve())]


def test_cli_chat_opens_the_default_index_as_it_is(corpus: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   hashing_spec) -> None:
    """A second ``bot chat`` in the same folder opens ./.bot-index, never re-seeds it."""
    from index.indexer import update_index

    update_index([corpus], tmp_path / ".bot-index", spec=hashing_spec)
    [(paths, index_dir, _)] = run_chat_cli([], None, monkeypatch, tmp_path)
    assert paths is None and index_dir == Path(".bot-index")


def run_chat_cli(args: list[str], env: str | None, monkeypatch: pytest.MonkeyPatch,
                 cwd: Path, **values: str) -> list[tuple[object, Path, int]]:
    """Run ``bot chat -k 4 ARGS`` with the app faked out; the ``make_app`` calls it made."""
    import bot.chat.app
    import bot.chat.command
    from bot.cli import cli

    calls = []

    class FakeApp:
        return_code = 0

        def run(self) -> None:
            pass

    def fake_make_app(paths, index_dir, k):  # noqa: ANN001, ANN202
        calls.append((paths, Path(index_dir), k))
        return FakeApp()

    monkeypatch.setattr(bot.chat.app, "make_app", fake_make_app)
    monkeypatch.setattr(bot.chat.command, "_leave", lambda code: None)
    monkeypatch.chdir(cwd)
    if env is not None:
        monkeypatch.setenv("BOT_INDEX_DIR", env.format(**values))
    result = CliRunner().invoke(cli, ["chat", "-k", "4", *[a.format(**values) for a in args]])
    assert result.exit_code == 0, result.output
    return calls


def test_cli_chat_k_range_is_that_of_bot_ask(index: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import cli

    [(_, _, k)] = run_chat_cli(["-k", "100", "--index-dir", str(index)], None, monkeypatch,
                               tmp_path)  # (the app stays faked out for the rest)
    assert k == 100
    for k in ("0", "101"):
        result = CliRunner().invoke(cli, ["chat", "-k", k, "--index-dir", str(index)])
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.output


def test_engine_builds_a_missing_index_and_reports_progress(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_MODEL", "hashing")
    monkeypatch.setenv("BOT_BACKEND", "hashing")
    statuses: list[str] = []
    engine = ChatEngine([corpus], tmp_path / "new-index")
    loaded = engine.load(statuses.append)
    assert loaded.articles == 4 and loaded.sentences > 100
    assert any(s.startswith("indexing: embedded") for s in statuses)
    assert loaded.summary.startswith("index updated")
    statuses.clear()
    again = ChatEngine([corpus], tmp_path / "new-index").load(statuses.append)
    assert again.summary == "index up to date"
    assert not any(s.startswith("indexing") for s in statuses)


def test_engine_keeps_the_model_the_index_was_built_with(
        corpus: Path, index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        hashing_spec) -> None:
    """A configured model that differs from the index's is not switched to, not even by a
    rebuild; a model given to the engine is used for a new index."""
    monkeypatch.setenv("BOT_MODEL", str(tmp_path / "no-such-model"))
    engine = ChatEngine([corpus], index)
    assert engine.load(lambda _: None).model == "hashing"
    rebuilt = engine.load(lambda _: None, rebuild=True)
    assert rebuilt.model == "hashing" and rebuilt.summary.startswith("index updated")
    assert engine.answerer.searcher.manifest.encoder_spec() == hashing_spec
    fresh = ChatEngine([corpus], tmp_path / "fresh", spec=hashing_spec).load(lambda _: None)
    assert fresh.model == "hashing" and fresh.articles == 4


@pilot_test
async def test_filter_from_the_palette_is_shown_and_cleared_with_the_conversation(
        app: ChatApp) -> None:
    """The palette's filter keeps answers to the articles it names; a line says which filter
    is on; ctrl+l clears it with the conversation."""
    from bot.chat.screens import FilterScreen

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await run_from_palette(pilot, "Filter articles")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen)
                       and bool(app.screen.query(Input)))
        app.screen.query_one(Input).value = "source '*umbrella*' until 2020-12"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen))
        assert app.filter_line.display
        assert plain(app.filter_line) == "filter: dated 2020-12 or earlier, source *umbrella*"
        view = await ask(pilot, "Who signed a partnership with Globex?")
        assert {Path(c.evidence.source).name for c in cards(view)} == {"umbrella.txt"}
        assert plain(app.filter_line).endswith("; 1 of 4 articles kept")
        assert not app.set_filter_text("since 2022-02-30")  # refused, filter unchanged
        assert app.filters.sources == ("*umbrella*",)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.filters.active and not app.filter_line.display


def test_filter_text_reads_as_bot_ask_options() -> None:
    from bot.chat.filter_text import filter_text, parse_filter_text
    from index.search.filters import ArticleFilter, BadFilter

    typed = "since 2022-01 source '*a b*' Source *[r]euters*"
    wanted = parse_filter_text(typed)
    assert wanted == ArticleFilter("2022-01", None, ("*a b*", "*[r]euters*"))
    assert parse_filter_text(filter_text(wanted)) == wanted
    assert parse_filter_text("") == ArticleFilter()
    for bad in ("since", "from 2022", "until 2022-13", "since 2023 until 2022"):
        with pytest.raises(BadFilter):
            parse_filter_text(bad)


@pilot_test
async def test_an_error_naming_a_hostile_path_is_escaped(tmp_path: Path) -> None:
    broken = tmp_path / "broken\x1b]0;owned\x07"
    broken.mkdir()
    (broken / "CURRENT").write_text("../elsewhere\n")  # damaged: the error names the path
    app = make_app(None, broken)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.error is not None)
        view = await ask(pilot, "Anything?")
        for shown in (plain(app.status_line), plain(view.query_one(".verdict"))):
            assert "CURRENT is damaged" in shown and "\\x1b]0;owned\\x07" in shown, shown
            assert "\x1b" not in shown and "\x07" not in shown


@pilot_test
async def test_prompt_dialogs_are_centred(app: ChatApp) -> None:
    """The palette's prompts (filter, switch corpus, add a feed) open in the middle of the
    window, over the conversation, not stuck to its top-left corner."""
    from bot.chat.screens import FilterScreen

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        for screen in (FilterScreen(), CorpusScreen()):
            app.push_screen(screen)
            await wait_for(pilot, lambda: bool(screen.query(".corpus")))
            await pilot.pause()
            box = screen.query_one(".corpus").region
            assert abs((box.x + box.right) - SIZE[0]) <= 1, (type(screen).__name__, box)
            assert abs((box.y + box.bottom) - SIZE[1]) <= 1, (type(screen).__name__, box)
            app.pop_screen()


def test_engine_summary_names_what_the_update_skipped(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file or feed item the update skipped is still named once the chat is ready (its
    warning flashed by in the status line while indexing ran)."""
    monkeypatch.setenv("BOT_MODEL", "hashing")
    monkeypatch.setenv("BOT_BACKEND", "hashing")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    loaded = ChatEngine([corpus], tmp_path / "idx").load(lambda _: None)
    assert loaded.articles == 4 and loaded.summary.startswith("index updated")
    assert "warning: " in loaded.summary and "empty.txt" in loaded.summary
    (corpus / "binary.txt").write_bytes(b"\xff\xfe\x00\x01" * 10)
    again = ChatEngine([corpus], tmp_path / "idx").load(lambda _: None)
    assert again.summary.startswith("index up to date") and "(and 1 more skipped)" in \
        again.summary


@pilot_test
async def test_article_view_offers_only_its_own_keys(app: ChatApp) -> None:
    """In the article view the chat's ctrl+o, ctrl+y and ctrl+l are not in the footer (which
    showed "Copy quote" twice and cut off the rest); ctrl+y copies the article's sentence, and
    ctrl+l there must not clear the conversation waiting behind it."""
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "Who supplies Acme?")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen))
        await pilot.pause()
        shown = [description for _, description in {  # the footer shows one key an action
            b.binding.action: b.binding.description for b in app.screen.active_bindings.values()
            if b.binding.show and b.enabled}.items()]
        assert shown.count("Copy quote") == 1 and "Open article" not in shown, shown
        assert "Clear" not in shown and "Quit" in shown
        await pilot.press("ctrl+y")
        assert app.clipboard.startswith(f"> {cards(view)[0].evidence.text}\n")
        await pilot.press("ctrl+l", "ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, ArticleScreen)
        await pilot.press("ctrl+p")  # nor does the palette offer to clear it
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        offered = [name for name, _, _ in ChatCommands(app.screen).commands()]
        assert "Save transcript" in offered and "Clear conversation" not in offered
        beneath = app.screen_stack[-2]  # the article view, its footer under the palette
        under = [b.binding.description for b in beneath.active_bindings.values()
                 if b.binding.show and b.enabled]
        assert isinstance(beneath, ArticleScreen) and "Quit" in under, under
        assert "Clear" not in under and "Open article" not in under, under
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.turns) == 1 and list(app.turns.values())[0].turn is not None
