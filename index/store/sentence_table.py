"""Where each sentence stands, as arrays a query reads without SQLite.

Per sentence id: its article, its passage (paragraph), its character span in the article text,
the 1-based line and column of its start, the answer kinds it holds (a date, a number:
:func:`index.search.answer_types.held_kinds`) and its text. Numbers are one ``int64`` table; texts
are UTF-8, back to back in one file, with their byte offsets. The indexer writes them beside
``docs.sqlite``; search memory-maps them, so a question reads its candidates' neighbours,
articles, lengths and texts in microseconds (SQLite takes ~4.5 µs a row at 1M sentences).
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from index.search.answer_types import held_kinds
from index.store.arrays import load_array

TABLE = "sentence_table.npy"  # int64 (sentences, 7): the COLUMNS below
TEXTS = "sentence_texts.bin"  # UTF-8 texts, back to back
TEXT_OFFSETS = "sentence_text_offsets.npy"  # int64 (sentences + 1,): byte offsets in TEXTS
COLUMNS = ("article", "passage", "start", "end", "line", "column", "kinds")

_BREAK = re.compile(r"\r\n|\r|\n")


def line_columns(text: str, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based line and column of each character offset in ``text``; LF, CRLF and CR end a
    line (an offset between the CR and LF of a CRLF is at the start of a new line)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    spans = np.array([m.span() for m in _BREAK.finditer(text)], dtype=np.int64).reshape(-1, 2)
    before = np.searchsorted(spans[:, 0], offsets, side="left")  # line ends starting before
    last_end = spans[np.maximum(before - 1, 0), 1] if len(spans) else np.zeros_like(offsets)
    line_start = np.where(before > 0, np.minimum(last_end, offsets), 0)
    return before + 1, offsets - line_start + 1


class TableWriter:
    """Collects the sentences of a new generation in id order; :meth:`close` saves them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows: list[np.ndarray] = []
        self.offsets: list[int] = [0]
        self.texts: BinaryIO = open(folder / TEXTS, "wb")

    def add_article(self, article: int, text: str,
                    sentences: Sequence[tuple[int, int, int]]) -> None:
        """The ``(passage id, start, end)`` sentences of ``article``, whose text is ``text``."""
        if not sentences:
            return
        spans = np.array(sentences, dtype=np.int64).reshape(-1, 3)
        line, column = line_columns(text, spans[:, 1])
        kinds = np.zeros(len(spans), dtype=np.int64)
        for i, (_, start, end) in enumerate(sentences):
            sentence = text[start:end]
            kinds[i] = held_kinds(sentence)
            data = sentence.encode("utf-8", "surrogatepass")
            self.texts.write(data)
            self.offsets.append(self.offsets[-1] + len(data))
        self.rows.append(np.column_stack([np.full(len(spans), article), spans, line, column,
                                          kinds]))

    def close(self) -> np.ndarray:
        """Save the table and the text offsets; the table (rows: sentence ids) as saved."""
        self.texts.close()
        rows = np.concatenate(self.rows) if self.rows else np.zeros((0, len(COLUMNS)), np.int64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        np.save(self.folder / TABLE, rows, allow_pickle=False)
        np.save(self.folder / TEXT_OFFSETS, np.array(self.offsets, dtype=np.int64),
                allow_pickle=False)
        return rows


class SentenceTable:
    """A generation's sentence arrays, memory-mapped read-only."""

    def __init__(self, folder: Path) -> None:
        table = load_array(folder / TABLE, random_access=True)
        offsets = load_array(folder / TEXT_OFFSETS, random_access=True)
        if table.ndim != 2 or table.shape[1] != len(COLUMNS) or len(offsets) != len(table) + 1:
            raise ValueError(f"{TABLE} and {TEXT_OFFSETS} do not match")
        self.table, self.offsets = table, offsets
        (self.article, self.passage, self.start, self.end, self.line, self.column,
         self.kinds) = (self.table[:, i] for i in range(len(COLUMNS)))
        self._texts = _map(folder / TEXTS)
        if len(self._texts) != int(self.offsets[-1]):
            raise ValueError(f"{TEXTS} has {len(self._texts)} bytes, expected "
                             f"{int(self.offsets[-1])}")

    def __len__(self) -> int:
        return len(self.table)

    def texts(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of sentences ``ids``, in that order."""
        data = self._texts
        ids = np.asarray(ids, dtype=np.int64)
        starts, stops = self.offsets[ids].tolist(), self.offsets[ids + 1].tolist()
        return [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, stops)]


def _map(path: Path) -> bytes | mmap.mmap:
    """``path`` mapped read-only (an empty file, which cannot be mapped, as ``b""``)."""
    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
