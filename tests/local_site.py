"""A small news site on 127.0.0.1 for the tests: feeds, article pages and misbehaving URLs.

It is the standard library's ``http.server`` in a thread, on a free port; no test reaches any
other address. Pages honour ``If-None-Match`` with ``304``; every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)

ARTICLES = {
    "/news/leica.html": ("Leica and Xiaomi team up", "2022-05-23", [
        "Leica now partners with Xiaomi on smartphone cameras, the two companies said on "
        "Monday in Beijing.",
        "The first phone with the co-engineered camera ships in July, priced at 5,999 yuan.",
        "Huawei worked with Leica until 2021, when the partnership ended."]),
    "/news/rain.html": ("Floods in Valencia", "2022-06-01", [
        "Heavy rain flooded the streets of Valencia on Wednesday night, closing schools.",
        "The regional government opened three shelters for the families forced from their "
        "homes by the water.",
        "Forecasters expect the storm to move north toward Barcelona by Friday."]),
    "/news/chips.html": ("A chip plant for Dresden", "2022-06-03", [
        "A new semiconductor plant will be built in Dresden, the company announced.",
        "The factory will employ 2,000 people when it opens in 2026, according to the plan.",
        "Saxony's government pledged one billion euros in support for the project."]),
}


def page_html(title: str, paragraphs: list[str], charset: str = "utf-8") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title>'
            f'</head><body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>'
            f"<article><h1>{title}</h1>{body}</article>"
            f"<footer>Copyright 2022 The Local News. All rights reserved.</footer>"
            f"</body></html>")


def rss(base: str, links: list[str], title: str = "Local News") -> str:
    items = "".join(
        f"<item><title>{ARTICLES[path][0]}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><pubDate>Mon, 23 May 2022 10:00:00 GMT</pubDate>"
        f"<description>A summary, not the article.</description></item>"
        for path in links)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>{base}/</link><description>News</description>"
            f"{items}</channel></rss>")


def atom(base: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Science</title><id>{base}/atom</id><updated>2022-07-01T00:00:00Z</updated>"
        f'<entry><title>A comet over Chile</title><link href="{base}/science/comet"/>'
        f"<id>{base}/science/comet</id><updated>2022-07-01T08:00:00Z</updated>"
        '<content type="html">&lt;p&gt;Astronomers in Chile photographed a green comet '
        "passing close to Earth on Friday.&lt;/p&gt;&lt;p&gt;The comet last came this close "
        "fifty thousand years ago, the observatory said.&lt;/p&gt;</content></entry></feed>")


def json_feed(base: str) -> str:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Markets",
        "items": [{"id": "m1", "url": f"{base}/markets/wheat", "title": "Wheat prices climb",
                   "date_published": "2022-08-02T09:00:00Z",
                   "content_text": "Wheat prices rose 6 percent in Chicago on Tuesday.\n"
                                   "Traders blamed the drought in Kansas for the rise."}]})


@dataclass
class Site:
    """The running server: its base URL, its routes and the requests it received."""

    base: str
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def got(self, path: str) -> list[dict[str, str]]:
        """The headers of every request for ``path``."""
        return [headers for got, headers in self.requests if got == path]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"",
         content_type: str = "text/html; charset=utf-8",
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def cached(body: bytes, content_type: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """A resource with an ETag and Last-Modified that answers 304 when they still hold."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handle(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == etag:
            send(handler, 304, headers={"ETag": etag})
            return
        send(handler, 200, body, content_type, {"ETag": etag, "Last-Modified": LAST_MODIFIED})
    return handle


