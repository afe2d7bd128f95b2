"""The index directory on disk: immutable generations, an atomic ``CURRENT`` pointer, a lock.

Layout::

    INDEX_DIR/
      CURRENT                 name of the live generation (replaced atomically)
      lock                    flock()ed by the one writer
      generations/<name>/     manifest.json, docs.sqlite, *.npy, *.faiss, bm25/

A writer builds a whole new generation in a staging folder, fsyncs it, renames it into
``generations/`` and only then swaps ``CURRENT``. A crash at any point leaves the previous
generation live; readers never see a half-written index. Nothing here is pickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from index.embed.encoders import EncoderSpec
from index.errors import (BadInput, IndexCorrupt, IndexMismatch, IndexNotFound,
                          IndexWriteFailed, UnreadableFile)
from index.files import file_kind, read_regular_file

FORMAT = "bot-index"
# 2: sentence table, sentence texts and title terms beside docs.sqlite; 3: a vector index of
# product codes (ann kind "ivf-pq"), whose candidates must be re-scored with the exact vectors.
# A generation records the oldest version that reads it right (format_version_for), so that
# bots of version 2 keep answering from indexes without product codes and refuse the others.
FORMAT_VERSION = 3
READABLE = (2, 3)  # versions answered from as they are
UPGRADABLE = (1,)  # older versions whose articles and vectors a new generation can reuse
MANIFEST = "manifest.json"
SENTENCE_VECTORS = "sentence_vectors.npy"  # float32, one row per sentence id
PASSAGE_VECTORS = "passage_vectors.npy"
SENTENCE_ANN = "sentences.faiss"
REBUILD = "rebuild it with: bot index --rebuild PATH..."
VERIFY_HASH_LIMIT = 64 * 1024 * 1024  # files above this are checked by size on load
MAX_CURRENT_BYTES = 4096  # CURRENT holds one generation name
MAX_MANIFEST_BYTES = 512 * 1024 * 1024  # about two million indexed files
ANN_KINDS = ("flat", "ivf-sq8", "ivf-pq")  # index.store.ann's kinds
_GENERATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}")


def format_version_for(ann_kind: str) -> int:
    """The oldest format version whose bots answer right from a generation whose vector
    index is of ``ann_kind``: the oldest this bot reads, or 3 (the first to re-score product
    codes) for ``ivf-pq``. Dropping a version from :data:`READABLE` thus raises it too."""
    oldest = min(READABLE)
    return max(oldest, 3) if ann_kind == "ivf-pq" else oldest


@dataclass
class FileEntry:
    """What the index knows of one indexed article file."""

    sha256: str
    size: int
    mtime_ns: int
    format: str
    articles: int
    sentences: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Manifest:
    """Self-description of a generation: encoder, versions, input files, output checksums."""

    encoder: dict[str, Any]
    splitter: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ann: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    digest: str | None = None  # as read (checked by IndexDir.read_manifest); commit writes it

    def encoder_spec(self, expected: EncoderSpec | None = None) -> EncoderSpec:
        """The model and backend this generation was embedded with; raises
        :class:`IndexMismatch` when ``expected`` is another one (vectors never mix)."""
        built = EncoderSpec(model=self.encoder["model"], backend=self.encoder["backend"])
        if expected is not None and expected != built:
            raise IndexMismatch(
                f"this index was built with model '{built.model}' ({built.backend}), not "
                f"'{expected.model}' ({expected.backend}); rebuild it with --rebuild or use "
                "another --index-dir")
        return built

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("files", "digest")}
        data["files"] = {path: entry.to_json() for path, entry in sorted(self.files.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Manifest":
        if data.get("format") != FORMAT:
            raise IndexMismatch("not a bot index (manifest has no 'bot-index' format tag)")
        version = data.get("format_version")
        if type(version) is not int or version not in (*READABLE, *UPGRADABLE):
            raise IndexMismatch(
                f"index format version {version} is not one this bot reads "
                f"({', '.join(map(str, READABLE))}); {REBUILD}")
        try:
            _check_fields(data)
            files = {p: FileEntry(**e) for p, e in data.get("files", {}).items()}
            return cls(encoder=data["encoder"], splitter=data["splitter"], files=files,
                       counts=data.get("counts", {}), ann=data.get("ann", {}),
                       checksums=data.get("checksums", {}), created=data.get("created", 0.0),
                       format_version=version, digest=data.get("digest"))
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorrupt(f"manifest is malformed ({exc}); {REBUILD}") from None


_ENTRY_TYPES = {"sha256": str, "size": int, "mtime_ns": int, "format": str, "articles": int,
                "sentences": int}


def _check_fields(data: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first manifest field whose type or value is not one a
    writer produces (a forged or damaged manifest must not crash the reader later)."""
    def require(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"bad {what}")

    def count(value: Any) -> bool:
        return type(value) is int and value >= 0

    try:  # a writer never writes a lone surrogate ("\ud800"): such a manifest was forged
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        raise ValueError("text that is not valid Unicode") from None
    encoder = data.get("encoder")
    require(isinstance(encoder, dict) and isinstance(encoder.get("model"), str)
            and isinstance(encoder.get("backend"), str), "encoder")
    require(count(encoder.get("dim", 0)), "encoder dim")
    require(isinstance(data.get("splitter"), str), "splitter")
    for name in ("files", "counts", "ann", "checksums"):
        require(isinstance(data.get(name, {}), dict), name)
    for path, entry in data.get("files", {}).items():
        require(isinstance(entry, dict) and set(entry) == set(_ENTRY_TYPES) and all(
            type(entry[k]) is t and (t is not int or entry[k] >= 0)
            for k, t in _ENTRY_TYPES.items()), f"entry for file {path!r}"[:200])
    require(all(count(v) for v in data.get("counts", {}).values()), "counts")
    for name, expected in data.get("checksums", {}).items():
        parts = name.split("/")
        require(bool(name) and not name.startswith("/") and ".." not in parts and
                "" not in parts and isinstance(expected, dict) and
                count(expected.get("size")) and isinstance(expected.get("sha256"), str),
                f"checksum entry {name!r}"[:200])
    require(type(data.get("created", 0.0)) in (int, float), "created")
    for name, config in data.get("ann", {}).items():
        require(isinstance(config, dict) and config.get("kind", "flat") in ANN_KINDS and all(
            count(v) and v < 2**31 for k, v in config.items() if k != "kind"),
            f"vector index settings {name!r}"[:200])


