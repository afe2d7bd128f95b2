"""Polite, bounded HTTP GETs of the URLs a user names (and of their feeds' article links).

Polite: a ``User-Agent`` naming the bot and its version, at most ``per_host`` requests (so
connections) to one host at a time, and a pause between the requests to one host. Bounded:
connect and read timeouts plus a deadline for the whole response, a size limit checked while
the body streams in, inflated piece by piece when compressed (the transfer is aborted past it),
at most ``max_redirects`` redirects, each to an ``http(s)`` URL, and no loops. Every failure is
a :class:`FetchFailed` with a one-line reason; nothing here retries.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import httpx

from index.environment import seconds

SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)
_COMPRESSED = ("gzip", "x-gzip", "deflate")  # what a request accepts; zlib inflates them
_PIECE = 64 * 1024  # the most a compressed chunk inflates to at once


def user_agent() -> str:
    """``sentence-bot/VERSION (...)``: who is asking, so a site can tell and reach its author."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("sentence-bot")
    except PackageNotFoundError:
        number = "dev"
    return f"sentence-bot/{number} (news question answering; fetches only URLs its user names)"


@dataclass(frozen=True)
class FetchSettings:
    """Limits of one indexing run's fetching. ``BOT_FETCH_TIMEOUT`` (seconds, connect and read)
    and ``BOT_FETCH_DELAY`` (seconds between two requests to one host) override the defaults."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 120.0  # the whole response, against a server that drips bytes
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    host_delay: float = 0.5
    workers: int = 8

    @classmethod
    def from_env(cls) -> "FetchSettings":
        timeout = seconds("BOT_FETCH_TIMEOUT", positive=True)
        delay = seconds("BOT_FETCH_DELAY")
        settings = cls()
        if timeout is not None:
            settings = cls(connect_timeout=timeout, read_timeout=timeout,
                           total_timeout=max(timeout * 6, timeout + 1),
                           host_delay=settings.host_delay)
        if delay is not None:
            settings = cls(**{**settings.__dict__, "host_delay": delay})
        return settings


class FetchFailed(Exception):
    """A URL that could not be fetched; ``reason`` is one line for a person."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Validators:
    """What a conditional request sends back (``If-None-Match`` / ``If-Modified-Since``)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent = {}
        if self.etag:
            sent["If-None-Match"] = self.etag
        if self.last_modified:
            sent["If-Modified-Since"] = self.last_modified
        return sent

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in (("etag", self.etag), ("last_modified", self.last_modified))
                if v}

    @classmethod
    def from_json(cls, data: object) -> "Validators":
        if not isinstance(data, dict):
            return cls()
        etag, modified = data.get("etag"), data.get("last_modified")
        return cls(etag if isinstance(etag, str) else None,
                   modified if isinstance(modified, str) else None)


@dataclass(frozen=True)
class Fetched:
    """A response: ``status`` 200 with its body, or 304 (not modified, no body)."""

    url: str  # where the body came from, after redirects
    status: int
    body: bytes = b""
    content_type: str = ""
    validators: Validators = field(default_factory=Validators)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _Host:
    """One host's share: at most ``per_host`` requests at once, starts ``delay`` apart."""

    def __init__(self, per_host: int) -> None:
        self.slots = threading.BoundedSemaphore(per_host)
        self.lock = threading.Lock()
        self.next_start = 0.0

    @contextlib.contextmanager
    def turn(self, delay: float, stopped: threading.Event) -> Iterator[None]:
        """Wait for a slot and for the pause; raises :class:`_Stopped` once ``stopped`` is set."""
        while not self.slots.acquire(timeout=0.05):
            if stopped.is_set():
                raise _Stopped
        try:
            with self.lock:
                now = time.monotonic()
                start = max(now, self.next_start)
                self.next_start = start + delay
            if start > now:
                stopped.wait(start - now)  # politeness: a pause between requests to one host
            if stopped.is_set():
                raise _Stopped
            yield
        finally:
            self.slots.release()


class _Stopped(Exception):
    """The fetcher was stopped (the run was interrupted): give up this request."""


