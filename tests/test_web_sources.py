"""Feeds and article URLs, served by a real HTTP server on 127.0.0.1: indexed, cited, kept
current with conditional requests, and every failing URL one warning line."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import Answerer
from bot.cli import cli
from index.embed.encoders import EncoderSpec, load_encoder
from index.errors import BadInput
from index.indexer import update_index
from index.ingest.fetching import FetchSettings
from index.notices import set_sink
from index.store.docstore import DocReader
from index.store.generations import IndexDir

from .local_site import ARTICLES, cached, page_html, rss, serve_feed_of_pages, start_site
from .test_indexer import CountingEncoder
from .test_chat import pilot_test

# timeouts short enough to keep the suite quick, long enough for a loaded machine; the
# slow handler of local_site holds its reply for 5 s, past all of them
FAST = FetchSettings(connect_timeout=2.0, read_timeout=2.0, total_timeout=4.0, host_delay=0.0)
WARNING = re.compile(r"^warning: (\S+): (.+); skipped")


@pytest.fixture
def site():
    site, server = start_site()
    yield site
    site.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def warnings():
    lines: list[str] = []
    set_sink(lines.append)
    yield lines
    set_sink(None)


def index(urls, folder: Path, encoder=None, **kwargs):
    return update_index(urls, folder, encoder=encoder or CountingEncoder(), fetch=FAST,
                        **kwargs)


def indexed(folder: Path) -> set[str]:
    return set(IndexDir(folder).read_manifest().files)


def best(folder: Path, question: str):
    answerer = Answerer.open(folder, encoder=load_encoder(EncoderSpec("hashing", "hashing")))
    return answerer.ask(question, k=3).evidence[0]


def test_feeds_and_pages_become_cited_articles(site, tmp_path: Path, warnings):
    base = site.base
    stages: dict[str, tuple[int, int]] = {}
    report = index([f"{base}/rss", f"{base}/atom", f"{base}/markets.json",
                    f"{base}/latin1.html", f"{base}/tokyo.html"], tmp_path / "idx",
                   progress=lambda stage, done, total: stages.update({stage: (done, total)}))
    assert warnings == []
    assert stages["fetching"] == (5, 5) and stages["fetching articles"] == (2, 2)
    assert indexed(tmp_path / "idx") == {
        f"{base}/news/leica.html", f"{base}/news/rain.html",  # RSS: text from the linked page
        f"{base}/science/comet",  # Atom carrying the full content: the page is never fetched
        f"{base}/markets/wheat",  # JSON Feed with content_text
        f"{base}/latin1.html", f"{base}/tokyo.html"}  # pages named directly
    assert report.articles == 6 and not site.got("/science/comet")
    assert site.got("/rss")[0]["User-Agent"].startswith("sentence-bot/")

    evidence = best(tmp_path / "idx", "When does the first phone with the camera ship?")
    assert evidence.source == f"{base}/news/leica.html" and evidence.offsets == "extracted"
    assert (evidence.title, evidence.date) == ("Leica and Xiaomi team up", "2022-05-23")
    assert "ships in July" in evidence.text
    reader = DocReader(IndexDir(tmp_path / "idx").current())
    try:
        texts = {reader.article(i).source: reader.article(i) for i in range(report.articles)}
    finally:
        reader.close()
    leica = texts[f"{base}/news/leica.html"]
    assert leica.text[evidence.start:evidence.end] == evidence.text
    assert "Copyright" not in leica.text and "Home" not in leica.text  # main content only
    assert leica.meta == {"feed": f"{base}/rss"}
    assert "café owners of Zürich" in texts[f"{base}/latin1.html"].text
    assert "東京では月曜日に大雨が降り" in texts[f"{base}/tokyo.html"].text
    assert texts[f"{base}/science/comet"].date == "2022-07-01"
    assert texts[f"{base}/markets/wheat"].title == "Wheat prices climb"


def test_second_run_asks_conditionally_and_embeds_nothing(site, tmp_path: Path):
    base, encoder = site.base, CountingEncoder()
    urls = [f"{base}/rss", f"{base}/latin1.html"]
    index(urls, tmp_path / "idx", encoder)
    first = encoder.count
    again = index(urls, tmp_path / "idx", encoder)
    assert (again.committed, again.sentences_embedded, encoder.count) == (False, 0, first)
    assert [h.get("If-None-Match") is not None for h in site.got("/rss")] == [False, True]
    assert site.got("/latin1.html")[1]["If-None-Match"]
    assert len(site.got("/news/leica.html")) == 1  # the feed did not change: nor its pages

    # the feed changes: its pages already indexed are asked for conditionally (304)
    site.routes["/rss"] = cached(rss(base, ["/news/chips.html", "/news/leica.html",
                                            "/news/rain.html"]).encode(), "application/rss+xml")
    third = index(urls, tmp_path / "idx", encoder)
    assert third.added == [f"{base}/news/chips.html"] and third.unchanged == 3
    assert site.got("/news/leica.html")[-1]["If-None-Match"]
    assert third.sentences_embedded == encoder.count - first == 3


def test_an_item_that_left_the_feed_stays_until_the_feed_is_dropped(site, tmp_path: Path):
    base = site.base
    index([f"{base}/rss"], tmp_path / "idx")
    site.routes["/rss"] = cached(rss(base, ["/news/rain.html", "/news/chips.html"]).encode(),
                                 "application/rss+xml")
    index([f"{base}/rss"], tmp_path / "idx")
    assert f"{base}/news/leica.html" in indexed(tmp_path / "idx")
    evidence = best(tmp_path / "idx", "Until when did Huawei work with Leica?")
    assert evidence.source == f"{base}/news/leica.html" and "until 2021" in evidence.text

    index([f"{base}/rss"], tmp_path / "idx", rebuild=True)  # --rebuild: only what it lists
    assert f"{base}/news/leica.html" not in indexed(tmp_path / "idx")
    index([f"{base}/atom"], tmp_path / "idx")  # the feed no longer named: its articles go
    assert indexed(tmp_path / "idx") == {f"{base}/science/comet"}


def test_each_failure_is_one_warning_and_the_rest_is_indexed(site, tmp_path: Path, warnings):
    base = site.base
    failing = {f"{base}/slow": "timed out", f"{base}/loop": "redirect loop",
               f"{base}/huge": "over the 10 MB limit", f"{base}/unavailable": "HTTP 503",
               f"{base}/data.bin": "not a feed or an HTML page",
               f"{base}/broken.xml": "malformed feed",
               f"{base}/bad-utf8.html": "do not decode as utf-8",
               f"{base}/missing": "HTTP 404", "ftp://127.0.0.1/news": "not an http(s) URL"}
    started = time.monotonic()
    report = index([*failing, f"{base}/bad-links"], tmp_path / "idx")
    assert time.monotonic() - started < 10  # bounded: nothing waits on the slow server
    assert indexed(tmp_path / "idx") == {f"{base}/news/leica.html"}
    assert report.articles == 1
    reasons = {}
    for line in warnings:
        match = WARNING.match(line)
        assert match, line
        assert match.group(1) not in reasons, f"two warnings for {match.group(1)}"
        reasons[match.group(1)] = match.group(2)
    for url, reason in failing.items():
        assert reason in reasons[url]
    refused = [url for url in reasons if url.startswith("file:")]
    assert len(refused) == 1 and "not an http(s) link" in reasons[refused[0]]
    elsewhere = [url for url in reasons if url.endswith("/news/elsewhere.html")]
    assert len(elsewhere) == 1 and reasons[elsewhere[0]] == "connection refused"
    assert len(warnings) == len(failing) + 2
    assert not [path for path, _ in site.requests if "passwd" in path]


def test_failures_keep_what_was_indexed_before(site, tmp_path: Path, warnings):
    base = site.base
    index([f"{base}/rss", f"{base}/latin1.html"], tmp_path / "idx")
    before = indexed(tmp_path / "idx")
    site.routes["/rss"] = site.routes["/unavailable"]
    site.routes["/latin1.html"] = site.routes["/huge"]
    report = index([f"{base}/rss", f"{base}/latin1.html"], tmp_path / "idx")
    assert indexed(tmp_path / "idx") == before and not report.committed
    assert len(warnings) == 2 and all(WARNING.match(line) for line in warnings)
    assert "keeping the version indexed earlier" in warnings[1]
    assert best(tmp_path / "idx", "Who flooded Valencia streets?").source == \
        f"{base}/news/rain.html"


def test_a_failed_item_page_is_fetched_again_next_run(site, tmp_path: Path, warnings):
    base = site.base
    good = site.routes["/news/rain.html"]
    site.routes["/news/rain.html"] = site.routes["/unavailable"]
    index([f"{base}/rss"], tmp_path / "idx")
    assert indexed(tmp_path / "idx") == {f"{base}/news/leica.html"} and len(warnings) == 1
    site.routes["/news/rain.html"] = good
    index([f"{base}/rss"], tmp_path / "idx")
    assert f"{base}/news/rain.html" in indexed(tmp_path / "idx")
    assert site.got("/rss")[-1].get("If-None-Match") is None  # not a 304 that skips the item


def test_dns_failure_is_a_warning(site, tmp_path: Path, warnings, monkeypatch):
    real, asked = socket.getaddrinfo, []

    def resolve(host, *args, **kwargs):  # no resolver is asked: the test stays on 127.0.0.1
        asked.append(host)
        if host == "news.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    index(["http://news.invalid/feed", f"{site.base}/atom"], tmp_path / "idx")
    assert "news.invalid" in asked
    assert warnings == ["warning: http://news.invalid/feed: cannot resolve the host name "
                        "'news.invalid' (DNS); skipped"]


def test_polite_two_connections_per_host_and_a_pause(site, tmp_path: Path):
    base, lock, state = site.base, threading.Lock(), {"now": 0, "most": 0, "starts": []}
    page = page_html(*[ARTICLES["/news/leica.html"][i] for i in (0, 2)]).encode()

    def held(handler):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            state["starts"].append(time.monotonic())
        site.stop.wait(0.15)  # keep the connection busy while others are asked for
        with lock:
            state["now"] -= 1
        cached(page, "text/html")(handler)

    serve_feed_of_pages(site, "/many", [f"/p{i}.html" for i in range(6)], held)
    polite = FetchSettings(connect_timeout=1.0, read_timeout=2.0, host_delay=0.05)
    update_index([f"{base}/many"], tmp_path / "idx", encoder=CountingEncoder(), fetch=polite)
    assert len(indexed(tmp_path / "idx")) == 6
    assert state["most"] == 2
    starts = sorted(state["starts"])  # as the server saw them: connecting adds some jitter
    assert starts[-1] - starts[0] >= 0.9 * 0.05 * (len(starts) - 1)


def test_cli_index_and_ask_with_urls(site, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BOT_FETCH_TIMEOUT", "2")
    monkeypatch.setenv("BOT_FETCH_DELAY", "0")
    args = ["--index-dir", str(tmp_path / "idx"), "--model", "hashing", "--backend", "hashing"]
    nothing = CliRunner().invoke(cli, ["index", f"{site.base}/unavailable", *args])
    assert nothing.exit_code == 1
    assert nothing.output.splitlines()[0] == \
        f"warning: {site.base}/unavailable: HTTP 503 Service Unavailable; skipped"
    assert nothing.output.splitlines()[1].startswith("error: nothing to index")

    some = CliRunner().invoke(cli, ["index", f"{site.base}/rss", f"{site.base}/slow",
                                    str(tmp_path / "missing-is-an-error"), *args])
    assert some.exit_code == 1 and "no such file or directory" in some.output
    some = CliRunner().invoke(cli, ["index", f"{site.base}/rss", f"{site.base}/slow", *args])
    assert some.exit_code == 0, some.output
    assert "2 added" in some.output and "1 skipped" in some.output
    asked = CliRunner().invoke(cli, ["ask", "--json", "-k", "1", "--index-dir",
                                     str(tmp_path / "idx"), "Who opened three shelters?"])
    assert asked.exit_code == 0
    assert f'"source": "{site.base}/news/rain.html"' in asked.output
    assert '"offsets": "extracted"' in asked.output


def test_nothing_fetched_raises_bad_input(site, tmp_path: Path, warnings):
    with pytest.raises(BadInput, match="nothing to index"):
        index([f"{site.base}/unavailable"], tmp_path / "idx")
    assert IndexDir(tmp_path / "idx").current() is None


def test_cited_url_is_shown_as_it_is():
    from bot.citation import display_path

    assert display_path("https://news.example/a/b.html?id=1") == \
        "https://news.example/a/b.html?id=1"


@pilot_test
async def test_chat_palette_adds_a_feed_and_reindex_refetches(site, tmp_path: Path,
                                                              monkeypatch) -> None:
    from bot.chat.app import make_app
    from bot.chat.screens import CorpusScreen
    from textual.widgets import Input

    from .conftest import write_corpus
    from .test_chat import ACME, SIZE, ask, cards, wait_for

    monkeypatch.setenv("BOT_FETCH_TIMEOUT", "1")
    monkeypatch.setenv("BOT_FETCH_DELAY", "0")
    corpus = write_corpus(tmp_path / "corpus", {"acme.txt": ACME})
    update_index([corpus], tmp_path / "index", spec=EncoderSpec("hashing", "hashing"))
    app = make_app([corpus], tmp_path / "index", transcript_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await pilot.press("ctrl+p", *"Add a feed")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CorpusScreen))
        app.screen.query_one(Input).value = f"{site.base}/rss"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ready and len(app.engine.paths) == 2)
        view = await ask(pilot, "Who opened three shelters for the families?")
        assert cards(view)[0].evidence.source == f"{site.base}/news/rain.html"
        view = await ask(pilot, "When did the agreement between Acme and Globex end?")
        assert Path(cards(view)[0].evidence.source).name == "acme.txt"  # the corpus stays

        site.routes["/rss"] = cached(rss(site.base, ["/news/chips.html"]).encode(),
                                     "application/rss+xml")
        app.action_reindex()
        await wait_for(pilot, lambda: app.ready)
        view = await ask(pilot, "How many people will the Dresden factory employ?")
        assert cards(view)[0].evidence.source == f"{site.base}/news/chips.html"


def test_redirects_and_content_not_names(site, tmp_path: Path, warnings):
    base = site.base
    index([f"{base}/hop5", f"{base}/hop6", f"{base}/to-file", f"{base}/declared-huge",
           f"{base}/feed.html", f"{base}/page.xml"], tmp_path / "idx")
    assert indexed(tmp_path / "idx") == {
        f"{base}/hop5",  # five redirects are followed; the article keeps the URL named
        f"{base}/news/chips.html",  # an RSS feed served as text/html named *.html
        f"{base}/page.xml"}  # an HTML page served as application/xml named *.xml
    assert sorted(warnings) == sorted([
        f"warning: {base}/hop6: too many redirects (more than 5); skipped",
        f"warning: {base}/to-file: redirected to a refused URL (not an http(s) URL "
        "(scheme 'file' is refused)); skipped",
        f"warning: {base}/declared-huge: response over the 10 MB limit (20,971,520 bytes "
        "declared); skipped"])


@pytest.mark.parametrize("body, content_type, expected", [
    # declared ISO-8859-1 is read as browsers do, as Windows-1252 (curly quotes survive)
    ("\u201cCaf\u00e9\u201d".encode("cp1252"), "text/html; charset=ISO-8859-1",
     "\u201cCaf\u00e9\u201d"),
    ('<meta charset="shift_jis"><p>東京の雨</p>'.encode("shift_jis"), "text/html",
     '<meta charset="shift_jis"><p>東京の雨</p>'),
    ("<p>Zürich</p>".encode("utf-8"), "text/html", "<p>Zürich</p>"),
    # nothing declared, not UTF-8: detected; a Western page is not read as Central European
    ("<p>Les résidents de Zürich ont voté « oui » à l’unanimité — c’était prévu.</p>"
     .encode("cp1252"), "text/html",
     "<p>Les résidents de Zürich ont voté « oui » à l’unanimité — c’était prévu.</p>"),
])
def test_pages_are_decoded_by_declared_or_detected_charset(body, content_type, expected):
    from index.ingest.charsets import decode_body

    assert decode_body("http://127.0.0.1/x", body, content_type) == expected


def test_bytes_that_do_not_decode_as_declared_are_refused():
    from index.errors import UnreadableFile
    from index.ingest.charsets import decode_body

    with pytest.raises(UnreadableFile, match="do not decode as shift_jis"):
        decode_body("http://127.0.0.1/x", b"<p>\x81\x20\xff</p>", "text/html; charset=Shift_JIS")


def test_cli_chat_takes_urls_beside_paths(tmp_path: Path, monkeypatch):
    from .test_chat import run_chat_cli

    folder = tmp_path / "news"
    folder.mkdir()
    [(paths, _, _)] = run_chat_cli(["https://news.example/rss", "news"], None, monkeypatch,
                                   tmp_path)
    assert paths == ["https://news.example/rss", str(folder.resolve())]  # nothing fetched yet
    result = CliRunner().invoke(cli, ["chat", "https://news.example/rss", "missing"])
    assert result.exit_code == 2 and "'missing' does not exist" in result.output


def test_malformed_urls_are_one_warning_each(site, tmp_path: Path, warnings):
    """A bracket never closed, a port out of range, a host name that is no IDNA: named, in a
    feed or in a redirect, each is one warning line (never a traceback) and the rest is indexed."""
    import json

    from .local_site import send

    base = site.base
    site.routes["/odd.json"] = cached(json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"url": "http://[::1/a", "title": "A"},
                  {"url": "http://127.0.0.1:99999/b", "title": "B"},
                  {"url": f"{base}/news/leica.html", "title": "Leica"}]}).encode(),
        "application/feed+json")
    site.routes["/odd-rss"] = cached(
        ('<rss version="2.0"><channel><title>Odd</title><item><title>P</title>'
         "<link>http://127.0.0.1:70000/p</link></item></channel></rss>").encode(),
        "application/rss+xml")
    site.routes["/to-nowhere"] = lambda h: send(h, 302, headers={"Location": "http://[::1"})
    named = ["https://[::1", "http://127.0.0.1:99999/", "http://", f"{base}/to-nowhere",
             "http://xn--/", "http://xn--zz-xxx.example/"]  # host names IDNA refuses
    index([*named, f"{base}/odd.json", f"{base}/odd-rss"], tmp_path / "idx")
    assert indexed(tmp_path / "idx") == {f"{base}/news/leica.html"}
    assert all(WARNING.match(line) for line in warnings), warnings
    warned = [WARNING.match(line).group(1) for line in warnings]
    assert sorted(warned) == sorted([*named, "http://[::1/a", "http://127.0.0.1:99999/b",
                                     "http://127.0.0.1:70000/p"])


def test_escape_sequences_from_the_web_never_reach_the_terminal(site, tmp_path: Path,
                                                                 warnings):
    """A feed's link carrying ESC/OSC/BEL (clear the screen, retitle the terminal) is warned
    about with those characters shown as visible escapes."""
    import json

    hostile = "http://127.0.0.1:1/\x1b[2J\x1b]0;pwned\x07\u202e"
    site.routes["/hostile.json"] = cached(json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"url": hostile}, {"url": f"{site.base}/news/leica.html"}]}).encode(),
        "application/feed+json")
    index([f"{site.base}/hostile.json"], tmp_path / "idx")
    [line] = warnings
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", line)
    assert line.startswith(r"warning: http://127.0.0.1:1/\x1b[2J\x1b]0;pwned\x07\u202e: ")


def test_an_interrupted_fetch_stops_promptly_and_keeps_the_index(site, tmp_path: Path):
    """Ctrl-C while item pages are fetched: requests waiting for their turn give up at once
    (only those in flight are waited for), and the index indexed before stays as it was."""
    base, hold = site.base, 1.5
    index([f"{base}/rss"], tmp_path / "idx")
    before = IndexDir(tmp_path / "idx").current()
    page = page_html(*[ARTICLES["/news/chips.html"][i] for i in (0, 2)]).encode()

    def slow(handler):
        site.stop.wait(hold)
        cached(page, "text/html")(handler)

    serve_feed_of_pages(site, "/waiting", [f"/w{i}.html" for i in range(12)], slow)
    interrupted: list[float] = []

    def ctrl_c(stage: str, done: int, total: int) -> None:
        if stage == "fetching articles" and done == 1:
            interrupted.append(time.monotonic())
            raise KeyboardInterrupt

    patient = FetchSettings(connect_timeout=1.0, read_timeout=5.0, host_delay=0.0)
    with pytest.raises(KeyboardInterrupt):
        update_index([f"{base}/rss", f"{base}/waiting"], tmp_path / "idx",
                     encoder=CountingEncoder(), fetch=patient, progress=ctrl_c)
    # the requests in flight finish (hold seconds); the workers waiting for a turn give up
    # (without stopping, all eight workers' requests were made, one pair after another)
    assert time.monotonic() - interrupted[0] < 2 * hold
    assert len([p for p, _ in site.requests if p.startswith("/w")]) <= 6
    assert IndexDir(tmp_path / "idx").current() == before
    assert indexed(tmp_path / "idx") == {f"{base}/news/leica.html", f"{base}/news/rain.html"}


def test_named_urls_are_fetched_through_a_bounded_window(site, tmp_path: Path, warnings):
    """Many named URLs behind a slow first one: only a window of them (twice the workers) is
    fetched ahead of the one being read, so the bodies held do not grow with their number."""
    from .local_site import send

    base, settings = site.base, FetchSettings(connect_timeout=1.0, read_timeout=5.0,
                                              host_delay=0.0, workers=4)
    others = [f"/gone{i}" for i in range(30)]
    asked: list[str] = []
    all_asked = threading.Event()

    def gone(handler):
        asked.append(handler.path)
        if len(asked) == len(others):
            all_asked.set()
        send(handler, 404, b"gone", "text/plain")

    def first(handler):
        all_asked.wait(2)  # unbounded fetching asks for all the others meanwhile
        site.routes["/latin1.html"](handler)

    site.routes.update({path: gone for path in others})
    site.routes["/first"] = first
    ahead: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "fetching" and done == 1:
            ahead.append(len(asked))

    update_index([f"{base}/first", *(base + path for path in others)], tmp_path / "idx",
                 encoder=CountingEncoder(), fetch=settings, progress=progress)
    assert ahead[0] < 2 * settings.workers
    assert indexed(tmp_path / "idx") == {f"{base}/first"} and len(warnings) == len(others)


def test_compressed_responses_are_read_and_a_compression_bomb_stays_small(site):
    """gzip and deflate (zlib or bare) bodies are decoded; a small gzip body that inflates
    far past the size limit is aborted without ever holding much more than the limit."""
    import gzip
    import tracemalloc
    import zlib

    from index.ingest.fetching import FetchFailed, Fetcher

    from .local_site import send

    page = page_html(*[ARTICLES["/news/rain.html"][i] for i in (0, 2)]).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(64)) + packer.flush()
    bare = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    for path, body, encoding in [("/page.gz", gzip.compress(page), "gzip"),
                                 ("/page.zz", zlib.compress(page), "deflate"),
                                 ("/page.raw", bare.compress(page) + bare.flush(), "deflate"),
                                 ("/bomb.gz", bomb, "gzip")]:
        site.routes[path] = lambda h, body=body, encoding=encoding: send(
            h, 200, body, "text/html", {"Content-Encoding": encoding})
    limit = 1 << 20
    with Fetcher(FetchSettings(host_delay=0.0, max_bytes=limit)) as fetcher:
        assert fetcher.get(f"{site.base}/page.gz").body == page
        assert fetcher.get(f"{site.base}/page.zz").body == page
        assert fetcher.get(f"{site.base}/page.raw").body == page
        tracemalloc.start()
        try:
            with pytest.raises(FetchFailed, match="over the 1 MB limit"):
                fetcher.get(f"{site.base}/bomb.gz")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(bomb) < limit and peak < 3 * limit  # 64 MB inflated: never all at once


def test_a_moved_feeds_relative_links_resolve_where_it_moved(site, tmp_path: Path, warnings):
    """A feed that redirects (301) to /deep/...: its relative item links are read against
    where the feed really is, as a browser would, for RSS and JSON Feed alike."""
    import json

    from .local_site import send

    base = site.base
    site.routes["/moved"] = lambda h: send(h, 301, headers={"Location": "/deep/feed.xml"})
    site.routes["/moved.json"] = lambda h: send(h, 302, headers={"Location": "/deep/feed.json"})
    site.routes["/deep/feed.xml"] = cached(
        b'<rss version="2.0"><channel><title>D</title><item><title>Rain</title>'
        b"<link>rain.html</link></item></channel></rss>", "application/rss+xml")
    site.routes["/deep/feed.json"] = cached(json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"url": "chips.html", "title": "Chips"}]}).encode(), "application/feed+json")
    site.routes["/deep/rain.html"] = site.routes["/news/rain.html"]
    site.routes["/deep/chips.html"] = site.routes["/news/chips.html"]
    index([f"{base}/moved", f"{base}/moved.json"], tmp_path / "idx")
    assert warnings == []
    assert indexed(tmp_path / "idx") == {f"{base}/deep/rain.html", f"{base}/deep/chips.html"}


def test_a_feed_with_an_internal_doctype_subset_is_a_feed():
    """``<!DOCTYPE rss [<!ENTITY ...>]>`` (feeds that define &nbsp; and friends) does not hide
    the root element from the sniffing."""
    from index.ingest.feeds import sniff

    body = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY nbsp "&#160;">\n'
            b'  <!ENTITY mdash "&#8212;">\n]>\n<rss version="2.0"><channel><title>T&mdash;'
            b"</title></channel></rss>")
    assert sniff("http://127.0.0.1/feed", body, "text/xml") == "feed"


def test_a_page_served_again_without_validators_embeds_nothing(site, tmp_path: Path):
    """A server without ETag or Last-Modified: the page is downloaded again, and its
    unchanged text (the content hash) embeds nothing."""
    from .local_site import send

    body = page_html(*[ARTICLES["/news/chips.html"][i] for i in (0, 2)]).encode()
    site.routes["/plain.html"] = lambda h: send(h, 200, body, "text/html")
    encoder = CountingEncoder()
    index([f"{site.base}/plain.html"], tmp_path / "idx", encoder)
    first = encoder.count
    again = index([f"{site.base}/plain.html"], tmp_path / "idx", encoder)
    assert len(site.got("/plain.html")) == 2 and first > 0
    assert (again.committed, again.sentences_embedded, encoder.count) == (False, 0, first)


def test_urls_go_to_their_urls_shard_in_a_sharded_index(site, tmp_path: Path, monkeypatch):
    """A feed (with all its items) or a page goes to shard ``sha256(url) mod N``, as a file
    does by its path; the sharded index answers as one index over the same URLs, and a second
    run asks conditionally and rebuilds nothing."""
    from index.search.sharded import ShardedSearcher
    from index.sharded_indexer import update_sharded_index
    from index.store.sharded import ShardedDir, shard_of

    monkeypatch.setenv("BOT_FETCH_TIMEOUT", "2")
    monkeypatch.setenv("BOT_FETCH_DELAY", "0")
    base = site.base
    reaches = {f"{base}/rss": {f"{base}/news/leica.html", f"{base}/news/rain.html"},
               f"{base}/atom": {f"{base}/science/comet"},
               f"{base}/markets.json": {f"{base}/markets/wheat"},
               f"{base}/latin1.html": {f"{base}/latin1.html"},
               f"{base}/tokyo.html": {f"{base}/tokyo.html"}}
    hashing = load_encoder(EncoderSpec("hashing", "hashing"))
    report = update_sharded_index(list(reaches), tmp_path / "sharded", shards=3,
                                  encoder=hashing)
    assert report.committed and report.articles == 6
    store = ShardedDir(tmp_path / "sharded")
    held = {e.shard: set(store.shard(e.shard).read_manifest(store.shard_generation(e)).files)
            for e in store.read_manifest().shards if e.generation}
    expected: dict[int, set[str]] = {}
    for url, keys in reaches.items():
        expected.setdefault(shard_of(url, 3), set()).update(keys)
    assert held == expected and len(held) > 1

    update_index(list(reaches), tmp_path / "one", encoder=hashing, fetch=FAST)
    one = Answerer.open(tmp_path / "one", encoder=hashing)
    sharded = Answerer(ShardedSearcher.open(tmp_path / "sharded", encoder=hashing))
    for question in ("When does the first phone with the camera ship?",
                     "Where did heavy rain flood the streets?", "What did wheat prices do?"):
        a, b = one.ask(question, k=3), sharded.ask(question, k=3)
        assert [(e.source, e.text) for e in a.evidence] == \
            [(e.source, e.text) for e in b.evidence]
    again = update_sharded_index(list(reaches), tmp_path / "sharded", encoder=hashing)
    assert not again.committed and again.rebuilt == [] and again.sentences_embedded == 0
