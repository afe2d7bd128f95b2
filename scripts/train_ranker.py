"""Learn the ranker's weights (``index/ranker_weights.json``) on SQuAD dev half-a.

    python scripts/train_ranker.py                 # cross-validate, print figures
    python scripts/train_ranker.py --write         # ... and write the weights
    python scripts/train_ranker.py --features dense,lexical,passage   # an ablation

Model: a linear score over the candidate parts of :mod:`index.search.features`, fitted as a listwise
softmax (the log-likelihood of the gold sentences among each question's candidates, with an L2
penalty). The penalty is chosen by article-grouped cross-validation (questions of one article
are never split between training and testing), since the judged articles are unseen; the
printed P@1/MRR@10 are those held-out figures. The final weights are fitted on all articles.
Only the weights are committed, never the data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranker_data import (HALF_A, SELF_CONTAINED_WORDS, Candidates, collect,  # noqa: E402
                         load_coqa_turns, load_half_a, stack)

from index.search.features import FEATURES  # noqa: E402
from index.search.ranking import WEIGHTS_FILE  # noqa: E402


def fit(data: Candidates, questions: np.ndarray, columns: list[int], l2: float) -> np.ndarray:
    """Weights maximising the softmax likelihood of gold candidates for ``questions``."""
    questions = questions[data.reachable()[questions]]
    starts, ends = data.offsets[questions], data.offsets[questions + 1]
    rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    X = data.X[rows][:, columns]
    gold = data.gold[rows].astype(np.float64)
    group = np.repeat(np.arange(len(starts)), ends - starts)
    count = len(starts)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = X @ w
        top = np.full(count, -np.inf)
        np.maximum.at(top, group, s)
        e = np.exp(s - top[group])
        total = np.bincount(group, e, minlength=count)
        gold_total = np.bincount(group, e * gold, minlength=count)
        value = -np.sum(np.log(gold_total) - np.log(total)) / count + l2 * w @ w
        p_all = e / total[group]
        p_gold = e * gold / gold_total[group]
        grad = X.T @ (p_all - p_gold) / count + 2 * l2 * w
        return float(value), grad

    result = minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})
    return result.x


def ranks(data: Candidates, questions: np.ndarray, columns: list[int],
          w: np.ndarray) -> np.ndarray:
    """1-based rank of the first gold candidate per question (0 when none is a candidate)."""
    out = np.zeros(len(questions), dtype=np.int64)
    for n, q in enumerate(questions):
        s, e = data.offsets[q], data.offsets[q + 1]
        gold = data.gold[s:e]
        if not gold.any():
            continue
        scores = data.X[s:e][:, columns] @ w
        order = np.argsort(-scores, kind="stable")
        out[n] = int(np.flatnonzero(gold[order])[0]) + 1
    return out


def render(figures: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.3f}" for k, v in figures.items())


def summary(r: np.ndarray) -> dict[str, float]:
    found = r > 0
    return {"p@1": float(np.mean(r == 1)),
            "mrr@10": float(np.mean(np.where(found & (r <= 10), 1 / np.maximum(r, 1), 0))),
            "r@5": float(np.mean(found & (r <= 5))), "r@10": float(np.mean(found & (r <= 10)))}


def cross_validate(data: Candidates, columns: list[int], l2: float,
                   folds: int) -> dict[str, float]:
    """Held-out figures with the articles split into ``folds`` groups."""
    every = np.arange(data.questions())
    fold_of = data.article % folds
    held = np.zeros(len(every), dtype=np.int64)
    for fold in range(folds):
        test = every[fold_of == fold]
        w = fit(data, every[fold_of != fold], columns, l2)
        held[fold_of == fold] = ranks(data, test, columns, w)
    return summary(held)


def choose_l2(data: Candidates, columns: list[int], penalties: list[float], folds: int,
              label: str = "") -> tuple[float, dict[str, float]]:
    """The penalty with the best held-out MRR@10, and its figures (each one's printed)."""
    best: tuple[float, dict[str, float]] | None = None
    for l2 in penalties:
        figures = cross_validate(data, columns, l2, folds)
        print(f"{label}l2={l2:g}: {render(figures)}")
        if best is None or figures["mrr@10"] > best[1]["mrr@10"]:
            best = (l2, figures)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=HALF_A)
    parser.add_argument("--features", default=",".join(FEATURES),
                        help="comma-separated parts to use (default: all)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", default="0.00001,0.00003,0.0001,0.001")
    parser.add_argument("--coqa", type=Path, default=None,
                        help="also fit on this CoQA file's stories (turns of >= "
                        f"{SELF_CONTAINED_WORDS} words)")
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS_FILE.name}")
    args = parser.parse_args()
    names = [f for f in args.features.split(",") if f]
    unknown = set(names) - set(FEATURES)
    if unknown:
        raise SystemExit(f"error: unknown features {sorted(unknown)}")
    columns = [FEATURES.index(f) for f in names]
    data = collect(load_half_a(args.squad))
    if args.coqa:
        coqa = collect(load_coqa_turns(args.coqa))
        data = stack([data, Candidates(coqa.X, coqa.gold, coqa.offsets,
                                       coqa.article + int(data.article.max()) + 1)])
    print(f"{data.questions()} questions, {len(data.X)} candidates, "
          f"gold among candidates for {np.mean(data.reachable()):.3f}")
    best = choose_l2(data, columns, [float(v) for v in args.l2.split(",")], args.folds)
    w = fit(data, np.arange(data.questions()), columns, best[0])
    weights = {name: round(float(v), 4) for name, v in zip(names, w)}
    print("weights:", json.dumps(weights))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps({
            "weights": weights, "l2": best[0],
            "cross_validated": {k: round(v, 4) for k, v in best[1].items()},
            "fitted_by": "python scripts/train_ranker.py --write",
            "data": "SQuAD v1.1 dev half-a (24 articles), listwise softmax, "
                    f"{args.folds}-fold article-grouped cross-validation",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
