"""Hostile text: article and question text is data. Escape sequences and markup never style,
link or control a terminal (``bot ask`` or the chat's rendering); ``--json`` keeps the exact
text; nothing in an index directory is unpickled or executed."""

from __future__ import annotations

import json
import os
import pickle
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.embed.encoders import EncoderSpec
from index.indexer import update_index
from index.store.generations import IndexDir, manifest_digest

from .conftest import write_corpus

ROOT = Path(__file__).resolve().parent.parent
ESC = "\x1b"
# every way an article could try to drive a terminal, each inside one sentence
HOSTILE = {
    "colour": "The colour sentence \x1b[31mturns red\x1b[0m here.",
    "clear": "The clear sentence \x1b[2J\x1b[H wipes the screen.",
    "title": "The title sentence \x1b]0;owned terminal\x07 renames the window.",
    "link": "The link sentence \x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\ now.",
    "c1": "The eight bit sentence \x9b31m uses a C1 CSI and \x9d0;x\x9c an OSC.",
    "bell": "The bell sentence rings \x07\x07 and backspaces\x08\x08 over text.",
    "overwrite": "The overwrite sentence hides this\rSAFE TEXT on a lone carriage return.",
    "bidi": "The bidi sentence says \u202egnp.exe\u202c is a picture.",
    "rich": "The rich sentence has [bold red]markup[/] and [link=https://evil.example]a "
            "link[/link] and :warning: emoji.",
    "textual": "The textual sentence has [@click=app.quit]quit[/] and $variable text.",
}
# the only escape sequences allowed in human output: the CLI's own SGR colours
OWN_SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    body = "\n\n".join(HOSTILE.values())
    corpus = write_corpus(root / "news", {
        "hostile.txt": f"Hostile \x1b[5mheadline\x1b[0m\n\n{body}\n",
        "meta.md": "---\ntitle: \"Title \\e]0;pwned\\a with [red]markup[/red]\"\n---\n"
                   "The metadata sentence is plain.\n",
    })
    (corpus / "evil\x1b[31mname.txt").write_text("The file name sentence is plain too.\n")
    update_index([corpus], root / "idx", spec=EncoderSpec("hashing", "hashing"))
    return corpus, root / "idx"


def ask_json(index_dir: Path, question: str, k: int = 3) -> dict:
    result = CliRunner().invoke(cli, ["ask", "--json", "-k", str(k), "--index-dir",
                                      str(index_dir), question])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def ask_on_a_terminal(index_dir: Path, question: str) -> str:
    """``bot ask`` with its stdout on a pseudo-terminal (colour on), as a user sees it."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot", "ask", "-k", "3", "--index-dir",
                                str(index_dir), question], cwd=ROOT, stdout=follower,
                               stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
    os.close(follower)
    out = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        out.extend(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0, process.stderr.read()
    return out.decode("utf-8")


def assert_inert(output: str) -> None:
    """Only the CLI's own colours; no other escape, C1 control, BEL, BS, lone CR or bidi."""
    rest = OWN_SGR.sub("", output)
    assert ESC not in rest, repr(rest[rest.index(ESC) - 40:rest.index(ESC) + 40])
    bad = re.findall(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
                     r"|\r(?!\n)", rest)
    assert not bad, bad


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_sentence_is_inert_on_a_terminal_and_exact_in_json(hostile_index, name: str):
    _, index_dir = hostile_index
    sentence = HOSTILE[name]
    question = " ".join(sentence.split()[:3])  # "The colour sentence", ...
    answer = ask_json(index_dir, question)
    top = answer["answers"][0]
    assert top["text"] == sentence  # JSON keeps the exact bytes of the article
    with open(top["source"], encoding="utf-8", newline="") as handle:
        assert handle.read()[top["start"]:top["end"]] == sentence
    shown = ask_on_a_terminal(index_dir, question)
    assert OWN_SGR.search(shown), "expected colour on a terminal"
    assert_inert(shown)
    visible = OWN_SGR.sub("", shown)
    if name == "rich":
        assert "[bold red]markup[/]" in visible and "[link=https://evil.example]" in visible
    if name == "colour":
        assert "\\x1b[31mturns red\\x1b[0m" in visible  # shown, not obeyed
    if name == "bidi":
        assert "\\u202egnp.exe\\u202c" in visible


def test_hostile_question_title_and_file_name_are_inert(hostile_index):
    _, index_dir = hostile_index
    shown = ask_on_a_terminal(index_dir, "metadata \x1b]0;pwned\x07 sentence [blink]plain[/]")
    assert_inert(shown)
    assert "\\x1b]0;pwned\\x07" in shown and "[blink]plain[/]" in shown
    assert "Title \\x1b]0;pwned\\x07 with [red]markup[/red]" in shown
    name_shown = ask_on_a_terminal(index_dir, "file name sentence plain too")
    assert_inert(name_shown)
    assert "evil\\x1b[31mname.txt" in name_shown
    answer = ask_json(index_dir, "metadata sentence plain \x1b[31m")
    assert answer["question"] == "metadata sentence plain \x1b[31m"
    assert answer["answers"][0]["title"] == "Title \x1b]0;pwned\x07 with [red]markup[/red]"


