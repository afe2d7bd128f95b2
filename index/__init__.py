"""The engine: articles → sentences → embeddings → FAISS/BM25 store → ranked evidence.

One subpackage per stage: :mod:`index.ingest` (files → articles → sentences),
:mod:`index.embed` (sentences → vectors), :mod:`index.store` (the index directory and its
files), :mod:`index.search` (question → ranked evidence). :mod:`index.indexer` runs the build
pipeline through the first three. Nothing here imports ``bot`` or Textual
(``tests/test_layout.py`` checks it). The public entry points are
:func:`index.indexer.update_index` and :class:`index.search.searcher.Searcher`.
"""
