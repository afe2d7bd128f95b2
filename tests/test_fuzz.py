"""Fuzzing the bot's edges with generated hostile input (Hypothesis, SQLite's fuzzing in
spirit): file names of any bytes, article bodies and front matter, JSONL records, questions on
argv and stdin, CLI flag values, and damaged index-directory files.

Every example asserts what a user relies on: no traceback (nor the CLI's "internal error"
fallback), one ``error:`` line or ``warning:`` lines only, a bounded time, no escape sequence on
the terminal, and an index that answers afterwards. CI runs a few hundred examples in all;
``pytest tests/test_fuzz.py --fuzz-long`` runs 20 times as many.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from index.ingest.readers import SUFFIXES
from index.store.generations import IndexDir, manifest_digest

from . import conftest
from .conftest import write_corpus

HASHING = ["--backend", "hashing", "--model", "hashing"]
GOOD = "Otters hold hands while they sleep. They float on their backs.\n"
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fuzz(examples: int):
    """Hypothesis settings for one fuzz test: ``examples`` in CI, 20x with --fuzz-long; a
    generous per-example deadline (a hang or a blow-up fails, a busy machine does not)."""
    return settings(max_examples=examples * (20 if conftest.FUZZ_LONG else 1),
                    deadline=timedelta(seconds=30), derandomize=not conftest.FUZZ_LONG,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@contextmanager
def workspace() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is shared by all examples of a test)."""
    folder = Path(tempfile.mkdtemp(prefix="bot-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bot(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def assert_clean(result: Result, codes: tuple[int, ...] = (0, 1),
                 per_line: bool = False) -> None:
    """No traceback, an allowed exit code, only labelled one-line messages on stderr, no
    terminal control characters, and at most one error (the last line), or with
    ``per_line`` one ``error: line N: …`` per bad stdin line."""
    assert result.exit_code in codes, (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not TERMINAL_CONTROL.search(result.stderr.replace("\n", "")), repr(result.stderr)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    if per_line:
        assert all(re.match(r"error: line \d+: ", line) for line in errors), errors
    else:
        assert len(errors) <= 1 and (not errors or lines[-1] == errors[0]), lines
    for line in lines:
        assert line.startswith(("error:", "warning:", "note:", "index ")), line


def assert_answers(index_dir: Path) -> None:
    """The index is usable: the good article's sentence comes back."""
    result = bot("ask", "--json", "do otters hold hands", "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.stderr
    assert "Otters hold hands while they sleep." in json.loads(result.stdout)["answers"][0]["text"]


def index(corpus: Path, index_dir: Path, *extra: str) -> Result:
    return bot("index", str(corpus), "--index-dir", str(index_dir), *HASHING, *extra)


def indexed_news(root: Path, files: dict[str, str]) -> Path:
    """``root/news`` holding the good article and ``files``, indexed into ``root/idx``."""
    write_corpus(root / "news", {"good.txt": GOOD, **files})
    assert index(root / "news", root / "idx").exit_code == 0
    return root / "idx"


def assert_indexes_beside_good(write: Callable[[Path], None]) -> None:
    """In a fresh workspace, a corpus of the good article and what ``write`` puts beside it
    indexes cleanly (exit 0), and the index answers."""
    with workspace() as root:
        corpus = write_corpus(root / "news", {"good.txt": GOOD})
        write(corpus)
        result = index(corpus, root / "idx")
        assert_clean(result, codes=(0,))
        assert_answers(root / "idx")


# --- article files -----------------------------------------------------------------------------

name_bytes = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")).filter(
    lambda b: not b.startswith(b"."))
suffixes = st.sampled_from(sorted(SUFFIXES))


@fuzz(25)
@given(names=st.lists(st.tuples(name_bytes, suffixes), min_size=1, max_size=4))
def test_any_file_names(names: list[tuple[bytes, str]]):
    def write(corpus: Path) -> None:
        for stem, suffix in names:
            path = os.path.join(os.fsencode(corpus), stem + suffix.encode())
            with open(path, "wb") as handle:
                handle.write(b'{"text": "A line of news."}\n' if suffix == ".jsonl"
                             else b"Some news sentence here.\n")

    assert_indexes_beside_good(write)


yaml_scalars = st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True),
                         st.booleans(), st.none())
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
HOSTILE_YAML = [
    "a: &a [1, 2]\nb: [*a, *a]", "x: !!python/object:os.system [ls]", "date: 2020-13-45",
    "date: 99999-01-01", "title: [unclosed", "? [a, b]\n: c", "x: " + "[" * 60 + "]" * 60,
    "x: " + "9" * 5000, "title: \"\\ud800\\e]0;x\\a\"", "<<: *nothing", "- just\n- a list",
    "title: !!binary aGVsbG8=", "date: 2020-02-30T25:61:61", "x: 1e99999", "\t: tab key",
    "title: &t T\nurl: *t",
]


