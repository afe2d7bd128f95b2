"""Fetching a feed: ``python -m bench.feeds [--items N] [--delay SECONDS]``.

Serves a feed of N items (RSS, each linking to its own article page, ETags on everything) from
127.0.0.1 and indexes it twice with the hashing encoder, so that only fetching and reading are
timed: the first run fetches every page (paced by the pause between requests to one host), the
second asks conditionally and gets ``304 Not Modified`` for the feed.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PARAGRAPHS = ["Heavy rain flooded the streets of Valencia on Wednesday night, closing {n} "
              "schools.", "The regional government opened {n} shelters for the families "
              "forced from their homes.", "Forecasters expect the storm to move north by "
              "Friday, story {n} said."]


def serve(items: int) -> tuple[ThreadingHTTPServer, str, list[str]]:
    """The feed at ``BASE/feed`` and its pages; the list records each request's path."""
    seen: list[str] = []
    bodies: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            body, kind = bodies.get(self.path, (b"", ""))
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            status = 404 if not body else 304 if self.headers.get("If-None-Match") == etag \
                else 200
            self.send_response(status)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body) if status == 200 else 0))
            self.end_headers()
            if status == 200:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    links = []
    for n in range(items):
        text = "".join(f"<p>{p.format(n=n)}</p>" for p in PARAGRAPHS)
        bodies[f"/a{n}.html"] = (f"<!DOCTYPE html><html><head><title>Story {n}</title></head>"
                                 f"<body><article><h1>Story {n}</h1>{text}</article></body>"
                                 "</html>").encode(), "text/html; charset=utf-8"
        links.append(f"<item><title>Story {n}</title><link>{base}/a{n}.html</link></item>")
    bodies["/feed"] = (f'<rss version="2.0"><channel><title>Bench</title>{"".join(links)}'
                       "</channel></rss>").encode(), "application/rss+xml"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--delay", type=float, default=None,
                        help="pause between requests to one host (default: the bot's)")
    args = parser.parse_args()

    from index.embed.encoders import EncoderSpec
    from index.indexer import update_index
    from index.ingest.fetching import FetchSettings

    settings = FetchSettings() if args.delay is None else FetchSettings(host_delay=args.delay)
    server, base, seen = serve(args.items)
    spec = EncoderSpec("hashing", "hashing")
    try:
        with tempfile.TemporaryDirectory() as folder:
            for run in ("first run", "re-run"):
                before = len(seen)
                started = time.perf_counter()
                report = update_index([f"{base}/feed"], Path(folder) / "idx", spec=spec,
                                      fetch=settings)
                print(f"{run}: {time.perf_counter() - started:.2f} s, {len(seen) - before} "
                      f"requests, {report.articles} articles, {report.sentences_embedded} "
                      f"sentences embedded (pause {settings.host_delay:g} s, {args.items} items)")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
