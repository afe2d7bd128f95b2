"""Bad articles: every file a user's folder may hold is either indexed with exact offsets or
skipped with a one-line reason, the rest of the folder is indexed, and nothing indexed earlier
is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.embed.encoders import EncoderSpec
from index.indexer import update_index
from index.store.generations import IndexDir

from .conftest import write_corpus

HASHING = ["--backend", "hashing", "--model", "hashing"]
GOOD = {"good.txt": "Cats are great\n\nThe museum cat Ferdinand sleeps in the library. "
                    "Visitors bring him fish.\n"}


def run_index(corpus: Path, index_dir: Path, *extra: str):
    return CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(index_dir),
                                    *HASHING, *extra])


def indexed(index_dir: Path) -> list[dict]:
    """Every sentence of the live generation with its article's source and offset kind."""
    generation = IndexDir(index_dir).require_current()
    db = sqlite3.connect(generation / "docs.sqlite")
    rows = db.execute("SELECT a.file, a.offsets, a.record, a.text, s.start, s.end, s.text "
                      "FROM sentences s JOIN articles a ON a.id = s.article ORDER BY s.id")
    keys = ("source", "offsets", "record", "article", "start", "end", "text")
    return [dict(zip(keys, row)) for row in rows]


def assert_offsets_exact(index_dir: Path) -> None:
    """``text[start:end] == sentence`` against the file itself (or the extracted text)."""
    for row in indexed(index_dir):
        assert row["text"] and row["text"] == row["text"].strip()
        base = row["article"]
        if row["offsets"] == "file":
            with open(row["source"], encoding="utf-8", newline="") as handle:
                base = handle.read()
        assert base[row["start"]:row["end"]] == row["text"], row


def sources(index_dir: Path) -> set[str]:
    return {Path(r["source"]).name for r in indexed(index_dir)}


# name, content, the reason printed for a skipped file
SKIPPED = [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b" \n\t\r\n  \n", "empty file"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "binary file"),
    ("utf16.txt", "UTF-16 text with a BOM.".encode("utf-16"), "binary file"),
    ("latin1.txt", "Caf\u00e9 au lait co\u00fbte cher.".encode("latin-1"),
     "not UTF-8 text (invalid byte at offset 3)"),
    ("truncated.txt", "Ends inside a character \u20ac".encode()[:-1], "not UTF-8 text"),
    ("bad-yaml.md", b"---\ntitle: [unclosed\ndate: 2020-01-01\n---\nBody text.\n",
     "malformed YAML front matter at line 3"),
    ("list-yaml.md", b"---\n- just\n- a list\n---\nBody text.\n", "not a mapping"),
    ("python-yaml.md", b"---\ntitle: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
                       b"---\nBody.\n", "malformed YAML front matter"),
    ("all-bad.jsonl", b"{not json\n[1, 2]\n\"a string\"\n{\"title\": \"no text\"}\n",
     "no readable JSONL records (line 1: invalid JSON"),
    ("empty.html", b"<html><body><script>var a = 1;</script></body></html>", "no article text"),
]


@pytest.mark.parametrize("name, content, reason", SKIPPED, ids=[s[0] for s in SKIPPED])
def test_unreadable_article_is_skipped_with_its_reason_and_the_rest_indexed(
        tmp_path: Path, name: str, content: bytes, reason: str):
    corpus = write_corpus(tmp_path / "news", {**GOOD, name: content})
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if name in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert reason in warnings[0] and warnings[0].endswith("skipped")
    assert "1 skipped" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sources(tmp_path / "idx") == {"good.txt"}
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("name, content, reason", SKIPPED, ids=[s[0] for s in SKIPPED])
def test_article_that_turns_bad_keeps_the_version_indexed_earlier(
        tmp_path: Path, name: str, content: bytes, reason: str):
    sentence = "The earlier version said the bridge opened in May."
    good_version = {".jsonl": json.dumps({"text": sentence}) + "\n",
                    ".html": f"<html><body><article><p>{sentence}</p></article></body></html>"
                    }.get(Path(name).suffix, f"Earlier headline\n\n{sentence}\n")
    corpus = write_corpus(tmp_path / "news", {**GOOD, name: good_version})
    assert run_index(corpus, tmp_path / "idx").exit_code == 0
    (corpus / name).write_bytes(content)
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0
    assert "keeping the version indexed earlier" in result.stderr and reason in result.stderr
    texts = [r["text"] for r in indexed(tmp_path / "idx")]
    assert sentence in texts


