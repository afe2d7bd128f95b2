"""The ``bot`` command line: a thin client of :mod:`bot.answering` and :mod:`index`.

Domain errors become one-line messages and a non-zero exit here, at the edge; nothing but
answers goes to stdout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, TextIO

import click

from index.choices import (BACKENDS, MAX_RERANK_DEPTH, RERANK_DEPTH, RERANK_DEPTH_ENV,
                           RERANK_GAP)
from index.errors import BadInput, EngineError
from index.safe_text import printable

from .cluster import active_cluster, ray_option
from .questions import DEFAULT_K, MAX_K, question_problem
from .stream_lines import LineProblem, StreamLine, parse_line

DEFAULT_INDEX_DIR = ".bot-index"
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


def default_index_dir() -> str:
    return os.environ.get("BOT_INDEX_DIR") or DEFAULT_INDEX_DIR


index_dir_option = click.option(
    "--index-dir", type=click.Path(file_okay=True, dir_okay=True), default=default_index_dir,
    show_default=f"$BOT_INDEX_DIR or {DEFAULT_INDEX_DIR}", help="Where the index lives.")


# Commands whose modules are heavy to import (numpy, Textual, YAML): imported only when run.
LAZY_COMMANDS = {
    "chat": "bot.chat.command:chat_command",
    "check": "bot.golden.command:check_command",
    "eval": "bot.evaluation.command:eval_command",
}


class BotGroup(click.Group):
    """Turns engine errors into ``error: ...`` lines and exit code 1 (no traceback), and
    imports the heavier commands lazily so ``bot ask`` and ``bot chat`` start fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, _, attr = LAZY_COMMANDS[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            _silence_broken_pipe()
            ctx.exit(0)
        except OSError as exc:  # disk full, a folder where a file should be, ...
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: one line, the traceback saved for a report
            from .crash_report import internal_error_line

            click.echo(internal_error_line(exc, sys.argv), err=True)
            ctx.exit(1)


def _show_error(self: click.ClickException, file=None) -> None:  # noqa: ANN001
    """Every CLI error is one ``error: ...`` line on stderr, paths and names in it escaped."""
    click.echo(printable(f"error: {' '.join(self.format_message().split())}"), err=True)


def _show_usage_error(self: click.UsageError, file=None) -> None:  # noqa: ANN001
    """Bad arguments: one ``error: ...`` line that names the help to read (exit code 2);
    ``bot`` alone prints its help as usual."""
    if isinstance(self, click.exceptions.NoArgsIsHelpError):
        click.echo(self.format_message(), err=True)
        return
    hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
    click.echo(printable(f"error: {' '.join(self.format_message().split())}{hint}"), err=True)


click.ClickException.show = _show_error
click.UsageError.show = _show_usage_error


@click.group(cls=BotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sentence-bot", prog_name="bot")
def cli() -> None:
    """Answer questions about news articles with their best-supporting sentences, verbatim."""
    from index.embed.encoders import quiet_hub

    quiet_hub()


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_dir_option
@click.option("--model", default=None, help="Model name or path (default all-MiniLM-L6-v2, "
              "or $BOT_MODEL).")
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="Encoder backend (default onnx int8, or $BOT_BACKEND).")
@click.option("--rebuild", is_flag=True, help="Build from scratch (also after a model change).")
@click.option("--shards", type=click.IntRange(min=1, max=4096), default=None,
              help="Split the index into N shards (docs/scaling.md).")
@ray_option
def index_command(paths: tuple[str, ...], index_dir: str, model: str | None,
                  backend: str | None, rebuild: bool, shards: int | None) -> None:
    """Index (incrementally) the article files under PATHS, and the feeds (RSS, Atom, JSON
    Feed) or article pages at the http(s) URLs among them."""
    from .indexing import index_folder

    report = index_folder(paths, index_dir, model=model, backend=backend, rebuild=rebuild,
                          shards=shards)
    verb = "updated" if report.committed else "up to date"
    sharded = getattr(report, "shard_count", 0)
    where = f"; {sharded} shards, {len(report.rebuilt)} rebuilt" if sharded else ""
    click.echo(
        f"index {verb}: {report.articles} articles, {report.sentences} sentences "
        f"({len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged files; "
        f"{report.sentences_embedded} sentences embedded; {len(report.skipped)} skipped"
        f"{where}) in {report.seconds:.1f}s", err=True)


def _date_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A ``--since``/``--until`` value, refused (exit 2) unless it is a date of an accepted
    form."""
    from index.search.filters import DateSpan, not_a_date

    if value is not None and DateSpan.parse(value) is None:
        raise click.BadParameter(not_a_date(value), ctx, param)
    return value


@cli.command("ask")
@click.argument("question", required=False)
@index_dir_option
@click.option("-k", "k", type=click.IntRange(min=1, max=MAX_K), default=DEFAULT_K,
              show_default=True,
              help="How many sentences to show per question.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question per line.")
@click.option("--since", metavar="DATE", callback=_date_option,
              help="Only articles dated DATE or later (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--until", metavar="DATE", callback=_date_option,
              help="Only articles dated DATE or earlier (a year or month: all of it).")
@click.option("--source", "sources", metavar="PATTERN", multiple=True,
              help="Only articles whose path, URL or source matches PATTERN (shell-style, "
                   "case-insensitive, e.g. '*reuters*'); repeatable: any may match.")
@ray_option
@click.option("--rerank-depth", type=click.IntRange(min=0, max=MAX_RERANK_DEPTH), default=None,
              help=f"How many of the first stage's best sentences the second stage (token "
              f"matching) may read again (default {RERANK_DEPTH}, or $BOT_RERANK_DEPTH; 0: none; "
              f"measured at 10); it reads those within {RERANK_GAP:g} of the best, and none "
              f"when the first stage is that sure ($BOT_RERANK_GAP; inf: all).")
@click.option("--fast", is_flag=True,
              help="First stage only (the same as --rerank-depth 0).")
def ask_command(question: str | None, index_dir: str, k: int, as_json: bool,
                since: str | None, until: str | None, sources: tuple[str, ...],
                rerank_depth: int | None, fast: bool) -> None:
    """Answer QUESTION, or each line of stdin when QUESTION is omitted."""
    from index.search.filters import ArticleFilter, BadFilter

    from .ask_stream import replies, workers_for_stream

    try:
        filters = ArticleFilter.of(since, until, sources)
    except BadFilter as exc:
        raise click.UsageError(str(exc)) from None
    if question is not None and (problem := question_problem(question)):
        raise BadInput(problem)
    if fast or rerank_depth is not None:  # read by every searcher, stream workers included
        os.environ[RERANK_DEPTH_ENV] = str(0 if fast else rerank_depth)
    single = question is not None
    failures = 0
    for reply in replies(index_dir, _questions(question, sys.stdin), k, as_json, single,
                         workers=1 if single or active_cluster() else workers_for_stream(),
                         filters=filters):
        for line in reply.stderr:
            click.echo(line, err=True)
        if reply.stdout is not None:
            _emit(reply.stdout)
        failures += reply.failed
    if failures:
        sys.exit(1)


def _questions(question: str | None,
               stream: TextIO) -> Iterator[tuple[int, StreamLine, str | None]]:
    """``(line number, what it asks, problem)`` for the argument or for each stdin line (a
    line starting with ``{`` is a JSON object: see :mod:`bot.stream_lines`)."""
    if question is not None:
        yield 1, StreamLine(question), None
        return
    for number, raw in enumerate(stream.buffer, start=1):
        line = raw.rstrip(b"\r\n")
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield (number, StreamLine(line.decode("utf-8", "replace")),
                   f"not UTF-8 text (invalid byte at column {exc.start + 1})")
            continue
        if not text.strip():
            continue  # blank lines separate questions
        if "\x00" in text:
            yield number, StreamLine(text.replace("\x00", "")), "question contains NUL bytes"
            continue
        try:
            yield number, parse_line(text), None
        except LineProblem as exc:
            yield number, exc.line, str(exc)


def _emit(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _silence_broken_pipe() -> None:
    """Stop Python complaining when stdout's reader went away (``bot ask ... | head``)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main() -> None:
    cli(prog_name="bot")
