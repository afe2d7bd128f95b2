"""The ``bot ask`` stream's JSON-object lines: conversations, per-line ``k``, bad objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.stream_lines import KEYS, LineProblem, StreamLine, parse_line

from .conftest import write_corpus
from .test_conversation import FACTORY, PARTNERS

ACME_FIRST = "Who did Acme sign a partnership with in 2015?"
FACTORY_FIRST = "Which factory closed its doors after sales fell?"
FOLLOW_UP = "When did it end?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from index.embed.encoders import EncoderSpec
    from index.indexer import update_index

    root = tmp_path_factory.mktemp("conversations")
    corpus = write_corpus(root / "corpus", {"acme.txt": PARTNERS, "umbrella.txt": FACTORY})
    update_index([corpus], root / "index", spec=EncoderSpec(model="hashing", backend="hashing"))
    return root / "index"


def ask(index: Path, lines: list[str], *args: str, workers: str = "1"):
    stream = "".join(line + "\n" for line in lines).encode("utf-8")
    return subprocess.run([sys.executable, "-m", "bot", "ask", "--index-dir", str(index), *args],
                          input=stream, capture_output=True, timeout=120,
                          env={**os.environ, "BOT_WORKERS": workers})


def turn(question: str, conversation: str | None = None, **extra) -> str:
    data = {"question": question} | ({"conversation": conversation} if conversation else {})
    return json.dumps(data | extra)


def objects(run: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in run.stdout.decode().splitlines()]


def test_turns_are_read_in_their_own_conversation_whatever_the_interleaving(indexed: Path):
    lines = [turn(ACME_FIRST, "acme"), turn(FACTORY_FIRST, "factory"), FOLLOW_UP,
             turn(FOLLOW_UP, "factory"), turn(FOLLOW_UP, "acme"), turn(FOLLOW_UP)]
    run = ask(indexed, lines, "--json")
    assert run.returncode == 0, run.stderr
    out = objects(run)
    assert [o.get("conversation") for o in out] == ["acme", "factory", None, "factory", "acme",
                                                    None]
    assert all(o["question"] == json.loads(line)["question"] if line.startswith("{") else line
               for o, line in zip(out, lines))
    top = [Path(o["answers"][0]["source"]).name for o in out]
    assert top == ["acme.txt", "umbrella.txt", "umbrella.txt", "umbrella.txt", "acme.txt",
                   "umbrella.txt"]
    assert out[4]["answers"][0]["text"].startswith("The agreement between Acme and Globex")
    assert "Acme" in out[4]["read_with"]  # how the follow-up was read, for a script to show
    assert out[0]["read_with"] == []  # a conversation's first turn: read alone
    assert "read_with" not in out[2] and "conversation" not in out[2]  # plain line: as before


def test_parallel_workers_keep_each_conversation_and_the_input_order(indexed: Path):
    lines = []
    for rounds in range(3):  # 8 interleaved conversations over 2 workers, 4 turns each
        for c in range(8):
            first = ACME_FIRST if c % 2 == 0 else FACTORY_FIRST
            lines.append(turn(first if rounds == 0 else FOLLOW_UP, f"c{c}"))
    lines += [FOLLOW_UP, turn(FOLLOW_UP, "c0", k=1)]
    serial, parallel = ask(indexed, lines, "--json"), ask(indexed, lines, "--json", workers="2")
    assert serial.returncode == parallel.returncode == 0, parallel.stderr
    assert parallel.stdout == serial.stdout
    out = objects(parallel)
    assert [o.get("conversation") for o in out[:8]] == [f"c{c}" for c in range(8)]
    for o in out[8:24]:  # every follow-up stays with its own conversation's first topic
        wanted = "acme.txt" if int(o["conversation"][1:]) % 2 == 0 else "umbrella.txt"
        assert Path(o["answers"][0]["source"]).name == wanted
    assert len(out[-1]["answers"]) == 1  # the line's own "k"


@pytest.mark.parametrize("line, problem", [
    ('{"question": 5}', "'question' must be a string"),
    ('{"conversation": "a"}', "missing 'question'"),
    ('{"question": "  ", "conversation": "a"}', "empty question"),
    ('{"question": "x", "k": 0}', "'k' must be a whole number from 1 to 100"),
    ('{"question": "x", "k": true}', "'k' must be a whole number"),
    ('{"question": "x", "conversation": 7}', "'conversation' must be a string"),
    ('{"question": "x", "conversation": ""}', "'conversation' must not be empty"),
    ('{"question": "x", "conversaton": "a"}', "unknown key 'conversaton'"),
    ('{"question": "x"', "not a JSON object"),
    ('{"question": "x"} trailing', "not a JSON object"),
])
def test_bad_objects_are_named_in_one_line(line: str, problem: str):
    with pytest.raises(LineProblem) as raised:
        parse_line(line)
    assert str(raised.value).startswith(problem)
    assert "\n" not in str(raised.value)


def test_lines_parse_into_what_they_ask():
    assert parse_line("When did it end?") == StreamLine("When did it end?")
    assert parse_line('  {"question": "When?", "conversation": "a", "k": 2}') == \
        StreamLine("When?", "a", 2, is_object=True)
    assert parse_line('{"question": "When?"}') == StreamLine("When?", is_object=True)
    assert set(KEYS) == {"question", "conversation", "k", "filters"}


def test_bad_objects_get_error_objects_and_the_rest_is_answered(indexed: Path):
    lines = [turn(ACME_FIRST, "acme"), '{"question": 5, "conversation": "acme"}',
             "[1, 2]", '{"question": "x", "conversaton": "acme"}', turn(FOLLOW_UP, "acme")]
    run = ask(indexed, lines, "--json", workers="2")
    assert run.returncode == 1
    out = objects(run)
    assert len(out) == 5
    assert [("error" in o) for o in out] == [False, True, False, True, False]
    assert out[1]["error"].startswith("'question' must be a string")
    assert out[1]["conversation"] == "acme" and out[1]["answers"] == []
    assert out[1]["answered"] is False and out[1]["confidence"] == 0.0
    assert out[2]["question"] == "[1, 2]"  # not an object: a plain question, as before
    assert out[4]["answers"][0]["text"].startswith("The agreement between Acme")
    errors = run.stderr.decode().splitlines()
    assert errors == ["error: line 2: 'question' must be a string, not a number",
                      "error: line 4: unknown key 'conversaton' (allowed: question, "
                      "conversation, k, filters)"]


def test_object_lines_print_human_output_without_json(indexed: Path):
    run = ask(indexed, [turn(ACME_FIRST, "acme"), turn(FOLLOW_UP, "acme"), "{oops"])
    assert run.returncode == 1
    text = run.stdout.decode()
    assert text.count("Q: ") == 2 and "{" not in text
    assert f"Q: {FOLLOW_UP}\n  (read with the earlier turns: Acme" in text
    assert "The agreement between Acme and Globex ended in 2019" in text
    assert run.stderr.decode().startswith("error: line 3: not a JSON object")


def test_a_sharded_index_answers_conversations_too(tmp_path: Path):
    from click.testing import CliRunner

    from bot.cli import cli

    corpus = write_corpus(tmp_path / "corpus", {"acme.txt": PARTNERS, "umbrella.txt": FACTORY})
    built = CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                                     "--shards", "2", "--backend", "hashing", "--model",
                                     "hashing"])
    assert built.exit_code == 0, built.output
    run = ask(tmp_path / "idx", [turn(ACME_FIRST, "acme"), turn(FOLLOW_UP, "acme")], "--json")
    assert run.returncode == 0, run.stderr
    out = objects(run)
    assert "Acme" in out[1]["read_with"]
    assert out[1]["answers"][0]["source"].endswith("acme.txt")


def test_a_new_subject_in_a_conversation_is_answered_as_alone(indexed: Path):
    """A turn that changes the subject shows no earlier terms and the standalone answer."""
    new = "Where is the Umbrella factory?"
    run = ask(indexed, [turn(ACME_FIRST, "a"), turn(FOLLOW_UP, "a"), turn(new, "a"), new],
              "--json")
    assert run.returncode == 0, run.stderr
    first, follow_up, switched, alone = objects(run)
    assert "Acme" in follow_up["read_with"]
    assert switched["read_with"] == []
    assert {k: v for k, v in switched.items() if k not in ("conversation", "read_with")} == alone
