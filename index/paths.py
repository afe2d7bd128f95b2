"""Where the engine keeps state that is not an index: the exported-model cache."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``BOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/bot``, else ``~/.cache/bot``."""
    if explicit := os.environ.get("BOT_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "bot"
