"""Faults: a real ``bot index`` killed with SIGKILL at any point, two writers at once, readers
during a write, damaged index files and a full disk. The previous index always answers and the
next ``bot index`` always completes."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.store.generations import IndexDir

from .conftest import write_corpus

ROOT = Path(__file__).resolve().parent.parent
HASHING = ["--backend", "hashing", "--model", "hashing"]
OLD = {"keeper.txt": "The lighthouse keeper retired in 1990. He painted the tower red.\n"}
NEW = {"keeper.txt": "The lighthouse keeper retired in 2004. He painted the tower blue.\n",
       "volcano.txt": "The volcano erupted on Tuesday morning. Ash fell on the village.\n"}

# Runs the real CLI after arranging for the process to SIGKILL itself at one point of a write.
KILLER = r"""
import os, signal, sys
point, argv = sys.argv[1], sys.argv[2:]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

import index.store.generations as store
import index.indexer as indexer
from index.embed.hashing_encoder import HashingEncoder

if point == "staging-created":
    real_staging = store.IndexDir.staging
    def staging(self):
        path = real_staging(self)
        (path / "half-written.bin").write_bytes(b"\0" * 4096)
        die()
    store.IndexDir.staging = staging
elif point == "mid-embedding":
    real_encode = HashingEncoder.encode
    def encode(self, texts, progress=None):
        real_encode(self, texts[: len(texts) // 2])
        die()
    HashingEncoder.encode = encode
elif point == "docs-written":
    indexer.np.save = die
elif point == "faiss-save":
    indexer.ann.save = die
elif point == "manifest-written":
    real_rename = store.Path.rename
    def rename(self, target):
        if self.name.startswith(".staging-"):
            die()
        return real_rename(self, target)
    store.Path.rename = rename
elif point == "before-current-swap":
    real_replace = os.replace
    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("CURRENT"):
            die()
        return real_replace(src, dst, *args, **kwargs)
    os.replace = replace
elif point == "after-current-swap":
    store.IndexDir._drop_old = die
elif point == "hold-mid-embedding":  # embeds half, says so, and holds there: the test kills
    real_encode = HashingEncoder.encode
    def encode(self, texts, progress=None):
        if len(texts) > 1000:
            real_encode(self, texts[:len(texts) // 2])
            open(os.environ["BOT_TEST_READY"], "w").close()
            while True:
                __import__("time").sleep(0.05)
        return real_encode(self, texts, progress)
    HashingEncoder.encode = encode
elif point == "pause-in-lock":  # wait inside the writer lock until told to go on
    real_write = indexer._write_generation
    def write(*args, **kwargs):
        open(os.environ["BOT_TEST_READY"], "w").close()
        while not os.path.exists(os.environ["BOT_TEST_GO"]):
            __import__("time").sleep(0.02)
        return real_write(*args, **kwargs)
    indexer._write_generation = write

from bot.cli import cli
cli.main(argv, prog_name="bot")
"""


def bot_index(corpus: Path, index_dir: Path, *extra: str, point: str | None = None,
              env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """A real ``bot index`` process (optionally set to kill itself at ``point``)."""
    args = ["index", str(corpus), "--index-dir", str(index_dir), *HASHING, *extra]
    command = [sys.executable, "-c", KILLER, point, *args] if point else \
        [sys.executable, "-m", "bot", *args]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err.decode()


def wait_for(condition, what: str, timeout: float = 120, every: float = 0.01) -> None:
    """Poll ``condition`` every ``every`` s until it holds (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def read_stderr_until(process: subprocess.Popen, fragment: str, timeout: float = 120) -> str:
    """``process``'s stderr read until it holds ``fragment`` (what was read, for later)."""
    seen, fd = b"", process.stderr.fileno()
    deadline = time.monotonic() + timeout
    while fragment.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {fragment!r}; stderr so far: {seen!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            assert chunk, f"stderr closed before {fragment!r}: {seen!r}"
            seen += chunk
    return seen.decode()


def ask(index_dir: Path, question: str, k: int = 5) -> list[str]:
    """The evidence sentences ``bot ask --json`` returns (fails on any error)."""
    result = CliRunner().invoke(cli, ["ask", "--json", "-k", str(k), "--index-dir",
                                      str(index_dir), question])
    assert result.exit_code == 0, result.stderr
    return [a["text"] for a in json.loads(result.stdout)["answers"]]


def known_sentences(index_dir: Path) -> set[str]:
    return set(ask(index_dir, "lighthouse keeper retired painted tower volcano erupted ash", 20))


def assert_clean_and_complete(index_dir: Path, corpus: Path, expected: set[str]) -> None:
    """The next ``bot index`` finishes, leaves no staging folder and knows ``expected``."""
    code, err = finish(bot_index(corpus, index_dir))
    assert code == 0, err
    assert known_sentences(index_dir) == expected
    generations = IndexDir(index_dir).generations
    assert not list(generations.glob(".staging-*"))
    assert len(list(generations.iterdir())) <= 2  # the live one and the one before it
    assert not list(index_dir.glob(".CURRENT.*"))


@pytest.fixture
def old_index(tmp_path: Path) -> tuple[Path, Path]:
    corpus = write_corpus(tmp_path / "news", OLD)
    code, err = finish(bot_index(corpus, tmp_path / "idx"))
    assert code == 0, err
    write_corpus(corpus, NEW)  # the next run has a changed and a new file
    return corpus, tmp_path / "idx"


OLD_SENTENCES = {"The lighthouse keeper retired in 1990.", "He painted the tower red."}
NEW_SENTENCES = {"The lighthouse keeper retired in 2004.", "He painted the tower blue.",
                 "The volcano erupted on Tuesday morning.", "Ash fell on the village."}


@pytest.mark.parametrize("point", ["staging-created", "mid-embedding", "docs-written",
                                   "faiss-save", "manifest-written", "before-current-swap"])
def test_kill_9_before_the_swap_leaves_the_previous_index_answering(old_index, point: str):
    corpus, index_dir = old_index
    code, err = finish(bot_index(corpus, index_dir, point=point))
    assert code == -signal.SIGKILL, err
    assert known_sentences(index_dir) == OLD_SENTENCES
    assert_clean_and_complete(index_dir, corpus, NEW_SENTENCES)


def test_kill_9_after_the_swap_leaves_the_new_index_answering(old_index):
    corpus, index_dir = old_index
    code, err = finish(bot_index(corpus, index_dir, point="after-current-swap"))
    assert code == -signal.SIGKILL, err
    assert known_sentences(index_dir) == NEW_SENTENCES
    assert_clean_and_complete(index_dir, corpus, NEW_SENTENCES)


def _bulk(corpus: Path, files: int = 60, sentences: int = 60) -> None:
    for i in range(files):
        text = " ".join(f"Report {i} line {j} mentions item{i}x{j} and price {j}."
                        for j in range(sentences))
        (corpus / "bulk").mkdir(exist_ok=True)
        (corpus / "bulk" / f"r{i}.txt").write_text(text + "\n")


def test_external_kill_9_while_embedding_a_big_corpus(old_index, tmp_path: Path):
    """Killed from outside halfway through embedding ~15,000 texts (the process holds there
    until killed, so the kill lands mid-embedding however busy the machine is)."""
    corpus, index_dir = old_index
    _bulk(corpus, files=150, sentences=100)
    ready = tmp_path / "embedding"
    process = bot_index(corpus, index_dir, point="hold-mid-embedding",
                        env={"BOT_TEST_READY": str(ready)})
    wait_for(lambda: ready.exists() or process.poll() is not None, "embedding to start")
    assert process.poll() is None, "indexing ended before embedding could be interrupted"
    process.send_signal(signal.SIGKILL)
    assert finish(process)[0] == -signal.SIGKILL
    assert known_sentences(index_dir) == OLD_SENTENCES
    code, err = finish(bot_index(corpus, index_dir), timeout=300)
    assert code == 0, err
    assert "The volcano erupted on Tuesday morning." in known_sentences(index_dir)
    assert not list(IndexDir(index_dir).generations.glob(".staging-*"))


def test_external_kill_9_as_soon_as_the_staging_folder_appears(old_index):
    corpus, index_dir = old_index
    _bulk(corpus, files=20)
    generations = IndexDir(index_dir).generations
    process = bot_index(corpus, index_dir)
    wait_for(lambda: list(generations.glob(".staging-*")) or process.poll() is not None,
             "the staging folder", every=0.002)
    assert process.poll() is None, "indexing ended before the staging folder was seen"
    process.kill()
    process.wait(timeout=30)
    assert known_sentences(index_dir) == OLD_SENTENCES
    code, err = finish(bot_index(corpus, index_dir), timeout=300)
    assert code == 0 and not list(generations.glob(".staging-*")), err


def test_two_writers_never_interleave_and_readers_see_the_last_complete_index(tmp_path: Path):
    base = write_corpus(tmp_path / "base", OLD)
    code, err = finish(bot_index(base, tmp_path / "idx"))
    assert code == 0, err
    write_corpus(base, {"f.txt": "The ferry sails at dawn.\n"})
    ready, go = tmp_path / "ready", tmp_path / "go"
    writer_a = bot_index(base, tmp_path / "idx", point="pause-in-lock",
                         env={"BOT_TEST_READY": str(ready), "BOT_TEST_GO": str(go)})
    wait_for(lambda: ready.exists() or writer_a.poll() is not None, "the first writer's lock")
    assert ready.exists(), "the first writer never reached its lock"
    write_corpus(base, {"s.txt": "The snow closed the pass.\n"})  # seen by the second only
    writer_b = bot_index(base, tmp_path / "idx")
    said = read_stderr_until(writer_b, "waiting for it to finish")
    assert writer_b.poll() is None  # blocked on the lock the first writer holds
    # a reader during the write answers from the last complete index
    assert known_sentences(tmp_path / "idx") == OLD_SENTENCES
    go.touch()
    code_a, err_a = finish(writer_a)
    code_b, err_b = finish(writer_b)
    err_b = said + err_b
    assert (code_a, code_b) == (0, 0), (err_a, err_b)
    assert "another 'bot index' is writing" in err_b and "waiting" in err_b
    everything = set(ask(tmp_path / "idx", "ferry snow lighthouse keeper painted", 20))
    assert {"The ferry sails at dawn.", "The snow closed the pass."} <= everything
    assert OLD_SENTENCES <= everything
    assert "(1 added, 0 changed" in err_b  # the second writer built on the first one's result


def test_reader_opened_before_a_write_keeps_answering_after_it(tmp_path: Path):
    from bot.answering import Answerer

    corpus = write_corpus(tmp_path / "news", OLD)
    code, _ = finish(bot_index(corpus, tmp_path / "idx"))
    answerer = Answerer.open(tmp_path / "idx")
    for version in range(3):  # three commits: the reader's generation is removed
        (corpus / "keeper.txt").write_text(f"The keeper left in version {version}.\n")
        assert finish(bot_index(corpus, tmp_path / "idx"))[0] == 0
    texts = [e.text for e in answerer.ask("lighthouse keeper retired", k=2).evidence]
    assert texts[0] == "The lighthouse keeper retired in 1990."


def _damage_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _damage_manifest_value(path: Path) -> None:
    data = json.loads(path.read_text())
    data["counts"]["sentences"] += 1  # still valid JSON with every expected key
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("name, damage, message", [
    ("sentences.faiss", _damage_truncate, "sentences.faiss is truncated or altered"),
    ("sentences.faiss", _damage_flip, "sentences.faiss was altered (checksum mismatch)"),
    ("sentence_vectors.npy", _damage_flip, "sentence_vectors.npy was altered"),
    ("passage_vectors.npy", _damage_truncate, "passage_vectors.npy is truncated"),
    ("docs.sqlite", _damage_flip, "docs.sqlite was altered"),
    ("manifest.json", _damage_truncate, "manifest.json is unreadable"),
    ("manifest.json", _damage_manifest_value, "manifest.json was altered"),
    ("manifest.json", lambda p: p.unlink(), "manifest.json is missing"),
    ("sentences.faiss", lambda p: p.unlink(), "sentences.faiss is missing"),
])
def test_damaged_index_is_detected_on_load_and_rebuild_recovers(old_index, name: str, damage,
                                                                message: str):
    corpus, index_dir = old_index
    damage(IndexDir(index_dir).require_current() / name)
    result = CliRunner().invoke(cli, ["ask", "keeper", "--index-dir", str(index_dir)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "rebuild" in result.stderr and len(result.stderr.splitlines()) == 1
    code, err = finish(bot_index(corpus, index_dir))  # without --rebuild: refused, clearly
    assert code == 1 and "--rebuild" in err.splitlines()[-1] and "Traceback" not in err
    code, err = finish(bot_index(corpus, index_dir, "--rebuild"))
    assert code == 0, err
    assert known_sentences(index_dir) == NEW_SENTENCES


def test_bm25_file_damage_is_detected(old_index):
    corpus, index_dir = old_index
    bm25 = sorted((IndexDir(index_dir).require_current() / "bm25").iterdir())
    _damage_truncate(bm25[0])
    result = CliRunner().invoke(cli, ["ask", "keeper", "--index-dir", str(index_dir)])
    assert result.exit_code == 1 and f"bm25/{bm25[0].name}" in result.stderr


DISK_FULL_POINTS = {
    "sqlite rows": ("index.store.docstore.DocWriter.add_sentences", None),
    "vectors": ("index.indexer.np.save", None),
    "faiss": ("index.indexer.ann.save", None),
    "bm25": ("index.indexer.Bm25.save", None),
    "manifest": ("index.store.generations._write_json", None),
    "fsync": ("index.store.generations._fsync", None),
    "CURRENT pointer": ("index.store.generations.os.replace", "CURRENT"),
}


@pytest.mark.parametrize("where", list(DISK_FULL_POINTS))
def test_disk_full_while_writing_keeps_the_previous_index(old_index, where: str,
                                                          monkeypatch: pytest.MonkeyPatch):
    corpus, index_dir = old_index
    target, only = DISK_FULL_POINTS[where]
    module_name, _, attribute = target.rpartition(".")
    owner = _resolve(module_name)
    real = getattr(owner, attribute)

    def full(*args, **kwargs):
        if only is None or any(str(a).endswith(only) for a in args):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, attribute, full)
    result = CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", str(index_dir),
                                      *HASHING])
    monkeypatch.undo()
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: cannot write the index") and "No space left" in last
    assert "previous index is unchanged" in last
    assert known_sentences(index_dir) == OLD_SENTENCES
    assert not list(IndexDir(index_dir).generations.glob(".staging-*"))
    assert len(list(IndexDir(index_dir).generations.iterdir())) == 1
    assert_clean_and_complete(index_dir, corpus, NEW_SENTENCES)


def _resolve(dotted: str):
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            obj = getattr(obj, name)
        return obj
    raise LookupError(dotted)


@pytest.mark.skipif(not hasattr(__import__("resource"), "RLIMIT_FSIZE"), reason="no RLIMIT_FSIZE")
def test_real_write_failure_from_a_file_size_limit_keeps_the_previous_index(old_index):
    """A real process whose writes fail (EFBIG from RLIMIT_FSIZE, like a full disk)."""
    import resource

    corpus, index_dir = old_index
    _bulk(corpus, files=10)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    code, err = finish(bot_index(corpus, index_dir, preexec_fn=limit))
    assert code == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("error: ") and "previous index is unchanged" in err
    assert known_sentences(index_dir) == OLD_SENTENCES
    assert not list(IndexDir(index_dir).generations.glob(".staging-*"))
