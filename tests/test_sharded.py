"""Sharded indexes without Ray: built shard by shard, searched in-process, answering as one
index over the same articles would; re-indexing rebuilds only changed shards; a version is
published whole or not at all; altered shard files are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.answering import Answerer
from bot.cli import cli
from index.embed.encoders import EncoderSpec, load_encoder
from index.errors import BadInput, IndexCorrupt
from index.indexer import update_index
from index.search.filters import ArticleFilter
from index.search.searcher import Searcher
from index.search.sharded import ShardedSearcher
from index.sharded_indexer import local_builder, update_sharded_index
from index.store.bm25 import Bm25
from index.store.corpus_stats import (Bm25Params, CorpusStats, mean_length, rescore,
                                      sentence_lengths)
from index.store.sharded import ShardedDir, shard_of

from .conftest import ROOT, holding, synthetic_news, synthetic_questions

HASHING = EncoderSpec("hashing", "hashing")


@pytest.fixture
def news(tmp_path: Path) -> Path:
    return synthetic_news(tmp_path / "news", files=24, sentences=30)


def hits_of(searcher: Searcher, question: str, k: int = 10) -> list[tuple]:
    query = searcher.encoder.encode_query(question)
    return [(h.article.source, h.sentence.start, h.sentence.text, round(h.score, 4))
            for h in searcher.rank(question, query, k)]


def test_sharded_index_answers_as_one_index_does(news: Path, tmp_path: Path):
    update_index([news], tmp_path / "one", spec=HASHING)
    report = update_sharded_index([news], tmp_path / "four", shards=4, spec=HASHING)
    assert report.committed and report.shard_count == 4
    assert report.rebuilt == holding(news, 4)
    one = Searcher.open(tmp_path / "one")
    four = ShardedSearcher.open(tmp_path / "four")
    assert four.size == one.size == report.sentences
    questions = synthetic_questions(news, 60)
    questions += ["When" + q[len("What"):] for q in questions[:20]]  # dates read as cues
    # the hashing encoder gives many equal cosines, whose order among candidates is FAISS's;
    # the real model's case is test_sharded_squad_answers_as_one_index
    same_top = sum(hits_of(one, q)[0][:2] == hits_of(four, q)[0][:2] for q in questions)
    same_set = sum({h[:2] for h in hits_of(one, q)} == {h[:2] for h in hits_of(four, q)}
                   for q in questions)
    assert same_top >= 0.95 * len(questions)
    assert same_set >= 0.9 * len(questions)


def test_reranker_depth_from_the_environment_applies_to_a_sharded_index(
        news: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``bot ask --rerank-depth N`` (read by every searcher from ``$BOT_RERANK_DEPTH``) sets
    the depth of a sharded index's searcher as of one index's."""
    update_index([news], tmp_path / "one", spec=HASHING)
    update_sharded_index([news], tmp_path / "four", shards=4, spec=HASHING)
    monkeypatch.setenv("BOT_RERANK_DEPTH", "7")
    assert ShardedSearcher.open(tmp_path / "four").rerank_depth == 7
    assert Searcher.open(tmp_path / "one").rerank_depth == 7


def test_answers_cite_the_right_article_passage_and_global_ids(news: Path, tmp_path: Path):
    update_sharded_index([news], tmp_path / "idx", shards=3, spec=HASHING)
    answerer = Answerer.open(tmp_path / "idx")
    question = synthetic_questions(news, 1, seed=5)[0]
    answer = answerer.ask(question, k=5)
    ids = set()
    for evidence in answer.evidence:
        article = answerer.article(evidence)
        assert article.text[evidence.start:evidence.end] == evidence.text
        view = answerer.passage(evidence)
        start, end = view.sentences[view.focus]
        assert view.text[start:end] == evidence.text
        ids.add(evidence.sentence_id)
    assert len(ids) == len(answer.evidence)


def test_a_conversation_on_a_sharded_index_reads_follow_ups_by_its_topic(news: Path,
                                                                         tmp_path: Path):
    """A sharded searcher takes no extra candidates yet (one index's does): a dialogue there
    keeps its topic by the prior alone, and every turn answers from the index's articles."""
    update_sharded_index([news], tmp_path / "idx", shards=3, spec=HASHING)
    update_index([news], tmp_path / "one", spec=HASHING)
    sharded, one = Answerer.open(tmp_path / "idx"), Answerer.open(tmp_path / "one")
    assert not sharded.searcher.takes_extra_candidates and one.searcher.takes_extra_candidates
    first, second = synthetic_questions(news, 2, seed=7)
    dialogue = sharded.conversation()
    for question in (first, second, "And then?"):
        reply = dialogue.ask(question, k=3)
        evidence = reply.answer.evidence
        assert evidence and all(sharded.article(e).text[e.start:e.end] == e.text
                                for e in evidence)
    assert len(dialogue.turns) == 3


