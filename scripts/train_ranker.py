"""Learn the ranker's weights (``index/search/ranker_weights.json``) on SQuAD half-a and CoQA.

    python scripts/train_ranker.py                 # cross-validate, print figures
    python scripts/train_ranker.py --write         # ... and write the weights
    python scripts/train_ranker.py --fit-half even # fit on even positions, report the odd ones
    python scripts/train_ranker.py --coqa ''       # SQuAD alone (the recipe before 2026-12-02)
    python scripts/train_ranker.py --features dense,lexical,passage   # an ablation

Data: SQuAD v1.1 dev half-a's questions and **every turn** of the CoQA dev stories
(``--coqa-min-words 1``; follow-ups such as "What did he do?" included, each asked alone).
SQuAD's crowdworkers wrote their questions looking at the paragraph and reuse its words;
fitted on SQuAD alone the weights bet on word overlap (title -6.2, coverage large) and lost
to plain dense retrieval on natural questions. CoQA's short turns reuse few words, and with
them the fit leans on the dense parts: measured on sets never fitted on (WikiQA dev, the
natural news questions in ``bench/data/natural/``), see docs/quality.md.

Model: a linear score over the candidate parts of :mod:`index.search.features`, fitted as a listwise
softmax (the log-likelihood of the gold sentences among each question's candidates, with an L2
penalty). The penalty is chosen by article-grouped cross-validation (questions of one article
or story are never split between training and testing), since the judged articles are unseen;
the printed P@1/MRR@10 are those held-out figures. The final weights are fitted on all
articles. ``--fit-half even`` instead fits on the articles and stories at even positions only
and reports the odd ones, beside plain dense and BM25 on the same candidates (the check
``bot eval FILE --half odd`` makes with the bot). Only the weights are committed, never the
data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranker_data import (COQA, HALF_A, Candidates, collect, load_coqa_turns,  # noqa: E402
                         load_half_a, stack)

from bot.evaluation.squad import SquadSet  # noqa: E402
from index.embed.encoders import EncoderSpec  # noqa: E402
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


def half(squad: SquadSet, parity: int) -> SquadSet:
    """The articles (stories) at even (0) or odd (1) positions, as ``bot eval --half``."""
    return squad.subset([a for a in range(len(squad.articles)) if a % 2 == parity])


def held_out_report(name: str, data: Candidates, columns: list[int], w: np.ndarray) -> None:
    """P@1/MRR@10 of ``w`` on ``data`` (never fitted on), beside plain dense and BM25 ranking
    the same candidates (their top 100 are among them, so their top 10 are theirs)."""
    every = np.arange(data.questions())
    print(f"held out, {name} ({data.questions()} questions): "
          f"ranker {render(summary(ranks(data, every, columns, w)))}")
    for label, part in (("plain dense", "dense"), ("plain BM25", "lexical")):
        alone = ranks(data, every, [FEATURES.index(part)], np.ones(1))
        print(f"held out, {name}: {label} {render(summary(alone))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=HALF_A)
    parser.add_argument("--coqa", default=str(COQA),
                        help="also fit on this CoQA file's stories ('' for SQuAD alone)")
    parser.add_argument("--coqa-min-words", type=int, default=1,
                        help="CoQA turns of at least this many words (default 1: all)")
    parser.add_argument("--features", default=",".join(FEATURES),
                        help="comma-separated parts to use (default: all)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", default="0.00001,0.00003,0.0001,0.001")
    parser.add_argument("--fit-half", choices=("even", "odd"), default=None,
                        help="fit on this half of the articles only; report the other half")
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS_FILE.name}")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where --write writes")
    parser.add_argument("--model", default=None, help="encoder model (default: as bot index)")
    parser.add_argument("--backend", default=None, help="encoder backend (default: onnx)")
    args = parser.parse_args()
    names = [f for f in args.features.split(",") if f]
    unknown = set(names) - set(FEATURES)
    if unknown:
        raise SystemExit(f"error: unknown features {sorted(unknown)}")
    if args.write and args.fit_half:
        raise SystemExit("error: --write fits on all articles; leave out --fit-half")
    columns = [FEATURES.index(f) for f in names]
    spec = EncoderSpec.from_env(args.model, args.backend)
    sets = [("SQuAD", load_half_a(args.squad))]
    if args.coqa:
        sets.append(("CoQA", load_coqa_turns(args.coqa, args.coqa_min_words)))
    fit_parity = {"even": 0, "odd": 1}.get(args.fit_half or "")
    parts, held, offset = [], [], 0
    for name, squad in sets:
        if fit_parity is not None:
            held.append((name, collect(half(squad, 1 - fit_parity), spec)))
            squad = half(squad, fit_parity)
        chosen = collect(squad, spec)
        parts.append(Candidates(chosen.X, chosen.gold, chosen.offsets, chosen.article + offset))
        offset += len(squad.articles)
    data = stack(parts)
    print(f"{data.questions()} questions ({', '.join(n for n, _ in sets)}), {len(data.X)} "
          f"candidates, gold among candidates for {np.mean(data.reachable()):.3f}")
    best = choose_l2(data, columns, [float(v) for v in args.l2.split(",")], args.folds)
    w = fit(data, np.arange(data.questions()), columns, best[0])
    weights = {name: round(float(v), 4) for name, v in zip(names, w)}
    print("weights:", json.dumps(weights))
    for name, part in held:
        held_out_report(f"{name} {'odd' if fit_parity == 0 else 'even'} half", part, columns, w)
    if args.write:
        squad_used = "SQuAD v1.1 dev half-a" if args.squad == HALF_A else \
            f"SQuAD {args.squad.name}"
        used = f"{squad_used} ({len(sets[0][1].articles)} articles)" + (
            f" + CoQA dev ({len(sets[1][1].articles)} stories, turns of >= "
            f"{args.coqa_min_words} words)" if args.coqa else "")
        args.out.write_text(json.dumps({
            "weights": weights, "l2": best[0],
            "cross_validated": {k: round(v, 4) for k, v in best[1].items()},
            "fitted_by": "python scripts/train_ranker.py --write",
            "data": f"{used}, {data.questions()} questions, listwise softmax, "
                    f"{args.folds}-fold article-grouped cross-validation",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
