"""The arrays a query reads instead of SQLite: sentence positions and texts, title terms, BM25
postings and answer kinds, each checked against the plain computation it replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.search.answer_types import (HELD_BITS, cue_features, cues_read_texts, has_kind, held_kinds,
                                question_kind)
from index.store.docstore import DocReader
from index.errors import IndexCorrupt
from index.indexer import passage_means, update_index
from index.store.bm25 import Bm25, _sort_postings, tokenize
from index.search.searcher import Searcher
from index.store.sentence_table import SentenceTable, TableWriter, line_columns
from index.store.generations import IndexDir
from index.search.term_match import match_terms
from index.store.title_terms import TitleTerms

from .conftest import write_corpus


def indexed(tmp_path: Path, files: dict[str, str], spec) -> Path:
    """An index of ``files`` (written under ``tmp_path``) made with ``spec``."""
    update_index([write_corpus(tmp_path / "news", files)], tmp_path / "idx", spec=spec)
    return tmp_path / "idx"


def reference_line_column(text: str, offset: int) -> tuple[int, int]:
    """Line and column the slow, obvious way: walk the text, a CR, LF or CRLF ends a line."""
    line, line_start, i = 1, 0, 0
    while i < offset:
        if text[i] == "\r" or text[i] == "\n":
            i += 2 if text.startswith("\r\n", i) and i + 1 < offset else 1
            line, line_start = line + 1, i
        else:
            i += 1
    return line, offset - line_start + 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", " ", "\r", "\n", "\r\n", "\u2028"]),
                max_size=30).map("".join))
def test_line_columns_agree_with_walking_the_text(text: str):
    offsets = np.arange(len(text) + 1)
    lines, columns = line_columns(text, offsets)
    assert list(zip(lines.tolist(), columns.tolist())) == \
        [reference_line_column(text, o) for o in offsets.tolist()]


def test_table_round_trip(tmp_path: Path):
    text = "Title\r\n\r\nFirst sentence here. Ünïcödé \U0001F600 second.\rThird line.\n"
    sentences = ["First sentence here.", "Ünïcödé \U0001F600 second.", "Third line."]
    spans = [(p, text.index(t), text.index(t) + len(t)) for p, t in zip([0, 0, 1], sentences)]
    writer = TableWriter(tmp_path)
    writer.add_article(7, text, spans)
    writer.add_article(8, "", [])
    writer.add_article(9, "Only one.", [(2, 0, 9)])
    writer.close()
    table = SentenceTable(tmp_path)
    assert len(table) == 4
    assert table.texts([3, 0, 2]) == ["Only one.", sentences[0], sentences[2]]
    assert table.article.tolist() == [7, 7, 7, 9] and table.passage.tolist() == [0, 0, 1, 2]
    assert table.line.tolist() == [3, 3, 4, 1] and table.column.tolist() == [1, 22, 1, 1]
    assert table.texts(np.array([], dtype=np.int64)) == []


def test_empty_table(tmp_path: Path):
    TableWriter(tmp_path).close()
    table = SentenceTable(tmp_path)
    assert len(table) == 0 and table.texts([]) == []


def test_indexed_table_matches_the_document_store(tmp_path: Path, hashing_spec):
    index_dir = indexed(tmp_path, {
        "a.txt": "Harbour news\n\ndate 2021-03-04\n\nThe crane lifted 40 containers.\r\n"
                 "It worked all night.\n\nA second paragraph follows here.\n",
        "b.md": "---\ntitle: Orchid garden\n---\nA rare orchid blooms on Monday.\n"}, hashing_spec)
    generation = IndexDir(index_dir).require_current()
    table, docs = SentenceTable(generation), DocReader(generation)
    rows = [row for a in range(2) for row in docs.article_rows(a)[1]]
    assert len(rows) == len(table)
    assert table.texts([r.id for r in rows]) == [r.text for r in rows]
    for r in rows:
        assert (table.article[r.id], table.passage[r.id], table.start[r.id],
                table.end[r.id]) == (r.article, r.passage, r.start, r.end)
        assert table.kinds[r.id] == held_kinds(r.text)


def test_title_terms_list_the_articles_whose_title_holds_a_term():
    titles = ["Harbour cranes", None, "The orchid of the harbour", "Cranes"]
    bm25 = Bm25.build(["crane harbour orchid text"])
    terms = TitleTerms.build(titles, bm25.vocab)
    for term in tokenize(["harbour crane orchid"])[0]:
        expected = [a for a, t in enumerate(titles) if term in tokenize([t or ""])[0]]
        assert terms.holding(bm25.term_id(term)).tolist() == expected
    assert terms.holding(10_000).tolist() == []


def reference_top(scores: np.ndarray, k: int) -> list[int]:
    """The k best positive scores of the whole array, ties at the cut to the lowest ids."""
    positive = [i for i in range(len(scores)) if scores[i] > 0]
    return sorted(sorted(positive, key=lambda i: (-scores[i], i))[:k])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "zeta"]),
                         max_size=6), min_size=1, max_size=40),
       st.lists(st.sampled_from(["alpha", "beta", "gamma", "omega"]), min_size=1, max_size=4),
       st.integers(1, 12))
def test_top_lexical_candidates_equal_a_scan_of_every_score(docs, query, k):
    bm25 = Bm25.build([" ".join(words) for words in docs])
    match = match_terms(bm25, " ".join(query))
    full = bm25.scores(" ".join(dict.fromkeys(query)))
    assert np.allclose(match.scores, full, atol=1e-6)
    assert sorted(match.top(k).tolist()) == reference_top(match.scores, k)
    assert sorted(match.matched.tolist()) == np.flatnonzero(match.scores > 0).tolist()
    assert match.best == pytest.approx(float(full.max()))


def test_unsorted_postings_are_sorted_once_at_build():
    matrix = {"indptr": np.array([0, 3, 5]), "indices": np.array([4, 1, 2, 0, 3]),
              "data": np.array([4.0, 1.0, 2.0, 0.5, 3.0])}
    _sort_postings(matrix)
    assert matrix["indices"].tolist() == [1, 2, 4, 0, 3]
    assert matrix["data"].tolist() == [1.0, 2.0, 4.0, 0.5, 3.0]


@pytest.mark.parametrize("question", ["When did it open?", "How many fans came?",
                                      "Who founded it?", "What is it?"])
def test_recorded_kinds_give_the_cues_of_the_texts(question: str):
    texts = ["It opened in March 1998.", "Some 40,000 fans came.", "Founded by Lei Jun.",
             "Nothing to see.", "Three teams played on Monday."]
    held = np.array([held_kinds(t) for t in texts])
    cues = cue_features(question, texts if cues_read_texts(question) else [], held)
    kind = question_kind(question)
    assert cues_read_texts(question) == (kind == "name")
    words = {w.lower() for w in question.rstrip("?").split()}
    for name in ("date", "number", "name"):
        expected = [float(name == kind and has_kind(name, t, words)) for t in texts]
        assert cues[f"cue_{name}"].tolist() == expected, name
    assert set(HELD_BITS) == {"date", "number"}


def test_damaged_table_is_a_clear_error(tmp_path: Path, hashing_spec):
    index_dir = indexed(tmp_path, {"a.txt": "One sentence. Another one.\n"}, hashing_spec)
    generation = IndexDir(index_dir).require_current()
    np.save(generation / "sentence_table.npy", np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(IndexCorrupt, match="sentence_table.npy"):  # by its checksum
        Searcher.open(index_dir)
    with pytest.raises(IndexCorrupt, match="do not match"):  # by its shape, unchecked
        Searcher.open(index_dir, verified=generation.name)


def test_a_searcher_answers_the_same_whatever_it_was_asked_before(tmp_path: Path, hashing_spec):
    index_dir = indexed(tmp_path, {
        "a.txt": "The harbour crane lifted containers. A rare orchid blooms in the garden.\n",
        "b.txt": "Orchid growers met at the harbour. Cranes are tall birds.\n"}, hashing_spec)
    questions = ["harbour crane", "orchid garden", "tall birds harbour"]
    fresh = [[(h.sentence.id, h.score) for h in Searcher.open(index_dir).search(q)]
             for q in questions]
    searcher = Searcher.open(index_dir)
    for _ in range(2):
        assert [[(h.sentence.id, h.score) for h in searcher.search(q)]
                for q in questions] == fresh
    with searcher._score_buffer() as buffer:
        assert buffer is searcher._scores and not buffer.any()  # every query zeroed it


def test_the_score_buffer_is_kept_across_threads_and_never_shared(tmp_path: Path,
                                                                  hashing_spec):
    import threading

    index_dir = indexed(tmp_path, {"a.txt": "The harbour crane lifted containers.\n"},
                        hashing_spec)
    searcher = Searcher.open(index_dir)
    seen, buffers = [], []
    for _ in range(2):  # the chat asks each question from a new thread
        thread = threading.Thread(target=lambda: seen.append(searcher.search("crane")))
        thread.start()
        thread.join()
        buffers.append(searcher._scores)
    assert seen[0] and [h.sentence.id for h in seen[0]] == [h.sentence.id for h in seen[1]]
    assert buffers[0] is not None and buffers[1] is buffers[0]
    with searcher._score_buffer() as held, searcher._score_buffer() as other:
        assert held is searcher._scores and other is not held  # in use: a fresh one
        assert not held.any() and not other.any()


def test_a_passage_vector_is_the_mean_of_its_sentence_vectors(tmp_path: Path, hashing_spec):
    index_dir = indexed(tmp_path, {
        "a.txt": "Harbour news\n\nThe crane lifted 40 containers. It worked all night.\n\n"
                 "A second paragraph follows here.\n",
        "b.txt": "One line only.\n"}, hashing_spec)
    searcher = Searcher.open(index_dir)
    passage_of = searcher.table.passage
    assert len(searcher.passage_vectors) == passage_of.max() + 1 == 3
    for p in range(3):
        mine = searcher.sentence_vectors[passage_of == p]
        assert np.allclose(searcher.passage_vectors[p], mine.mean(axis=0), atol=1e-6)
    query = searcher.encoder.encode_query("crane containers night")
    # its cosine with a question is the mean cosine of its sentences
    assert searcher.passage_vectors[0] @ query == pytest.approx(
        float(np.mean(searcher.sentence_vectors[passage_of == 0] @ query)), abs=1e-6)


def test_passage_means_need_sentences_in_passage_order():
    vectors = np.eye(3, dtype=np.float32)
    assert passage_means(vectors, np.array([0, 0, 1]), 2).tolist() == \
        [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    assert passage_means(vectors[:0], np.array([], dtype=np.int64), 0).shape == (0, 3)
    with pytest.raises(ValueError):
        passage_means(vectors, np.array([1, 0, 0]), 2)
    with pytest.raises(ValueError):
        passage_means(vectors, np.array([0, 0, 2]), 3)


def test_searcher_keeps_the_articles_it_used_last(tmp_path: Path, hashing_spec,
                                                  monkeypatch: pytest.MonkeyPatch):
    import index.search.searcher as search

    files = {f"{name}.txt": f"The {name} report is here. It has a second line.\n"
             for name in ("alpha", "beta", "gamma")}
    searcher = Searcher.open(indexed(tmp_path, files, hashing_spec))
    monkeypatch.setattr(search, "ARTICLE_CACHE", 2)
    monkeypatch.setattr(search, "INFO_CACHE", 2)
    reads: list[int] = []
    read_article, read_infos = searcher.docs.article, searcher.docs.article_infos
    monkeypatch.setattr(searcher.docs, "article", lambda a: reads.append(a) or read_article(a))
    monkeypatch.setattr(searcher.docs, "article_infos",
                        lambda ids: reads.extend(ids) or read_infos(ids))
    a, b, c = sorted(set(searcher.table.article[:].tolist()))
    for fetch in (searcher.article, lambda i: searcher._article_infos([i])[i]):
        reads.clear()
        for article in (a, b, a, c, a, b):  # c drops b (least recently used), not a
            fetch(article)
        assert reads == [a, b, c, b]
