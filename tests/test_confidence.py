"""The confidence model: what it reads, how it refuses a broken weights file, and the script
that fits it (on a small made-up fixture, with the hashing encoder)."""

from __future__ import annotations

import json
import os
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import confidence as conf_module
from bot.cli import cli
from bot.confidence import (ConfidenceModel, ConfidenceModelError, confidence, threshold,
                            verdict)

from . import verdict_fixture as fx
from .conftest import ROOT


class Ranked:
    def __init__(self, **parts: float) -> None:
        self.parts = parts


WEAK = Ranked(dense=0.1, passage=0.1, neighbour=0.1, lexical_log=0.0, coverage=0.0,
              context_coverage=0.0, all_coverage=0.0, article_dense=0.1, dense_rank=4.0,
              lexical_rank=6.0, margin=0.0, known_terms=0.3)
STRONG = Ranked(dense=0.8, passage=0.7, neighbour=0.6, lexical=1.0, lexical_log=3.0,
                coverage=1.0, context_coverage=1.0, all_coverage=1.0, title=0.5,
                article_dense=0.8, article_lexical=1.0, dense_rank=1.0, lexical_rank=1.0,
                margin=2.0, known_terms=1.0, cue_name=1.0)
RUNNER_UP = Ranked(dense=0.3, passage=0.5, lexical=0.2, lexical_log=1.0, coverage=0.3,
                   context_coverage=0.4, dense_rank=1.6, lexical_rank=2.0)


def test_confidence_is_a_probability_that_grows_with_support():
    weak = confidence("Who founded the town?", [WEAK, RUNNER_UP])
    strong = confidence("Who founded the town?", [STRONG, RUNNER_UP])
    assert 0.0 <= weak < threshold() <= strong <= 1.0
    assert verdict("Who founded the town?", [STRONG, RUNNER_UP])[1] is True
    assert verdict("Who founded the town?", [WEAK, RUNNER_UP])[1] is False
    assert verdict("Who founded the town?", []) == (0.0, False)


