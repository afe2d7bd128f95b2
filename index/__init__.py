"""The engine: articles → sentences → embeddings → FAISS/BM25 store → ranked evidence.

Nothing here imports ``bot`` or Textual. The public entry points are
:func:`index.indexer.update_index` and :class:`index.search.Searcher`.
"""