@st.composite
def front_matters(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.sampled_from(HOSTILE_YAML))
    if kind == 1:
        return draw(st.text(max_size=200))
    return json.dumps(draw(st.dictionaries(st.text(max_size=10), yaml_values, max_size=5)))


bodies = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(
    lambda t: t.encode("utf-8", "surrogatepass")))


@fuzz(40)
@given(front=front_matters(), body=bodies, suffix=suffixes)
def test_any_article_body_and_front_matter(front: str, body: bytes, suffix: str):
    content = f"---\n{front}\n---\n".encode("utf-8", "surrogatepass") + body
    assert_indexes_beside_good(lambda corpus: (corpus / f"article{suffix}").write_bytes(
        content if suffix == ".md" else body))


surrogates = st.sampled_from(["\ud800", "\udcff", "\udfff", "\ud83d"])
json_text = st.lists(st.one_of(st.text(max_size=20), surrogates), max_size=5).map("".join)
json_values = st.recursive(
    st.one_of(json_text, st.integers(), st.floats(), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(json_text, inner, max_size=3)), max_leaves=10)
records = st.one_of(
    st.fixed_dictionaries({"text": json_text}, optional={
        "title": json_values, "date": json_values, "url": json_values, "extra": json_values}),
    json_values)
lines = st.one_of(records.map(json.dumps), st.text(max_size=60),
                  st.sampled_from(["[" * 3000 + "]" * 3000, '{"text": 1e999}', "{" * 50]))


@fuzz(40)
@given(jsonl=st.lists(lines, min_size=1, max_size=6))
def test_any_jsonl_records(jsonl: list[str]):
    assert_indexes_beside_good(lambda corpus: (corpus / "feed.jsonl").write_bytes(
        "\n".join(jsonl).encode("utf-8", "surrogatepass")))


# --- questions and flags -------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_news(tmp_path_factory.mktemp("fuzz-index"),
                        {"more.md": "---\ntitle: Owls\n---\nOwls hunt mice at night.\n"})


argv_text = st.one_of(st.text(max_size=80), st.binary(max_size=80).map(os.fsdecode),
                      st.lists(st.one_of(st.text(max_size=5), surrogates)).map("".join))


@fuzz(50)
@given(question=argv_text, as_json=st.booleans())
def test_any_question_argument(shared_index: Path, question: str, as_json: bool):
    assume(not question.startswith("-"))  # an option, not a question
    result = bot("ask", *(["--json"] if as_json else []), "--index-dir", str(shared_index),
                 "--", question)
    assert_clean(result)
    if as_json and result.exit_code == 0:
        json.loads(result.stdout)


object_lines = st.fixed_dictionaries(
    {"question": json_text}, optional={"conversation": json_text, "k": json_values,
                                       "extra": json_values}).map(json.dumps)


@fuzz(40)
@given(stdin=st.one_of(st.binary(max_size=400),
                       st.lists(st.one_of(argv_text, object_lines, lines), max_size=6).map(
                           lambda qs: "\n".join(qs).encode("utf-8", "surrogatepass"))),
       as_json=st.booleans())
def test_any_questions_on_stdin(shared_index: Path, monkeypatch: pytest.MonkeyPatch,
                               stdin: bytes, as_json: bool):
    monkeypatch.setenv("BOT_WORKERS", "1")  # the parsing is fuzzed, not the worker pool
    result = bot("ask", *(["--json"] if as_json else []), "--index-dir", str(shared_index),
                 stdin=stdin)
    assert_clean(result, per_line=True)
    if as_json:
        for line in result.stdout.split("\n")[:-1]:  # records end in \n (U+0085 is text)
            json.loads(line)


