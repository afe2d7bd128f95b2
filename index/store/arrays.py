"""Loading the ``.npy`` arrays of an index: memory-mapped, never unpickled."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np


def load_array(path: Path, random_access: bool = False) -> np.ndarray:
    """``path`` memory-mapped read-only (an empty array, which cannot be mapped, is read), as
    a plain ndarray: indexing a ``np.memmap`` costs microseconds of Python each time.

    With ``random_access`` the kernel is told not to read ahead, so a query touching a few
    hundred rows of a 1.5 GB file pages in those rows, not ~100 MB around them.
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array cannot be memory-mapped
        return np.load(path, allow_pickle=False)
    handle = getattr(array, "_mmap", None)
    if random_access and handle is not None and hasattr(mmap, "MADV_RANDOM"):
        try:
            handle.madvise(mmap.MADV_RANDOM)
        except OSError:
            pass
    return array.view(np.ndarray)  # the view keeps the mapping alive
