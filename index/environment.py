"""Numbers read from ``BOT_*`` environment variables, in one place.

Unset or blank means "the default" (``None`` here); anything else must be a number of the
kind asked for, or the user gets a one-line :class:`~index.errors.BadInput` naming the
variable and its value. A typo never falls back silently to the default (``BOT_WORKERS=tow``
used to answer on every core) and never surfaces as a Python error. The variables are listed
in docs/usage.md, "Environment variables".
"""

from __future__ import annotations

import math
import os

from index.errors import BadInput


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def whole_number(name: str, what: str, minimum: int = 0) -> int | None:
    """``$name`` as a whole number of at least ``minimum`` (``what`` says what it counts, for
    the error: "candidates (0: none)"), or None when unset."""
    raw = _raw(name)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < minimum:
        least = "" if minimum == 0 else f" (at least {minimum})"
        raise BadInput(f"{name}={raw} is not a whole number of {what}{least}")
    return int(raw)


def non_negative(name: str, what: str, hint: str = "") -> float | None:
    """``$name`` as a number of zero or more (``inf`` allowed; ``what`` says what it is and
    ``hint`` how to use it, for the error), or None when unset."""
    raw = _raw(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value < 0:
        raise BadInput(f"{name}={raw} is not {what} (zero or more"
                       + (f"; {hint})" if hint else ")"))
    return value


def seconds(name: str, positive: bool = False) -> float | None:
    """``$name`` as a number of seconds (more than zero when ``positive``), or None."""
    value = non_negative(name, "a number of seconds")
    if positive and value == 0:
        raise BadInput(f"{name}=0: give a number of seconds greater than zero")
    return value
