"""Where articles come from: files and folders on disk, or ``http(s)://`` URLs (feeds, pages).

The indexer sees one stream of :data:`Outcome` per article key (a file's path, an article's
URL): :class:`Read` (its content hash and how to read its articles), :class:`Unchanged` (known
to be as indexed before, without reading it: a ``304 Not Modified``, or an item that has left
its feed), or :class:`Failed` (one line of reason). Whatever a source needs to remember between
runs (a feed's items, ETags) it saves in the generation being written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Union

from index.ingest.discovery import discover
from index.ingest.documents import Article
from index.errors import UnreadableFile
from index.files import read_regular_file
from index.ingest.readers import MAX_ARTICLE_FILE_BYTES, file_format, read_articles
from index.progress import ProgressCallback, progress_bar

if TYPE_CHECKING:
    from index.ingest.fetching import FetchSettings

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Read:
    """An article source with content: ``digest`` decides whether it must be read again."""

    key: str
    digest: str
    size: int
    mtime_ns: int
    format: str
    articles: Callable[[], list[Article]]  # may raise UnreadableFile


@dataclass(frozen=True)
class Unchanged:
    """An article source known to be as it was indexed before (reuse it if it was)."""

    key: str


@dataclass(frozen=True)
class Failed:
    """An article source that could not be read this time."""

    key: str
    reason: str


Outcome = Union[Read, Unchanged, Failed]


def is_url(arg: str | Path) -> bool:
    """Whether a command-line argument names a URL (``scheme://...``) rather than a path."""
    return isinstance(arg, str) and bool(_URL.match(arg))


def text_digest(article: Article) -> str:
    """The content hash of an article that has no file: its text and what is cited with it."""
    digest = hashlib.sha256()
    for part in (article.title, article.date, article.url, article.text):
        digest.update((part or "").encode("utf-8", "surrogatepass") + b"\x00")
    return digest.hexdigest()


class ArticleSources:
    """The files under the given paths plus the given URLs; ``problems`` are named paths that
    cannot be indexed (a missing path raises :class:`index.errors.BadInput`)."""

    def __init__(self, paths: Iterable[str | Path],
                 fetch: "FetchSettings | None" = None) -> None:
        args = list(paths)
        self.urls = list(dict.fromkeys(str(a) for a in args if is_url(a)))
        self.files, self.problems = discover([a for a in args if not is_url(a)])
        self.fetch = fetch  # None: the defaults (and the environment)
        self._web = None

    def outcomes(self, live: Path | None, reusable: set[str],
                 progress: ProgressCallback | None = None) -> Iterator[Outcome]:
        """Every article source once. ``live`` is the generation indexed before (for what the
        sources remembered), ``reusable`` the keys whose indexed version may be kept."""
        yield from file_outcomes(self.files, progress)
        if self.urls:
            from index.ingest.web_source import WebSource

            self._web = WebSource(self.urls, live, reusable, self.fetch)
            yield from self._web.outcomes(progress)

    def save(self, generation: Path, indexed: set[str]) -> None:
        """Write what the sources remember next to the generation's articles."""
        if self._web is not None:
            self._web.save(generation, indexed)


def file_outcomes(files: list[Path],
                  progress: ProgressCallback | None = None) -> Iterator[Outcome]:
    """Each file's bytes, hashed; its articles are read only if the indexer asks."""
    bar = progress_bar(len(files), "reading", unit="file", callback=progress)
    try:
        for path in files:
            bar.update(1)
            key = str(path)
            try:
                stat = path.stat()
                data = read_regular_file(path, MAX_ARTICLE_FILE_BYTES)
            except OSError as exc:
                yield Failed(key, exc.strerror or str(exc))
                continue
            except UnreadableFile as exc:  # a FIFO or device, too large, vanished, ...
                yield Failed(key, exc.reason)
                continue
            yield Read(key, hashlib.sha256(data).hexdigest(), stat.st_size, stat.st_mtime_ns,
                       file_format(path) or "", lambda path=path, data=data:
                       read_articles(path, data))
    finally:
        bar.close()
