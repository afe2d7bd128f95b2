"""Progress bars on interactive terminals only, shown once a task has run for a second."""

from __future__ import annotations

import os
import sys
from typing import Any


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it") -> Any:
    """A tqdm bar on stderr when it is a terminal (and ``BOT_PROGRESS`` is not 0), else silent."""
    forced = os.environ.get("BOT_PROGRESS")
    if forced == "0" or (forced != "1" and not sys.stderr.isatty()):
        return _Silent()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, delay=1.0, file=sys.stderr, leave=False,
                dynamic_ncols=True)
