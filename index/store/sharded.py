"""A sharded index directory: N ordinary indexes plus one manifest that pins a version of each.

Layout::

    INDEX_DIR/
      CURRENT                  name of the live version (replaced atomically)
      lock                     flock()ed by the one writer
      generations/<version>/   manifest.json (format "bot-sharded-index": the shards'
                               generations and their manifest digests, corpus statistics),
                               corpus_terms.json, lengths-NN.npy (each shard's sentence lengths),
                               order-NN.npy (its articles' places in the corpus's file order)
      shards/NN/               an ordinary index directory (:class:`IndexDir`) per shard

Articles go to shard ``sha256(source) mod N`` (:func:`shard_of`), so a re-index rebuilds only
the shards whose files changed. A version is published like a generation (staged, checksummed,
fsynced, renamed, then ``CURRENT`` swapped): readers see every shard of one version or of the
one before, never a mix. Readers open the shard generations the live version names, not the
shards' own ``CURRENT`` pointers (which run ahead while a build is under way).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.embed.encoders import EncoderSpec
from index.errors import IndexCorrupt, IndexMismatch
from index.store.generations import MANIFEST, IndexDir, Manifest, load_manifest_json

FORMAT = "bot-sharded-index"
FORMAT_VERSION = 1
SHARDS = "shards"
REBUILD = "rebuild it with: bot index --rebuild --shards N PATH..."


def shard_of(source: str, shards: int) -> int:
    """The shard an article file goes to: stable across runs, machines and Python versions."""
    return int.from_bytes(hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()[:8],
                          "big") % shards


def lengths_file(shard: int) -> str:
    return f"lengths-{shard:02d}.npy"


def order_file(shard: int) -> str:
    """Per article of the shard, its file's rank among all the corpus's files."""
    return f"order-{shard:02d}.npy"


@dataclass
class ShardEntry:
    """One shard of a version: its generation (None while it holds no article) and sizes."""

    shard: int
    generation: str | None
    digest: str | None = None  # the shard generation's manifest digest
    counts: dict[str, int] = field(default_factory=dict)
    total_length: int = 0  # sum of its sentences' BM25 lengths

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class ShardedManifest:
    """Self-description of a version of a sharded index."""

    shard_count: int
    shards: list[ShardEntry]
    encoder: dict[str, Any]
    splitter: str
    sentences: int = 0
    total_length: int = 0
    checksums: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def encoder_spec(self, expected: EncoderSpec | None = None) -> EncoderSpec:
        """The model every shard was embedded with (see :meth:`Manifest.encoder_spec`)."""
        return Manifest(encoder=self.encoder, splitter=self.splitter).encoder_spec(expected)

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for entry in self.shards:
            for key, value in entry.counts.items():
                total[key] = total.get(key, 0) + value
        return total

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "shards"}
        data["shards"] = [s.to_json() for s in self.shards]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ShardedManifest":
        if data.get("format") != FORMAT:
            raise IndexMismatch("not a sharded bot index (its manifest has no "
                                f"'{FORMAT}' format tag)")
        if data.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(f"sharded index format version {data.get('format_version')} "
                                f"is not one this bot reads ({FORMAT_VERSION}); {REBUILD}")
        try:
            shards = [ShardEntry(**s) for s in data["shards"]]
            return cls(shard_count=int(data["shard_count"]), shards=shards,
                       encoder=data["encoder"], splitter=data["splitter"],
                       sentences=int(data["sentences"]), total_length=int(data["total_length"]),
                       checksums=data.get("checksums", {}), created=data.get("created", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorrupt(f"sharded manifest is malformed ({exc})") from None


class ShardedDir(IndexDir):
    """A sharded index directory; versions are its generations (see the module text). Its
    :meth:`read_manifest` gives a :class:`ShardedManifest`."""

    rebuild_hint = REBUILD

    def shard(self, number: int) -> IndexDir:
        return IndexDir(self.root / SHARDS / f"{number:02d}")

    def shard_dirs(self) -> list[Path]:
        folder = self.root / SHARDS
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def _parse_manifest(self, data: dict[str, Any],
                        upgrading: bool) -> ShardedManifest:  # type: ignore[override]
        """A version's manifest (read and checked by :meth:`IndexDir.read_manifest`)."""
        return ShardedManifest.from_json(data)

    def shard_generation(self, entry: ShardEntry) -> Path:
        """The folder of the generation ``entry`` pins, checked to be the one published."""
        store = self.shard(entry.shard)
        path = store.generations / str(entry.generation)
        try:
            data = load_manifest_json(path / MANIFEST, REBUILD)
        except IndexCorrupt:
            raise IndexCorrupt(f"shard {entry.shard}'s generation {entry.generation} is "
                               f"missing or unreadable; {REBUILD}") from None
        if not isinstance(data, dict) or data.get("digest") != entry.digest:
            raise IndexCorrupt(f"shard {entry.shard}'s generation {entry.generation} is not "
                               f"the one this index published (its manifest changed); "
                               f"{REBUILD}")
        return path

    def pin_shard(self, number: int, generation: str | None) -> None:
        """Point shard ``number``'s ``CURRENT`` back at ``generation`` (the published one), or
        remove it: a build that died before publishing left it ahead, and the next commit
        would otherwise drop the generation readers still use."""
        store = self.shard(number)
        if store.current_name() == generation:
            return
        pointer = store.root / "CURRENT"
        if generation is None:
            pointer.unlink(missing_ok=True)
            return
        staged = store.root / ".CURRENT.pin"
        staged.write_text(generation + "\n", encoding="utf-8")
        os.replace(staged, pointer)


def is_sharded(root: str | Path) -> bool:
    """Whether ``root`` holds a sharded index (or the start of one)."""
    return (Path(root).expanduser() / SHARDS).is_dir()
