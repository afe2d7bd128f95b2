"""The Python API as documented: docs/python.md's examples run as written, in order."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SEEDS

DOC = ROOT / "docs" / "python.md"


def doc_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_an_example_for_each_use() -> None:
    code = "\n".join(doc_examples())
    for call in ("index_folder(", "Answerer.open(", ".ask(", ".conversation()", ".passage("):
        assert call in code


def test_bot_exports_what_a_user_needs_without_loading_the_engine() -> None:
    """``import bot`` stays cheap (the CLI imports it first); the names load on use."""
    probe = ("import sys, bot; heavy = [m for m in ('faiss', 'numpy', 'index.search.searcher') "
             "if m in sys.modules]; print(heavy); from bot import Answerer, Evidence, "
             "index_folder, Conversation, EngineError, BadInput; print(Answerer.__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["[]", "Answerer"]


def test_unknown_names_are_an_attribute_error() -> None:
    import bot

    with pytest.raises(AttributeError):
        bot.NoSuchThing  # noqa: B018


@pytest.mark.slow
def test_docs_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      session_cache: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for example in doc_examples():
        exec(compile(example, str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    assert namespace["report"].committed and namespace["report"].sentences > 10
    assert {stage for stage, _, _ in namespace["stages"]} == {"reading", "embedding"}
    assert "Lei Jun" in namespace["best"].text
    assert namespace["then"].follow_up is True


def test_progress_callback_reports_each_stage(tmp_path: Path, hashing_spec) -> None:
    from bot import index_folder

    calls: list[tuple[str, int, int]] = []
    report = index_folder(SEEDS, tmp_path / "idx", model="hashing", backend="hashing",
                          progress=lambda *c: calls.append(c))
    reading = [c for c in calls if c[0] == "reading"]
    embedding = [c for c in calls if c[0] == "embedding"]
    assert reading[-1][1:] == (len(list(SEEDS.iterdir())),) * 2
    assert embedding[-1][1] == embedding[-1][2] == report.sentences_embedded > 0
    calls.clear()
    again = index_folder([SEEDS], tmp_path / "idx", progress=lambda *c: calls.append(c))
    assert again.sentences_embedded == 0 and not [c for c in calls if c[0] == "embedding"]
