"""Building a sharded index: articles split over N shards, each an ordinary generation.

Files go to shard ``sha256(path) mod N``, URLs (a page, or a feed with all its items) to
``sha256(url) mod N``; each shard is brought up to date by
:func:`index.indexer.update_index` (so an unchanged shard embeds and writes nothing), one after
another in this process (memory bounded by one shard) or as Ray tasks
(:mod:`index.cluster`). When every shard is done, the corpus-wide BM25 statistics are merged
and a new version naming each shard's generation is published atomically.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.errors import BadInput, EngineError
from index.indexer import TEXT_VERSION, IndexReport, update_index
from index.ingest.discovery import discover
from index.ingest.sources import is_url
from index.notices import warn
from index.progress import ProgressCallback, progress_bar
from index.store.corpus_stats import (CorpusStats, sentence_lengths,
                                      shard_document_frequencies)
from index.store.generations import IndexDir
from index.store.sentence_table import SentenceTable
from index.store.sharded import (ShardedDir, ShardedManifest, ShardEntry, is_sharded,
                                 lengths_file, order_file, shard_of)

MAX_SHARDS = 4096
NOTHING = "nothing to index"  # how update_index says a shard's files hold no article


@dataclass
class ShardJob:
    """Bring one shard up to date with its files."""

    shard: int
    index_dir: str
    files: list[str]
    spec: EncoderSpec
    rebuild: bool = False


@dataclass
class ShardOutcome:
    """What building one shard did; ``report`` is None when it holds no article."""

    shard: int
    report: IndexReport | None
    node: str = "local"  # where it was built (a Ray node id on a cluster)


ShardBuilder = Callable[[list[ShardJob], ProgressCallback | None], Iterator[ShardOutcome]]


@dataclass
class ShardedReport(IndexReport):
    """What one sharded ``bot index`` run did, with each shard's outcome."""

    shard_count: int = 0
    outcomes: list[ShardOutcome] = field(default_factory=list)

    @property
    def rebuilt(self) -> list[int]:
        return [o.shard for o in self.outcomes if o.report and o.report.committed]


def build_shard(job: ShardJob, encoder: Encoder | None = None,
                progress: ProgressCallback | None = None, node: str = "local") -> ShardOutcome:
    """Run :func:`update_index` for one shard (an empty shard is not an error)."""
    if not job.files:
        return ShardOutcome(job.shard, None, node)
    try:
        report = update_index(job.files, job.index_dir, spec=job.spec, rebuild=job.rebuild,
                              encoder=encoder, progress=progress)
    except BadInput as exc:
        if str(exc).startswith(NOTHING):
            return ShardOutcome(job.shard, None, node)
        raise
    _save_lengths(IndexDir(job.index_dir))
    return ShardOutcome(job.shard, report, node)


def _lengths_path(store: IndexDir, generation: str) -> Path:
    return store.root / f"lengths-{generation}.npy"


def _save_lengths(store: IndexDir) -> None:
    """The BM25 lengths of the live generation's sentences, beside the shard (computed where
    the shard was built, so the publishing process does not tokenise the whole corpus)."""
    name = store.current_name()
    if name is None:
        return
    for stale in store.root.glob("lengths-*.npy"):
        if stale.name != _lengths_path(store, name).name:
            stale.unlink(missing_ok=True)
    target = _lengths_path(store, name)
    if not target.exists():
        table = SentenceTable(store.generations / name)
        staged = target.with_suffix(".tmp.npy")
        np.save(staged, sentence_lengths(table.texts(np.arange(len(table)))),
                allow_pickle=False)
        staged.replace(target)


class LazyEncoder:
    """Loads the encoder on first use, so shards that embed nothing never load the model, and
    the others share one."""

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self._encoder: Encoder | None = None

    def __getattr__(self, name: str):
        if self._encoder is None:
            self._encoder = load_encoder(self.spec)
        return getattr(self._encoder, name)


