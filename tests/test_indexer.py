"""Incremental indexing, atomic generations and refusing a mismatched index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.embed.encoders import EncoderSpec, load_encoder
from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from index.indexer import update_index
from index.search.searcher import Searcher
from index.store.generations import IndexDir

from .conftest import write_corpus

ARTICLES = {
    "a.txt": "Leica and Xiaomi\ndate 2022-05-23\n\nLeica now partners with Xiaomi. "
             "The first phone ships in July.\n\nHuawei worked with Leica until 2021.\n",
    "sub/b.md": "---\ntitle: Sensors\n---\nSony makes the IMX800 sensor. It is large.\n",
    "c.jsonl": '{"title": "Weather", "text": "Rain fell in Paris on Monday."}\n',
}


class CountingEncoder:
    """The hashing encoder, counting how many texts it embedded."""

    def __init__(self) -> None:
        self.inner = load_encoder(EncoderSpec("hashing", "hashing"))
        self.spec, self.dim, self.count = self.inner.spec, self.inner.dim, 0

    def encode(self, texts, progress=None):
        self.count += len(texts)
        return self.inner.encode(texts, progress)

    def encode_query(self, text):
        return self.inner.encode_query(text)

    def token_states(self, texts, specials=True):
        return self.inner.token_states(texts, specials)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "news", ARTICLES)


def sources(index_dir: Path) -> set[str]:
    return set(IndexDir(index_dir).read_manifest().files)


def test_first_index_then_unchanged_rerun_embeds_nothing(corpus: Path, tmp_path: Path):
    encoder = CountingEncoder()
    first = update_index([corpus], tmp_path / "idx", encoder=encoder)
    assert first.committed and first.sentences == 6 and len(first.added) == 3
    embedded = encoder.count
    generation = IndexDir(tmp_path / "idx").current()

    again = update_index([corpus], tmp_path / "idx", encoder=encoder)
    assert encoder.count == embedded
    assert (again.sentences_embedded, again.committed, again.unchanged) == (0, False, 3)
    assert IndexDir(tmp_path / "idx").current() == generation


def test_changed_file_is_reembedded_and_others_are_reused(corpus: Path, tmp_path: Path):
    encoder = CountingEncoder()
    update_index([corpus], tmp_path / "idx", encoder=encoder)
    (corpus / "sub/b.md").write_text("---\ntitle: Sensors\n---\nSamsung makes the GN2.\n")
    encoder.count = 0
    report = update_index([corpus], tmp_path / "idx", encoder=encoder)
    assert report.changed == [str(corpus / "sub/b.md")]
    assert report.sentences_embedded == 1 and report.unchanged == 2
    hits = Searcher.open(tmp_path / "idx", encoder=encoder).search("Samsung GN2", 1)
    assert hits[0].sentence.text == "Samsung makes the GN2."
    assert not any("IMX800" in h.sentence.text for h in
                   Searcher.open(tmp_path / "idx", encoder=encoder).search("IMX800 sensor", 6))


def test_reused_vectors_equal_those_of_a_full_rebuild(corpus: Path, tmp_path: Path):
    encoder = CountingEncoder()
    update_index([corpus], tmp_path / "idx", encoder=encoder)
    (corpus / "c.jsonl").write_text('{"text": "Snow in Oslo."}\n')
    update_index([corpus], tmp_path / "idx", encoder=encoder)
    update_index([corpus], tmp_path / "full", encoder=encoder, rebuild=True)
    incremental = Searcher.open(tmp_path / "idx", encoder=encoder)
    full = Searcher.open(tmp_path / "full", encoder=encoder)
    def by_text(searcher: Searcher) -> dict[str, np.ndarray]:
        texts = searcher.docs.all_sentence_texts()
        return dict(zip(texts, np.asarray(searcher.sentence_vectors)))

    reused, fresh = by_text(incremental), by_text(full)
    assert reused.keys() == fresh.keys()
    assert all(np.allclose(reused[t], fresh[t]) for t in fresh)


def test_deleted_file_leaves_the_index(corpus: Path, tmp_path: Path):
    encoder = CountingEncoder()
    update_index([corpus], tmp_path / "idx", encoder=encoder)
    (corpus / "c.jsonl").unlink()
    report = update_index([corpus], tmp_path / "idx", encoder=encoder)
    assert report.removed == [str(corpus / "c.jsonl")]
    assert str(corpus / "c.jsonl") not in sources(tmp_path / "idx")
    hits = Searcher.open(tmp_path / "idx", encoder=encoder).search("rain in Paris", 10)
    assert all("Paris" not in h.sentence.text for h in hits)


def test_crash_before_commit_leaves_previous_index_usable(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    encoder = CountingEncoder()
    update_index([corpus], tmp_path / "idx", encoder=encoder)
    (corpus / "a.txt").write_text("Completely new text about tennis.\n")

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.indexer.Bm25.save", crash)
    with pytest.raises(OSError):
        update_index([corpus], tmp_path / "idx", encoder=encoder)
    monkeypatch.undo()
    hits = Searcher.open(tmp_path / "idx", encoder=encoder).search("Leica partners Xiaomi", 1)
    assert hits[0].sentence.text == "Leica now partners with Xiaomi."
    report = update_index([corpus], tmp_path / "idx", encoder=encoder)
    assert report.committed and report.changed == [str(corpus / "a.txt")]
    assert not list((tmp_path / "idx" / "generations").glob(".staging-*"))


def test_index_built_with_another_model_is_refused_unless_rebuilt(corpus: Path, tmp_path: Path):
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    other = EncoderSpec("hashing:64", "hashing")
    with pytest.raises(IndexMismatch, match="built with model 'hashing'.*--rebuild"):
        update_index([corpus], tmp_path / "idx", spec=other)
    with pytest.raises(IndexMismatch):
        Searcher.open(tmp_path / "idx", encoder=load_encoder(other))
    report = update_index([corpus], tmp_path / "idx", spec=other, rebuild=True)
    assert report.committed and report.sentences_embedded == 6
    assert IndexDir(tmp_path / "idx").read_manifest().encoder["dim"] == 64


def test_other_format_version_and_altered_files_are_refused(corpus: Path, tmp_path: Path):
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    generation = IndexDir(tmp_path / "idx").current()
    manifest_path = generation / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    with open(generation / "sentences.faiss", "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(IndexCorrupt, match="sentences.faiss"):
        Searcher.open(tmp_path / "idx")
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="format version 999"):
        Searcher.open(tmp_path / "idx")


def test_missing_index_is_a_clear_error(tmp_path: Path):
    with pytest.raises(IndexNotFound, match="bot index"):
        Searcher.open(tmp_path / "nothing-here")


def test_unreadable_file_is_skipped_and_the_rest_indexed(corpus: Path, tmp_path: Path, capsys):
    (corpus / "bad.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    report = update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    assert report.sentences == 6
    assert any("bad.txt" in s for s in report.skipped)
    assert "bad.txt" in capsys.readouterr().err


def test_file_that_becomes_unreadable_keeps_its_indexed_version(corpus: Path, tmp_path: Path):
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    (corpus / "a.txt").write_bytes(b"\xff\xfeLeica")
    report = update_index([corpus], tmp_path / "idx")
    assert str(corpus / "a.txt") in sources(tmp_path / "idx")
    assert any("keeping the version indexed earlier" in s for s in report.skipped)


def test_index_mirrors_the_given_paths(corpus: Path, tmp_path: Path):
    other = write_corpus(tmp_path / "other", {"x.txt": "Tennis is played on grass.\n"})
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    (corpus / "a.txt").write_text("Edited while another folder was indexed.\n")
    report = update_index([other], tmp_path / "idx")
    assert sorted(report.removed) == sorted(str(corpus / n) for n in ARTICLES)
    assert sources(tmp_path / "idx") == {str(other / "x.txt")}


def test_rebuild_keeps_the_index_model(corpus: Path, tmp_path: Path):
    update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing:64", "hashing"))
    update_index([corpus], tmp_path / "idx", rebuild=True)
    assert IndexDir(tmp_path / "idx").read_manifest().encoder["model"] == "hashing:64"


@pytest.mark.parametrize("content", ["\ufeff", "---\ntitle: Only front matter\n---\n"])
def test_file_without_article_text_is_skipped_with_a_reason(corpus: Path, tmp_path: Path,
                                                          content: str):
    (corpus / "hollow.md").write_text(content, encoding="utf-8")
    report = update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    assert str(corpus / "hollow.md") not in sources(tmp_path / "idx")
    assert any("hollow.md" in s and ("no article text" in s or "empty" in s)
               for s in report.skipped)


def test_fifo_named_like_an_article_is_skipped_not_read(corpus: Path, tmp_path: Path):
    import os

    os.mkfifo(corpus / "pipe.txt")
    report = update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    assert report.sentences == 6
    assert any("pipe.txt: not a regular file" in s for s in report.skipped)


def test_corpus_of_stop_words_only_still_indexes(tmp_path: Path):
    corpus = write_corpus(tmp_path / "tiny", {"a.txt": "It is in.\n"})
    report = update_index([corpus], tmp_path / "idx", spec=EncoderSpec("hashing", "hashing"))
    assert report.sentences == 1
    assert Searcher.open(tmp_path / "idx").search("is it in", 1)[0].sentence.text == "It is in."