def test_global_bm25_statistics_give_the_scores_of_one_index(tmp_path: Path):
    """A shard's stored BM25, re-scored with the corpus's statistics, equals BM25 over all
    the sentences at once."""
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 20)))) for _ in range(500)]
    parts = [texts[:70], texts[70:260], texts[260:]]
    saved = []
    for number, part in enumerate(parts):
        folder = tmp_path / str(number)
        folder.mkdir()
        Bm25.build(part).save(folder)
        saved.append((folder, sentence_lengths(part)))
    from index.store.corpus_stats import shard_document_frequencies

    stats = CorpusStats.merge((shard_document_frequencies(f), n) for f, n in saved)
    terms, weights, _ = stats.query_terms("w1 w7 w7 w33 w59")
    whole = Bm25.build(texts).scores(" ".join(terms))
    scored = []
    for folder, lengths in saved:
        bm25, params = Bm25.load(folder), Bm25Params.of(folder)
        scores = np.zeros(len(lengths), dtype=np.float32)
        for term, weight in zip(terms, weights):
            if (found := bm25.posting(term)) is not None:
                docs, stored = found
                scores[docs] += rescore(stored, lengths[docs], len(docs), params,
                                        mean_length(lengths), float(weight), stats.avgdl)
        scored.append(scores)
    np.testing.assert_allclose(np.concatenate(scored), whole, rtol=1e-5, atol=1e-6)


def test_shards_on_threads_answer_as_one_after_another(news: Path, tmp_path: Path):
    """Shards loaded and searched on a pool of threads give the very hits (ids, scores) of
    shards searched one after another in this thread."""
    from index.search.sharded import LocalShards

    update_sharded_index([news], tmp_path / "idx", shards=5, spec=HASHING)
    one, many = (ShardedSearcher.open(tmp_path / "idx") for _ in range(2))
    one.group = LocalShards(_specs(tmp_path / "idx"), threads=1)
    many.group = LocalShards(_specs(tmp_path / "idx"), threads=4)
    assert one.group.pool is None and many.group.pool is not None
    for question in synthetic_questions(news, 20, seed=11):
        query = one.encoder.encode_query(question)
        assert [(h.sentence.id, h.score, h.parts) for h in one.rank(question, query, 10)] == \
            [(h.sentence.id, h.score, h.parts) for h in many.rank(question, query, 10)]


def _specs(index_dir: Path):
    """The shard specs :meth:`ShardedSearcher.open` makes for ``index_dir``."""
    from index.search.sharded import ShardSpec
    from index.store.sharded import lengths_file, order_file

    store = ShardedDir(index_dir)
    version = store.require_current()
    manifest = store.read_manifest(version)
    avgdl = manifest.total_length / manifest.sentences
    return [ShardSpec(e.shard, str(store.shard_generation(e)),
                      str(version / lengths_file(e.shard)), str(version / order_file(e.shard)),
                      avgdl)
            for e in manifest.shards if e.generation]


def test_a_shards_corpus_weights_give_the_rescored_bm25(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    """A shard re-weights its postings for the corpus once, when loaded (a few entries at a
    time): a term's corpus IDF times its weights is :func:`rescore`'s BM25."""
    from index.store.corpus_stats import CorpusWeights

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 25)))) for _ in range(300)]
    Bm25.build(texts).save(tmp_path)
    bm25, params, lengths = Bm25.load(tmp_path), Bm25Params.of(tmp_path), sentence_lengths(texts)
    monkeypatch.setattr(CorpusWeights, "CHUNK", 97)  # chunks that split postings
    weights = CorpusWeights(bm25, lengths, params, corpus_avgdl=14.0)
    for term, corpus_idf in (("w1", 2.5), ("w3", 0.75), ("w17", 1.25), ("w39", 3.0)):
        docs, stored = bm25.posting(term)
        held, weight = weights.posting(term)
        np.testing.assert_array_equal(held, docs)
        np.testing.assert_allclose(weight * corpus_idf,
                                   rescore(stored, lengths[docs], len(docs), params,
                                           mean_length(lengths), corpus_idf, 14.0), rtol=1e-6)
    assert [len(a) for a in weights.posting("unknown")] == [0, 0]