flag_values = st.one_of(st.text(max_size=30), st.binary(max_size=20).map(os.fsdecode),
                        st.integers(-10**30, 10**30).map(str),
                        st.sampled_from(["", "0", "-1", "nan", "inf", "1e999", "/", ".", "..",
                                         "/dev/null", "/proc/self/status", "\x00"]))


@fuzz(40)
@given(flag=st.sampled_from(["-k", "--index-dir", "--backend", "--ranker", "--articles"]),
       value=flag_values)
def test_any_flag_values(shared_index: Path, flag: str, value: str):
    assume("\x00" not in value or flag == "-k")  # argv cannot hold NUL, except as tested
    with workspace() as root:
        if flag in ("--ranker", "--articles"):
            squad = {"data": [{"title": "T", "paragraphs": [{"context": GOOD, "qas": [
                {"id": "1", "question": "Who holds hands?",
                 "answers": [{"text": "Otters", "answer_start": 0}]}]}]}]}
            (root / "s.json").write_text(json.dumps(squad))
            args = ["eval", str(root / "s.json"), "--work-dir", str(root / "w"), *HASHING,
                    flag, value]
        elif flag == "--backend":
            args = ["index", str(root), "--index-dir", str(root / "idx"), flag, value]
        else:
            args = ["ask", "otters", "--index-dir", str(shared_index), flag, value]
        assert_clean(bot(*args), codes=(0, 1, 2))
    assert_answers(shared_index)


# --- damaged index directories ------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-pristine")
    indexed_news(root, {"feed.jsonl": '{"text": "Owls hunt mice.", "title": "Owls"}\n'})
    return root


def index_files(index_dir: Path) -> list[str]:
    live = IndexDir(index_dir).require_current()
    inside = sorted(str(p.relative_to(index_dir)) for p in live.rglob("*") if p.is_file())
    return ["CURRENT", "lock", *inside]


DAMAGES = ["truncate", "empty", "random", "flip", "fifo", "folder", "non-utf8", "huge",
           "forge"]


def damage(path: Path, how: str, data: st.DataObject) -> None:
    original = path.read_bytes() if path.is_file() else b""
    if how in ("fifo", "folder"):
        path.unlink()
        os.mkfifo(path) if how == "fifo" else path.mkdir()
    elif how == "truncate":
        path.write_bytes(original[:data.draw(st.integers(0, max(len(original) - 1, 0)))])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(data.draw(st.binary(max_size=200)))
    elif how == "flip" and original:
        at = data.draw(st.integers(0, len(original) - 1))
        path.write_bytes(original[:at] + bytes([original[at] ^ 0xFF]) + original[at + 1:])
    elif how == "non-utf8":
        path.write_bytes(b"\xff\xfe" + original)
    elif how == "huge":
        path.write_bytes(original + b"x" * 5_000_000)
    elif how == "forge" and path.name == "manifest.json":
        manifest = json.loads(original)
        key = data.draw(st.sampled_from(sorted(manifest)))
        target, field = manifest, key
        if isinstance(manifest[key], dict) and manifest[key] and data.draw(st.booleans()):
            target, field = manifest[key], data.draw(st.sampled_from(sorted(manifest[key])))
        target[field] = data.draw(json_values)
        manifest["digest"] = manifest_digest(manifest)
        path.write_text(json.dumps(manifest))


@fuzz(40)
@given(data=st.data())
def test_any_damaged_index_file(pristine: Path, data: st.DataObject):
    with workspace() as root:
        shutil.copytree(pristine / "idx", root / "idx")
        name = data.draw(st.sampled_from(index_files(root / "idx")), label="file")
        how = data.draw(st.sampled_from(DAMAGES), label="damage")
        damage(root / "idx" / name, how, data)
        asked = bot("ask", "owls", "--index-dir", str(root / "idx"))
        assert_clean(asked)
        assert_clean(index(pristine / "news", root / "idx"))
        if name == "lock" and how in ("fifo", "folder"):
            (root / "idx" / "lock").rmdir() if how == "folder" else \
                (root / "idx" / "lock").unlink()  # as the error line says
        if name == "CURRENT" and how == "folder":
            (root / "idx" / "CURRENT").rmdir()
        rebuilt = index(pristine / "news", root / "idx", "--rebuild")
        assert_clean(rebuilt, codes=(0,))
        assert_answers(root / "idx")
