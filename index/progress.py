"""Progress bars on interactive terminals only, shown once a task has run for a second."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

ProgressCallback = Callable[[str, int, int], None]
"""``callback(stage, done, total)``: ``stage`` is ``"reading"`` (files), ``"fetching"`` (URLs),
``"fetching articles"`` (feed items' pages) or ``"embedding"`` (texts)."""


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class _Reporting:
    """A bar that also tells a caller's callback how far the stage has come."""

    def __init__(self, bar: Any, callback: ProgressCallback, stage: str, total: int) -> None:
        self.bar, self.callback, self.stage, self.total, self.done = bar, callback, stage, total, 0

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        self.done += n
        self.callback(self.stage, self.done, self.total)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "_Reporting":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: int, desc: str, unit: str = "it",
                 callback: ProgressCallback | None = None) -> Any:
    """A tqdm bar on stderr when it is a terminal (and ``BOT_PROGRESS`` is not 0), else silent;
    with ``callback``, each update is also reported as ``callback(desc, done, total)``."""
    bar = _terminal_bar(total, desc, unit)
    return _Reporting(bar, callback, desc, total) if callback else bar


def _terminal_bar(total: int, desc: str, unit: str) -> Any:
    forced = os.environ.get("BOT_PROGRESS")
    if forced == "0" or (forced != "1" and not sys.stderr.isatty()):
        return _Silent()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, delay=1.0, file=sys.stderr, leave=False,
                dynamic_ncols=True)