def test_bom_and_crlf_articles_keep_exact_offsets_into_the_decoded_file(tmp_path: Path):
    files = {
        "bom.txt": "\ufeffBOM headline\r\ndate 2024-02-03\r\n\r\nThe first sentence is here. "
                   "A second one\r\nruns over a CRLF line break.\r\n\r\nNew paragraph.\r\n",
        "bom.md": "\ufeff---\r\ntitle: Front\r\ndate: 2024-02-04\r\n---\r\n"
                  "Markdown body sentence one. Two.\r\n",
        "cr-only.txt": "Old Mac line ends.\rStill one paragraph.\r\rAnother.\r",
        "nbsp.txt": "Made in the U.S\u00a0. Mr\u00a0. Smith paid \u20ac\u00a0100.\u2028Then "
                    "he left\u3000. M\u2009. Dupont stayed.\n",
    }
    corpus = write_corpus(tmp_path / "news", {**GOOD})
    for name, text in files.items():
        (corpus / name).write_bytes(text.encode("utf-8"))
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0 and "0 skipped" in result.stderr, result.stderr
    assert_offsets_exact(tmp_path / "idx")
    rows = indexed(tmp_path / "idx")
    texts = {r["text"] for r in rows}
    assert "A second one\r\nruns over a CRLF line break." in texts
    assert not any("\ufeff" in t or t.startswith("BOM headline") for t in texts)
    assert {Path(r["source"]).name for r in rows} == {"good.txt", *files}


def test_jsonl_good_lines_are_indexed_and_bad_lines_named(tmp_path: Path):
    lines = ['{"text": "The first record is about rivers.", "title": "Rivers"}',
             "{broken json",
             '{"title": "a record with no text"}',
             "",
             '["not", "an", "object"]',
             '{"text": "The sixth line is about mountains.", "date": 2024}',
             '{"text": 42}']
    corpus = write_corpus(tmp_path / "news", {"feed.jsonl": "\n".join(lines) + "\n"})
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0
    assert "skipped 4 bad line(s): line 2: invalid JSON" in result.stderr
    assert "line 3: no 'text' string" in result.stderr
    rows = indexed(tmp_path / "idx")
    assert [(r["record"], r["text"]) for r in rows] == [
        (1, "The first record is about rivers."), (6, "The sixth line is about mountains.")]
    assert_offsets_exact(tmp_path / "idx")


def test_html_scripts_styles_and_handlers_are_never_indexed(tmp_path: Path):
    page = ("<html><head><title>Harbour news</title><style>body{content:'STYLETEXT'}</style>"
            "<script>document.write('EVALTEXT sentence that must not appear.')</script>"
            "</head><body><nav>Home | NAVTEXT</nav><article>"
            "<p onclick=\"alert('HANDLERTEXT')\">The harbour reopened on Monday after the "
            "storm damaged two of its piers last winter.</p><p>Fishing boats returned "
            "the same afternoon and the market was busy again.</p>"
            "<script>var x = 'INLINESCRIPT';</script><noscript>NOSCRIPTTEXT</noscript>"
            "</article></body></html>")
    corpus = write_corpus(tmp_path / "news", {"harbour.html": page})
    assert run_index(corpus, tmp_path / "idx").exit_code == 0
    joined = " ".join(r["text"] for r in indexed(tmp_path / "idx"))
    assert "The harbour reopened on Monday" in joined
    for marker in ("STYLETEXT", "EVALTEXT", "HANDLERTEXT", "INLINESCRIPT", "document.write"):
        assert marker not in joined
    assert_offsets_exact(tmp_path / "idx")


