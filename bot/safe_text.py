"""Article and question text is data: :func:`printable` makes it safe to print to a terminal
(it lives in the engine, whose notices print text from files and the web too)."""

from index.safe_text import printable

__all__ = ["printable"]
