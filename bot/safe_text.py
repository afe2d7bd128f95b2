"""Article and question text is data: the engine's one escaping function, for the application
(see :mod:`index.safe_text`)."""

from index.safe_text import printable, valid_unicode

__all__ = ["printable", "valid_unicode"]
