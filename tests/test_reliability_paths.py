"""Bad paths and options, and indexes that cannot be used: one ``error:`` line, exit code 1 for
a problem with the index or input, 2 for bad arguments; nothing on stdout, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.store.generations import IndexDir, manifest_digest

from .conftest import write_corpus

HASHING = ["--backend", "hashing", "--model", "hashing"]
ARTICLES = {"a.txt": "Otters hold hands while they sleep. They float on their backs.\n",
            "b.md": "---\ntitle: Owls\n---\nOwls can turn their heads very far.\n"}


def bot(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def assert_one_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "news", ARTICLES)


@pytest.fixture
def index_dir(corpus: Path, tmp_path: Path) -> Path:
    result = bot("index", str(corpus), "--index-dir", str(tmp_path / "idx"), *HASHING)
    assert result.exit_code == 0, result.stderr
    return tmp_path / "idx"


def rewrite_manifest(index_dir: Path, change) -> None:
    """Edit the live manifest as another program (or version) would, with a valid digest."""
    path = IndexDir(index_dir).require_current() / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    data["digest"] = manifest_digest(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("k", ["0", "-1", "-100", "101", "99999999999999999999999", "2.5",
                               "three", ""])
def test_bad_k_is_a_usage_error(index_dir: Path, k: str):
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir), "-k", k), 2, "-k")


def test_k_larger_than_the_index_returns_every_sentence(index_dir: Path):
    result = bot("ask", "--json", "otters", "--index-dir", str(index_dir), "-k", "100")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["answers"]) == 3  # all the index holds


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "no index in"),                                # missing
    (lambda p: p.mkdir(), "no index in"),                           # empty folder
    (lambda p: p.write_text("not a folder"), "is a file, not a directory"),
    (lambda p: (p / "CURRENT").parent.mkdir() or (p / "CURRENT").write_text("../../etc\n"),
     "CURRENT is damaged"),
    (lambda p: (p / "CURRENT").parent.mkdir() or (p / "CURRENT").write_text("gone\n"),
     "live generation gone is missing"),
])
def test_unusable_index_dir_for_ask(tmp_path: Path, make, fragment: str):
    target = tmp_path / "idx"
    make(target)
    assert_one_error(bot("ask", "otters", "--index-dir", str(target)), 1, fragment)


def test_index_dir_that_is_a_file_or_below_a_file_for_index(corpus: Path, tmp_path: Path):
    (tmp_path / "afile").write_text("x")
    assert_one_error(bot("index", str(corpus), "--index-dir", str(tmp_path / "afile"), *HASHING),
                     1, "is a file")
    assert_one_error(bot("index", str(corpus), "--index-dir", str(tmp_path / "afile" / "idx"),
                         *HASHING), 1, "cannot create the index")
    assert (tmp_path / "afile").read_text() == "x"


def test_empty_index_dir_argument_is_refused(corpus: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert_one_error(bot("index", str(corpus), "--index-dir", "", *HASHING), 1, "empty path")
    assert not (tmp_path / "CURRENT").exists() and not (tmp_path / "generations").exists()


def test_bot_index_dir_environment_variable_pointing_at_a_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("BOT_INDEX_DIR", str(tmp_path / "afile"))
    assert_one_error(bot("ask", "otters"), 1, "is a file")


@pytest.mark.parametrize("paths, code, fragment", [
    (["missing-folder"], 1, "no such file or directory: missing-folder"),
    ([], 2, "Missing argument"),
])
def test_bad_article_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths, code,
                           fragment):
    monkeypatch.chdir(tmp_path)
    assert_one_error(bot("index", *paths, "--index-dir", str(tmp_path / "idx"), *HASHING),
                     code, fragment)
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_explicit_unsupported_file_is_named_and_the_rest_indexed(corpus: Path, tmp_path: Path):
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    result = bot("index", str(corpus), str(tmp_path / "photo.jpg"), "--index-dir",
                 str(tmp_path / "idx"), *HASHING)
    assert result.exit_code == 0
    assert "photo.jpg: unsupported file type" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--backend", "hashing", "--model", "hashing:64"], "built with model 'hashing'"),
    (["--backend", "onnx"], "built with model 'hashing' (hashing)"),
])
def test_other_model_is_refused_and_rebuild_switches(corpus: Path, index_dir: Path, args,
                                                     fragment: str):
    before = IndexDir(index_dir).current_name()
    assert_one_error(bot("index", str(corpus), "--index-dir", str(index_dir), *args), 1,
                     fragment, "--rebuild")
    assert IndexDir(index_dir).current_name() == before


def test_other_dimension_is_refused_clearly(index_dir: Path):
    rewrite_manifest(index_dir, lambda m: m["encoder"].update(dim=384))
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1,
                     "384 dimensions", "the model gives 256")


@pytest.mark.parametrize("version", [0, 4, "2", None, True])
def test_other_format_version_is_refused_clearly(index_dir: Path, version):
    rewrite_manifest(index_dir, lambda m: m.update(format_version=version))
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1,
                     f"index format version {version} is not one this bot reads (2, 3)",
                     "--rebuild")


def as_version_1(index_dir: Path) -> None:
    """Turn the live generation into what version 1 wrote: no sentence table, texts or title
    terms beside docs.sqlite (and none in the manifest's checksums)."""
    generation = IndexDir(index_dir).require_current()
    added = [n for n in ("sentence_table.npy", "sentence_texts.bin",
                         "sentence_text_offsets.npy", "title_terms_indptr.npy",
                         "title_terms_articles.npy")]
    for name in added:
        (generation / name).unlink()
    rewrite_manifest(index_dir, lambda m: (m.update(format_version=1),
                                           [m["checksums"].pop(n) for n in added]))


def test_an_index_of_the_previous_format_is_updated_without_embedding_again(
        corpus: Path, index_dir: Path):
    question = ["ask", "--json", "Do otters hold hands?", "--index-dir", str(index_dir)]
    before = json.loads(bot(*question).stdout)
    as_version_1(index_dir)
    assert_one_error(bot(*question), 1, "index format version 1 is older",
                     f"bot index PATH... --index-dir {index_dir}", "nothing is embedded again")
    update = bot("index", str(corpus), "--index-dir", str(index_dir))
    assert update.exit_code == 0, update.stderr
    assert "0 sentences embedded" in update.stderr
    assert IndexDir(index_dir).read_manifest().format_version == 2
    assert json.loads(bot(*question).stdout) == before


def test_not_a_bot_index_is_refused(index_dir: Path):
    rewrite_manifest(index_dir, lambda m: m.update(format="something-else"))
    assert_one_error(bot("ask", "otters", "--index-dir", str(index_dir)), 1, "not a bot index")


def test_other_model_can_be_rebuilt_over_a_refused_index(corpus: Path, index_dir: Path):
    result = bot("index", str(corpus), "--index-dir", str(index_dir), "--rebuild",
                 "--backend", "hashing", "--model", "hashing:64")
    assert result.exit_code == 0
    assert IndexDir(index_dir).read_manifest().encoder["dim"] == 64
    answer = bot("ask", "--json", "Do otters hold hands?", "--index-dir", str(index_dir))
    assert json.loads(answer.stdout)["answers"][0]["text"] == "Otters hold hands while they sleep."