@pytest.fixture
def weights_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point the bot at another weights file (the model cache is cleared around it)."""
    def point(content: str | None) -> Path:
        path = tmp_path / "confidence_weights.json"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        monkeypatch.setattr(conf_module, "WEIGHTS_FILE", path)
        conf_module.model.cache_clear()
        return path

    yield point
    conf_module.model.cache_clear()


@pytest.mark.parametrize("content, reason", [
    (None, "No such file"),
    ("{not json", "Expecting property name"),
    ('{"intercept": 0, "coefficients": {}, "threshold": 0.5}', "'calibration'"),
    ('{"intercept": 0, "coefficients": {"no_such_part": 1}, "threshold": 0.5, '
     '"calibration": {"x": [0, 1], "y": [0, 1]}}', "unknown features no_such_part"),
    ('{"intercept": 0, "coefficients": {"dense": 1}, "threshold": 7, '
     '"calibration": {"x": [0, 1], "y": [0, 1]}}', "not a probability"),
])
def test_a_missing_or_broken_weights_file_fails_loudly(weights_at, content, reason):
    path = weights_at(content)
    with pytest.raises(ConfidenceModelError) as caught:
        confidence("Who?", [STRONG])
    message = str(caught.value)
    assert str(path) in message and reason in message and "\n" not in message


def test_bot_ask_refuses_to_answer_without_its_model(weights_at, hashing_spec, tmp_path):
    from index.indexer import update_index
    from index.store.generations import IndexDir

    from .conftest import SEEDS

    update_index([SEEDS], IndexDir(tmp_path / "idx"), spec=hashing_spec)
    weights_at(None)
    result = CliRunner().invoke(cli, ["ask", "--index-dir", str(tmp_path / "idx"),
                                      "Who is Xiaomi's founder?"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read the confidence model")
    assert "Traceback" not in result.output + result.stderr


def test_the_shipped_weights_load_and_say_how_they_were_fitted():
    data = json.loads(conf_module.WEIGHTS_FILE.read_text(encoding="utf-8"))
    fitted = ConfidenceModel.from_json(data)
    assert list(fitted.calibration_y) == sorted(fitted.calibration_y)
    assert data["fitted_by"].startswith("python scripts/fit_confidence.py")
    mix = data["cross_fitted"]["mix"]
    assert mix["precision"] >= 0.8 and mix["auroc"] >= 0.85


class Sentence:
    def __init__(self, text: str, **parts: float) -> None:
        self.parts, self.text, self.title = parts, text, ""


@pytest.mark.parametrize("question, sentence, held, missing", [
    ("Where is Leica's headquarters?", "Leica is a 150-year-old German company.", 0.0, 1.0),
    ("Where is Leica based?", "Leica is based in Wetzlar, a town in Hesse.", 1.0, 0.0),
    ("Which city hosts the fair?", "The fair is held in Leipzig every spring.", 1.0, 0.0),
    ("Where is the fair held in Leipzig?", "The fair is held in Leipzig.", 0.0, 1.0),  # asked
    ("Who runs Leica?", "Leica is based in Wetzlar.", 0.0, 0.0),  # not a place question
    # Not places: a month, a weekday, a nationality before a noun, "according to".
    ("Where do the meetings take place?", "They take place in April.", 0.0, 1.0),
    ("Where was media day held?", "It moved to the Monday evening.", 0.0, 1.0),
    ("Where do the buyers come from?", "Most are from British retailers.", 0.0, 1.0),
    ("Where was it reported?", "It was sold, according to Reuters.", 0.0, 1.0),
    ("Where is Sharp's phone sold?", "It is sold in Japan only.", 1.0, 0.0),
    ("Where is the court?", "The court sits at The Hague.", 1.0, 0.0),
    # "where" in a relative clause does not ask for a place.
    ("What is the stadium where the final was played called?", "It is in Santa Clara.", 0.0,
     0.0),
])
def test_where_questions_read_whether_the_sentence_names_a_place(question, sentence, held,
                                                                 missing):
    from bot.confidence_features import verdict_features

    features = verdict_features(question, [Sentence(sentence, dense=0.6)])
    assert (features["wants_place_held"], features["wants_place_missing"]) == (held, missing)


def test_a_where_reply_naming_no_place_is_less_sure_than_one_that_does():
    """The shipped model: same parts, the nationality alone does not say where a thing is."""
    parts = dict(STRONG.parts, cue_name=0.0)
    with_place = Sentence("Leica, the camera maker, is based in Wetzlar.", **parts)
    without = Sentence("Leica, the camera maker, is a German company.", **parts)
    asked = "Where is Leica's headquarters?"
    assert confidence(asked, [with_place]) > confidence(asked, [without])


def test_fitting_script_on_a_small_fixture(tmp_path: Path):
    files = {"v1.json": fx.squad(fx.TOWNS), "v2.json": fx.squad(fx.TOWNS, impossible=True),
             "coqa.json": fx.coqa(fx.TOWNS)}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "weights.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fit_confidence.py"),
         "--squad", str(tmp_path / "v1.json"), "--squad-v2", str(tmp_path / "v2.json"),
         "--coqa", str(tmp_path / "coqa.json"), "--backend", "hashing", "--model", "hashing",
         "--folds", "4", "--precision", "0.8", "--write", "--out", str(out), "--natural"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    for kind, count in (("answerable", 48), ("ooc", 48), ("impossible", 16), ("coqa", 48)):
        assert f"{kind} {count}" in json.loads(out.read_text())["fitted_on"]
    # --natural alone: none of our natural training questions (by default they are in)
    assert "natural" not in json.loads(out.read_text())["fitted_on"]
    assert json.loads(out.read_text())["fitted_by"].endswith("--write --natural")
    fitted = ConfidenceModel.from_json(json.loads(out.read_text()))
    figures = json.loads(out.read_text())["cross_fitted"]
    # made-up towns: each question names its town, so the model separates right from not
    assert figures["mix"]["auroc"] > 0.8
    assert figures["ooc"]["answered"] < 0.2
    assert 0.0 < fitted.threshold < 1.0
    assert "follow-up" in run.stdout and "cross-fitted by article" in run.stdout


def test_fitting_script_fits_the_second_stages_model_with_reranked(tmp_path: Path):
    """--reranked fits on replies the second stage read (the shipped depth unless BOT_RERANK_DEPTH says)
    and writes them as the 'reranked' section; the main model is the first stage's."""
    files = {"v1.json": fx.squad(fx.TOWNS), "v2.json": fx.squad(fx.TOWNS, impossible=True),
             "coqa.json": fx.coqa(fx.TOWNS)}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "weights.json"
    common = [sys.executable, str(ROOT / "scripts" / "fit_confidence.py"),
              "--squad", str(tmp_path / "v1.json"), "--squad-v2", str(tmp_path / "v2.json"),
              "--coqa", str(tmp_path / "coqa.json"), "--backend", "hashing", "--model",
              "hashing", "--folds", "4", "--precision", "0.8", "--write", "--out", str(out),
              "--natural"]
    env = {k: v for k, v in os.environ.items() if k != "BOT_RERANK_DEPTH"}
    for extra in ([], ["--reranked"]):
        run = subprocess.run(common + extra, capture_output=True, text=True, timeout=300,
                             cwd=tmp_path, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    written = json.loads(out.read_text())
    assert written["coefficients"]["rerank"] == 0  # the fast mode's replies have none
    assert written["reranked"]["coefficients"]["rerank"] != 0
    # each section names the command that refits it
    assert "--reranked" in written["reranked"]["fitted_by"]
    assert "--reranked" not in written["fitted_by"]


def test_reranked_replies_get_the_model_fitted_on_them(weights_at):
    plain = json.loads(conf_module.WEIGHTS_FILE.read_text(encoding="utf-8"))
    reranked = {"intercept": 3.0, "coefficients": {"rerank": 1.0, "dense": 1.0},
                "calibration": {"x": [0.0, 1.0], "y": [0.0, 1.0]}, "threshold": 0.9}
    weights_at(json.dumps({**plain, "reranked": reranked}))
    with_logit = Ranked(**STRONG.parts, rerank=2.0)
    assert confidence("Who?", [with_logit]) == pytest.approx(1 / (1 + math.exp(-(3 + 2 + 0.8))))
    assert confidence("Who?", [STRONG]) != confidence("Who?", [with_logit])  # the main model
    assert threshold() == plain["threshold"] and threshold(reranked=True) == 0.9
    assert verdict("Who?", [Ranked(rerank=-9.0)])[1] is False  # its own threshold


def test_fitting_script_takes_natural_questions_answerable_and_not(tmp_path: Path):
    files = {"v1.json": fx.squad(fx.TOWNS), "v2.json": fx.squad(fx.TOWNS, impossible=True),
             "coqa.json": fx.coqa(fx.TOWNS[:4])}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    folder = tmp_path / "natural-train"
    folder.mkdir()
    natural = fx.natural(fx.TOWNS, folder)
    out = tmp_path / "weights.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fit_confidence.py"),
         "--squad", str(tmp_path / "v1.json"), "--squad-v2", str(tmp_path / "v2.json"),
         "--coqa", str(tmp_path / "coqa.json"), "--natural", str(natural),
         "--natural-weight", "2", "--backend", "hashing", "--model", "hashing",
         "--folds", "4", "--write", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    written = json.loads(out.read_text())
    # three answerable questions a town and one its article leaves open
    for kind, count in (("natural", 24), ("natural_impossible", 8), ("answerable", 48)):
        assert f"{kind} {count}" in written["fitted_on"]
    figures = written["cross_fitted"]
    assert figures["natural all"]["replies"] == 32
    assert figures["natural_impossible"]["right_rate"] == 0.0  # never right
    assert 0.0 <= figures["natural all"]["coverage"] <= figures["natural"]["right_rate"]
    assert written["fitted_by"].endswith(f"--natural {natural} --natural-weight 2")
    assert "natural all" in run.stdout


def test_the_threshold_holds_the_precision_on_natural_questions_too():
    """The rule reads the natural questions beside the SQuAD mix: where a reader's questions
    are wrong at confidences the mix is right at, the threshold rises above them."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_confidence as fc
    import numpy as np

    # the SQuAD mix is right at every confidence; the natural questions are wrong below 0.7
    conf = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.55, 0.65, 0.75, 0.85, 0.95])
    kind = np.array(["answerable"] * 5 + ["natural"] * 5)
    right = np.array([1, 1, 1, 1, 1, 0, 0, 1, 1, 1], dtype=float)

    def data(n: int):
        return fc.Data(["x"], np.zeros((n, 1)), right[:n], np.arange(n), kind[:n],
                       np.zeros(n, bool), np.ones(n))

    assert fc.choose_threshold(conf[:5], data(5), 0.8, 0.03) == 0.5  # the mix alone
    # with them, 0.5 and 0.6 answer 0.55 / 0.65 wrongly (3 of 5, 3 of 4 right < 0.8)
    assert fc.choose_threshold(conf, data(10), 0.8, 0.03) == 0.7
    assert fc.choose_threshold(conf, data(10), 0.6, 0.03) == 0.5
