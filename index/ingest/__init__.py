"""Stage 1, documents → sentences: find article files, read them, split them into sentences.

``discovery`` finds files under the paths a user names, ``readers`` turns each format into an
:class:`~index.ingest.documents.Article`, ``splitter`` gives paragraphs and sentences with exact
character offsets, ``documents`` holds the data classes they share.
"""