class IndexDir:
    """One index directory; every path the engine writes goes through here."""

    rebuild_hint = REBUILD  # how the one-line errors about a damaged manifest end

    def __init__(self, root: Path | str) -> None:
        if not str(root).strip():
            raise BadInput("the index dir is an empty path")
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise BadInput(f"index dir {self.root} is a file, not a directory")

    @property
    def generations(self) -> Path:
        return self.root / "generations"

    def current(self) -> Path | None:
        """The live generation's folder, or None when nothing was ever committed."""
        pointer = self.root / "CURRENT"
        if not os.path.lexists(pointer):
            return None
        try:
            data = read_regular_file(pointer, MAX_CURRENT_BYTES)
        except UnreadableFile as exc:
            raise IndexCorrupt(f"{pointer} is damaged ({_shorter(exc.reason)}); {REBUILD}") \
                from None
        try:
            name = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise IndexCorrupt(f"{pointer} is damaged (not UTF-8 text); {REBUILD}") from None
        if not _GENERATION_NAME.fullmatch(name):
            raise IndexCorrupt(f"{pointer} is damaged; {REBUILD}")
        path = self.generations / name
        if not path.is_dir():
            raise IndexCorrupt(f"live generation {name} is missing; {REBUILD}")
        return path

    def require_current(self) -> Path:
        path = self.current()
        if path is None:
            raise IndexNotFound(f"no index in {self.root}; build one with: bot index PATH... "
                                f"--index-dir {self.root}")
        return path

    def read_manifest(self, generation: Path | None = None, verify: bool = True,
                      upgrading: bool = False) -> Manifest:
        """The manifest of ``generation`` (default: live), its digest checked, and the files
        it lists unless not ``verify``. A generation of an older format is refused unless
        ``upgrading`` (the indexer, which reuses its articles and vectors in a new one)."""
        generation = generation or self.require_current()
        data = load_manifest_json(generation / MANIFEST, self.rebuild_hint)
        manifest = self._parse_manifest(data, upgrading)
        if data.get("digest") != manifest_digest(data):
            why = "was altered (its digest does not match)" if "digest" in data else \
                "has no digest (edited, or written by an older version)"
            raise IndexCorrupt(f"{generation / MANIFEST} {why}; {self.rebuild_hint}")
        if verify:
            verify_checksums(generation, manifest.checksums)
        return manifest

    def _parse_manifest(self, data: dict[str, Any], upgrading: bool) -> Manifest:
        """The manifest ``data`` describes, if this bot reads its format version."""
        manifest = Manifest.from_json(data)
        if manifest.format_version not in READABLE and not upgrading:
            raise IndexMismatch(
                f"index format version {manifest.format_version} is older than this bot's "
                f"({FORMAT_VERSION}); update it, reusing its vectors (nothing is embedded "
                f"again), with: bot index PATH... --index-dir {self.root}")
        return manifest

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the single-writer lock; waits (saying so) while another writer runs."""
        lock = self.root / "lock"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC |
                         os.O_NOFOLLOW | os.O_NOCTTY, 0o644)
        except OSError as exc:
            raise BadInput(f"cannot create the index in {self.root}: "
                           f"{exc.strerror or exc}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise BadInput(f"{lock} is not a regular file ({file_kind(mode)}); remove it "
                           "and run again")
        with os.fdopen(fd, "r+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                from index.notices import warn

                warn(f"another 'bot index' is writing {self.root}; waiting for it to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def staging(self) -> Path:
        """A fresh folder to build a generation in (call under the write lock)."""
        self.generations.mkdir(parents=True, exist_ok=True)
        self.discard_staging()  # left by a killed writer
        path = self.generations / f".staging-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def discard_staging(self) -> None:
        """Remove unfinished generations (call under the write lock)."""
        if self.generations.is_dir():
            for stale in self.generations.glob(".staging-*"):
                shutil.rmtree(stale, ignore_errors=True)

    def commit(self, staging: Path, manifest: Manifest) -> Path:
        """Seal ``staging`` (checksums, fsync), make it live atomically, drop old generations.

        Until ``CURRENT`` is replaced nothing a reader sees changes; a failure before that
        (disk full, ...) removes what was written and raises :class:`IndexWriteFailed`.
        """
        name = time.strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
        final = self.generations / name
        pointer = self.root / f".CURRENT.{uuid.uuid4().hex[:6]}"
        try:
            manifest.checksums = {
                name: {"size": (staging / name).stat().st_size, "sha256": _sha256(staging / name)}
                for name in _files_under(staging)}
            data = manifest.to_json()
            data["digest"] = manifest_digest(data)
            _write_json(staging / MANIFEST, data)
            for file in [*_files_under(staging), MANIFEST]:
                _fsync(staging / file)
            staging.rename(final)
            _fsync_dir(self.generations)
            pointer.write_text(name + "\n", encoding="utf-8")
            _fsync(pointer)
            previous = self.current_name()
            os.replace(pointer, self.root / "CURRENT")
        except OSError as exc:
            for path in (staging, final):
                shutil.rmtree(path, ignore_errors=True)
            pointer.unlink(missing_ok=True)
            raise IndexWriteFailed(self.root, exc) from exc
        _fsync_dir(self.root)
        with contextlib.suppress(OSError):
            self._drop_old(keep={name, previous})
        return final

    def current_name(self) -> str | None:
        """The live generation's name, or None when there is none or CURRENT is damaged (a
        rebuild replaces it)."""
        try:
            live = self.current()
        except IndexCorrupt:
            return None
        return live.name if live else None

    def _drop_old(self, keep: set[str | None]) -> None:
        """Remove generations other than the live one and the one before it (a reader may
        still be opening it)."""
        for path in self.generations.iterdir():
            if path.name not in keep and not path.name.startswith(".staging-"):
                shutil.rmtree(path, ignore_errors=True)
        for stray in self.root.glob(".CURRENT.*"):
            stray.unlink(missing_ok=True)


def load_manifest_json(path: Path, rebuild: str = REBUILD) -> dict[str, Any]:
    """The JSON object in the manifest file ``path``, read as a regular file of at most
    :data:`MAX_MANIFEST_BYTES`; raises :class:`IndexCorrupt` (one line, ending in
    ``rebuild``) for anything else."""
    if not os.path.lexists(path):
        raise IndexCorrupt(f"{path} is missing; {rebuild}")
    try:
        data = json.loads(read_regular_file(path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except UnreadableFile as exc:
        raise IndexCorrupt(f"{path} is unreadable ({_shorter(exc.reason)}); {rebuild}") \
            from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise IndexCorrupt(f"{path} is unreadable ({_shorter(str(exc))}); {rebuild}") from None
    if not isinstance(data, dict):
        raise IndexCorrupt(f"{path} is not a JSON object; {rebuild}")
    return data


def manifest_digest(data: dict[str, Any]) -> str:
    """SHA-256 of a manifest's JSON content (all keys but ``digest``, canonically ordered)."""
    body = {k: v for k, v in data.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    # surrogatepass: a damaged manifest's "\ud800" escape must give a wrong digest, not a crash
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def verify_checksums(generation: Path, checksums: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`IndexCorrupt` when a listed file is missing, resized or altered."""
    if not checksums:
        raise IndexCorrupt(f"{generation / MANIFEST} lists no files; {REBUILD}")
    for name, expected in checksums.items():
        path = generation / name
        try:
            info = path.lstat()
        except OSError:
            raise IndexCorrupt(f"index file {name} is missing; {REBUILD}") from None
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the hashing below
            raise IndexCorrupt(f"index file {name} is not a regular file "
                               f"({file_kind(info.st_mode)}); {REBUILD}")
        size = info.st_size
        if size != expected.get("size"):
            raise IndexCorrupt(f"index file {name} is truncated or altered "
                               f"({size} bytes, expected {expected.get('size')}); "
                               f"{REBUILD}")
        if size <= VERIFY_HASH_LIMIT and _sha256(path) != expected.get("sha256"):
            raise IndexCorrupt(f"index file {name} was altered (checksum mismatch); "
                               f"{REBUILD}")


def _shorter(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters (a message must not carry a whole file)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != MANIFEST)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)
