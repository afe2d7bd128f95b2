"""Messages the engine worker posts to the app (thread-safe, small dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from ..answering import Article, Evidence
    from .engine import Loaded, Turn


@dataclass
class StatusChanged(Message):
    """The engine is busy with something worth telling (loading the model, indexing...)."""

    text: str


@dataclass
class EngineReady(Message):
    """The model and index are loaded; queued questions are answered next."""

    loaded: "Loaded"


@dataclass
class EngineFailed(Message):
    """Loading failed; ``error`` is a one-line message for a person."""

    error: str


@dataclass
class Answered(Message):
    """The question of turn ``turn_id`` has its answer."""

    turn_id: int
    turn: "Turn"


@dataclass
class AskFailed(Message):
    """The question of turn ``turn_id`` could not be answered."""

    turn_id: int
    error: str


@dataclass
class ArticleLoaded(Message):
    """The article an evidence sentence comes from, to open in the article view."""

    evidence: "Evidence"
    article: "Article"
