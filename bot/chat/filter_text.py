"""The chat's filter as typed: ``since 2022-01 until 2022-06 source *reuters*``.

Plain Python (no Textual), so it is tested on its own; the meaning is
:class:`index.search.filters.ArticleFilter`'s, as for ``bot ask --since/--until/--source``.
"""

from __future__ import annotations

import shlex

from index.search.filters import ArticleFilter, BadFilter

WORDS = ("since", "until", "source")


def parse_filter_text(text: str) -> ArticleFilter:
    """The filter ``text`` describes (``word value`` pairs, ``source`` repeatable; quotes
    around a pattern with spaces); :class:`BadFilter` with a one-line reason otherwise."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise BadFilter(f"cannot read the filter ({exc})") from None
    values: dict[str, object] = {"since": None, "until": None, "source": []}
    if len(tokens) % 2:
        raise BadFilter(f"'{tokens[-1]}' needs a value (type: since DATE, until DATE or "
                        "source PATTERN)")
    for word, value in zip(tokens[::2], tokens[1::2]):
        key = word.lower().rstrip(":")
        if key not in WORDS:
            raise BadFilter(f"unknown word '{word}' (use since, until or source)")
        if key == "source":
            values["source"].append(value)  # type: ignore[union-attr]
        else:
            values[key] = value
    return ArticleFilter.of(values["since"], values["until"], values["source"])  # type: ignore[arg-type]


def filter_text(wanted: ArticleFilter) -> str:
    """``wanted`` as it would be typed (the filter prompt starts with it)."""
    parts = [f"since {wanted.since}"] if wanted.since else []
    parts += [f"until {wanted.until}"] if wanted.until else []
    parts += [f"source {shlex.quote(p)}" for p in wanted.sources]
    return " ".join(parts)
