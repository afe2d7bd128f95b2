"""Filters by date and source: one meaning in the engine, the Python API and ``bot ask``.

A small dated corpus (hashing encoder) where each article has its own topic, so a filter
that leaves the best article out must still answer from the articles it keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.search.filters import ArticleFilter, BadFilter

from .conftest import write_corpus

ARTICLES = {
    "reuters/port.txt": "Port strike\ndate 2022-01-10\n\nDock workers at the harbour port went "
                        "on strike today over pay. The harbour port handles grain.\n",
    "apnews/harbour.md": "---\ntitle: Harbour bridge\ndate: 2022-06-01\n"
                         "url: https://apnews.com/harbour-bridge\n---\nThe harbour bridge "
                         "reopened after repairs. The harbour port traffic grew last week.\n",
    "local/undated.txt": "Market day\n\nThe harbour market sells fish and grain to the port "
                         "town every morning.\n",
    "wire/feed.jsonl": json.dumps({"title": "Grain prices", "date": "2023-02-03",
                                   "source": "Reuters Wire", "text": "Grain prices at the "
                                   "harbour port rose two years ago and fell this month."}) + "\n",
    "odd/weird[1].txt": "Odd name\ndate 2021-12-31\n\nA harbour pilot guided ships into the "
                        "port on the last day of the year.\n",
}
QUESTION = "What happened at the harbour port?"


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from index.embed.encoders import EncoderSpec, load_encoder
    from index.indexer import update_index

    root = tmp_path_factory.mktemp("filters")
    corpus = write_corpus(root / "news", ARTICLES)
    update_index([corpus], root / "idx", encoder=load_encoder(EncoderSpec("hashing",
                                                                          "hashing")))
    return root / "idx"


@pytest.fixture(scope="module")
def answerer(corpus_index: Path):
    from bot.answering import Answerer

    return Answerer.open(corpus_index)


@pytest.fixture(scope="module")
def sharded_answerer(corpus_index: Path):
    """The same corpus in a 3-shard index (each shard applies the filter itself)."""
    from bot.answering import Answerer
    from index.embed.encoders import EncoderSpec, load_encoder
    from index.sharded_indexer import update_sharded_index

    corpus = corpus_index.parent / "news"
    update_sharded_index([corpus], corpus_index.parent / "sharded", shards=3,
                         encoder=load_encoder(EncoderSpec("hashing", "hashing")))
    return Answerer.open(corpus_index.parent / "sharded")


BOTH = pytest.mark.parametrize("kind", ["answerer", "sharded_answerer"])


def sources(answer) -> set[str]:
    return {Path(e.source).parent.name + "/" + Path(e.source).name for e in answer.evidence}


@pytest.mark.parametrize("kwargs, kept", [
    ({"since": "2022"}, {"reuters/port.txt", "apnews/harbour.md", "wire/feed.jsonl"}),
    ({"since": "2022-02", "until": "2022-12-31"}, {"apnews/harbour.md"}),
    ({"until": "2022-01"}, {"reuters/port.txt", "odd/weird[1].txt"}),
    ({"until": "2021-12-31"}, {"odd/weird[1].txt"}),
    ({"sources": ["*APNEWS*"]}, {"apnews/harbour.md"}),
    ({"sources": ["*reuters*"]}, {"reuters/port.txt", "wire/feed.jsonl"}),  # metadata too
    ({"sources": ["https://apnews.com/*"]}, {"apnews/harbour.md"}),
    ({"sources": ["*[[]1]*"]}, {"odd/weird[1].txt"}),  # a literal [ as a class
    ({"sources": ["*weird[*"]}, {"odd/weird[1].txt"}),  # an unclosed [ is itself
    ({"sources": ["*/[lr]*/*"]}, {"reuters/port.txt", "local/undated.txt"}),
    ({"sources": ["*local*", "*odd*"]}, {"local/undated.txt", "odd/weird[1].txt"}),
    ({"since": "2022", "sources": ["*reuters*"]}, {"reuters/port.txt", "wire/feed.jsonl"}),
])
@BOTH
def test_python_api_answers_only_from_the_kept_articles(request, kind, kwargs, kept):
    answer = request.getfixturevalue(kind).ask(QUESTION, k=10, **kwargs)
    assert answer.evidence, "a filter keeping articles still answers from them"
    assert sources(answer) == kept
    assert answer.kept_articles == len(kept) and answer.total_articles == len(ARTICLES)
    assert answer.to_json()["filters"]["articles"] == len(kept)


@BOTH
def test_filter_restricts_candidates_not_results(request, kind):
    """Each kept article's own best sentence comes back, whatever ranks above it
    unfiltered: the kept set is searched, not the unfiltered top list cut."""
    answerer = request.getfixturevalue(kind)
    everything = answerer.ask(QUESTION, k=1).evidence[0].source
    for name in ARTICLES:
        pattern = "*" + name.replace("[", "[[]")
        answer = answerer.ask(QUESTION, k=1, sources=[pattern])
        assert answer.evidence and answer.evidence[0].source.endswith(name), (name, everything)


def test_restriction_masks_dense_and_lexical_candidates(answerer):
    searcher = answerer.searcher
    within = searcher.restriction(ArticleFilter.of(sources=["*apnews*"]))
    query = searcher.encoder.encode_query(QUESTION)
    pool = searcher.candidates(QUESTION, query, within)
    assert len(pool.ids) and within.mask[pool.ids].all()
    assert searcher.restriction(ArticleFilter.of(sources=["*apnews*"])) is within  # kept


def test_no_filter_changes_nothing(answerer):
    plain = answerer.ask(QUESTION, k=3)
    assert "filters" not in plain.to_json() and plain.filter_note is None
    empty = answerer.ask(QUESTION, k=3, since=None, until="", sources=[])
    assert empty.to_json() == plain.to_json()


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "2022-13"}, "YYYY, YYYY-MM or YYYY-MM-DD"),
    ({"until": "yesterday"}, "YYYY, YYYY-MM or YYYY-MM-DD"),
    ({"since": "2022-02-30"}, "not a date"),
    ({"since": "2023", "until": "2022-12"}, "after"),
    ({"sources": [" "]}, "empty source pattern"),
])
def test_bad_filters_are_refused_with_the_accepted_forms(answerer, kwargs, message):
    with pytest.raises(BadFilter, match=message):
        answerer.ask(QUESTION, **kwargs)


@BOTH
def test_filter_keeping_nothing_answers_nothing(request, kind):
    answer = request.getfixturevalue(kind).ask(QUESTION, since="2030")
    assert (answer.answered, answer.evidence, answer.kept_articles) == (False, [], 0)


@pytest.mark.parametrize("data, expected", [
    ({"since": "2022", "until": 2023, "source": "*x*"}, ArticleFilter("2022", "2023", ("*x*",))),
    ({"source": ["*a*", "*b*"]}, ArticleFilter(None, None, ("*a*", "*b*"))),
    (None, ArticleFilter()),
])
def test_filters_from_json(data, expected):
    assert ArticleFilter.from_json(data) == expected


@pytest.mark.parametrize("data", [["2022"], {"from": "2022"}, {"source": 3},
                                  {"since": "2022/01"}, {"since": ["2022"]}])
def test_bad_json_filters(data):
    with pytest.raises(BadFilter):
        ArticleFilter.from_json(data)


# ----- bot ask ------------------------------------------------------------------------------
def run_ask(corpus_index: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["ask", "--index-dir", str(corpus_index), *args],
                              input=stdin)


def test_cli_filters_by_date_and_source(corpus_index: Path):
    result = run_ask(corpus_index, QUESTION, "--json", "-k", "10", "--since", "2022",
                     "--source", "*reuters*", "--source", "*apnews*")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {Path(a["source"]).name for a in data["answers"]} == {"port.txt", "harbour.md",
                                                                  "feed.jsonl"}
    assert data["filters"] == {"since": "2022", "source": ["*reuters*", "*apnews*"],
                               "articles": 3}


def test_cli_human_output_says_how_many_articles_the_filter_kept(corpus_index: Path):
    result = run_ask(corpus_index, QUESTION, "--until", "2022-01")
    assert result.exit_code == 0, result.output
    assert "filter: dated 2022-01 or earlier; 2 of 5 articles kept" in result.stdout


def test_cli_stream_applies_the_filter_to_every_line(corpus_index: Path, monkeypatch):
    monkeypatch.setenv("BOT_WORKERS", "1")
    result = run_ask(corpus_index, "--json", "-k", "10", "--source", "*odd*",
                     stdin=f"{QUESTION}\nWhere did the pilot guide ships?\n")
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        assert {Path(a["source"]).name for a in json.loads(line)["answers"]} == {
            "weird[1].txt"}


@pytest.mark.parametrize("args, message", [
    (["--since", "2022-13"], "'2022-13' is not a date; use YYYY, YYYY-MM or YYYY-MM-DD"),
    (["--until", "May 2022"], "'May 2022' is not a date; use YYYY, YYYY-MM or YYYY-MM-DD"),
    (["--since", "2023", "--until", "2022"], "since 2023 is after until 2022"),
    (["--source", ""], "empty source pattern"),
])
def test_cli_bad_filter_is_a_usage_error(corpus_index: Path, args, message):
    result = run_ask(corpus_index, QUESTION, *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stdout == ""


def test_cli_filter_keeping_nothing(corpus_index: Path):
    result = run_ask(corpus_index, QUESTION, "--json", "--since", "2030-01-01")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["answered"], data["answers"], data["filters"]["articles"]) == (False, [], 0)
    notes = result.stderr.splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: ") and "keeps no articles" in notes[0]


def test_date_filter_on_an_index_without_dated_articles(tmp_path: Path):
    from index.embed.encoders import EncoderSpec, load_encoder
    from index.indexer import update_index

    corpus = write_corpus(tmp_path / "news", {"a.txt": "Fish market\n\nThe fish market opens."})
    update_index([corpus], tmp_path / "idx", encoder=load_encoder(EncoderSpec("hashing",
                                                                              "hashing")))
    dated = run_ask(tmp_path / "idx", "Where is the fish market?", "--since", "1900")
    assert dated.exit_code == 0 and "0 of 1 articles kept" in dated.stdout
    assert "keeps no articles" in dated.stderr
    by_source = run_ask(tmp_path / "idx", "Where is the fish market?", "--source", "*a.txt")
    assert by_source.exit_code == 0 and "The fish market opens." in by_source.stdout


def test_exact_and_selector_paths_agree(answerer, monkeypatch):
    """Both dense paths of a restriction (exact over the kept vectors, or the index with an ID
    selector) return kept sentences only, in the same order on an exact index."""
    from index.store import ann

    searcher = answerer.searcher
    within = searcher.restriction(ArticleFilter.of(since="2022"))
    query = searcher.encoder.encode_query(QUESTION)
    args = (searcher.ann, searcher.ann_config, searcher.sentence_vectors, query, 5,
            within.ids, within.bitmap())
    exact = ann.nearest_within(*args)
    monkeypatch.setattr(ann, "EXACT_KEPT", 0)
    selected = ann.nearest_within(*args)
    assert within.mask[exact].all() and np.array_equal(exact, selected)


def test_json_lines_carry_their_own_filters(corpus_index: Path, monkeypatch):
    """A line's "filters" replace the command's for that line; a bad one is that line's
    error; a conversation's turns keep to the filter they are asked with."""
    monkeypatch.setenv("BOT_WORKERS", "1")
    lines = [json.dumps({"question": QUESTION, "k": 10, "filters": {"source": "*apnews*"}}),
             json.dumps({"question": QUESTION, "k": 10}),
             json.dumps({"question": QUESTION, "filters": {"since": "2022-13"}}),
             json.dumps({"question": QUESTION, "k": 10, "conversation": "c",
                         "filters": {"until": "2021", "source": ["*odd*"]}}),
             json.dumps({"question": "And what about it?", "k": 10, "conversation": "c",
                         "filters": {"until": "2021", "source": ["*odd*"]}})]
    result = run_ask(corpus_index, "--json", "--source", "*reuters*", stdin="\n".join(lines))
    assert result.exit_code == 1  # the bad line
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    names = [{Path(a["source"]).name for a in r["answers"]} for r in replies]
    assert names[0] == {"harbour.md"}
    assert names[1] == {"port.txt", "feed.jsonl"}  # the command's filter
    assert "2022-13" in replies[2]["error"] and "YYYY" in replies[2]["error"]
    assert names[3] == names[4] == {"weird[1].txt"}
    assert replies[4]["filters"] == {"until": "2021", "source": ["*odd*"], "articles": 1}


