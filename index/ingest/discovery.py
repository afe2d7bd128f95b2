"""Find article files under the paths a user gives (recursively, without following loops)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from index.errors import BadInput
from index.ingest.readers import SUFFIXES, file_format
from index.safe_text import has_surrogates

_KNOWN = ", ".join(sorted(SUFFIXES))
# Folders that hold a system, not articles: refused as corpus roots (a golden file's
# ``corpus: /`` would otherwise walk the whole machine), never entered below another root.
SYSTEM_FOLDERS = tuple(Path(p) for p in ("/", "/proc", "/sys", "/dev", "/run", "/boot",
                                         "/usr", "/etc", "/var/lib", "/bin", "/sbin", "/lib"))
_PSEUDO = {"/proc", "/sys", "/dev", "/run"}  # file systems whose files are not files


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """``(files, problems)``: supported files under ``paths`` (absolute, sorted, unique) and a
    one-line reason for each explicitly named file that is not one. A missing path is an error.
    """
    found: dict[str, Path] = {}
    problems: list[str] = []
    for raw in paths:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if not path.exists():
            if path.is_symlink():
                problems.append(f"{raw}: broken symbolic link")
                continue
            raise BadInput(f"no such file or directory: {raw}")
        if path.is_dir():
            if Path(os.path.realpath(path)) in SYSTEM_FOLDERS:
                raise BadInput(f"refusing to index the system folder {path} as articles: name "
                               "the folders that hold your articles")
            for file in _walk(path, problems):
                found.setdefault(str(file), file)
        elif file_format(path) is None:
            problems.append(f"{raw}: unsupported file type (use {_KNOWN})")
        elif not path.is_file():
            problems.append(f"{raw}: not a regular file; skipped")
        elif has_surrogates(str(path)):
            problems.append(f"{raw}: file name is not UTF-8 (rename the file); skipped")
        else:
            found.setdefault(str(path), path)
    return [found[k] for k in sorted(found)], problems


def _walk(root: Path, problems: list[str]) -> Iterable[Path]:
    """Supported files below ``root``; hidden folders and symlinked folders are not entered
    (so a link loop cannot hang); a folder that cannot be listed is reported in ``problems``."""
    def unlistable(exc: OSError) -> None:
        problems.append(f"{exc.filename}: {exc.strerror or exc}; folder skipped")

    for folder, dirs, files in os.walk(root, followlinks=False, onerror=unlistable):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                         os.path.join(folder, d) not in _PSEUDO)
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") or file_format(path) is None:
                continue
            if has_surrogates(str(path)):  # citations and the index need a name as text
                problems.append(f"{path}: file name is not UTF-8 (rename the file); skipped")
            elif path.is_file():  # a FIFO or device named *.txt would block the reader
                yield path
            else:
                problems.append(f"{path}: not a regular file; skipped")
