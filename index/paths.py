"""Where the engine keeps state that is not an index: the exported-model cache."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``BOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/bot``, else ``~/.cache/bot``; always
    absolute (a relative setting is taken from the current directory), so that paths kept in
    an index built there are the paths looked up later."""
    if explicit := os.environ.get("BOT_CACHE_DIR"):
        return Path(explicit).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().absolute() / "bot"
