"""The application: answering questions from an index, the CLI, the chat TUI, regression checks.

The Python API (``docs/python.md``)::

    from bot import Answerer, index_folder
    index_folder("seeds", index_dir=".bot-index")
    answerer = Answerer.open(".bot-index")
    answer = answerer.ask("Who is Xiaomi's founder and CEO?")

Names are imported lazily, so ``import bot`` (and the CLI's start) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.errors import BadInput, EngineError

    from .answering import Answer, Answerer, Evidence, PassageView
    from .conversation import Conversation
    from .indexing import index_folder

_EXPORTS = {
    "Answerer": ".answering", "Answer": ".answering", "Evidence": ".answering",
    "PassageView": ".answering", "Conversation": ".conversation", "index_folder": ".indexing",
    "EngineError": "index.errors", "BadInput": "index.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    where = _EXPORTS[name]
    module = import_module(where, __name__) if where.startswith(".") else import_module(where)
    return getattr(module, name)
