"""Articles from the web: the feeds and pages a user names, kept current between runs.

A named URL is fetched and judged by its content: a page is one article (its main text via
trafilatura); a feed (RSS, Atom, JSON Feed) gives one article per item, the text carried by the
item or read from the page it links to. What a run learns is saved in the generation
(``web_sources.json``): each feed's items, so articles stay indexed after they leave the feed
(until the feed is no longer named), and each URL's ``ETag``/``Last-Modified``, so the next run
asks with conditional requests and a ``304`` costs neither a download nor an embedding.

Every URL that fails gives one :class:`~index.ingest.sources.Failed` (the indexer warns and keeps
an article's last good version); a feed that fails keeps all its articles.
"""

from __future__ import annotations

import json
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from index.errors import UnreadableFile
from index.ingest.charsets import decode_body
from index.ingest.documents import Article
from index.ingest.feeds import FeedItem, item_article, parse_feed, parse_json_feed, sniff
from index.ingest.fetching import SCHEMES, FetchFailed, Fetched, Fetcher, FetchSettings, \
    Validators, scheme
from index.ingest.readers import read_html
from index.ingest.sources import Failed, Outcome, Read, Unchanged, text_digest
from index.progress import ProgressCallback, progress_bar

STATE_FILE = "web_sources.json"
Tag = TypeVar("Tag")


class WebSource:
    """The named URLs of one indexing run."""

    def __init__(self, urls: list[str], live: Path | None, reusable: set[str],
                 settings: FetchSettings | None = None) -> None:
        self.urls = urls
        self.reusable = reusable
        self.settings = settings or FetchSettings.from_env()
        old = load_state(live)
        self.old_feeds: dict[str, dict[str, Any]] = old["feeds"]
        self.pages: dict[str, dict[str, str]] = dict(old["pages"])
        self.feeds: dict[str, dict[str, Any]] = {}
        self._claimed: set[str] = set(urls)

    def outcomes(self, progress: ProgressCallback | None = None) -> Iterator[Outcome]:
        """One outcome per article (and one :class:`Failed` per URL that failed), in the
        order the URLs were named and items listed."""
        pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="fetch")
        fetcher = Fetcher(self.settings)
        window = 2 * self.settings.workers
        try:
            named = ((url, url, self._named_validators(url)) for url in self.urls)
            pages: list[tuple[str, FeedItem, str]] = []
            with progress_bar(len(self.urls), "fetching", unit="url", callback=progress) as bar:
                for url, result in _fetched_in_order(pool, fetcher, named, window):
                    bar.update(1)
                    yield from self._named(url, result, pages)
            linked = ((page, page[1].link or page[0], self._page_validators(page[0]))
                      for page in pages)
            with progress_bar(len(pages), "fetching articles", unit="page",
                              callback=progress) as bar:
                for (key, item, feed), result in _fetched_in_order(pool, fetcher, linked,
                                                                   window):
                    bar.update(1)
                    yield self._item_page(key, item, feed, result)
        finally:  # done, or interrupted: what waits gives up, what is in flight ends
            fetcher.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            fetcher.close()

    def save(self, generation: Path, indexed: set[str]) -> None:
        """Write the feeds' items and the validators of what ``indexed`` holds."""
        feeds = {url: {**state, "items": [k for k in state["items"] if k in indexed]}
                 for url, state in self.feeds.items()}
        pages = {key: value for key, value in self.pages.items() if key in indexed and value}
        text = json.dumps({"feeds": feeds, "pages": pages}, indent=1, ensure_ascii=False)
        (generation / STATE_FILE).write_text(text, encoding="utf-8")

    # -- named URLs -------------------------------------------------------------------------

    def _named_validators(self, url: str) -> Validators | None:
        """Ask conditionally only when a 304 leaves everything indexed as it is."""
        feed = self.old_feeds.get(url)
        if feed is not None:
            complete = not feed.get("retry") and all(k in self.reusable for k in feed["items"])
            return Validators.from_json(feed) if complete else None
        return self._page_validators(url)

    def _page_validators(self, key: str) -> Validators | None:
        return Validators.from_json(self.pages.get(key)) if key in self.reusable else None

    def _named(self, url: str, result: Fetched | FetchFailed,
               pages: list[tuple[str, FeedItem, str]]) -> Iterator[Outcome]:
        if isinstance(result, FetchFailed):
            yield Failed(url, result.reason)
            yield from self._keep_feed(url)
            return
        if result.not_modified:
            if url in self.old_feeds:
                yield from self._keep_feed(url, result.validators)
            else:
                self._remember(url, result.validators)
                yield Unchanged(url)
            return
        try:
            kind = sniff(url, result.body, result.content_type)
            if kind == "html":
                yield self._page(url, result, meta={})
                return
            parse = parse_json_feed if kind == "json-feed" else parse_feed
            # relative links are read against where the feed is, after any redirect
            items = parse(result.url, result.body, result.content_type)
        except UnreadableFile as exc:
            yield Failed(url, exc.reason)
            yield from self._keep_feed(url)
            return
        yield from self._feed(url, items, result.validators, pages)

    def _keep_feed(self, url: str, validators: Validators | None = None) -> Iterator[Outcome]:
        """A feed not read this time: its articles stay as they are."""
        old = self.old_feeds.get(url)
        if old is None:
            return
        self.feeds[url] = {**old, **(validators.to_json() if validators else {})}
        for key in old["items"]:
            if key not in self._claimed:
                self._claimed.add(key)
                yield Unchanged(key)

    def _feed(self, url: str, items: list[FeedItem], validators: Validators,
              pages: list[tuple[str, FeedItem, str]]) -> Iterator[Outcome]:
        """The feed's items: read when carried whole, else their pages queued in ``pages``."""
        current: dict[str, None] = {}  # the items' keys, in feed order
        self.feeds[url] = {**validators.to_json(), "retry": False}
        for number, item in enumerate(items, start=1):
            if item.link and scheme(item.link) not in SCHEMES:
                yield Failed(item.link, "not an http(s) link (only http(s) links of a feed "
                                        "are followed)")
                continue
            key = item.link or _item_key(url, item, number)
            if key in current:
                continue
            current[key] = None
            if key in self._claimed:
                continue
            self._claimed.add(key)
            if item.content is not None:
                yield self._carried(key, item, url)
            elif item.link:
                pages.append((key, item, url))
            else:
                yield Failed(key, "a feed item with neither a link nor its text")
        old_items = self.old_feeds.get(url, {}).get("items", [])
        self.feeds[url]["items"] = [*current, *(k for k in old_items if k not in current)]
        for key in old_items:  # left the feed: kept as indexed
            if key not in self._claimed:
                self._claimed.add(key)
                yield Unchanged(key)

    def _carried(self, key: str, item: FeedItem, feed: str) -> Outcome:
        try:
            return _read(key, [item_article(item, key, feed)], "feed")
        except UnreadableFile as exc:
            self.feeds[feed]["retry"] = True
            return Failed(key, exc.reason)

    # -- pages --------------------------------------------------------------------------------

    def _item_page(self, key: str, item: FeedItem, feed: str,
                   result: Fetched | FetchFailed) -> Outcome:
        outcome = self._fetched_page(key, result, {"feed": feed}, item)
        if isinstance(outcome, Failed):
            self.feeds[feed]["retry"] = True  # ask for the whole feed again next time
        return outcome

    def _fetched_page(self, key: str, result: Fetched | FetchFailed, meta: dict[str, Any],
                      item: FeedItem | None = None) -> Outcome:
        if isinstance(result, FetchFailed):
            return Failed(key, result.reason)
        if result.not_modified:
            self._remember(key, result.validators)
            return Unchanged(key)
        try:
            if sniff(key, result.body, result.content_type) != "html":
                return Failed(key, "a feed item's link that is not an HTML page")
        except UnreadableFile as exc:
            return Failed(key, exc.reason)
        return self._page(key, result, meta, item)

    def _page(self, key: str, result: Fetched, meta: dict[str, Any],
              item: FeedItem | None = None) -> Outcome:
        try:
            text = decode_body(key, result.body, result.content_type)
            articles = read_html(key, text, title=item.title if item else None,
                                 date=item.date if item else None,
                                 url=item.link if item else key, meta=meta)
        except UnreadableFile as exc:
            return Failed(key, exc.reason)
        self._remember(key, result.validators)
        return _read(key, articles, "web")

    def _remember(self, key: str, validators: Validators) -> None:
        if validators.to_json():
            self.pages[key] = validators.to_json()


