"""Opening files the bot did not write: a regular file, checked without blocking, read with a
size limit.

A FIFO, socket or device named like an article (or like ``CURRENT``) would block a plain
``open``/``read`` forever; ``/proc`` files report size 0 and some block on read; a huge file
would fill memory. :func:`read_regular_file` opens with ``O_NONBLOCK``, checks the type with
``fstat`` before reading, and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from index.errors import UnreadableFile

MiB = 1024 * 1024


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``; raises :class:`UnreadableFile` (one-line
    reason) for anything else, for a file over ``limit`` bytes and for a failed read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise UnreadableFile(str(path), exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(str(path), f"not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise UnreadableFile(str(path), f"too large ({info.st_size:,} bytes; the limit "
                                            f"is {limit:,})")
        if info.st_size == 0:  # empty, or a /proc-style file whose reads may block: not read
            return b""
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(limit + 1 - total, 4 * MiB)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnreadableFile(str(path), f"too large (over {limit:,} bytes)")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(str(path), exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def file_kind(mode: int) -> str:
    """A person's word for the type of file ``mode`` describes."""
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return word
    return "not a regular file"