def test_a_shards_top_list_and_its_rows_carry_the_same_bm25_as_one_index(news: Path,
                                                                          tmp_path: Path):
    """Each shard sums its postings' BM25 twice: for its top list and for the rows picked
    from it. Both give the very same float32 scores (the pick and the best BM25 read the
    list's, the ranking the rows'), and they are BM25 over all the articles at once."""
    from index.search.shard_search import ShardQuery
    from index.store.sentence_table import COLUMNS

    update_index([news], tmp_path / "one", spec=HASHING)
    update_sharded_index([news], tmp_path / "four", shards=4, spec=HASHING)
    one, four = Searcher.open(tmp_path / "one"), ShardedSearcher.open(tmp_path / "four")
    whole = Bm25.load(one.generation)
    sources = one._article_infos(list(range(int(one.manifest.counts["articles"]))))
    sentence_of = {(sources[int(a)].source, int(s)): i for i, (a, s) in
                   enumerate(zip(one.table.article, one.table.start))}
    article, start = COLUMNS.index("article"), COLUMNS.index("start")
    compared = 0
    for question in synthetic_questions(news, 12, seed=8):
        terms, idf, _ = four.stats.query_terms(question)
        assert len(terms) >= 3, "only sums of three terms or more can differ by their order"
        ask = ShardQuery(four.encoder.encode_query(question), terms, idf)
        expected = whole.scores(" ".join(terms))
        for searcher in four.group.searchers.values():
            top = searcher.top(ask)
            pool = searcher.gather(ask, top.lexical)
            np.testing.assert_array_equal(pool.bm25[np.searchsorted(pool.rows, top.lexical)],
                                          top.bm25)
            infos = searcher.article_infos(np.unique(pool.table[:, article]).tolist())
            same = [sentence_of[(infos[int(a)].source, int(s))]
                    for a, s in zip(pool.table[:, article], pool.table[:, start])]
            np.testing.assert_allclose(pool.bm25, expected[same], rtol=1e-5, atol=1e-6)
            compared += len(top.lexical)
    assert compared > 100


@pytest.mark.parametrize("wanted", [
    ArticleFilter.of(since="2014"), ArticleFilter.of(until="2015-06"),
    ArticleFilter.of(sources=["*part1*"]),
    ArticleFilter.of(since="2012", until="2019", sources=["*part0*", "*part2*"]),
    ArticleFilter.of(sources=["*article-007*"]), ArticleFilter.of(since="2090")])
def test_a_filter_answers_on_a_sharded_index_as_on_one_index(news: Path, tmp_path: Path,
                                                              wanted: ArticleFilter):
    update_index([news], tmp_path / "one", spec=HASHING)
    update_sharded_index([news], tmp_path / "four", shards=4, spec=HASHING)
    one, four = Searcher.open(tmp_path / "one"), ShardedSearcher.open(tmp_path / "four")
    a, b = one.restriction(wanted), four.restriction(wanted)
    assert (b.kept_articles, len(b.articles), b.kept_sentences) == \
        (a.kept_articles, len(a.articles), len(a.ids))
    kept = {info.source for info in one._article_infos(np.flatnonzero(a.articles).tolist())
            .values()}
    questions = synthetic_questions(news, 30, seed=4)
    same_top = same_set = 0
    for question in questions:
        x = [(h.article.source, h.sentence.start) for h in one.search(question, 10, a)]
        y = [(h.article.source, h.sentence.start) for h in four.search(question, 10, b)]
        assert {source for source, _ in y} <= kept
        same_top += x[:1] == y[:1]
        same_set += set(x) == set(y)
    assert same_top >= 0.95 * len(questions) and same_set >= 0.9 * len(questions)
    assert four.restriction(wanted) is b  # kept for the next questions


def test_reindex_rebuilds_only_the_shards_whose_articles_changed(news: Path, tmp_path: Path):
    update_sharded_index([news], tmp_path / "idx", shards=4, spec=HASHING)
    store = ShardedDir(tmp_path / "idx")
    before = {e.shard: e.generation for e in store.read_manifest().shards}
    again = update_sharded_index([news], tmp_path / "idx", spec=HASHING)
    assert not again.committed and again.rebuilt == [] and again.sentences_embedded == 0
    changed = sorted(news.rglob("*.txt"))[5]
    changed.write_text(changed.read_text() + "\nA new closing line about lokaran.\n")
    report = update_sharded_index([news], tmp_path / "idx", spec=HASHING)
    target = shard_of(str(changed), 4)
    assert report.committed and report.rebuilt == [target]
    after = {e.shard: e.generation for e in store.read_manifest().shards}
    assert {s for s in after if after[s] != before[s]} == {target}
    searcher = ShardedSearcher.open(tmp_path / "idx")
    assert "lokaran" in " ".join(h[2] for h in hits_of(searcher, "closing line lokaran", 3))


