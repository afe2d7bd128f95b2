"""The scripted Q&A contract of ``bot index`` / ``bot ask`` that outside scripts rely on."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .conftest import write_corpus

ARTICLES = {
    "leica.txt": "Leica and Xiaomi\ndate 2022-05-23\n\nLeica now partners with Xiaomi. "
                 "The first phone ships in July.\n\nHuawei worked with Leica until 2021.\n",
    "sensors.md": "---\ntitle: Sensors\ndate: 2021-03-01\n---\n"
                  "Sony makes the IMX800 sensor. It is large.\n",
}


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    corpus = write_corpus(tmp_path / "news", ARTICLES)
    result = CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                                      "--backend", "hashing", "--model", "hashing"])
    assert result.exit_code == 0, result.output
    return tmp_path / "idx"


def ask(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "ask", *args], input=stdin,
                          capture_output=True, text=not isinstance(stdin, bytes), timeout=120)


def test_json_stream_one_object_per_question_in_order(indexed: Path):
    questions = "Who makes the IMX800 sensor?\nWhen did Huawei stop working with Leica?\n"
    run = ask("--index-dir", str(indexed), "--json", "-k", "2", stdin=questions)
    assert run.returncode == 0, run.stderr
    objects = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["question"] for o in objects] == questions.splitlines()
    for obj in objects:
        assert {"question", "answered", "confidence", "answers"} <= set(obj)
        assert isinstance(obj["answered"], bool) and 0.0 <= obj["confidence"] <= 1.0
        assert 1 <= len(obj["answers"]) <= 2
        for answer in obj["answers"]:
            assert {"text", "source", "start", "end", "score", "title", "date", "offsets",
                    "line", "column", "scores"} <= set(answer)
            assert answer["offsets"] == "file" and isinstance(answer["scores"], dict)
            assert all(isinstance(v, (int, float)) for v in answer["scores"].values())
            text = Path(answer["source"]).read_bytes().decode("utf-8")
            assert text[answer["start"]:answer["end"]] == answer["text"]
        scores = [a["score"] for a in obj["answers"]]
        assert scores == sorted(scores, reverse=True)
    top = objects[0]["answers"][0]
    assert top["text"] == "Sony makes the IMX800 sensor."
    assert (top["title"], top["date"]) == ("Sensors", "2021-03-01")


def test_human_output_in_a_pipe_has_citation_and_no_colour(indexed: Path):
    run = ask("Who makes the IMX800 sensor?", "--index-dir", str(indexed))
    assert run.returncode == 0
    assert "\x1b[" not in run.stdout
    assert "Sony makes the IMX800 sensor." in run.stdout
    assert "Sensors" in run.stdout and "2021-03-01" in run.stdout and "sensors.md:" in run.stdout
    assert run.stderr == ""


def test_bad_stream_lines_are_reported_and_good_ones_still_answered(indexed: Path):
    stream = b"Who makes the IMX800 sensor?\n\xff\xfe\n\nWhere is Leica?\n"
    run = ask("--index-dir", str(indexed), "--json", stdin=stream)
    assert run.returncode == 1
    objects = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert [("error" in o) for o in objects] == [False, True, False]
    assert {"question", "answered", "confidence", "answers", "error"} == set(objects[1])
    assert objects[1]["answered"] is False and objects[1]["answers"] == []
    assert b"line 2" in run.stderr and b"Traceback" not in run.stderr


@pytest.mark.parametrize("args, code, message", [
    (["ask", "anything"], 1, "no index in"),
    (["ask", "   "], 1, "empty question"),
    (["ask", "x", "-k", "0"], 2, "-k"),
    (["ask", "x", "-k", "-3"], 2, "-k"),
    (["index", "does-not-exist"], 1, "no such file or directory"),
    (["index"], 2, "Missing argument"),
    (["frobnicate"], 2, "No such command"),
])
def test_errors_are_one_line_with_nonzero_exit(tmp_path: Path, args, code, message):
    run = subprocess.run([sys.executable, "-m", "bot", *args, "--index-dir",
                          str(tmp_path / "none")] if args[0] != "frobnicate" else
                         [sys.executable, "-m", "bot", *args],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == code
    assert message in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_index_dir_that_is_a_file(tmp_path: Path):
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(cli, ["ask", "q", "--index-dir", str(tmp_path / "afile")])
    assert result.exit_code == 1 and "is a file" in result.output


def test_reindex_reports_unchanged(indexed: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "news"), "--index-dir",
                                      str(indexed)])
    assert result.exit_code == 0
    assert "up to date" in result.output and "0 sentences embedded" in result.output


def test_bot_without_arguments_prints_readable_help():
    run = subprocess.run([sys.executable, "-m", "bot"], capture_output=True, text=True,
                         timeout=60)
    output = run.stdout + run.stderr
    assert "Usage:" in output and "\n  ask " in output and "\n  index " in output


def test_line_and_column_for_cr_only_and_crlf_files(tmp_path: Path):
    corpus = write_corpus(tmp_path / "cr", {
        "mac.txt": b"Old Mac file\r\rFirst line here.\rThe Sony sensor is big.\r",
        "dos.txt": b"DOS file\r\n\r\nLeica makes lenses.\r\nHuawei makes phones.\r\n"})
    CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                             "--backend", "hashing", "--model", "hashing"])
    for question, line in [("The Sony sensor is big", 4), ("Huawei makes phones", 4)]:
        run = ask(question, "--index-dir", str(tmp_path / "idx"), "--json", "-k", "1")
        top = json.loads(run.stdout)["answers"][0]
        text = Path(top["source"]).read_bytes().decode("utf-8")
        assert text[top["start"]:top["end"]] == top["text"]
        assert (top["line"], top["column"]) == (line, 1), top


def test_wire_story_in_two_articles_is_one_answer_listing_both(tmp_path: Path):
    sentence = "The central bank raised rates by half a point on Tuesday."
    corpus = write_corpus(tmp_path / "wire", {
        "paper-a.txt": f"Paper A\n\n{sentence} Markets fell.\n",
        "paper-b.txt": f"Paper B\n\nLocal news first. {sentence}\n",
        "other.txt": "Other\n\nThe football club won the cup.\n"})
    CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                             "--backend", "hashing", "--model", "hashing"])
    run = ask("Who raised rates by half a point?", "--index-dir", str(tmp_path / "idx"), "-k", "2")
    assert run.stdout.count(sentence) == 1
    assert "also in:" in run.stdout and ("paper-a.txt" in run.stdout) and \
        ("paper-b.txt" in run.stdout)
    top = json.loads(ask("Who raised rates by half a point?", "--index-dir",
                         str(tmp_path / "idx"), "--json").stdout)["answers"][0]
    assert sorted(Path(s["source"]).name for s in top["sources"]) == ["paper-a.txt",
                                                                       "paper-b.txt"]


def test_parallel_workers_answer_a_stream_exactly_as_one_process(indexed: Path):
    import os

    lines = ["Who makes the IMX800 sensor?", "\xff", "When did Huawei stop working with Leica?",
             "Where is Leica?", "What ships in July?"] * 6
    stream = "\n".join(lines).encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff")

    def run(workers: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "--index-dir",
                               str(indexed)], input=stream, capture_output=True, timeout=120,
                              env={**os.environ, "BOT_WORKERS": workers})

    serial, parallel = run("1"), run("2")
    assert serial.returncode == parallel.returncode == 1  # the bad lines
    assert parallel.stdout == serial.stdout
    assert parallel.stderr == serial.stderr
    questions = [json.loads(line)["question"] for line in parallel.stdout.decode().splitlines()]
    assert questions[0::5] == ["Who makes the IMX800 sensor?"] * 6


def test_a_parallel_stream_answers_each_line_before_the_next_one_comes(indexed: Path):
    import os
    import select

    process = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json", "--index-dir",
                                str(indexed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "BOT_WORKERS": "2"})
    try:
        for question in ["Who makes the IMX800 sensor?", "Where is Leica?"]:
            process.stdin.write(question.encode() + b"\n")
            process.stdin.flush()  # and keep stdin open: the script waits for the answer
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no answer while the stream stayed open"
            assert json.loads(process.stdout.readline())["question"] == question
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
        assert process.stdout.read() == b""
    finally:
        process.kill()


def test_a_stream_starts_workers_only_as_lines_need_them(indexed: Path):
    from bot.ask_stream import _Workers
    from bot.stream_lines import StreamLine

    with _Workers(str(indexed), "", (1, True, False), limit=2) as pool:
        replies = list(pool.replies([(1, StreamLine("Who makes the IMX800 sensor?"), None)]))
        assert len(pool.processes) == 1  # one line: one worker, however many cores
    assert "IMX800" in json.loads(replies[0].stdout)["answers"][0]["text"]


def test_a_killed_worker_ends_the_stream_with_one_error(indexed: Path):
    import os
    import signal

    process = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json", "--index-dir",
                                str(indexed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "BOT_WORKERS": "2"})
    try:
        process.stdin.write(b"Where is Leica?\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["question"] == "Where is Leica?"
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert children, "a worker answered"
        for child in children:
            os.kill(int(child), signal.SIGKILL)
        process.stdin.write(b"Who makes the IMX800 sensor?\n")
        process.stdin.close()
        assert process.wait(timeout=60) == 1
        errors = process.stderr.read().decode()
        assert errors.startswith("error: a worker process stopped unexpectedly"), errors
        assert "Traceback" not in errors and len(errors.splitlines()) == 1
    finally:
        process.kill()


def test_a_worker_that_cannot_load_the_index_fails_the_stream_once(indexed: Path):
    import numpy as np

    from bot.ask_stream import FEEDER, _Workers
    from bot.stream_lines import StreamLine
    from index.errors import IndexCorrupt
    from index.store.generations import IndexDir

    generation = IndexDir(indexed).require_current()
    np.save(generation / "sentence_table.npy", np.zeros((1, 7), dtype=np.int64))
    lines = ((n, StreamLine("Where is Leica?"), None) for n in itertools.count(1))  # never ends
    with pytest.raises(IndexCorrupt, match="do not match"):
        # told the index was checked, the workers load it unchecked and fail
        with _Workers(str(indexed), generation.name, (1, True, False), limit=2) as pool:
            list(pool.replies(lines))
    assert not any(p.is_alive() for p in pool.processes)
    feeders = [t for t in threading.enumerate() if t.name == FEEDER]
    for thread in feeders:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in feeders), "the input reader stopped too"


def test_damaged_index_fails_a_parallel_stream_cleanly(indexed: Path):
    import os

    [faiss_file] = list(indexed.glob("generations/*/sentences.faiss"))
    with open(faiss_file, "ab") as handle:
        handle.write(b"x")
    run = subprocess.run([sys.executable, "-m", "bot", "ask", "--index-dir", str(indexed)],
                         input="q1\nq2\n", capture_output=True, text=True, timeout=120,
                         env={**os.environ, "BOT_WORKERS": "2"})
    assert run.returncode == 1 and run.stdout == ""
    assert "sentences.faiss is truncated or altered" in run.stderr
    assert "Traceback" not in run.stderr
