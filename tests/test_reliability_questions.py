"""Bad questions: each gets a clear one-line message and a sensible exit code, good ones in the
same stream are still answered in order, and the index is never touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.questions import MAX_QUESTION_CHARS

from .conftest import write_corpus

ARTICLES = {
    "leica.txt": "Leica and Xiaomi\ndate 2022-05-23\n\nLeica now partners with Xiaomi. "
                 "The first phone ships in July.\n\nHuawei worked with Leica until 2021.\n",
    "sensors.md": "---\ntitle: Sensors\n---\nSony makes the IMX800 sensor. It is large.\n",
}
GOOD = "Who makes the IMX800 sensor?"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from index.embed.encoders import EncoderSpec
    from index.indexer import update_index

    root = tmp_path_factory.mktemp("questions")
    corpus = write_corpus(root / "news", ARTICLES)
    update_index([corpus], root / "idx", spec=EncoderSpec("hashing", "hashing"))
    return root / "idx"


def ask(index_dir: Path, *args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, ["ask", "--index-dir", str(index_dir), *args], input=stdin)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("question, message", [
    ("", "empty question"),
    ("   \t  ", "empty question"),
    ("\x01\x02\x1b", "only control characters"),
    ("\u200b\ufeff", "only control characters"),
])
def test_bad_question_argument_is_one_error_line_and_exit_1(index_dir: Path, question: str,
                                                             message: str):
    result = ask(index_dir, question)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert error_lines(result.stderr) == [line for line in result.stderr.splitlines()]
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


@pytest.mark.parametrize("line, message", [
    (b"\x01\x02\x03", "only control characters"),
    (b"who\x00makes it", "NUL bytes"),
    (b"caf\xe9 au lait", "not UTF-8 text (invalid byte at column 4)"),
    (b"\xff\xfe\x00\x00", "not UTF-8"),
    (b"\xed\xa0\x80 surrogate", "not UTF-8"),  # an encoded UTF-16 surrogate is not UTF-8
])
def test_bad_stdin_line_is_reported_and_the_good_ones_around_it_answered(
        index_dir: Path, line: bytes, message: str):
    stream = GOOD.encode() + b"\n" + line + b"\nWhen did Huawei stop working with Leica?\n"
    result = ask(index_dir, "--json", stdin=stream)
    assert result.exit_code == 1
    objects = [json.loads(text) for text in result.stdout.splitlines()]
    assert [("error" in o) for o in objects] == [False, True, False]
    assert objects[0]["question"] == GOOD and objects[0]["answers"]
    assert objects[2]["question"] == "When did Huawei stop working with Leica?"
    assert message in objects[1]["error"] and objects[1]["answers"] == []
    assert error_lines(result.stderr) == [f"error: line 2: {objects[1]['error']}"]


def test_blank_and_whitespace_lines_separate_questions_silently(index_dir: Path):
    result = ask(index_dir, "--json", stdin=b"\n   \n" + GOOD.encode() + b"\r\n\t\n")
    assert result.exit_code == 0 and result.stderr == ""
    assert [json.loads(t)["question"] for t in result.stdout.splitlines()] == [GOOD]


def test_byte_order_mark_and_crlf_do_not_become_part_of_the_question(index_dir: Path):
    result = ask(index_dir, "--json", stdin=b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["question"] == GOOD


def test_megabyte_question_is_answered_from_its_start_with_a_warning(index_dir: Path):
    question = ("Who makes the IMX800 sensor? " * 40_000)[:1_000_000]
    result = ask(index_dir, "--json", stdin=question.encode() + b"\n")
    assert result.exit_code == 0
    answer = json.loads(result.stdout)
    assert answer["question"] == question  # JSON echoes exactly what was asked
    assert answer["answers"][0]["text"] == "Sony makes the IMX800 sensor."
    assert f"only the first {MAX_QUESTION_CHARS} are searched" in result.stderr


def test_long_question_argument_warns_without_a_line_number(index_dir: Path):
    result = ask(index_dir, "--json", "Who makes the IMX800 sensor? " * 100)
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: question has 2899 characters")  # spaces folded
    assert json.loads(result.stdout)["answers"][0]["text"] == "Sony makes the IMX800 sensor."


def test_control_characters_inside_a_question_do_not_stop_it_being_answered(index_dir: Path):
    result = ask(index_dir, "--json", "Who makes\x1b[31m the\x07 IMX800\u202e sensor?")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["answers"][0]["text"] == "Sony makes the IMX800 sensor."


def test_mixed_stream_in_a_real_process_keeps_order_and_exit_code(index_dir: Path):
    lines = [GOOD.encode(), b"\xc3\x28", b"", b"Leica\x00", b"\x1b\x1b", b"Where is Leica?"]
    run = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "--index-dir",
                          str(index_dir)], input=b"\n".join(lines) + b"\n",
                         capture_output=True, timeout=120)
    assert run.returncode == 1
    objects = [json.loads(t) for t in run.stdout.decode().splitlines()]
    assert [("error" in o) for o in objects] == [False, True, True, True, False]
    assert [o["question"] for o in objects if "error" not in o] == [GOOD, "Where is Leica?"]
    stderr = run.stderr.decode().splitlines()
    assert [s.split(":")[0:2] for s in stderr] == [["error", " line 2"], ["error", " line 4"],
                                                  ["error", " line 5"]]
    assert b"Traceback" not in run.stderr
