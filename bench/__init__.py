"""Benchmarks of indexing, search and the ``bot`` command (``python -m bench.run --help``)."""