def test_shard_assignment_is_stable_across_processes():
    names = [f"/news/{i}/article.txt" for i in range(20)]
    here = [shard_of(n, 7) for n in names]
    code = ("import json,sys; from index.store.sharded import shard_of; "
            f"print(json.dumps([shard_of(n, 7) for n in {names!r}]))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(ROOT)},
                           check=True)
    assert json.loads(other.stdout) == here
    assert len(set(here)) > 3


def test_a_failed_build_publishes_nothing_and_the_next_one_recovers(news: Path,
                                                                    tmp_path: Path):
    update_sharded_index([news], tmp_path / "idx", shards=4, spec=HASHING)
    question = synthetic_questions(news, 1, seed=9)[0]
    expected = hits_of(ShardedSearcher.open(tmp_path / "idx"), question)
    for path in sorted(news.rglob("*.txt"))[::2]:
        path.write_text(path.read_text() + "\nLater news about bri.\n")

    def dies_after_two(jobs, progress):
        for number, outcome in enumerate(local_builder()(jobs, progress)):
            if number == 2:
                raise OSError("node lost")
            yield outcome

    with pytest.raises(OSError, match="node lost"):
        update_sharded_index([news], tmp_path / "idx", spec=HASHING, builder=dies_after_two)
    assert hits_of(ShardedSearcher.open(tmp_path / "idx"), question) == expected
    for path in sorted(news.rglob("*.txt"))[1::4]:  # changed again before the next run
        path.write_text(path.read_text() + "\nEven later news.\n")
    report = update_sharded_index([news], tmp_path / "idx", spec=HASHING)
    update_index([news], tmp_path / "one", spec=HASHING)
    assert report.committed
    assert hits_of(ShardedSearcher.open(tmp_path / "idx"), question)[:1] == \
        hits_of(Searcher.open(tmp_path / "one"), question)[:1]


def test_altered_shard_file_is_refused_as_for_one_index(news: Path, tmp_path: Path):
    update_sharded_index([news], tmp_path / "idx", shards=2, spec=HASHING)
    store = ShardedDir(tmp_path / "idx")
    entry = next(e for e in store.read_manifest().shards if e.generation)
    with open(store.shard_generation(entry) / "sentences.faiss", "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(IndexCorrupt, match="sentences.faiss"):
        Answerer.open(tmp_path / "idx")


def test_changed_shard_count_needs_rebuild_and_unsharded_dirs_are_not_sharded(
        news: Path, tmp_path: Path):
    update_sharded_index([news], tmp_path / "idx", shards=2, spec=HASHING)
    with pytest.raises(BadInput, match="has 2 shards, not 3"):
        update_sharded_index([news], tmp_path / "idx", shards=3, spec=HASHING)
    report = update_sharded_index([news], tmp_path / "idx", shards=3, spec=HASHING,
                                  rebuild=True)
    assert report.shard_count == 3 and ShardedDir(tmp_path / "idx").read_manifest() \
        .shard_count == 3
    assert len(ShardedDir(tmp_path / "idx").shard_dirs()) == 3
    update_index([news], tmp_path / "plain", spec=HASHING)
    with pytest.raises(BadInput, match="not sharded"):
        update_sharded_index([news], tmp_path / "plain", shards=2, spec=HASHING)


def test_cli_builds_and_asks_a_sharded_index(news: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOT_MODEL", "hashing")
    monkeypatch.setenv("BOT_BACKEND", "hashing")
    runner = CliRunner()
    built = runner.invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / "idx"),
                                "--shards", "3"])
    assert built.exit_code == 0, built.output
    assert "3 shards, 3 rebuilt" in built.output
    question = synthetic_questions(news, 1, seed=2)[0]
    asked = runner.invoke(cli, ["ask", question, "--json", "-k", "3",
                                "--index-dir", str(tmp_path / "idx")])
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    plain = runner.invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / "one")])
    assert plain.exit_code == 0
    one = json.loads(runner.invoke(cli, ["ask", question, "--json", "-k", "3", "--index-dir",
                                         str(tmp_path / "one")]).stdout)
    assert [a["text"] for a in answer["answers"]] == [a["text"] for a in one["answers"]]
    assert answer.keys() == one.keys()
    again = runner.invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / "idx")])
    assert again.exit_code == 0 and "up to date" in again.output
    refused = runner.invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / "one"),
                                  "--shards", "2"])
    assert refused.exit_code == 1 and refused.output.startswith("error: ")