def test_symlink_loops_and_dangling_links_do_not_hang_or_duplicate(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", {**GOOD, "sub/more.txt": "Dogs bark at night.\n"})
    (corpus / "sub" / "parent").symlink_to(corpus)                 # a loop through a folder
    (corpus / "sub" / "self").symlink_to(corpus / "sub" / "self")  # a link to itself
    (corpus / "a.txt").symlink_to(corpus / "b.txt")
    (corpus / "b.txt").symlink_to(corpus / "a.txt")                # two links in a ring
    (corpus / "gone.txt").symlink_to(tmp_path / "nowhere.txt")     # dangling
    started = time.monotonic()
    result = run_index(corpus, tmp_path / "idx")
    assert time.monotonic() - started < 60
    assert result.exit_code == 0, result.stderr
    rows = indexed(tmp_path / "idx")
    assert sorted({Path(r["source"]).name for r in rows}) == ["good.txt", "more.txt"]
    assert len(rows) == len({(r["source"], r["start"]) for r in rows})
    assert "Traceback" not in result.stderr
    loop = run_index(corpus / "sub" / "self", tmp_path / "idx")  # named directly: no articles
    assert loop.exit_code == 1 and "broken symbolic link" in loop.stderr
    assert "nothing to index" in loop.stderr and "Traceback" not in loop.stderr
    assert sorted({Path(r["source"]).name for r in indexed(tmp_path / "idx")}) == \
        ["good.txt", "more.txt"]  # the index is unchanged


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; "
                    "test_permission_denied_is_skipped_with_its_reason simulates it")
