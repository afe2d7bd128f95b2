"""Indexing for scripts and notebooks: one call, the same work as ``bot index``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from index.embed.encoders import Encoder, EncoderSpec
from index.indexer import IndexReport, update_index
from index.progress import ProgressCallback
from index.sharded_indexer import update_sharded_index
from index.store.sharded import is_sharded


def index_folder(paths: str | Path | Iterable[str | Path], index_dir: str | Path = ".bot-index",
                 *, model: str | None = None, backend: str | None = None,
                 rebuild: bool = False, encoder: Encoder | None = None,
                 progress: ProgressCallback | None = None,
                 shards: int | None = None) -> IndexReport:
    """Make the index in ``index_dir`` hold exactly the articles under ``paths`` (files,
    folders, and ``http(s)://`` feeds or article pages).

    Incremental as ``bot index``: unchanged files and web articles embed nothing. ``model``/``backend`` default
    to ``BOT_MODEL``/``BOT_BACKEND`` or the packaged model; ``progress(stage, done, total)`` is
    called as files are read (``"reading"``), URLs fetched (``"fetching"``, ``"fetching
    articles"``) and sentences embedded (``"embedding"``). ``shards``: split the index into
    that many shards (:mod:`index.sharded_indexer`; an index that is sharded already stays
    so), built on the Ray cluster of :mod:`bot.cluster` if one was chosen. Raises
    :class:`index.errors.EngineError` (with a one-line message) when nothing can be indexed.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    spec = EncoderSpec.from_env(model, backend) if (model or backend or rebuild) and \
        not encoder else None
    if shards is not None or is_sharded(index_dir):
        from .cluster import active_cluster

        cluster = active_cluster()
        return update_sharded_index(list(paths), index_dir, shards=shards, spec=spec,
                                    rebuild=rebuild, encoder=encoder, progress=progress,
                                    builder=cluster.shard_builder() if cluster else None)
    return update_index(list(paths), index_dir, spec=spec, rebuild=rebuild, encoder=encoder,
                        progress=progress)