def local_builder(encoder: Encoder | None = None) -> ShardBuilder:
    """Shards built one after another in this process, with one encoder."""
    def run(jobs: list[ShardJob], progress: ProgressCallback | None) -> Iterator[ShardOutcome]:
        shared: Encoder | LazyEncoder | None = encoder
        for job in jobs:
            if shared is None:
                shared = LazyEncoder(job.spec)
            yield build_shard(job, shared, progress)  # type: ignore[arg-type]
    return run


def update_sharded_index(paths: Iterable[str | Path], index_dir: str | Path,
                         shards: int | None = None, spec: EncoderSpec | None = None,
                         rebuild: bool = False, encoder: Encoder | None = None,
                         progress: ProgressCallback | None = None,
                         builder: ShardBuilder | None = None) -> ShardedReport:
    """Bring the sharded index in ``index_dir`` up to date with the files under ``paths``
    (``shards``: how many, needed for a new index; a different count needs ``rebuild``)."""
    started = time.perf_counter()
    root = ShardedDir(index_dir)
    if (root.root / "CURRENT").exists() and not is_sharded(root.root):
        raise BadInput(f"{root.root} holds an index that is not sharded; give another "
                       "--index-dir for a sharded one")
    if shards is not None and not 1 <= shards <= MAX_SHARDS:
        raise BadInput(f"--shards must be between 1 and {MAX_SHARDS}, not {shards}")
    paths = list(paths)
    urls = list(dict.fromkeys(str(p) for p in paths if is_url(p)))
    files, problems = discover([p for p in paths if not is_url(p)])
    report = ShardedReport(root.root, skipped=list(problems))
    for problem in problems:
        warn(problem)
    with root.write_lock():
        (root.root / "shards").mkdir(exist_ok=True)
        live = root.current()
        old = root.read_manifest(live) if live else None
        count = shards or (old.shard_count if old else None)
        if count is None:
            raise BadInput(f"{root.root} holds no sharded index yet; say how many shards "
                           "with --shards N")
        if old and count != old.shard_count and not rebuild:
            raise BadInput(f"{root.root} has {old.shard_count} shards, not {count}; "
                           f"re-shard with --rebuild")
        spec = spec or (encoder.spec if encoder else None) or (
            EncoderSpec(model=old.encoder["model"], backend=old.encoder["backend"])
            if old else EncoderSpec.from_env())
        published = {e.shard: e.generation for e in old.shards} if old else {}
        for number in range(count):
            root.pin_shard(number, published.get(number))
        groups: list[list[str]] = [[] for _ in range(count)]
        for path in files:
            groups[shard_of(str(path), count)].append(str(path))
        for url in urls:  # a feed and all its items go to its URL's shard
            groups[shard_of(url, count)].append(url)
        jobs = [ShardJob(n, str(root.shard(n).root), group, spec, rebuild)
                for n, group in enumerate(groups)]
        run = builder or local_builder(encoder)
        with progress_bar(count, "shards", unit="shard", callback=progress) as bar:
            for outcome in run(jobs, progress):
                report.outcomes.append(outcome)
                bar.update(1)
        report.outcomes.sort(key=lambda o: o.shard)
        _add_up(report, count)
        if old and count == old.shard_count and not report.rebuilt and \
                [e.generation for e in old.shards] == _generations(root, report):
            report.seconds = time.perf_counter() - started
            return report
        if not report.sentences:
            raise BadInput(f"nothing to index: no readable article with text under the given "
                           f"paths ({len(report.skipped)} file(s) skipped); the index in "
                           f"{root.root} is unchanged")
        _publish(root, old, live, report, spec)
        report.committed = True
        for stale in root.shard_dirs()[count:]:
            shutil.rmtree(stale, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _add_up(report: ShardedReport, count: int) -> None:
    report.shard_count = count
    for outcome in report.outcomes:
        if outcome.report is None:
            continue
        r = outcome.report
        report.added += r.added
        report.changed += r.changed
        report.removed += r.removed
        report.unchanged += r.unchanged
        report.skipped += r.skipped
        report.sentences_embedded += r.sentences_embedded
        report.articles += r.articles
        report.sentences += r.sentences


def _generations(root: ShardedDir, report: ShardedReport) -> list[str | None]:
    return [root.shard(o.shard).current_name() if o.report else None for o in report.outcomes]


def _publish(root: ShardedDir, old: ShardedManifest | None, live: Path | None,
             report: ShardedReport, spec: EncoderSpec) -> None:
    """Merge the shards' statistics and publish a version naming each shard's generation."""
    staging = root.staging()
    entries: list[ShardEntry] = []
    frequencies: list[tuple[dict[str, int], np.ndarray]] = []
    encoder: dict = {}
    kept = {e.shard: e for e in old.shards} if old else {}
    names = _generations(root, report)
    built = {o.shard: _Built.read(root.shard(o.shard), name)
             for o, name in zip(report.outcomes, names) if name is not None}
    file_rank = _file_ranks(b.files for b in built.values())
    for outcome, name in zip(report.outcomes, names):
        if name is None:
            entries.append(ShardEntry(outcome.shard, None))
            continue
        store = root.shard(outcome.shard)
        generation = store.generations / name
        shard = built[outcome.shard]
        encoder = encoder or shard.encoder
        previous = kept.get(outcome.shard)
        if previous is not None and previous.generation == name and live is not None:
            lengths = np.load(live / lengths_file(outcome.shard))
        else:
            if not _lengths_path(store, name).exists():
                _save_lengths(store)
            lengths = np.load(_lengths_path(store, name))
        if len(lengths) != shard.counts.get("sentences"):
            raise EngineError(f"shard {outcome.shard}'s sentence lengths do not match its "
                              "sentences; build again with --rebuild")
        np.save(staging / lengths_file(outcome.shard), lengths, allow_pickle=False)
        np.save(staging / order_file(outcome.shard), _article_order(generation, file_rank),
                allow_pickle=False)
        frequencies.append((shard_document_frequencies(generation), lengths))
        entries.append(ShardEntry(outcome.shard, name, shard.digest, dict(shard.counts),
                                  int(lengths.sum())))
    stats = CorpusStats.merge(frequencies)
    stats.save(staging)
    manifest = ShardedManifest(shard_count=report.shard_count, shards=entries,
                               encoder=encoder or spec.to_json(), splitter=TEXT_VERSION,
                               sentences=stats.sentences, total_length=stats.total_length)
    try:
        root.commit(staging, manifest)  # type: ignore[arg-type]
    except EngineError:
        root.discard_staging()
        raise


@dataclass
class _Built:
    """What publishing needs of a shard's generation, its manifest read once (the files'
    names only: every shard's are held at once)."""

    digest: str | None
    counts: dict[str, int]
    encoder: dict
    files: list[str]

    @classmethod
    def read(cls, store: IndexDir, name: str) -> "_Built":
        manifest = store.read_manifest(store.generations / name, verify=False)
        return cls(manifest.digest, manifest.counts, manifest.encoder, list(manifest.files))


def _file_ranks(shard_files: Iterable[list[str]]) -> dict[str, int]:
    """Every indexed file's position in the sorted list of all the shards' files: the order
    one index over the same files would hold their articles in."""
    files = sorted(path for names in shard_files for path in names)
    return {path: rank for rank, path in enumerate(files)}


def _article_order(generation: Path, file_rank: dict[str, int]) -> np.ndarray:
    """Per article of a shard: its file's rank in the whole corpus (see :func:`_file_ranks`);
    merged search results break ties in this order, as one index would."""
    import sqlite3

    from index.store.docstore import DOCS

    uri = (generation / DOCS).resolve().as_uri() + "?mode=ro&immutable=1"
    db = sqlite3.connect(uri, uri=True)
    try:
        return np.array([file_rank.get(row[0], len(file_rank)) for row in
                         db.execute("SELECT file FROM articles ORDER BY id")], dtype=np.int64)
    finally:
        db.close()


def open_store(index_dir: str | Path) -> IndexDir:
    """The right kind of directory object for ``index_dir``."""
    return ShardedDir(index_dir) if is_sharded(index_dir) else IndexDir(index_dir)