def test_unreadable_permissions_for_real(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", {**GOOD, "secret.txt": "Hidden text here.\n"})
    (corpus / "secret.txt").chmod(0)
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0 and "secret.txt: Permission denied; skipped" in result.stderr
    assert sources(tmp_path / "idx") == {"good.txt"}


def test_permission_denied_is_skipped_with_its_reason(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    corpus = write_corpus(tmp_path / "news", {**GOOD, "secret.txt": "Hidden text here.\n"})
    real_open = os.open

    def open_file(path, *args, **kwargs):  # noqa: ANN001 - as os.open
        if str(path).endswith("secret.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_file)
    result = run_index(corpus, tmp_path / "idx")
    assert result.exit_code == 0
    assert "secret.txt: Permission denied; skipped" in result.stderr
    assert sources(tmp_path / "idx") == {"good.txt"}


def test_folder_that_cannot_be_listed_is_named_and_the_rest_indexed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    corpus = write_corpus(tmp_path / "news", {**GOOD, "locked/secret.txt": "Hidden text.\n"})
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run_index(corpus, tmp_path / "idx")
    monkeypatch.undo()
    assert result.exit_code == 0
    assert f"{corpus / 'locked'}: Permission denied; folder skipped" in result.stderr
    assert sources(tmp_path / "idx") == {"good.txt"}


def test_file_that_vanishes_or_changes_during_indexing(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    corpus = write_corpus(tmp_path / "news", {
        **GOOD, "vanish.txt": "This file disappears.\n", "change.txt": "Version one text.\n"})
    import index.ingest.sources as ingest  # where the indexer's files are found and read

    real_discover, real_read = ingest.discover, ingest.read_articles

    def discover(paths):
        found = real_discover(paths)
        (corpus / "vanish.txt").unlink()  # gone between listing and reading
        return found

    def read_articles(path: Path, data: bytes):
        if path.name == "change.txt":  # rewritten just after it was read
            path.write_text("Version two text, quite different.\n")
        return real_read(path, data)

    monkeypatch.setattr(ingest, "discover", discover)
    monkeypatch.setattr(ingest, "read_articles", read_articles)
    result = run_index(corpus, tmp_path / "idx")
    monkeypatch.undo()
    assert result.exit_code == 0
    assert "vanish.txt: No such file or directory; skipped" in result.stderr
    texts = {r["text"] for r in indexed(tmp_path / "idx")}
    assert "Version one text." in texts and "This file disappears." not in texts
    report = update_index([corpus], tmp_path / "idx")  # the next run sees the new version
    assert report.changed == [str(corpus / "change.txt")] and report.sentences_embedded == 1
    assert "Version two text, quite different." in {r["text"] for r in indexed(tmp_path / "idx")}
    assert_offsets_exact(tmp_path / "idx")


def test_nothing_readable_is_a_clear_error_and_keeps_the_previous_index(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", GOOD)
    assert run_index(corpus, tmp_path / "idx").exit_code == 0
    junk = write_corpus(tmp_path / "junk", {"empty.txt": b"", "bin.txt": b"\x00\x01"})
    fresh = run_index(junk, tmp_path / "other-idx")
    assert fresh.exit_code == 1
    assert fresh.stderr.splitlines()[-1].startswith("error: nothing to index")
    (corpus / "good.txt").unlink()
    (corpus / "fm-only.md").write_text("---\ntitle: Only front matter\n---\n")
    emptied = run_index(corpus, tmp_path / "idx")
    assert emptied.exit_code == 1 and "index" in emptied.stderr and "unchanged" in emptied.stderr
    assert sources(tmp_path / "idx") == {"good.txt"}


def test_ten_thousand_small_files_index_and_update_quickly(tmp_path: Path):
    corpus = tmp_path / "news"
    for i in range(10_000):
        folder = corpus / f"day{i % 40:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"n{i}.txt").write_text(f"Item {i} costs {i} dollars. It sold out.\n")
    spec = EncoderSpec("hashing", "hashing")
    started = time.monotonic()
    first = update_index([corpus], tmp_path / "idx", spec=spec)
    build = time.monotonic() - started
    assert first.articles == 10_000 and first.sentences == 20_000
    (corpus / "day07" / "n7.txt").write_text("Item seven was withdrawn.\n")
    started = time.monotonic()
    second = update_index([corpus], tmp_path / "idx", spec=spec)
    update = time.monotonic() - started
    assert second.changed == [str(corpus / "day07" / "n7.txt")]
    assert second.sentences_embedded == 1
    assert build < 120 and update < 60, (build, update)  # ~5 s and ~3 s on 2 cores


_SPLIT_50MB = """
import resource, sys, time
from pathlib import Path
from index.indexer import split_article
from index.ingest.readers import read_articles
unit = sys.argv[1].encode()
data = unit * (50_000_000 // len(unit))
started = time.monotonic()
split = [split_article(a) for a in read_articles(Path("big.txt"), data)]
text = split[0].article.text
assert all(text[s:e] == text[s:e].strip() != "" for _, s, e in split[0].sentences)
print(sum(len(a.sentences) for a in split), time.monotonic() - started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.slow
@pytest.mark.parametrize("unit", [
    "Dr. Smith met Mr. Jones in the U.S. at 3.5 p.m. ",  # quadratic in sentencex, unchunked
    "word " * 5,                                          # one endless sentence
    "Sales rose.\nCosts fell.\n",                         # one endless paragraph of lines
])
def test_fifty_megabyte_article_splits_in_bounded_time_and_memory(unit: str):
    run = subprocess.run([sys.executable, "-c", _SPLIT_50MB, unit], capture_output=True,
                         text=True, timeout=300, cwd=Path(__file__).parent.parent)
    assert run.returncode == 0, run.stderr
    count, seconds, rss_mb = run.stdout.split()
    assert int(count) > 10_000  # long runs are cut into sentences of at most 3000 characters
    assert float(seconds) < 90 and int(rss_mb) < 2_000, run.stdout  # ~10 s, ~400 MB here
