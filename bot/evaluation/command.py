"""``bot eval FILE [--ooc OTHER.json] [--rerank-depth N | --fast] [--json] [--plot FILE.svg]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from index.choices import BACKENDS, RANKERS

if TYPE_CHECKING:
    from .coqa import CoqaSet
    from .squad import SquadSet


@click.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--ooc", type=click.Path(dir_okay=False), default=None,
              help="SQuAD-format file whose questions are asked but whose articles are not "
              "indexed (out-of-corpus): reports how often they are answered, and the AUROC.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="Where the article files and their index go (default: under the bot cache, "
              "reused by later runs so unchanged articles embed nothing).")
@click.option("--articles", type=click.IntRange(min=1), default=None,
              help="Use only the first N articles of FILE (and of --ooc).")
@click.option("--half", type=click.Choice(["odd", "even"]), default=None,
              help="Use only the articles at odd (or even) positions of FILE: the reranker "
              "was trained on the even SQuAD/CoQA ones, so 'odd' is held out.")
@click.option("--ranker", type=click.Choice(RANKERS), default="learned", show_default=True,
              help="learned: the shipped ranker; hand: the hand-set weighted sum; "
              "rrf: reciprocal-rank fusion of dense and BM25.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the reliability diagram and the precision-coverage curve of the "
              "verdict into this .svg or .png file (needs matplotlib).")
@click.option("--rerank-depth", type=click.IntRange(min=0), default=None,
              help="Candidates the second stage reads (default: as bot ask; 0: none).")
@click.option("--fast", is_flag=True,
              help="First stage only (the same as --rerank-depth 0).")
@click.option("--model", default=None, help="Model name or path (default: as bot index).")
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="Encoder backend (default: as bot index).")
def eval_command(file: str, ooc: str | None, as_json: bool, work_dir: str | None,
                 articles: int | None, half: str | None, ranker: str, plot: str | None,
                 rerank_depth: int | None, fast: bool, model: str | None,
                 backend: str | None) -> None:
    """Measure answer quality on a question set FILE (P@1, MRR@10, R@5, R@10, answered) and
    how far the verdict can be trusted (precision and coverage of answered, AUROC, ECE).

    FILE is SQuAD v1.1/v2.0 JSON, a WikiQA .tsv file or a natural-questions .yaml file
    (docs/quality.md). Every article of FILE is written as a text file and indexed; every
    question is asked. A hit is a returned sentence holding an annotator's answer start. Plain
    BM25 and plain dense ("Title: sentence" vectors) are measured on the same sentences in the
    same run; for WikiQA also MAP/MRR on each question's own candidates. SQuAD v2.0 questions
    marked is_impossible are asked too, as on-topic questions the articles do not answer.

    A CoQA-format FILE (stories with dialogues) is asked dialogue by dialogue, each turn in
    its conversation and alone, and also reports how often the top sentence is from the
    dialogue's story (story@1).
    """
    from index.embed.encoders import EncoderSpec

    from .coqa import CoqaSet
    from .formats import load_eval_set, load_question_set
    from .report import render, render_dialogues
    from .runner import evaluate

    if plot is not None:
        from .plot import check_plot_path

        check_plot_path(Path(plot))
    spec = EncoderSpec.from_env(model, backend)
    loaded = load_eval_set(file)
    if articles is not None:
        loaded = loaded.subset(_first(articles, loaded))
    if half is not None:
        loaded = loaded.subset([a for a in range(len(loaded.articles))
                                if a % 2 == (half == "odd")])
    depth = 0 if fast else rerank_depth
    if isinstance(loaded, CoqaSet):  # dialogues
        from index.errors import BadInput

        from .dialogues import evaluate_dialogues

        if ooc or plot:
            raise BadInput("--ooc and --plot are for SQuAD-format files, not dialogues")
        report = evaluate_dialogues(loaded, spec=spec, ranker=ranker,
                                    work_dir=Path(work_dir) if work_dir else None,
                                    rerank_depth=depth)
        click.echo(json.dumps(report) if as_json else render_dialogues(report))
        return
    outside = load_question_set(ooc) if ooc else None
    if articles is not None and outside is not None:
        outside = outside.subset(_first(articles, outside))
    report = evaluate(loaded, outside, spec=spec, ranker=ranker,
                      work_dir=Path(work_dir) if work_dir else None, rerank_depth=depth)
    if plot is not None:
        from .plot import plot_verdict

        plot_verdict(report["verdict"], Path(plot), title=Path(file).name)
    click.echo(json.dumps(report) if as_json else render(report))


def _first(count: int, loaded: "SquadSet | CoqaSet") -> list[int]:
    """The positions of the first ``count`` articles of ``loaded`` (all when it has fewer)."""
    return list(range(min(count, len(loaded.articles))))
