"""Property-based tests (Hypothesis) of the splitter and of index round-trips."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest import splitter
from index.embed.encoders import EncoderSpec
from index.indexer import split_article, update_index
from index.ingest.readers import read_articles
from index.ingest.splitter import paragraphs, sentences
from index.store.generations import IndexDir

# pieces news text is made of, plus the white space and marks that have broken splitters
PIECES = ["The", " ", "  ", "market", "rose", ".", "!", "?", "...", ",", ";", ":", "\n", "\n\n",
          "\r\n", "\r\n\r\n", "\t", "\"", "'", "\u201c", "\u201d", "(", ")", "Dr.", "Mr.",
          "U.S.", "e.g.", "3.5", "p.m.", "M", "a", "\u00a0", "\u2009", "\u3000", "\u2028",
          "\u2029", "\x85", "\ufeff", "\u200b", "\x1b[31m", "\x00", "\u00e9", "\u0301",
          "\U0001F600", "\u05e9\u05dc\u05d5\u05dd", "\u4e2d\u6587\u3002", "\ud7ff"]
NEWSY = st.lists(st.sampled_from(PIECES), max_size=120).map("".join)
# a small alphabet finds sentencex's panic on "U.S\u00a0." (non-ASCII space after a letter)
SPACES = st.text(alphabet="Mab .?\"\n\u00a0\u2009\u2028\u3000\x85", max_size=40)
TEXTS = st.one_of(NEWSY, SPACES, st.text(max_size=300))


def check_spans(text: str, spans, start: int, end: int) -> None:
    """Non-empty, trimmed, in order, inside ``[start, end)``, covering all non-space text."""
    cursor = start
    for span in spans:
        piece = text[span.start:span.end]
        assert start <= span.start < span.end <= end
        assert piece and piece == piece.strip()
        assert span.start >= cursor
        assert not text[cursor:span.start].strip(), "non-space text left out"
        cursor = span.end
    assert not text[cursor:end].strip(), "non-space text left out at the end"


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_sentences_are_exact_ordered_and_cover_every_paragraph(text: str):
    paras = paragraphs(text)
    check_spans(text, paras, 0, len(text))
    for para in paras:
        check_spans(text, sentences(text, para.start, para.end), para.start, para.end)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=40))
def test_chunked_splitting_and_sentence_cuts_keep_every_property(text: str, chunk: int,
                                                                 longest: int):
    """Tiny chunk and sentence limits exercise the paths 50 MB articles take."""
    saved = splitter._CHUNK_CHARS, splitter.MAX_SENTENCE_CHARS
    splitter._CHUNK_CHARS, splitter.MAX_SENTENCE_CHARS = chunk, longest
    try:
        spans = sentences(text)
    finally:
        splitter._CHUNK_CHARS, splitter.MAX_SENTENCE_CHARS = saved
    check_spans(text, spans, 0, len(text))
    assert all(s.end - s.start <= longest for s in spans)


@settings(max_examples=200, deadline=None)
@given(NEWSY, st.sampled_from(["a.txt", "a.md"]), st.booleans())
def test_article_offsets_point_into_the_decoded_file(body: str, name: str, bom: bool):
    data = (("\ufeff" if bom else "") + body).encode("utf-8")
    try:
        articles = read_articles(Path(name), data)
    except Exception as exc:  # noqa: BLE001 - only the engine's own refusal is acceptable
        assert type(exc).__name__ == "UnreadableFile", exc
        return
    text = data.decode("utf-8")
    for split in map(split_article, articles):
        assert split.article.text == text
        for passage, start, end in split.sentences:
            p_start, p_end = split.passages[passage]
            assert split.article.body_start <= p_start <= start < end <= p_end
            assert text[start:end].strip() == text[start:end] != ""


WORDS = st.sampled_from(["Ships", "sail", "north", "Prices", "fell", "sharply", "in", "May",
                         "Dr.", "U.S.", "3.5%", "\u00e9t\u00e9", "\u00a0", "\u4e2d\u6587"])
SENTENCE = st.lists(WORDS, min_size=1, max_size=8).map(" ".join).map(lambda s: s + ".")
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)
ARTICLE = st.tuples(st.lists(PARAGRAPH, min_size=1, max_size=3),
                    st.sampled_from(["\n", "\r\n"]), st.booleans(),
                    st.sampled_from(["txt", "md", "jsonl"]))
CORPUS = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), ARTICLE, min_size=1,
                         max_size=4)


def render(article) -> tuple[str, bytes]:
    paras, newline, bom, fmt = article
    if fmt == "jsonl":
        return "jsonl", "".join(json.dumps({"text": p}) + "\n" for p in paras).encode()
    body = (newline * 2).join(paras) + newline
    if fmt == "md":
        body = f"---{newline}title: Random{newline}---{newline}{body}"
    return fmt, (("\ufeff" if bom else "") + body).encode("utf-8")


def stored_sentences(index_dir: Path) -> list[tuple[str, str, str, int, int, str]]:
    generation = IndexDir(index_dir).require_current()
    db = sqlite3.connect(generation / "docs.sqlite")
    try:
        return db.execute("SELECT a.file, a.offsets, a.text, s.start, s.end, s.text FROM "
                          "sentences s JOIN articles a ON a.id = s.article").fetchall()
    finally:
        db.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CORPUS, st.data())
def test_index_round_trip_offsets_and_unchanged_reindex_embeds_nothing(corpus, data):
    spec = EncoderSpec("hashing", "hashing")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "news"
        folder.mkdir()
        for stem, article in corpus.items():
            fmt, payload = render(article)
            (folder / f"{stem}.{fmt}").write_bytes(payload)
        first = update_index([folder], Path(tmp) / "idx", spec=spec)
        rows = stored_sentences(Path(tmp) / "idx")
        assert len(rows) == first.sentences == first.sentences_embedded > 0
        for source, offsets, article_text, start, end, sentence in rows:
            if offsets == "file":
                with open(source, encoding="utf-8", newline="") as handle:
                    article_text = handle.read()
            assert article_text[start:end] == sentence

        again = update_index([folder], Path(tmp) / "idx", spec=spec)
        assert (again.committed, again.sentences_embedded) == (False, 0)

        stem = data.draw(st.sampled_from(sorted(corpus)))
        changed = next(folder.glob(f"{stem}.*"))
        changed.write_bytes(changed.read_bytes().replace(b".", b". Extra words here.", 1))
        third = update_index([folder], Path(tmp) / "idx", spec=spec)
        assert third.changed == [str(changed)] and third.unchanged == len(corpus) - 1
        per_file = {}
        for source, *_ in stored_sentences(Path(tmp) / "idx"):
            per_file[source] = per_file.get(source, 0) + 1
        assert third.sentences_embedded == per_file[str(changed)]
