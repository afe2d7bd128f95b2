"""Fit the confidence model (``bot/confidence_weights.json``) on in- vs out-of-corpus questions.

    python scripts/fit_confidence.py            # cross-fitted figures
    python scripts/fit_confidence.py --write    # ... and write the coefficients

SQuAD dev half-a's 24 articles are split into two groups (even / odd positions, as
``scripts/split_squad.py``). Each group is indexed alone and asked its own questions (label 1:
the corpus holds the answer) and the other group's (label 0: it does not). A logistic
regression on the best hit's score parts (:data:`PARTS`) gives the probability that the corpus
holds the answer. The threshold is the lowest one that keeps out-of-corpus questions answered
at most ``--ooc-target`` of the time. Figures are cross-fitted: fitted on one group's run, measured
on the other's. The written coefficients are fitted on both runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranker_data import HALF_A, load_half_a, question_vectors  # noqa: E402

from bot.confidence import WEIGHTS_FILE  # noqa: E402
from bot.evaluation.metrics import auroc  # noqa: E402
from bot.evaluation.runner import prepare, work_dir_for  # noqa: E402
from bot.questions import clean_question  # noqa: E402
from index.embed.encoders import EncoderSpec, load_encoder  # noqa: E402

PARTS = ("dense", "passage", "neighbour", "lexical_log", "coverage", "context_coverage", "title",
         "all_coverage", "article_dense", "article_lexical", "known_terms", "margin")


def top_parts(searcher, squad, vectors) -> np.ndarray:
    """The best hit's parts for every question of ``squad``."""
    rows = []
    for question, vector in zip(squad.questions, vectors):
        hits = searcher.rank(clean_question(question.text), vector, 1)
        rows.append([hits[0].parts.get(p, 0.0) if hits else 0.0 for p in PARTS])
    return np.array(rows, dtype=np.float64)


def fit(X: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Logistic regression weights (last entry: intercept), balanced over the two labels."""
    Xb = np.column_stack([X, np.ones(len(X))])
    weight = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = Xb @ w
        p = 1 / (1 + np.exp(-z))
        value = -np.sum(weight * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        grad = Xb.T @ (weight * (p - y))
        reg = w.copy()
        reg[-1] = 0
        return float(value + l2 * reg @ reg), grad + 2 * l2 * reg

    return minimize(loss, np.zeros(Xb.shape[1]), jac=True, method="L-BFGS-B").x


def predict(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.column_stack([X, np.ones(len(X))]) @ w)))


def choose_threshold(p_in: np.ndarray, p_out: np.ndarray, target: float) -> float:
    """The lowest threshold answering at most ``target`` of out-of-corpus questions."""
    return float(max(np.quantile(p_out, 1 - target), 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=HALF_A)
    parser.add_argument("--ooc-target", type=float, default=0.04)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    squad = load_half_a(args.squad)
    spec = EncoderSpec()
    encoder = load_encoder(spec)
    halves = [squad.subset(list(range(p, len(squad.articles), 2))) for p in (0, 1)]
    runs = []
    for own, other in ((0, 1), (1, 0)):
        work = work_dir_for(halves[own], spec)
        prepared = prepare(halves[own], work, encoder)
        inside = top_parts(prepared.searcher, halves[own],
                           question_vectors(halves[own], encoder, work))
        outside = top_parts(prepared.searcher, halves[other],
                            question_vectors(halves[other], encoder, work))
        runs.append((inside, outside))
        print(f"group {own} indexed: {len(inside)} in-corpus, {len(outside)} out-of-corpus")
    for train, test in ((0, 1), (1, 0)):
        X = np.vstack(runs[train])
        y = np.concatenate([np.ones(len(runs[train][0])), np.zeros(len(runs[train][1]))])
        w = fit(X, y)
        cut = choose_threshold(predict(w, runs[train][0]), predict(w, runs[train][1]),
                               args.ooc_target)
        p_in, p_out = predict(w, runs[test][0]), predict(w, runs[test][1])
        print(f"fit on run {train}, measured on run {test}: AUROC {auroc(p_in, p_out):.3f}; "
              f"at 0.5: in-corpus answered {np.mean(p_in >= 0.5):.3f}, out-of-corpus "
              f"{np.mean(p_out >= 0.5):.3f}; at chosen {cut:.3f}: in {np.mean(p_in >= cut):.3f}, "
              f"out {np.mean(p_out >= cut):.3f}")
    X = np.vstack([np.vstack(r) for r in runs])
    y = np.concatenate([np.concatenate([np.ones(len(r[0])), np.zeros(len(r[1]))]) for r in runs])
    w = fit(X, y)
    p = predict(w, X)
    cut = choose_threshold(p[y == 1], p[y == 0], args.ooc_target)
    print(f"all: AUROC {auroc(p[y == 1], p[y == 0]):.3f}, threshold {cut:.3f}: in "
          f"{np.mean(p[y == 1] >= cut):.3f}, out {np.mean(p[y == 0] >= cut):.3f}")
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps({
            "intercept": round(float(w[-1]), 4),
            "coefficients": {name: round(float(v), 4) for name, v in zip(PARTS, w[:-1])},
            "threshold": round(cut, 4),
            "fitted_by": "python scripts/fit_confidence.py --write",
            "data": "SQuAD v1.1 dev half-a split into even/odd articles; each half indexed "
                    "alone, asked its own (label 1) and the other half's (label 0) questions; "
                    "balanced logistic regression on the best hit's parts; threshold = lowest "
                    f"answering <= {args.ooc_target:.0%} of out-of-corpus questions",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
