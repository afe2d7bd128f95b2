"""Shared fixtures: isolated user state, tiny corpora, the hashing encoder and the real model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ARTICLE = SEEDS / "2022-05-23-xiaomi-leica-camera-partnership.txt"
SHARED = ROOT.parent / "shared"
SQUAD = SHARED / "eval" / "squad-v1.1-dev-half-a.json"
FUZZ_LONG = False  # set from --fuzz-long before the test modules are collected


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="run the fuzz suite (tests/test_fuzz.py) with 20x the examples")


def pytest_configure(config: pytest.Config) -> None:
    global FUZZ_LONG
    FUZZ_LONG = bool(config.getoption("--fuzz-long", default=False))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session, so the ONNX export happens at most once."""
    return tmp_path_factory.mktemp("bot-cache")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, session_cache: Path) -> None:
    """No test reads or writes the user's caches or index; everything stays offline."""
    monkeypatch.setenv("BOT_CACHE_DIR", str(session_cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("BOT_PROGRESS", "0")
    for name in ("BOT_INDEX_DIR", "BOT_MODEL", "BOT_BACKEND", "BOT_ALLOW_DOWNLOADS",
                 "BOT_RERANK_GAP"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hashing_spec():
    """The deterministic no-model encoder (fast unit tests)."""
    from index.embed.encoders import EncoderSpec

    return EncoderSpec(model="hashing", backend="hashing")


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the shipped seed articles."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def write_corpus(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``folder`` with the given relative file names and contents."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def real_encoder(session_cache: Path):
    """The real packaged model (ONNX int8), loaded once per session."""
    old = os.environ.get("BOT_CACHE_DIR")
    os.environ["BOT_CACHE_DIR"] = str(session_cache)
    try:
        from index.embed.encoders import EncoderSpec, load_encoder

        return load_encoder(EncoderSpec())
    finally:
        if old is None:
            os.environ.pop("BOT_CACHE_DIR", None)
        else:
            os.environ["BOT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, real_encoder) -> Path:
    """An index of the shipped seeds built with the real model, shared by read-only tests."""
    from index.indexer import update_index

    folder = tmp_path_factory.mktemp("seed-index")
    update_index([SEEDS], folder / "index", encoder=real_encoder)
    return folder / "index"


def synthetic_news(folder: Path, files: int, sentences: int, seed: int = 0) -> Path:
    """``files`` articles (titled ``.txt`` files in a few sub-folders) of ``sentences``
    sentences each, drawn from a made-up vocabulary with Zipf-like word frequencies, so that
    BM25's statistics differ from file to file as a real corpus's do."""
    import numpy as np

    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ran", "te", "vos", "du", "pe", "shi", "nor", "al", "bri"]
    words = sorted({"".join(rng.choice(syllables, size=int(rng.integers(2, 4))))
                    for _ in range(600)})
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    for number in range(files):
        title = " ".join(rng.choice(words, size=3, p=weights)).title()
        lines = [title, f"date 20{10 + number % 12}-0{1 + number % 9}-1{number % 10}", ""] \
            if number % 2 else [title, ""]
        for s in range(sentences):
            chunk = rng.choice(words, size=int(rng.integers(5, 16)), p=weights)
            when = f"in {1990 + s % 30}" if s % 3 else "last week"
            lines.append(" ".join(chunk).capitalize() + f" {when}.")
            if s % 4 == 3:
                lines.append("")
        path = folder / f"part{number % 3}" / f"article-{number:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def synthetic_questions(folder: Path, count: int, seed: int = 1) -> list[str]:
    """Questions made of words of the articles under ``folder`` (a few from one sentence)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    texts = sorted(folder.rglob("*.txt"))
    out = []
    for _ in range(count):
        lines = [ln for ln in texts[int(rng.integers(len(texts)))].read_text().splitlines()
                 if ln.strip()][1:]
        words = lines[int(rng.integers(len(lines)))].rstrip(".").split()
        picked = rng.choice(words, size=min(4, len(words)), replace=False)
        out.append("What " + " ".join(picked).lower() + "?")
    return out


def holding(corpus: Path, shards: int) -> list[int]:
    """The shards of a sharded index that hold some file of ``corpus``."""
    from index.store.sharded import shard_of

    return sorted({shard_of(str(p), shards) for p in corpus.rglob("*.txt")})
