"""What makes a file a golden question file (no heavy imports: the pytest plugin asks this of
every file pytest collects)."""

from __future__ import annotations

from pathlib import Path

GOLDEN_SUFFIXES = (".qa.yaml", ".qa.yml")


def is_golden_file(path: Path) -> bool:
    """True for names ending in ``.qa.yaml`` / ``.qa.yml``."""
    return path.name.endswith(GOLDEN_SUFFIXES)
