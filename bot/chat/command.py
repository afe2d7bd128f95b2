"""The ``bot chat`` command: opens the chat (the heavy imports happen later, in its worker)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from index.ingest.sources import is_url

from ..cli import SEEDS_DIR, index_dir_option
from ..cluster import ray_option
from ..questions import DEFAULT_K, MAX_K


@click.command("chat")
@click.argument("paths", nargs=-1, callback=lambda ctx, param, value: _existing(value))
@index_dir_option
@click.option("-k", "k", type=click.IntRange(min=1, max=MAX_K), default=DEFAULT_K,
              show_default=True, help="How many sentences to show per answer.")
@ray_option
def chat_command(paths: tuple[str, ...], index_dir: str, k: int) -> None:
    """Chat about the articles under PATHS (files, folders, or feed and page URLs).

    With PATHS, the index holds exactly those articles (built, or updated when stale). Without,
    the index is opened as it is; only when there is none yet is one built from the shipped
    seeds.
    """
    from .app import make_app

    folder = Path(index_dir)
    if paths:
        corpus: list[str] | None = [p if is_url(p) else str(Path(p).resolve()) for p in paths]
    elif _holds_index(folder):
        corpus = None
    elif SEEDS_DIR.is_dir():
        corpus = [str(SEEDS_DIR)]
    else:
        raise click.ClickException(f"no index in {folder} and the shipped seeds are not "
                                   "installed here: give the folders or files to chat about")
    app = make_app(corpus, folder, k=k)
    app.run()
    _leave(app.return_code or 0)


def _existing(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The PATHS argument: URLs as they are, paths that must exist (exit code 2 if not)."""
    for path in paths:
        if not is_url(path) and not os.path.exists(path):
            raise click.BadParameter(f"Path '{path}' does not exist.", param_hint="'PATHS...'")
    return paths


def _holds_index(folder: Path) -> bool:
    """Whether ``folder`` has an index (a damaged one counts: the chat says what is wrong
    rather than building over it)."""
    from index.errors import EngineError
    from index.store.generations import IndexDir

    try:
        return IndexDir(folder).current() is not None
    except EngineError:
        return True


def _leave(code: int) -> None:
    """Exit now, even while the engine thread still loads the model or writes an index
    (generations are committed atomically, so stopping mid-way loses nothing)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