def serve_feed_of_pages(site: "Site", feed: str, pages: list[str],
                        handler: Callable[[BaseHTTPRequestHandler], None]) -> None:
    """Serve an RSS feed at ``feed`` whose items link to ``pages``, each served by ``handler``."""
    for page in pages:
        site.routes[page] = handler
    items = "".join(f"<item><title>Item {i}</title><link>{site.base}{page}</link></item>"
                    for i, page in enumerate(pages))
    site.routes[feed] = cached(f'<rss version="2.0"><channel><title>{feed}</title>{items}'
                               "</channel></rss>".encode(), "application/rss+xml")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_site() -> tuple[Site, ThreadingHTTPServer]:
    """Serve a fresh :class:`Site` on a free port of 127.0.0.1 (stop it with ``shutdown``)."""
    site = Site("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            site.requests.append((path, dict(self.headers.items())))
            route = site.routes.get(path)
            if route is None:
                send(self, 404, b"not found", "text/plain")
                return
            try:
                route(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (over the size limit, timed out): as it should

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    _default_routes(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site, server


def _declared_huge(handler: BaseHTTPRequestHandler) -> None:
    """Says it will send 20 MB (and would): refused before the body is read."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(20 * 1024 * 1024))
    handler.end_headers()
    handler.wfile.write(b"<html>" + b" " * 65536)


def _default_routes(site: Site) -> None:
    base = site.base
    for path, (title, _, paragraphs) in ARTICLES.items():
        site.routes[path] = cached(page_html(title, paragraphs).encode("utf-8"),
                                   "text/html; charset=utf-8")
    site.routes["/rss"] = cached(rss(base, ["/news/leica.html", "/news/rain.html"])
                                 .encode("utf-8"), "application/rss+xml")
    site.routes["/atom"] = cached(atom(base).encode("utf-8"), "application/atom+xml")
    site.routes["/markets.json"] = cached(json_feed(base).encode("utf-8"), "application/json")
    latin = page_html("Café culture in Zürich", [
        "The café owners of Zürich voted to keep their terraces open until midnight.",
        "Résidents near the lake complained about the noise, the city council said.",
        "A décision on the winter season is expected in November."], "iso-8859-1")
    site.routes["/latin1.html"] = cached(latin.encode("iso-8859-1"),
                                         "text/html; charset=iso-8859-1")
    sjis = page_html("東京の雨", [
        "東京では月曜日に大雨が降り、電車が三時間止まりました。",
        "気象庁は火曜日の朝まで雨が続くと予報しています。",
        "多くの学校が休校となり、市民は自宅で過ごしました。"], "shift_jis")
    site.routes["/tokyo.html"] = cached(sjis.encode("shift_jis"), "text/html")

    def slow(handler: BaseHTTPRequestHandler) -> None:
        site.stop.wait(5)  # past the client's timeout; released when the test ends
        send(handler, 200, b"<html><body><p>too late</p></body></html>")

    def loop(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 302, headers={"Location": "/loop"})

    def huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()  # no Content-Length: the client must count as it reads
        chunk = b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>\n"
        for _ in range(50):
            handler.wfile.write(chunk)

    def hop(n: int) -> Callable[[BaseHTTPRequestHandler], None]:
        target = "/news/chips.html" if n == 1 else f"/hop{n - 1}"
        return lambda h: send(h, 301 if n % 2 else 307, headers={"Location": target})

    for n in range(1, 7):  # /hopN reaches the chips article after N redirects
        site.routes[f"/hop{n}"] = hop(n)
    site.routes["/to-file"] = lambda h: send(h, 302, headers={"Location": "file:///etc/passwd"})
    # named against their content: the names and content types say nothing
    site.routes["/feed.html"] = cached(rss(base, ["/news/chips.html"]).encode("utf-8"),
                                       "text/html; charset=utf-8")
    site.routes["/page.xml"] = cached(page_html(*[ARTICLES["/news/rain.html"][i] for i in (0, 2)])
                                      .encode("utf-8"), "application/xml")
    site.routes["/declared-huge"] = _declared_huge
    site.routes["/slow"] = slow
    site.routes["/loop"] = loop
    site.routes["/huge"] = huge
    site.routes["/unavailable"] = lambda h: send(h, 503, b"try later", "text/plain")
    site.routes["/data.bin"] = lambda h: send(h, 200, bytes(range(256)) * 8,
                                              "application/octet-stream")
    site.routes["/broken.xml"] = lambda h: send(
        h, 200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>'
                b"<title>cut off", "application/rss+xml")
    site.routes["/bad-utf8.html"] = lambda h: send(
        h, 200, page_html("Bad bytes", ["An article whose bytes are not UTF-8 at all."])
        .encode("utf-8").replace(b"An article", b"An \xff\xfe article"),
        "text/html; charset=utf-8")
    nowhere = f"http://127.0.0.1:{free_port()}/news/elsewhere.html"
    site.routes["/bad-links"] = cached(
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>Bad links</title>'
         "<item><title>Passwords</title><link>file:///etc/passwd</link></item>"
         f"<item><title>Elsewhere</title><link>{nowhere}</link></item>"
         f"<item><title>Leica</title><link>{base}/news/leica.html</link></item>"
         "</channel></rss>").encode("utf-8"), "application/rss+xml")