class Fetcher:
    """GETs URLs with the limits of :class:`FetchSettings`; safe to share between threads."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings.from_env()
        s = self.settings
        self._client = httpx.Client(
            headers={"User-Agent": user_agent(), "Accept": "*/*",
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max(s.workers, s.per_host),
                                max_keepalive_connections=s.per_host * 4))
        self._hosts: dict[tuple[str, str, int | None], _Host] = {}
        self._hosts_lock = threading.Lock()
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Make every request still waiting for its turn, and every body streaming in, give up
        (with :class:`FetchFailed`): the run was interrupted and should end promptly."""
        self._stopped.set()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, validators: Validators | None = None) -> Fetched:
        """The body at ``url`` (following redirects), or 304 when ``validators`` still hold."""
        check_url(url)
        headers = (validators or Validators()).headers()
        seen = {url}
        current = url
        for _ in range(self.settings.max_redirects + 1):
            result = self._once(url, current, headers)
            if isinstance(result, Fetched):
                return result
            try:
                target = urljoin(current, result)
                check_url(target)
            except FetchFailed as exc:
                raise FetchFailed(url, f"redirected to a refused URL ({exc.reason})") from None
            if target in seen:
                raise FetchFailed(url, "redirect loop")
            seen.add(target)
            current = target
        raise FetchFailed(url, f"too many redirects (more than {self.settings.max_redirects})")

    def _once(self, url: str, current: str, headers: dict[str, str]) -> Fetched | str:
        """One request: the response, or the ``Location`` of a redirect."""
        s = self.settings
        parts = urlsplit(current)
        try:
            with self._host(parts).turn(s.host_delay, self._stopped), \
                    self._client.stream("GET", current, headers=headers) as response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchFailed(url, f"HTTP {response.status_code} redirect "
                                               "without a Location")
                    return location
                validators = Validators(response.headers.get("etag"),
                                        response.headers.get("last-modified"))
                if response.status_code == 304:
                    return Fetched(current, 304, validators=validators)
                if response.status_code >= 400 or response.status_code < 200:
                    phrase = response.reason_phrase or ""
                    raise FetchFailed(url, f"HTTP {response.status_code} {phrase}".strip())
                body = self._read_limited(url, response)
                return Fetched(current, response.status_code, body,
                               response.headers.get("content-type", ""), validators)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchFailed(url, _reason(exc, s, parts.hostname or "")) from None
        except UnicodeError as exc:  # a host name IDNA refuses (``xn--`` and no Punycode)
            raise FetchFailed(url, f"invalid URL ({' '.join(str(exc).split())})") from None
        except _Stopped:
            raise FetchFailed(url, "interrupted") from None

    def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        s = self.settings
        limit = _size(s.max_bytes)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > s.max_bytes:
            raise FetchFailed(url, f"response over the {limit} limit "
                                   f"({int(declared):,} bytes declared)")
        deadline = time.monotonic() + s.total_timeout
        chunks: list[bytes] = []
        size = 0
        for chunk in _decoded(url, response):
            if self._stopped.is_set():
                raise _Stopped
            size += len(chunk)
            if size > s.max_bytes:
                raise FetchFailed(url, f"response over the {limit} limit; download aborted")
            if time.monotonic() > deadline:
                raise FetchFailed(url, f"response took longer than {s.total_timeout:g}s; "
                                       "download aborted")
            chunks.append(chunk)
        return b"".join(chunks)

    def _host(self, parts) -> _Host:  # noqa: ANN001 - urllib.parse.SplitResult
        key = (parts.scheme, parts.hostname or "", parts.port)
        with self._hosts_lock:
            host = self._hosts.get(key)
            if host is None:
                host = self._hosts[key] = _Host(self.settings.per_host)
            return host


def _decoded(url: str, response: httpx.Response) -> Iterator[bytes]:
    """The body as it streams in, inflated piece by piece when compressed: a small body that
    inflates a thousandfold (a compression bomb) never sits in memory whole (httpx would
    inflate each network chunk at once)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding not in _COMPRESSED:
        raise FetchFailed(url, f"content encoding '{encoding}' is not supported")
    inflater = None
    try:
        for data in response.iter_raw():
            if inflater is None:  # a gzip or zlib header; some servers send bare deflate
                bare = encoding == "deflate" and not _zlib_header(data)
                inflater = zlib.decompressobj(-zlib.MAX_WBITS if bare else zlib.MAX_WBITS | 32)
            while data and not inflater.eof:
                yield inflater.decompress(data, _PIECE)
                data = inflater.unconsumed_tail
        if inflater is not None and not inflater.eof:
            raise FetchFailed(url, "the response's compressed body is cut short")
    except zlib.error:
        raise FetchFailed(url, "the response's content encoding is broken") from None


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts as zlib data does (RFC 1950: deflate, a checksummed header)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0


def check_url(url: str) -> None:
    """Refuse what is not an ``http(s)://host/...`` URL (``file:``, ``ftp:``, no host, a
    bracket never closed, a port out of range...)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is no number in 0-65535
    except ValueError as exc:
        raise FetchFailed(url, f"invalid URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise FetchFailed(url, f"not an http(s) URL (scheme '{parts.scheme or 'none'}' "
                               "is refused)")
    if not parts.hostname:
        raise FetchFailed(url, "URL without a host")


def scheme(url: str) -> str:
    """The lower-case scheme of ``url`` ('' without one), even of a malformed URL (a bad host
    or port is :func:`check_url`'s to report)."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return url.partition(":")[0].strip().lower()


def _reason(exc: Exception, s: FetchSettings, host: str) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connection timed out (after {s.connect_timeout:g}s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out waiting for the server (no data for {s.read_timeout:g}s)"
    if isinstance(exc, httpx.ConnectError):
        lowered = text.lower()
        if "refused" in lowered:
            return "connection refused"
        if any(hint in lowered for hint in ("name or service", "nodename", "name resolution",
                                           "getaddrinfo", "no address")):
            return f"cannot resolve the host name '{host}' (DNS)"
        return f"cannot connect ({' '.join(text.split())})"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return f"the connection broke off ({' '.join(text.split())})"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL ({text})"
    return " ".join(text.split())


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"
