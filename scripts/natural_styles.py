"""Split ``bot eval FILE`` on a natural-questions YAML file by question style.

    python scripts/natural_styles.py [bench/data/natural-news/questions.yaml] [--misses]
    BOT_RERANK_DEPTH=0 python scripts/natural_styles.py     # as ``bot eval FILE --fast``

A question without "?" that is all lower case is a search-engine query ("teachers strike pay
offer"); every other one is a reader's question ("Why are teachers on strike?"). The file is
indexed and asked exactly as ``bot eval FILE`` does it (the same work directory, so the same
index and sentences; the second stage as ``bot ask`` runs it, ``$BOT_RERANK_DEPTH`` read, each
reply answered as its own verdict said), and the figures are printed for all questions,
which reproduce that command's, and for each style alone: P@1 / MRR@10 of the bot, plain dense
and plain BM25, and the verdict's precision, coverage, AUROC and ECE with the share of the
style's unanswerable questions it answers. ``--misses`` also lists every answerable question
whose best sentence is not an answering one, with that sentence and the answering one.
Measurement only: fit nothing on what it prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from bot.confidence import threshold
from bot.evaluation.formats import load_question_set
from bot.evaluation.metrics import auroc, first_hit_ranks, ranking_scores, verdict_scores
from bot.evaluation.runner import Asked, ask_all, prepare, work_dir_for
from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.errors import BadInput
from index.search.ranking import Ranker

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "bench" / "data" / "natural-news" / "questions.yaml"
STYLES = ("all", "reader", "search")


def style(question: str) -> str:
    """"search" for a query without "?" in lower case, else "reader"."""
    return "search" if "?" not in question and question == question.lower() else "reader"


def measure(path: Path, encoder: Encoder, work_dir: Path | None = None) -> dict[str, Any]:
    """Each style's figures (``"all"``, ``"reader"``, ``"search"``) and the misses."""
    squad = load_question_set(path)
    work_dir = (work_dir or work_dir_for(squad, encoder.spec)).absolute()
    prepared = prepare(squad, work_dir, encoder, Ranker.named("learned"))
    asked = ask_all(prepared.searcher, prepared.questions, gold=prepared.gold)
    unanswerable = ask_all(prepared.searcher, squad.unanswerable, baselines=False,
                           desc="asking unanswerable")
    ranks = {name: first_hit_ranks(getattr(asked, name), prepared.gold)
             for name in ("bot", "dense", "bm25")}
    kinds = np.array([style(q.text) for q in prepared.questions])
    kinds_u = np.array([style(q.text) for q in squad.unanswerable], dtype=str)
    report: dict[str, Any] = {"sentences": prepared.searcher.size}
    for name in STYLES:
        keep = kinds == name if name != "all" else np.ones(len(kinds), bool)
        keep_u = kinds_u == name if name != "all" else np.ones(len(kinds_u), bool)
        report[name] = _figures(asked, unanswerable, ranks, keep, keep_u)
    texts = prepared.searcher.table.texts  # the index's sentences, by id
    report["misses"] = [
        {"q": q.text, "style": kinds[n], "rank": int(ranks["bot"][n]),
         "dense_rank": int(ranks["dense"][n]), "bm25_rank": int(ranks["bm25"][n]),
         "top": texts([min(asked.bot[n][0])])[0] if asked.bot[n] else "",
         "answer": texts(sorted(prepared.gold[n]))}
        for n, q in enumerate(prepared.questions) if ranks["bot"][n] != 1]
    return report


def _figures(asked: Asked, unanswerable: Asked, ranks: dict[str, np.ndarray],
             keep: np.ndarray, keep_u: np.ndarray) -> dict[str, Any]:
    """One style's ranking and verdict figures, as ``bot eval`` computes them."""
    conf = np.r_[np.asarray(asked.confidence)[keep], np.asarray(unanswerable.confidence)[keep_u]]
    right = np.r_[np.asarray(asked.right, bool)[keep], np.zeros(int(keep_u.sum()), bool)]
    answerable = np.r_[np.ones(int(keep.sum()), bool), np.zeros(int(keep_u.sum()), bool)]
    best = {name: np.r_[np.asarray(getattr(asked, f"best_{name}"))[keep],
                        np.asarray(getattr(unanswerable, f"best_{name}"))[keep_u]]
            for name in ("dense", "bm25")}
    return {
        "questions": int(keep.sum()), "unanswerable": int(keep_u.sum()),
        "methods": {name: ranking_scores(r[keep]).to_json() for name, r in ranks.items()},
        "verdict": verdict_scores(conf, right, threshold(False), answerable, answered=np.r_[
            np.asarray(asked.answered, bool)[keep], np.asarray(unanswerable.answered, bool)[keep_u]]),
        "baseline_auroc": {name: round(float(auroc(v[right], v[~right])), 4)
                           for name, v in best.items()},
        "unanswerable_answered": int(np.asarray(unanswerable.answered, bool)[keep_u].sum()),
    }


def render(report: dict[str, Any]) -> str:
    """The table of :func:`measure`'s figures."""
    lines = [f"{report['sentences']} sentences; P@1 / MRR@10 (right first), verdict: "
             "precision / coverage / AUROC / ECE, unanswerable answered"]
    for name in STYLES:
        row = report[name]
        methods = "  ".join(
            f"{m} {s['p@1']:.3f} / {s['mrr@10']:.3f} ({round(s['p@1'] * s['questions'])})"
            for m, s in row["methods"].items())
        v = row["verdict"]
        lines.append(f"{name:<7} {row['questions']:>4} questions  {methods}")
        lines.append(f"{'':<13}verdict {_f(v['precision'])} / {_f(v['coverage'])} / "
                     f"{_f(v['auroc'])} / {_f(v['ece'])} (dense AUROC "
                     f"{_f(row['baseline_auroc']['dense'])}, BM25 "
                     f"{_f(row['baseline_auroc']['bm25'])}); unanswerable answered "
                     f"{row['unanswerable_answered']} of {row['unanswerable']}")
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.3f}"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--misses"]
    path = Path(args[0]) if args else DEFAULT
    try:
        report = measure(path, load_encoder(EncoderSpec.from_env()))
    except BadInput as exc:
        raise SystemExit(f"error: {exc}") from None
    print(render(report))
    if "--misses" in sys.argv[1:]:
        for miss in report["misses"]:
            print(f"\n[{miss['style']}] {miss['q']}  (bot rank {miss['rank'] or '>10'}, dense "
                  f"{miss['dense_rank'] or '>10'}, BM25 {miss['bm25_rank'] or '>10'})\n"
                  f"  top:    {miss['top']}")
            for answer in miss["answer"]:
                print(f"  answer: {answer}")


if __name__ == "__main__":
    main()