def load_state(generation: Path | None) -> dict[str, dict[str, Any]]:
    """What the run that wrote ``generation`` remembered (empty when nothing was)."""
    empty: dict[str, dict[str, Any]] = {"feeds": {}, "pages": {}}
    if generation is None:
        return empty
    try:
        data = json.loads((generation / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty  # a generation of files only (its checksums guard it otherwise)
    if not isinstance(data, dict):
        return empty
    feeds = {url: {**state, "items": [k for k in state.get("items", []) if isinstance(k, str)]}
             for url, state in (data.get("feeds") or {}).items() if isinstance(state, dict)}
    pages = {k: v for k, v in (data.get("pages") or {}).items() if isinstance(v, dict)}
    return {"feeds": feeds, "pages": pages}


def _fetched_in_order(pool: ThreadPoolExecutor, fetcher: Fetcher,
                      jobs: Iterable[tuple[Tag, str, Validators | None]], window: int
                      ) -> Iterator[tuple[Tag, Fetched | FetchFailed]]:
    """``(tag, result)`` for each ``(tag, url, validators)`` job, in order: fetched in parallel,
    at most ``window`` ahead of the one yielded, so a slow URL keeps no thousands of bodies
    in memory."""
    queued: deque[tuple[Tag, Future]] = deque()
    for tag, url, validators in jobs:
        queued.append((tag, pool.submit(_fetch, fetcher, url, validators)))
        if len(queued) >= window:
            done, future = queued.popleft()
            yield done, future.result()
    while queued:
        done, future = queued.popleft()
        yield done, future.result()


def _fetch(fetcher: Fetcher, url: str, validators: Validators | None) -> Fetched | FetchFailed:
    try:
        return fetcher.get(url, validators)
    except FetchFailed as exc:
        return exc


def _read(key: str, articles: list[Article], fmt: str) -> Read:
    digest = text_digest(articles[0]) if len(articles) == 1 else \
        text_digest(Article(key, "\x00".join(text_digest(a) for a in articles), 0, 0))
    size = sum(len(a.text.encode("utf-8", "surrogatepass")) for a in articles)
    return Read(key, digest, size, time.time_ns(), fmt, lambda: articles)


def _item_key(feed: str, item: FeedItem, number: int) -> str:
    """The key of an item without a link: its id when that is a URL, else a fragment."""
    if item.id and scheme(item.id) in SCHEMES:
        return item.id
    return f"{feed}#item-{item.id or number}"
