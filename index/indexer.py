"""Incremental indexing: files and URLs → articles → passages/sentences → vectors → a new
generation.

Unchanged files and web articles (same content hash, or a ``304 Not Modified``) are copied from
the live generation with their vectors, so they embed nothing; changed ones are re-read and
re-embedded; files that no longer exist (and feeds no longer named) leave the index. When
nothing changed, no generation is written at all.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from index.store import ann
from index.store.arrays import load_array
from index.store.docstore import DocReader, DocWriter
from index.ingest.documents import Article, SplitArticle
from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.errors import BadInput, EngineError, IndexWriteFailed, UnreadableFile
from index.store.bm25 import Bm25
from index.notices import warn
from index.progress import ProgressCallback, progress_bar
from index.ingest.sources import ArticleSources, Failed, Unchanged
from index.store.sentence_table import COLUMNS, TableWriter
from index.ingest.splitter import SPLITTER_VERSION, paragraphs, sentences
from index.store.generations import (PASSAGE_VECTORS, READABLE, SENTENCE_ANN, SENTENCE_VECTORS, FileEntry,
                    IndexDir, Manifest, format_version_for)
from index.store.title_terms import TitleTerms

if TYPE_CHECKING:
    from index.ingest.fetching import FetchSettings

MAX_PASSAGE_SENTENCES = 8
# How sentences are split and embedded; an index made another way re-embeds every file.
TEXT_VERSION = f"{SPLITTER_VERSION}+titled"


@dataclass
class IndexReport:
    """What one ``bot index`` run did."""

    index_dir: Path
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    sentences_embedded: int = 0
    articles: int = 0
    sentences: int = 0
    committed: bool = False
    seconds: float = 0.0


def split_article(article: Article) -> SplitArticle:
    """Passages (paragraphs, long ones cut every few sentences) and sentences of an article."""
    passages: list[tuple[int, int]] = []
    rows: list[tuple[int, int, int]] = []
    for para in paragraphs(article.text, article.body_start, article.body_end):
        spans = sentences(article.text, para.start, para.end)
        for first in range(0, len(spans), MAX_PASSAGE_SENTENCES):
            chunk = spans[first:first + MAX_PASSAGE_SENTENCES]
            passages.append((chunk[0].start, chunk[-1].end))
            rows.extend((len(passages) - 1, s.start, s.end) for s in chunk)
    return SplitArticle(article, passages, rows)


def update_index(paths: Iterable[str | Path], index_dir: IndexDir | str | Path,
                 spec: EncoderSpec | None = None, rebuild: bool = False,
                 encoder: Encoder | None = None,
                 progress: ProgressCallback | None = None,
                 fetch: FetchSettings | None = None) -> IndexReport:
    """Bring the index in ``index_dir`` up to date with the article files under ``paths`` and
    the ``http(s)://`` URLs (feeds or pages) among them.

    ``progress(stage, done, total)``, if given, is called as files are read (``"reading"``),
    URLs fetched (``"fetching"``, ``"fetching articles"``) and texts embedded
    (``"embedding"``). ``fetch`` (:class:`index.ingest.fetching.FetchSettings`) sets the
    fetching limits (default: from the environment)."""
    started = time.perf_counter()
    store = index_dir if isinstance(index_dir, IndexDir) else IndexDir(index_dir)
    sources = ArticleSources(paths, fetch)
    report = IndexReport(store.root, skipped=list(sources.problems))
    with store.write_lock():
        live, old = _live_generation(store, rebuild)
        spec = spec or (encoder.spec if encoder else None) or (
            _previous_spec(store) if rebuild else None)
        spec = _choose_spec(old, spec)
        reuse, fresh = _classify(sources, live, old, report, progress)
        for problem in report.skipped:
            warn(problem)
        if old and old.format_version in READABLE and not (fresh or report.removed):
            report.articles, report.sentences = old.counts.get("articles", 0), \
                old.counts.get("sentences", 0)
            report.seconds = time.perf_counter() - started
            return report
        if not _sentence_count(reuse, fresh, old):
            raise BadInput(f"nothing to index: no readable article with text under the given "
                           f"paths or URLs ({len(report.skipped)} skipped); the index in "
                           f"{store.root} is unchanged")
        encoder = encoder or load_encoder(spec)
        try:
            _write_generation(store, live, old, reuse, fresh, spec, encoder, report, progress,
                              sources)
        except BaseException as exc:  # disk full, interrupted, ...: the live index stays
            store.discard_staging()
            if isinstance(exc, (OSError, sqlite3.OperationalError)) and \
                    not isinstance(exc, IndexWriteFailed):
                raise IndexWriteFailed(store.root, exc) from exc
            raise
    report.seconds = time.perf_counter() - started
    return report


def _sentence_count(reuse: list[str], fresh: list[_Fresh], old: Manifest | None) -> int:
    kept = sum(old.files[key].sentences for key in reuse) if old else 0
    return kept + sum(item.entry.sentences for item in fresh)


def _live_generation(store: IndexDir, rebuild: bool) -> tuple[Path | None, Manifest | None]:
    if rebuild:
        return None, None
    live = store.current()
    if live is None:
        return None, None
    return live, store.read_manifest(live, upgrading=True)


def _previous_spec(store: IndexDir) -> EncoderSpec | None:
    """The model of the index being rebuilt, if its manifest can still be read."""
    try:
        return store.read_manifest(verify=False, upgrading=True).encoder_spec()
    except (EngineError, KeyError):
        return None


def _choose_spec(old: Manifest | None, requested: EncoderSpec | None) -> EncoderSpec:
    if old is None:
        return requested or EncoderSpec.from_env()
    return old.encoder_spec(expected=requested)


@dataclass
class _Fresh:
    path: str
    entry: FileEntry
    articles: list[SplitArticle]


def _classify(sources: ArticleSources, live: Path | None, old: Manifest | None,
              report: IndexReport,
              progress: ProgressCallback | None = None) -> tuple[list[str], list[_Fresh]]:
    """Split the sources into reused (unchanged, or unreadable but indexed before) and fresh."""
    old_files = old.files if old else {}
    same_splitter = bool(old) and old.splitter == TEXT_VERSION
    reusable = set(old_files) if same_splitter else set()
    reuse: list[str] = []
    fresh: list[_Fresh] = []
    seen: set[str] = set()
    for outcome in sources.outcomes(live, reusable, progress):
        key = outcome.key
        if key in seen:  # the same article reached twice (named and in a feed)
            continue
        seen.add(key)
        previous = old_files.get(key)
        if isinstance(outcome, Failed):
            _unreadable(key, outcome.reason, previous is not None, report, reuse)
            continue
        if isinstance(outcome, Unchanged) or (previous and previous.sha256 == outcome.digest
                                              and same_splitter):
            if key in reusable:
                reuse.append(key)
            continue
        try:
            articles = [split_article(a) for a in outcome.articles()]
        except UnreadableFile as exc:
            _unreadable(key, exc.reason, previous is not None, report, reuse)
            continue
        except Exception as exc:  # noqa: BLE001 - a parser's surprise (lxml, YAML, ...) or
            # a reader's bug: this one file is skipped with its reason named, the run goes on
            reason = " ".join(f"cannot be read ({type(exc).__name__}: {exc}".split())[:200]
            _unreadable(key, reason + ")", previous is not None, report, reuse)
            continue
        count = sum(len(a.sentences) for a in articles)
        if not count:
            _unreadable(key, "no article text", previous is not None, report, reuse)
            continue
        entry = FileEntry(outcome.digest, outcome.size, outcome.mtime_ns, outcome.format,
                          len(articles), count)
        fresh.append(_Fresh(key, entry, articles))
        (report.changed if previous else report.added).append(key)
    # The index mirrors the given paths: whatever is not under them (deleted, or from an
    # earlier run's other paths) leaves it.
    report.removed.extend(key for key in sorted(old_files) if key not in seen)
    report.unchanged = len(reuse)
    return sorted(reuse), fresh


def _unreadable(key: str, reason: str, indexed: bool, report: IndexReport,
                reuse: list[str]) -> None:
    if indexed:
        reuse.append(key)
        report.skipped.append(f"{key}: {reason}; skipped, keeping the version indexed "
                              "earlier")
    else:
        report.skipped.append(f"{key}: {reason}; skipped")


def sentence_embedding_texts(split: SplitArticle) -> list[str]:
    """What each sentence is embedded as: ``Title: sentence`` (the title gives a sentence that
    lacks its subject one; +0.9 P@1 on SQuAD half-a, see docs/quality.md)."""
    prefix = f"{split.article.title}: " if split.article.title else ""
    return [prefix + t for t in split.sentence_texts()]


def _write_generation(store: IndexDir, live: Path | None, old: Manifest | None,
                      reuse: list[str], fresh: list[_Fresh], spec: EncoderSpec,
                      encoder: Encoder, report: IndexReport,
                      progress: ProgressCallback | None = None,
                      sources: ArticleSources | None = None) -> None:
    sentence_texts = [t for f in fresh for a in f.articles for t in sentence_embedding_texts(a)]
    new_sentence_vectors = _embed(encoder, sentence_texts, progress)
    report.sentences_embedded = len(sentence_texts)

    staging = store.staging()
    writer = DocWriter(staging)
    table = TableWriter(staging)
    sentence_parts: list[np.ndarray] = []
    files: dict[str, FileEntry] = {}
    if reuse and live is not None and old is not None:
        _copy_unchanged(live, old, reuse, writer, table, sentence_parts, files)
    s_cursor = 0
    for item in fresh:
        for split in item.articles:
            article_id = writer.add_article(split.article)
            passage_ids = [writer.add_passage(article_id, s, e) for s, e in split.passages]
            writer.add_sentences((article_id, passage_ids[p], s, e, split.article.text[s:e])
                                 for p, s, e in split.sentences)
            table.add_article(article_id, split.article.text,
                              [(passage_ids[p], s, e) for p, s, e in split.sentences])
            sentence_parts.append(new_sentence_vectors[s_cursor:s_cursor + len(split.sentences)])
            s_cursor += len(split.sentences)
        files[item.path] = item.entry
    writer.close()
    passage_of = table.close()[:, COLUMNS.index("passage")]

    dim = encoder.dim
    sentence_vectors = _stack(sentence_parts, dim)
    np.save(staging / SENTENCE_VECTORS, sentence_vectors, allow_pickle=False)
    np.save(staging / PASSAGE_VECTORS,
            passage_means(sentence_vectors, passage_of, writer.passages),
            allow_pickle=False)
    config = ann.choose(*sentence_vectors.shape)
    ann.save(ann.build(sentence_vectors, config), staging / SENTENCE_ANN)
    reader = DocReader(staging)
    try:
        bm25 = Bm25.build(reader.all_sentence_texts())
        bm25.save(staging)
        TitleTerms.build(reader.all_titles(), bm25.vocab).save(staging)
    finally:
        reader.close()

    if sources is not None:
        sources.save(staging, set(files))
    report.articles, report.sentences = writer.articles, writer.sentences
    manifest = Manifest(
        encoder={**spec.to_json(), **getattr(encoder, "details", {}), "dim": dim},
        splitter=TEXT_VERSION, files=files,
        counts={"articles": writer.articles, "passages": writer.passages,
                "sentences": writer.sentences},
        ann={"sentences": config.to_json()},
        format_version=format_version_for(config.kind))
    store.commit(staging, manifest)
    report.committed = True


def _embed(encoder: Encoder, texts: list[str],
           progress: ProgressCallback | None = None) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    with progress_bar(len(texts), "embedding", unit="text", callback=progress) as bar:
        return encoder.encode(texts, progress=bar.update)


def passage_means(sentence_vectors: np.ndarray, passage_of: np.ndarray,
                  passages: int) -> np.ndarray:
    """Each passage's vector: the mean of its sentences' vectors (not re-normalised, so its
    cosine with a question is the mean cosine of the sentences). Sentences of a passage are
    consecutive. Measured on SQuAD half-a against embedding each paragraph with its title
    (docs/quality.md): CV P@1 -0.001, MRR@10 -0.002, the same abstention; and indexing embeds
    sentences only (paragraphs were 55% of the model's time)."""
    dim = sentence_vectors.shape[1]
    if not len(passage_of):
        return np.zeros((passages, dim), dtype=np.float32)
    starts = np.flatnonzero(np.r_[True, passage_of[1:] != passage_of[:-1]])
    if len(starts) != passages or not np.array_equal(passage_of[starts], np.arange(passages)):
        raise ValueError("every passage needs its sentences, in passage order")
    counts = np.diff(np.r_[starts, len(passage_of)])
    sums = np.add.reduceat(np.asarray(sentence_vectors, dtype=np.float32), starts, axis=0)
    return (sums / counts[:, None]).astype(np.float32)


def _copy_unchanged(live: Path, old: Manifest, reuse: list[str], writer: DocWriter,
                    table: TableWriter, sentence_parts: list[np.ndarray],
                    files: dict[str, FileEntry]) -> None:
    """Copy the rows and sentence vectors of unchanged files from the live generation."""
    reader = DocReader(live)
    old_sentences = load_array(live / SENTENCE_VECTORS)
    try:
        for key in reuse:
            for old_id in reader.article_ids_of(key):
                article = reader.article(old_id)
                passages, rows = reader.article_rows(old_id)
                new_id = writer.add_article(article)
                mapping = {p.id: writer.add_passage(new_id, p.start, p.end) for p in passages}
                writer.add_sentences((new_id, mapping[r.passage], r.start, r.end, r.text)
                                     for r in rows)
                table.add_article(new_id, article.text,
                                  [(mapping[r.passage], r.start, r.end) for r in rows])
                sentence_parts.append(np.asarray(old_sentences[[r.id for r in rows]]))
            files[key] = old.files[key]
    finally:
        reader.close()


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
