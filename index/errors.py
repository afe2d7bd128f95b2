"""Domain errors of the engine. Each carries a one-line message meant for a person."""

from __future__ import annotations


class EngineError(Exception):
    """Base class: something about an index or its input is wrong (message is user-facing)."""


class UnreadableFile(EngineError):
    """An article file that cannot be read; it is skipped and the rest is indexed."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class IndexNotFound(EngineError):
    """No index has been built in the directory yet."""


class IndexMismatch(EngineError):
    """The index was built with another model, dimension or format version."""


class IndexCorrupt(EngineError):
    """An index file is missing, truncated or altered (its checksum does not match)."""


class IndexWriteFailed(EngineError, OSError):
    """Writing a new generation failed (disk full, ...); the previous index is unchanged."""

    def __init__(self, root: object, cause: Exception) -> None:
        reason = getattr(cause, "strerror", None) or str(cause)
        filename = getattr(cause, "filename", None)
        where = f" ({filename})" if filename else ""
        self.message = (f"cannot write the index in {root}: {reason}{where}; "
                        "the previous index is unchanged")
        super().__init__(getattr(cause, "errno", None), reason)

    def __str__(self) -> str:
        return self.message


class BadInput(EngineError):
    """An argument or path given by the user cannot be used."""


class ModelUnavailable(EngineError):
    """The embedding model cannot be loaded offline."""


class BrokenInstall(EngineError):
    """A file shipped with the bot (learned weights, ...) is missing or unreadable: a packaging
    error, reported instead of silently using other figures."""