def test_chat_rendering_never_parses_markup_or_passes_escapes(hostile_index):
    """The chat's Rich ``Text`` for evidence and citations, rendered on a colour terminal."""
    from io import StringIO

    from rich.console import Console

    from bot.answering import Answerer
    from bot.chat.rendering import citation_text, passage_text, sentence_text

    _, index_dir = hostile_index
    answerer = Answerer.open(index_dir)
    for name, sentence in HOSTILE.items():
        evidence = answerer.ask(" ".join(sentence.split()[:3]), k=1).evidence[0]
        assert evidence.text == sentence
        texts = [sentence_text(evidence), passage_text(answerer.passage(evidence)),
                 citation_text(evidence)]
        for text in texts:
            assert not any(span.style and "link" in str(span.style) for span in text.spans)
            buffer = StringIO()
            Console(file=buffer, force_terminal=True, color_system="truecolor",
                    width=400).print(text)
            rendered = buffer.getvalue()
            assert "\x1b]8;" not in rendered and "\x07" not in rendered, name
            assert_inert(rendered)
        if name == "rich":
            assert "[bold red]markup[/]" in texts[0].plain


def _plant(generation: Path, name: str, data: bytes) -> None:
    """Replace a generation file and re-sign the manifest, as a forger of the whole folder."""
    (generation / name).write_bytes(data)
    manifest_path = generation / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    manifest["checksums"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest["digest"] = manifest_digest(manifest)
    manifest_path.write_text(json.dumps(manifest))


class _Trap:
    """Unpickling this creates a marker file: proof that something loaded a pickle."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["sentence_vectors.npy", "passage_vectors.npy"])
def test_pickled_arrays_in_an_index_are_refused_not_loaded(tmp_path: Path, name: str):
    corpus = write_corpus(tmp_path / "news", {"a.txt": "Plain text about boats.\n"})
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    generation = IndexDir(tmp_path / "idx").require_current()
    marker = tmp_path / "unpickled"
    _Trap.marker = str(marker)
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap()
    path = tmp_path / "trap.npy"
    np.save(path, trap, allow_pickle=True)
    _plant(generation, name, path.read_bytes())
    result = CliRunner().invoke(cli, ["ask", "boats", "--index-dir", str(tmp_path / "idx")])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: cannot load the index") and "rebuild" in result.stderr
    assert not marker.exists()
    result = CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(tmp_path / "idx"),
                                      "--backend", "hashing", "--model", "hashing"])
    assert not marker.exists()  # re-indexing reuses vectors: still never unpickled


def test_planted_pickles_and_python_files_are_never_loaded_or_run(tmp_path: Path):
    corpus = write_corpus(tmp_path / "news", {"a.txt": "Plain text about boats.\n"})
    index_dir = tmp_path / "idx"
    update_index([corpus], index_dir, spec=EncoderSpec("hashing", "hashing"))
    generation = IndexDir(index_dir).require_current()
    marker = tmp_path / "ran"
    _Trap.marker = str(marker)
    payload = pickle.dumps(_Trap())
    code = f"open({str(marker)!r}, 'w').close()\n"
    for folder in (index_dir, generation, generation / "bm25"):
        for name in ("index.pkl", "vectors.pickle", "model.pt", "retriever.joblib"):
            (folder / name).write_bytes(payload)
        for name in ("__init__.py", "sitecustomize.py", "usercustomize.py", "bot.py"):
            (folder / name).write_text(code)
    bot_script = Path(sys.executable).with_name("bot")
    for cwd in (index_dir, generation):
        run = subprocess.run([str(bot_script), "ask", "--json", "boats", "--index-dir",
                              str(index_dir)], cwd=cwd, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["answers"][0]["text"] == "Plain text about boats."
    (corpus / "b.txt").write_text("More text about ships.\n")
    update_index([corpus], index_dir)
    assert not marker.exists()


def test_engine_source_has_no_way_to_load_a_pickle():
    """No loader that can run code from data: pickle, allow_pickle=True, unsafe YAML, eval."""
    dangerous = re.compile(r"\bimport pickle\b|\bpickle\.loads?\(|allow_pickle\s*=\s*True|"
                           r"\byaml\.(?:unsafe_)?load\(|\btorch\.load\(|\bjoblib\b|"
                           r"\b(?:eval|exec)\(|\bmarshal\b|\bshelve\b")
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for folder in ("index", "bot")
                 for path in sorted((ROOT / folder).rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), start=1)
                 if dangerous.search(line)]
    assert offenders == []
