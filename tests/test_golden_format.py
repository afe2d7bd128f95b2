"""The golden file format: valid files parse with their defaults; each kind of malformed file
fails with a one-line error naming the file and the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.golden.format import (DEFAULT_CORPUS, DEFAULT_K, GoldenFormatError, find_golden_files,
                               load_golden, parse_golden)
from index.errors import BadInput

from .conftest import ROOT, SEED_ARTICLE, write_corpus

VALID = """\
description: a small example
corpus: articles
k: 4
cases:
  - name: everest
    question: Which is the highest mountain?
    expect:
      contains: Everest
  - question: Which river is the longest?
    k: 7
    corpus: [articles/rivers.txt, more]
    model: hashing
    expect:
      contains: [Nile, longest]
      equals: The Nile is the longest river.
      article: rivers.txt
      within: 9
      abstain: false
  - question: What is the weather in Paris?
    expect: {abstain: true}
"""


def make(tmp_path: Path, text: str, name: str = "x.qa.yaml") -> Path:
    write_corpus(tmp_path, {"articles/rivers.txt": "The Nile is the longest river.\n",
                            "more/a.txt": "Mount Everest is the highest mountain.\n"})
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_parses_with_defaults_and_overrides(tmp_path: Path) -> None:
    golden = load_golden(make(tmp_path, VALID))
    first, second, third = golden.cases
    assert golden.description == "a small example"
    assert (first.name, first.line, first.k) == ("everest", 5, 4)
    assert first.corpus == (tmp_path / "articles",)  # relative to the golden file
    assert first.expect.contains == ("Everest",) and first.expect.within == 1
    assert first.expect.abstain is None
    assert second.name == "Which river is the longest?"  # the question when unnamed
    assert second.corpus == (tmp_path / "articles" / "rivers.txt", tmp_path / "more")
    assert (second.k, second.fetch) == (7, 9)  # within 9 fetches at least 9 sentences
    assert second.spec.backend == "hashing"
    assert second.expect.contains == ("Nile", "longest")
    assert second.expect.equals == "The Nile is the longest river."
    assert second.expect.abstain is False and second.expect.article == "rivers.txt"
    assert third.expect.abstain is True and not third.expect.wants_sentence


def test_defaults_are_the_shipped_seeds_and_k5(tmp_path: Path) -> None:
    golden = parse_golden("cases:\n  - question: hi\n    expect: {abstain: true}\n",
                          tmp_path / "d.qa.yaml")
    assert golden.cases[0].corpus == (DEFAULT_CORPUS,)
    assert golden.cases[0].k == DEFAULT_K


MALFORMED = [
    ("cases:\n  - question: [unclosed\n    expect: {abstain: true}\n", 3, "invalid YAML"),
    ("cases:\n\t- question: hi\n", 2, "invalid YAML"),
    ("", None, "empty golden file"),
    ("# only a comment\n", None, "empty golden file"),
    ("- question: hi\n", 1, "must be a mapping"),
    ("k: 3\n", 1, "missing 'cases:'"),
    ("cases: []\n", 1, "non-empty list"),
    ("cases: {question: hi}\n", 1, "non-empty list"),
    ("cases:\n  - hello\n", 2, "case 1 must be a mapping"),
    ("k: 3\nk: 4\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 2,
     "duplicate key 'k'"),
    ("cases:\n  - question: hi\n    expect:\n      contians: x\n", 4,
     "unknown key 'contians' in the 'expect' of case 1 (did you mean 'contains'?"),
    ("corpora: x\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 1,
     "unknown key 'corpora' in the golden file (did you mean 'corpus'?"),
    ("cases:\n  - question: hi\n    expect: {abstain: true}\n    wrong: 1\n", 4,
     "unknown key 'wrong' in case 1"),
    ("cases:\n  - expect: {abstain: true}\n", 2, "case 1 has no 'question:'"),
    ("cases:\n  - question: hi\n", 2, "case 1 has no 'expect:'"),
    ("cases:\n  - question: '  '\n    expect: {abstain: true}\n", 2, "must not be empty"),
    ("cases:\n  - question: 42\n    expect: {abstain: true}\n", 2, "'question' must be text"),
    ("cases:\n  - question: hi\n    expect: {}\n", 3, "checks nothing"),
    ("cases:\n  - question: hi\n    expect: [contains]\n", 3, "must be a mapping"),
    ("cases:\n  - question: hi\n    expect:\n      abstain: maybe\n", 4,
     "'abstain' must be true or false"),
    ("k: five\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 1,
     "'k' must be a whole number"),
    ("k: 0\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 1,
     "'k' must be between 1 and 100"),
    ("cases:\n  - question: hi\n    expect:\n      contains: x\n      within: 1.5\n", 5,
     "'within' must be a whole number"),
    ("cases:\n  - question: hi\n    expect:\n      abstain: true\n      within: 3\n", 5,
     "'within' needs 'contains'"),
    ("cases:\n  - question: hi\n    expect:\n      contains: []\n", 4, "empty list"),
    ("cases:\n  - question: hi\n    expect:\n      contains: [x, {a: 1}]\n", 4,
     "'contains' must be text"),
    ("corpus: nowhere\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 1,
     "corpus path does not exist: nowhere"),
    ("cases:\n  - question: hi\n    corpus: [articles, gone]\n    expect: {abstain: true}\n", 3,
     "corpus path does not exist: gone"),
    ("backend: gpu\ncases:\n  - question: hi\n    expect: {abstain: true}\n", 1,
     "unknown backend 'gpu'"),
    ("cases:\n  - question: hi\n    expect: {abstain: true}\n"
     "  - question: hi\n    expect: {abstain: false}\n", 4, "duplicate case name 'hi'"),
    ("cases:\n  - question: hi\n    expect: {abstain: true}\n---\ncases: []\n", 5,
     "more than one YAML document"),
]


@pytest.mark.parametrize("text, line, message", MALFORMED,
                         ids=[m[2].split("(")[0][:30] for m in MALFORMED])
def test_malformed_file_names_file_and_line(tmp_path: Path, text: str, line: int | None,
                                            message: str) -> None:
    path = make(tmp_path, text)
    with pytest.raises(GoldenFormatError) as caught:
        load_golden(path)
    error = caught.value
    assert message in str(error)
    assert error.line == line
    where = f"{path}:{line}: " if line else f"{path}: "
    assert str(error).startswith(where)
    assert "\n" not in str(error)


def test_not_utf8_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.qa.yaml"
    path.write_bytes(b"cases:\n  - question: caf\xe9\n")
    with pytest.raises(GoldenFormatError, match="not UTF-8"):
        load_golden(path)
    with pytest.raises(GoldenFormatError, match="No such file"):
        load_golden(tmp_path / "missing.qa.yaml")


def test_find_golden_files(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"a.qa.yaml": "x", "sub/b.qa.yml": "x", "sub/notes.yaml": "x",
                            ".hidden/c.qa.yaml": "x", "plain.yaml": "x",
                            "other/notes.yaml": "x"})
    found = find_golden_files([tmp_path / "a.qa.yaml", tmp_path, tmp_path / "plain.yaml"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.qa.yaml", "sub/b.qa.yml", "plain.yaml"]
    with pytest.raises(BadInput, match="no golden files"):
        find_golden_files([tmp_path / "other"])
    with pytest.raises(BadInput, match="no such file"):
        find_golden_files([tmp_path / "nope"])


def test_shipped_seed_file_is_valid_and_covers_abstention() -> None:
    golden = load_golden(ROOT / "tests" / "golden" / "seed.qa.yaml")
    assert len(golden.cases) >= 20
    # the seed article alone, or beside a distractor on a similar topic (so that the
    # `article:` expectations of those cases can fail)
    corpora = {case.corpus for case in golden.cases}
    assert corpora == {(ROOT / "seeds",), (ROOT / "seeds", ROOT / "tests" / "golden" /
                                           "distractors")}
    assert SEED_ARTICLE.parent == ROOT / "seeds"
    assert sum(case.expect.abstain is True for case in golden.cases) >= 5
    assert sum(case.expect.wants_sentence for case in golden.cases) >= 15


def test_readme_example_is_a_valid_golden_file() -> None:
    section = (ROOT / "docs" / "golden-files.md").read_text(encoding="utf-8").split(
        "<!-- section: golden -->")[1].split("<!-- /section: golden -->")[0]
    example = section.split("```yaml\n")[1].split("```")[0]
    golden = parse_golden(example, ROOT / "tests" / "golden" / "readme.qa.yaml")
    assert len(golden.cases) == 4
    assert golden.cases[-1].expect.abstain is True
