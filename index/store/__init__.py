"""Stage 3, vectors → store: the index directory and every file a generation holds.

``generations`` is the directory (immutable generations, the ``CURRENT`` pointer, the lock,
the manifest); ``docstore`` the SQLite articles/passages/sentences; ``sentence_table`` the
per-sentence arrays a query reads; ``bm25`` the lexical index; ``ann`` the FAISS vector index;
``title_terms`` title postings; ``arrays`` safe ``.npy`` loading.
"""
