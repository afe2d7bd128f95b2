"""``BOT_*`` numbers from the environment: a typo is a one-line error, never silently ignored."""

from __future__ import annotations

import importlib
import operator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from index.environment import non_negative, seconds, whole_number
from index.errors import BadInput

from .conftest import write_corpus

# each number the bot reads, and the function that reads it
READERS = {
    "BOT_THREADS": "index.embed.encoders:cpu_cores",
    "BOT_WORKERS": "bot.ask_stream:workers_for_stream",
    "BOT_SHARD_THREADS": "index.search.sharded:shard_threads",
    "BOT_RERANK_THREADS": "index.search.reranker:_threads",
    "BOT_RERANK_DEPTH": "index.search.ranking:default_rerank_depth",
    "BOT_RERANK_GAP": "index.search.ranking:default_rerank_gap",
    "BOT_FETCH_TIMEOUT": "index.ingest.fetching:FetchSettings.from_env",
    "BOT_FETCH_DELAY": "index.ingest.fetching:FetchSettings.from_env",
}


def read(name: str) -> object:
    module, _, attribute = READERS[name].partition(":")
    return operator.attrgetter(attribute)(importlib.import_module(module))()


@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("value", ["two", "-1", "1e9x"])
def test_a_bad_number_is_refused_naming_the_variable(name: str, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(BadInput, match=f"^{name}={value} is not ") as caught:
        read(name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(READERS))
def test_blank_means_the_default(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(name, raising=False)
    unset = read(name)
    monkeypatch.setenv(name, "  ")
    assert read(name) == unset


def test_what_each_kind_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_X", " 3 ")
    assert whole_number("BOT_X", "things") == 3
    assert whole_number("BOT_X", "things", minimum=3) == 3
    with pytest.raises(BadInput, match=r"BOT_X=3 is not a whole number of things \(at least 4\)"):
        whole_number("BOT_X", "things", minimum=4)
    monkeypatch.setenv("BOT_X", "inf")
    assert non_negative("BOT_X", "a gap") == float("inf")
    with pytest.raises(BadInput, match="BOT_X=inf is not a whole number"):
        whole_number("BOT_X", "things")
    monkeypatch.setenv("BOT_X", "nan")
    with pytest.raises(BadInput, match=r"^BOT_X=nan is not a gap \(zero or more; inf: all\)$"):
        non_negative("BOT_X", "a gap", "inf: all")
    monkeypatch.setenv("BOT_X", "0")
    assert seconds("BOT_X") == 0.0
    with pytest.raises(BadInput, match="greater than zero"):
        seconds("BOT_X", positive=True)
    monkeypatch.delenv("BOT_X")
    assert whole_number("BOT_X", "things") is None and seconds("BOT_X") is None


@pytest.mark.parametrize("value", ["soon", "0"])
def test_a_bad_ray_timeout_is_refused_before_ray_is_reached(value: str,
                                                            monkeypatch: pytest.MonkeyPatch):
    """``BOT_RAY_TIMEOUT`` used to reach ``float()`` and show as an internal error."""
    from index import cluster

    def no_ray():
        raise AssertionError("Ray reached before the timeout was read")

    monkeypatch.setattr(cluster, "_ray", no_ray)
    monkeypatch.setenv("BOT_RAY_TIMEOUT", value)
    with pytest.raises(BadInput, match=f"^BOT_RAY_TIMEOUT={value}"):
        cluster.RayShards([])


@pytest.mark.parametrize("name,value", [("BOT_THREADS", "x"), ("BOT_WORKERS", "tow"),
                                        ("BOT_RERANK_DEPTH", "deep")])
def test_bot_ask_says_so_in_one_line(name: str, value: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "news", {"a.txt": "A\n\nLeica partners with Xiaomi.\n"})
    index_dir = str(tmp_path / "idx")
    built = CliRunner().invoke(cli, ["index", str(corpus), "--index-dir", index_dir,
                                     "--backend", "hashing", "--model", "hashing"])
    assert built.exit_code == 0, built.output
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["ask", "--index-dir", index_dir],
                                input="Who partners with Leica?\nAnd Xiaomi?\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {name}={value} is not a whole number of "
        + {"BOT_THREADS": "cores (at least 1)", "BOT_WORKERS": "worker processes (at least 1)",
           "BOT_RERANK_DEPTH": "candidates (0: none)"}[name]]