# ----- golden files -------------------------------------------------------------------------
GOLDEN = """\
corpus: news
model: hashing
k: 10
filters: {since: 2022-01-01, until: 2022-12}
cases:
  - name: file filter
    question: What happened at the harbour port?
    expect: {contains: harbour bridge, within: 10}
  - name: no undated or 2023 article under the file filter
    question: Where does the harbour market sell fish and grain?
    expect: {contains: harbour market sells fish, within: 10}
  - name: case filter replaces the file's
    question: Who guided ships into the port?
    filters: {source: ["*weird[[]1]*"]}
    expect: {contains: harbour pilot, article: "weird[1].txt"}
"""


def test_golden_files_take_file_and_case_filters(tmp_path: Path):
    write_corpus(tmp_path / "news", ARTICLES)
    path = tmp_path / "f.qa.yaml"
    path.write_text(GOLDEN, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--index-dir", str(tmp_path / "i")])
    rows = [row.split()[0] for row in result.stdout.splitlines()
            if row.startswith(("PASS", "FAIL"))]
    assert rows == ["PASS", "FAIL", "PASS"], result.stdout
    assert result.exit_code == 1  # the undated article is left out by the file's dates


def test_golden_bad_filter_is_a_format_error(tmp_path: Path):
    write_corpus(tmp_path / "news", ARTICLES)
    path = tmp_path / "f.qa.yaml"
    path.write_text(GOLDEN.replace("until: 2022-12", "until: 2022-13"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 2
    assert f"{path}:4: 'filters': until '2022-13' is not a date" in result.stderr


def test_lexical_restriction_reads_the_kept_or_the_matched_sentences_alike(answerer):
    """Masking the matched sentences and scoring the kept ones give the same top list."""
    from index.search.term_match import match_terms

    searcher = answerer.searcher
    for wanted in (ArticleFilter.of(sources=["*odd*"]), ArticleFilter.of(since="2022")):
        within = searcher.restriction(wanted)
        match = match_terms(searcher.bm25, QUESTION)
        by_mask = match.within(within.mask)
        by_ids = match.within(within.mask, within.ids)
        assert len(by_mask.matched) and within.mask[by_mask.matched].all()
        assert np.array_equal(np.sort(by_mask.top(3)), np.sort(by_ids.top(3)))
        assert by_mask.best == by_ids.best


@pytest.mark.parametrize("pattern", ["[z-a]", "[", "[]", "(", "\\", "*a*" * 30])
def test_odd_patterns_are_patterns_not_errors(answerer, pattern):
    answer = answerer.ask(QUESTION, sources=[pattern])
    assert answer.kept_articles == 0 and answer.evidence == []
