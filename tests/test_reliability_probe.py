"""The hostile-input probe of issue 17, one test per case and class: each bad input ends in
one ``error:`` line or one ``warning:`` per bad file, never a traceback, a hang or an escape
sequence reaching the terminal."""

from __future__ import annotations

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
