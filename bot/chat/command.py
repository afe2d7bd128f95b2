"""The ``bot chat`` command: opens the chat (the heavy imports happen later, in its worker)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("chat")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--index-dir", type=click.Path(file_okay=False), default=None,
              help="Where the index lives (default $BOT_INDEX_DIR or .bot-index).")
@click.option("-k", "k", type=click.IntRange(min=1, max=50), default=3, show_default=True,
              help="How many sentences to show per answer.")
def chat_command(paths: tuple[str, ...], index_dir: str | None, k: int) -> None:
    """Chat about the articles under PATHS (default: the shipped seeds).

    The index is built or updated first when it is missing or stale. With --index-dir and no
    PATHS, an existing index is opened as it is.
    """
    from index.store import IndexDir

    from ..cli import SEEDS_DIR, default_index_dir
    from .app import make_app

    folder = Path(index_dir or default_index_dir())
    use_as_is = index_dir is not None and not paths and IndexDir(folder).current() is not None
    if not paths and not use_as_is and not SEEDS_DIR.is_dir():
        raise click.ClickException("no PATHS given and the shipped seeds are not installed "
                                   "here: give the folders or files to chat about")
    corpus = None if use_as_is else [str(Path(p).resolve()) for p in (paths or (SEEDS_DIR,))]
    app = make_app(corpus, folder, k=k)
    app.run()
    _leave(app.return_code or 0)


def _leave(code: int) -> None:
    """Exit now, even while the engine thread still loads the model or writes an index
    (generations are committed atomically, so stopping mid-way loses nothing)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
