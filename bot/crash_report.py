"""The CLI's last line of defence: an unexpected exception becomes one ``error: internal
error …`` line, with its traceback saved to a file under the cache for a bug report."""

from __future__ import annotations

import os
import time
import traceback

from index.paths import cache_dir
from index.safe_text import printable

MAX_REASON_CHARS = 200


def internal_error_line(exc: BaseException, command: list[str] | None = None) -> str:
    """Save ``exc``'s traceback under ``<cache>/errors/`` and return the one line to show."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "…"
    try:
        where = _save(exc, command)
        details = f"details in {where}"
    except OSError as problem:
        details = f"details could not be saved ({problem.strerror or problem})"
    return printable(f"error: internal error ({reason}); {details}")


def _save(exc: BaseException, command: list[str] | None) -> str:
    folder = cache_dir().absolute() / "errors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"internal-error-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(exc))
    header = f"command: {printable(' '.join(command or []))}\n\n" if command else ""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(header + text)
    return str(path)
