"""The hostile-input probe of issue 17, one test per case and class: each bad input ends in
one ``error:`` line or one ``warning:`` per bad file, never a traceback, a hang or an escape
sequence reaching the terminal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .conftest import write_corpus

HASHING = ["--backend", "hashing", "--model", "hashing"]
GOOD = {"a.txt": "Otters hold hands while they sleep. They float on their backs.\n"}
OSC = "\x1b]0;PWNED\x07"


def bot(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def assert_one_error(result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def assert_no_escapes(text: str) -> None:
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    corpus = write_corpus(tmp_path / "news", GOOD)
    result = bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), *HASHING)
    assert result.exit_code == 0, result.stderr
    return tmp_path / "idx"


# --- the CLI edge: questions, escaping, the last line of defence ---------------------------

def test_question_argument_with_undecodable_bytes_is_one_error(index_dir: Path):
    # what Python makes of argv bytes b"\xff\xfe" (surrogateescape)
    result = bot("ask", "Who is \udcff\udcfe founder?", "--index-dir", str(index_dir))
    assert_one_error(result, 1, "not UTF-8", "column 8")


def test_file_name_with_an_osc_sequence_is_escaped_in_the_warning(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", {**GOOD, f"e{OSC}.txt": ""})
    result = bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), *HASHING)
    assert result.exit_code == 0, result.stderr
    assert_no_escapes(result.stderr)
    assert "e\\x1b]0;PWNED\\x07.txt: empty file; skipped" in result.stderr


def test_path_with_an_osc_sequence_is_escaped_in_an_error(tmp_path: Path):
    result = bot("index", str(tmp_path / f"missing{OSC}"), "--index-dir", str(tmp_path / "i"),
                 *HASHING)
    line = assert_one_error(result, 1, "no such file or directory", "missing\\x1b]0;PWNED\\x07")
    assert_no_escapes(line)


def test_an_unexpected_exception_is_one_line_with_the_traceback_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom{OSC}")

    monkeypatch.setattr("bot.indexing.index_folder", broken)
    result = bot("index", str(tmp_path), "--index-dir", str(tmp_path / "idx"))
    line = assert_one_error(result, 1, "error: internal error (RuntimeError: boom")
    assert_no_escapes(line)
    saved = Path(re.search(r"details in (\S+)$", line).group(1))
    assert saved.is_absolute() and saved.read_text().count("Traceback") == 1
    assert "boom" in saved.read_text() and "broken" in saved.read_text()


# --- articles: one bad file is one warning, every text valid Unicode, YAML with limits ------

def index_corpus(tmp_path: Path, files: dict[str, str | bytes]):
    corpus = write_corpus(tmp_path / "news", {**GOOD, **files})
    return bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), *HASHING)


def ask_json(tmp_path: Path, question: str) -> dict:
    import json

    result = bot("ask", "--json", "-k", "100", question, "--index-dir", str(tmp_path / "idx"))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_indexed(result, articles: int, warnings: int = 0) -> list[str]:
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    assert f"index updated: {articles} articles" in result.stderr, result.stderr
    found = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(found) == warnings, found
    assert_no_escapes(result.stderr)
    return found


def test_front_matter_with_an_impossible_date_keeps_the_article(tmp_path: Path):
    result = index_corpus(tmp_path, {"d.md": "---\ndate: 2020-13-45\ntitle: Owls\n---\n"
                                             "Owls fly at night. They hunt mice.\n"})
    assert_indexed(result, 2)
    answers = ask_json(tmp_path, "owls hunt mice")["answers"]
    assert {"2020-13-45"} == {a["date"] for a in answers if a["title"] == "Owls"}


def test_jsonl_record_with_a_lone_surrogate_is_indexed_with_a_replacement(tmp_path: Path):
    result = index_corpus(tmp_path, {"s.jsonl": '{"text": "Bad \\ud800 bytes are replaced. '
                                                '\\udcff Also here.", "title": "T\\ud800"}\n'})
    assert_indexed(result, 2)
    texts = [a["text"] for a in ask_json(tmp_path, "replaced bytes")["answers"]]
    assert "Bad \ufffd bytes are replaced." in texts


def test_file_name_that_is_not_utf8_is_one_warning(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", GOOD)
    (corpus / os.fsdecode(b"bad\xff\xfe.txt")).write_bytes(b"Hello there. Fine text.\n")
    result = bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), *HASHING)
    [warning] = assert_indexed(result, 1, warnings=1)
    assert "bad\\xff\\xfe.txt: file name is not UTF-8" in warning


@pytest.mark.timeout(60)
@pytest.mark.parametrize("levels", [8, 12])
def test_billion_laughs_front_matter_is_refused_at_once(tmp_path: Path, levels: int):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    laughs = "---\n" + "\n".join(lines) + "\n---\nThe laughs sentence is here.\n"
    [warning] = assert_indexed(index_corpus(tmp_path, {"laughs.md": laughs}), 1, warnings=1)
    assert "aliases" in warning and "laughs.md" in warning


@pytest.mark.parametrize("front, fragment", [
    ("x: " + "[" * 40 + "]" * 40, "nested deeper than 32"),
    ("x: '" + "y" * 70_000 + "'", "front matter over 65,536 bytes"),
    ("x: " + "9" * 5000, "unusable YAML"),
    ("? [a, b]\n: c", "malformed YAML"),
], ids=["deep", "big", "huge-int", "unhashable-key"])
def test_front_matter_beyond_its_limits_is_one_warning(tmp_path: Path, front: str,
                                                       fragment: str):
    result = index_corpus(tmp_path, {"m.md": f"---\n{front}\n---\nThe body sentence.\n"})
    [warning] = assert_indexed(result, 1, warnings=1)
    assert fragment in warning and "m.md" in warning


def test_jsonl_lines_nested_too_deep_are_named_and_the_rest_indexed(tmp_path: Path):
    deep = '{"text": "Deep one.", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    deepish = '{"text": "Deep two.", "x": ' + "[" * 40 + "]" * 40 + "}"
    result = index_corpus(tmp_path, {"n.jsonl": f'{deep}\n{deepish}\n{{"text": "Fine."}}\n'})
    [warning] = assert_indexed(result, 2, warnings=1)
    assert "line 1: unusable JSON" in warning and "line 2: JSON nested over 32" in warning


def test_special_files_named_like_articles_never_block(tmp_path: Path):
    import os

    corpus = write_corpus(tmp_path / "news", GOOD)
    os.mkfifo(corpus / "fifo.txt")
    (corpus / "status.txt").symlink_to("/proc/self/status")  # size 0, read lazily
    (corpus / "zero.txt").symlink_to("/dev/zero")
    result = bot("index", str(corpus), str(corpus / "fifo.txt"), "--index-dir",
                 str(tmp_path / "idx"), *HASHING)
    warnings = assert_indexed(result, 1, warnings=4)
    assert sum("not a regular file" in w for w in warnings) == 3
    assert any("status.txt: empty file" in w for w in warnings)


def test_an_article_file_over_the_size_limit_is_one_warning(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("index.ingest.sources.MAX_ARTICLE_FILE_BYTES", 1000)
    result = index_corpus(tmp_path, {"big.txt": "Big sentence here. " * 100})
    [warning] = assert_indexed(result, 1, warnings=1)
    assert "big.txt: too large (1,900 bytes; the limit is 1,000)" in warning


def test_read_regular_file_refuses_a_fifo_without_blocking(tmp_path: Path):
    import os

    from index.errors import UnreadableFile
    from index.files import read_regular_file

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnreadableFile, match="not a regular file \\(a FIFO\\)"):
        read_regular_file(tmp_path / "fifo", 100)
    (tmp_path / "grows").write_bytes(b"x" * 101)
    with pytest.raises(UnreadableFile, match="too large"):
        read_regular_file(tmp_path / "grows", 100)


# --- the index directory: every file validated before use; --rebuild recovers --------------

def damage_current(index_dir: Path, how: str) -> None:
    current = index_dir / "CURRENT"
    current.unlink()
    if how == "not-utf8":
        current.write_bytes(b"\xff\xfe\x00garbage\n")
    elif how == "fifo":
        os.mkfifo(current)
    elif how == "10mb":
        current.write_bytes(b"x" * 10_000_000)
    elif how == "folder":
        current.mkdir()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how, reason", [("not-utf8", "not UTF-8 text"),
                                         ("fifo", "not a regular file (a FIFO)"),
                                         ("10mb", "too large"),
                                         ("folder", "not a regular file (a folder)")])
def test_damaged_current_is_one_line_and_rebuild_recovers(index_dir: Path, how: str,
                                                          reason: str):
    damage_current(index_dir, how)
    corpus = str(index_dir.parent / "news")
    line = assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1,
                            "CURRENT is damaged", reason, "bot index --rebuild")
    assert len(line) < 400
    assert_one_error(bot("index", corpus, "--index-dir", str(index_dir), *HASHING), 1,
                     "CURRENT is damaged", reason)
    if how == "folder":  # not something the bot replaces on its own
        return
    rebuilt = bot("index", "--rebuild", corpus, "--index-dir", str(index_dir), *HASHING)
    assert_indexed(rebuilt, 1)
    answer = bot("ask", "otters", "--index-dir", str(index_dir))
    assert answer.exit_code == 0 and "Otters hold hands" in answer.stdout


@pytest.mark.timeout(60)
def test_a_lock_that_is_a_fifo_is_named(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", GOOD)
    (tmp_path / "idx").mkdir()
    os.mkfifo(tmp_path / "idx" / "lock")
    line = assert_one_error(bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                                *HASHING), 1, "lock is not a regular file (a FIFO)", "remove it")
    assert "None" not in line


@pytest.mark.timeout(60)
@pytest.mark.parametrize("damage, fragment", [
    (lambda p: p.write_bytes(b"\xff" * 50), "manifest.json is unreadable"),
    (lambda p: (p.unlink(), os.mkfifo(p)), "not a regular file (a FIFO)"),
    (lambda p: p.write_text("[" * 100_000), "manifest.json is unreadable"),
])
def test_a_damaged_manifest_is_one_line(index_dir: Path, damage, fragment: str):
    from index.store.generations import IndexDir

    damage(IndexDir(index_dir).require_current() / "manifest.json")
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1, fragment)


@pytest.mark.parametrize("field, value", [
    ("counts", {"articles": "many"}), ("encoder", "hashing"), ("encoder", {"model": 3}),
    ("files", {"x.txt": {"sha256": 1}}), ("checksums", {"../../etc/passwd": {"size": 1}}),
    ("checksums", {"/etc/passwd": {"size": 1, "sha256": ""}}), ("created", "yesterday"),
    ("splitter", None), ("ann", []), ("ann", {"sentences": []}),
    ("ann", {"sentences": {"kind": "hnsw"}}), ("ann", {"sentences": {"nprobe": -1}}),
    ("encoder", {"model": "\ud800", "backend": "hashing"}), ("files", {"\udcff": {}}),
])
def test_forged_manifest_fields_are_refused(index_dir: Path, field: str, value):
    import json

    from index.store.generations import IndexDir, manifest_digest

    path = IndexDir(index_dir).require_current() / "manifest.json"
    data = json.loads(path.read_text())
    data[field] = value
    data["digest"] = manifest_digest(data)
    path.write_text(json.dumps(data))
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1,
                     "manifest is malformed")
    corpus = str(index_dir.parent / "news")
    assert_indexed(bot("index", "--rebuild", corpus, "--index-dir", str(index_dir), *HASHING), 1)


# --- memory bounded by design: the whole machine is not a corpus --------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("root", ["/", "/proc", "/sys", "/dev"])
def test_a_system_folder_as_corpus_is_refused_at_once(tmp_path: Path, root: str):
    result = bot("index", root, "--index-dir", str(tmp_path / "idx"), *HASHING)
    assert_one_error(result, 1, f"refusing to index the system folder {root}")
    assert not (tmp_path / "idx" / "CURRENT").exists()


@pytest.mark.timeout(60)
def test_a_golden_file_whose_corpus_is_the_root_is_an_error_not_a_scan(tmp_path: Path):
    golden = tmp_path / "g.qa.yaml"
    golden.write_text("corpus: /\nmodel: hashing\nbackend: hashing\ncases:\n"
                      "  - question: Who holds hands?\n    expect:\n      contains: Otters\n")
    result = bot("check", str(golden), "--index-dir", str(tmp_path / "idx"))
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert "refusing to index the system folder /" in result.stdout + result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text, fragment", [
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "cases: [{question: q, expect: {contains: [*b, *b, *b, *b, *b, *b, *b, *b, *b]}}]\n",
     "aliases"),
    ("cases: " + "[" * 50 + "]" * 50 + "\n", "nested deeper than 32"),
    (None, "not a regular file"),
])
def test_golden_files_are_loaded_with_limits(tmp_path: Path, text: str | None, fragment: str):
    golden = tmp_path / "g.qa.yaml"
    if text is None:
        os.mkfifo(golden)
    else:
        golden.write_text(text)
    result = bot("check", str(golden), "--index-dir", str(tmp_path / "idx"))
    assert result.exit_code == 2 and "Traceback" not in result.stdout + result.stderr
    assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("line", ['{"question": "Who \\ud800 holds hands?"}',
                                  '{"question": "Who holds hands?", "conversation": "\\udcff"}',
                                  '{"question": ' + "[" * 100_000])
def test_json_stream_lines_with_surrogates_or_deep_nesting(index_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           line: str):
    import json

    monkeypatch.setenv("BOT_WORKERS", "1")
    for as_json in ([], ["--json"]):
        result = bot("ask", *as_json, "--index-dir", str(index_dir), stdin=line.encode() + b"\n")
        assert result.exit_code in (0, 1) and "Traceback" not in result.stderr
        assert "internal error" not in result.stderr, result.stderr
        if as_json:
            json.loads(result.stdout)
    if "[[[" not in line:
        assert result.exit_code == 0 and "Otters hold hands" in result.stdout


@pytest.mark.timeout(60)
def test_a_golden_baseline_that_is_a_fifo_is_named(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", GOOD)
    golden = tmp_path / "g.qa.yaml"
    golden.write_text(f"corpus: {corpus}\nmodel: hashing\nbackend: hashing\ncases:\n"
                      "  - question: Who holds hands?\n    expect:\n      contains: Otters\n")
    os.mkfifo(tmp_path / "g.qa.baseline.json")
    result = bot("check", str(golden), "--index-dir", str(tmp_path / "idx"))
    output = result.stdout + result.stderr
    assert result.exit_code == 0 and "Traceback" not in output  # warned, the cases still run
    assert "warning:" in output and "unreadable baseline (not a regular file (a FIFO))" in output


@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", ["index", "shard"])
def test_a_sharded_index_whose_manifest_is_a_fifo_is_one_line(tmp_path: Path, where: str):
    from index.store.sharded import ShardedDir

    corpus = write_corpus(tmp_path / "news", {**GOOD, "b.txt": "Owls hunt mice at night.\n"})
    built = bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), "--shards", "2",
                *HASHING)
    assert built.exit_code == 0, built.stderr
    store = ShardedDir(tmp_path / "idx")
    manifest = store.require_current() / "manifest.json"
    if where == "shard":
        manifest = sorted((tmp_path / "idx" / "shards").rglob("manifest.json"))[0]
    manifest.unlink()
    os.mkfifo(manifest)
    assert_one_error(bot("ask", "otters", "--index-dir", str(tmp_path / "idx")), 1,
                     "unreadable")