def test_cli_asks_a_sharded_index_with_filters(news: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOT_MODEL", "hashing")
    monkeypatch.setenv("BOT_BACKEND", "hashing")
    runner = CliRunner()
    for name, extra in (("idx", ["--shards", "3"]), ("one", [])):
        built = runner.invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / name),
                                    *extra])
        assert built.exit_code == 0, built.output
    question = synthetic_questions(news, 1, seed=6)[0]
    for flags in (["--since", "2013", "--source", "*part2*"], ["--until", "2011"],
                  ["--since", "2099"]):
        answers = [runner.invoke(cli, ["ask", question, "--json", "-k", "3", *flags,
                                       "--index-dir", str(tmp_path / name)])
                   for name in ("idx", "one")]
        assert [a.exit_code for a in answers] == [0, 0], answers[0].output
        sharded, one = (json.loads(a.stdout) for a in answers)
        assert sharded["filters"] == one["filters"]
        assert [a["text"] for a in sharded["answers"]] == [a["text"] for a in one["answers"]]


def test_ray_option_without_ray_is_a_one_line_error(news: Path, tmp_path: Path):
    try:
        import ray  # noqa: F401
        pytest.skip("ray is installed")
    except ImportError:
        pass
    result = CliRunner().invoke(cli, ["index", str(news), "--index-dir", str(tmp_path / "i"),
                                      "--shards", "2", "--ray", "auto"])
    assert result.exit_code == 1
    assert result.output.strip() == \
        "error: --ray needs Ray: pip install 'sentence-bot[cluster]'"


@pytest.mark.slow
def test_sharded_squad_answers_as_one_index(tmp_path: Path, real_encoder):
    """SQuAD v1.1 dev half-a in 4 shards: the same top sentence for ≥ 99.5% of the questions
    and the same top-10 set for ≥ 99% as one index over the same articles."""
    from bot.evaluation.squad import load_squad, write_articles

    from .conftest import SQUAD

    if not SQUAD.exists():
        pytest.skip("the SQuAD file is not here")
    squad = load_squad(SQUAD)
    write_articles(squad, tmp_path / "articles")
    encoder = MemoEncoder(real_encoder)
    update_index([tmp_path / "articles"], tmp_path / "one", encoder=encoder)
    update_sharded_index([tmp_path / "articles"], tmp_path / "four", shards=4,
                         encoder=encoder)
    one = Searcher.open(tmp_path / "one", encoder=real_encoder)
    four = ShardedSearcher.open(tmp_path / "four", encoder=real_encoder)
    assert len({e.shard for e in four.sharded.shards if e.generation}) == 4
    same_top = same_set = 0
    for question in squad.questions:
        query = real_encoder.encode_query(question.text)
        a = [(h.article.source, h.sentence.start) for h in one.rank(question.text, query, 10)]
        b = [(h.article.source, h.sentence.start) for h in four.rank(question.text, query, 10)]
        same_top += a[:1] == b[:1]
        same_set += set(a) == set(b)
    assert same_top >= 0.995 * len(squad.questions)
    assert same_set >= 0.99 * len(squad.questions)


class MemoEncoder:
    """The real encoder, embedding each text once however many indexes are built of it."""

    def __init__(self, inner) -> None:
        self.inner, self.spec, self.dim = inner, inner.spec, inner.dim
        self.details = getattr(inner, "details", {})
        self.memo: dict[str, np.ndarray] = {}

    def encode(self, texts, progress=None):
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.inner.encode(missing)))
        if progress:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.memo[t] for t in texts])

    def encode_query(self, text):
        return self.inner.encode_query(text)

    def token_states(self, texts, specials=True):
        return self.inner.token_states(texts, specials)


def test_hashing_encoder_is_what_these_tests_use():
    assert load_encoder(HASHING).spec == HASHING


def test_chat_engine_opens_and_updates_a_sharded_index(news: Path, tmp_path: Path):
    from bot.chat.engine import ChatEngine

    update_sharded_index([news], tmp_path / "idx", shards=3, spec=HASHING)
    statuses: list[str] = []
    engine = ChatEngine(None, tmp_path / "idx")
    loaded = engine.load(statuses.append)
    assert loaded.sentences == ShardedSearcher.open(tmp_path / "idx").size
    question = synthetic_questions(news, 1, seed=8)[0]
    turn = engine.ask(question, 3)
    assert turn.reply.answer.evidence and turn.shown[0].passage.text
    changed = sorted(news.rglob("*.txt"))[0]
    changed.write_text(changed.read_text() + "\nOne more sentence here.\n")
    updated = ChatEngine([news], tmp_path / "idx").load(statuses.append)
    assert "index updated" in updated.summary
    assert ShardedDir(tmp_path / "idx").read_manifest().shard_count == 3
