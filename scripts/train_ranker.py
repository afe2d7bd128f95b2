"""Learn the ranker's weights (``index/search/ranker_weights.json``) on SQuAD half-a and CoQA.

    python scripts/train_ranker.py                 # cross-validate, print figures
    python scripts/train_ranker.py --write         # ... and write the weights
    python scripts/train_ranker.py --fit-half even # fit on even positions, report the odd ones
    python scripts/train_ranker.py --coqa ''       # SQuAD alone (the recipe before 2026-12-02)
    python scripts/train_ranker.py --features dense,lexical,passage   # an ablation
    python scripts/train_ranker.py --natural scripts/data/natural-train/questions.yaml \
        --natural-weight 5                          # + our natural-question training set
    python scripts/train_ranker.py --report ../shared/eval/wikiqa-dev.tsv \
        bench/data/natural/questions.yaml   # + sets never fitted on, right first pooled

Data: SQuAD v1.1 dev half-a's questions and **every turn** of the CoQA dev stories
(``--coqa-min-words 1``; follow-ups such as "What did he do?" included, each asked alone).
SQuAD's crowdworkers wrote their questions looking at the paragraph and reuse its words;
fitted on SQuAD alone the weights bet on word overlap (title -6.2, coverage large) and lost
to plain dense retrieval on natural questions. CoQA's short turns reuse few words, and with
them the fit leans on the dense parts: measured on sets never fitted on (WikiQA dev, the
natural news questions in ``bench/data/natural/``), see docs/quality.md. ``--natural FILE...``
adds natural-question YAML files written for fitting (``scripts/data/natural-train/``; never
the measurement sets in ``bench/data/``): their answerable questions, grouped by article like
the rest, each weighing ``--natural-weight`` questions in the fit; the cross-validated figures
are then also printed for each set alone. The shipped weights are not fitted on them: on
2026-12-02 that gained nothing measurable out of style and lost about a point held out on
SQuAD (docs/quality.md, "Fitting on our own natural questions").

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
                         load_half_a, load_natural_set, stack)

from bot.evaluation.formats import load_eval_set  # noqa: E402
from bot.evaluation.squad import SquadSet  # noqa: E402
from index.embed.encoders import EncoderSpec  # noqa: E402
from index.search.features import FEATURES  # noqa: E402
from index.search.ranking import WEIGHTS_FILE  # noqa: E402


def fit(data: Candidates, questions: np.ndarray, columns: list[int], l2: float,
        weight: np.ndarray | None = None) -> np.ndarray:
    """Weights maximising the softmax likelihood of gold candidates for ``questions`` (each
    question's log-likelihood counted ``weight[question]`` times; default once)."""
    questions = questions[data.reachable()[questions]]
    counted = np.ones(len(questions)) if weight is None else weight[questions].astype(np.float64)
    starts, ends = data.offsets[questions], data.offsets[questions + 1]
    rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    X = data.X[rows][:, columns]
    gold = data.gold[rows].astype(np.float64)
    group = np.repeat(np.arange(len(starts)), ends - starts)
    count, mass = len(starts), float(counted.sum())

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = X @ w
        top = np.full(count, -np.inf)
        np.maximum.at(top, group, s)
        e = np.exp(s - top[group])
        total = np.bincount(group, e, minlength=count)
        gold_total = np.bincount(group, e * gold, minlength=count)
        value = -counted @ (np.log(gold_total) - np.log(total)) / mass + l2 * w @ w
        p_all = e / total[group]
        p_gold = e * gold / gold_total[group]
        grad = X.T @ ((p_all - p_gold) * counted[group]) / mass + 2 * l2 * w
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


def cross_validated_ranks(data: Candidates, columns: list[int], l2: float, folds: int,
                          weight: np.ndarray | None = None) -> np.ndarray:
    """Each question's held-out rank (:func:`ranks`), the articles split into ``folds``
    groups: every question ranked by weights fitted without its article."""
    every = np.arange(data.questions())
    fold_of = data.article % folds
    held = np.zeros(len(every), dtype=np.int64)
    for fold in range(folds):
        test = every[fold_of == fold]
        w = fit(data, every[fold_of != fold], columns, l2, weight)
        held[fold_of == fold] = ranks(data, test, columns, w)
    return held


def choose_l2(data: Candidates, columns: list[int], penalties: list[float], folds: int,
              label: str = "", weight: np.ndarray | None = None
              ) -> tuple[float, dict[str, float], np.ndarray]:
    """The penalty with the best held-out MRR@10 over all questions, its figures (each
    one's printed) and its held-out ranks."""
    best: tuple[float, dict[str, float], np.ndarray] | None = None
    for l2 in penalties:
        held = cross_validated_ranks(data, columns, l2, folds, weight)
        figures = summary(held)
        print(f"{label}l2={l2:g}: {render(figures)}")
        if best is None or figures["mrr@10"] > best[1]["mrr@10"]:
            best = (l2, figures, held)
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


def out_of_style_report(paths: list[Path], columns: list[int], w: np.ndarray,
                        spec: EncoderSpec) -> None:
    """:func:`held_out_report` for each set never fitted on (``bot eval``'s question files:
    WikiQA, natural-question YAML), each on candidates from its own index, then the right-first
    counts pooled over them for the ranker, plain dense and plain BM25."""
    right = {"ranker": 0, "plain dense": 0, "plain BM25": 0}
    total = 0
    for path in paths:
        loaded = load_eval_set(path)
        if not isinstance(loaded, SquadSet):
            raise SystemExit(f"error: --report {path}: a question file, not dialogues")
        data = collect(loaded, spec)
        held_out_report(f"{path.name} (never fitted on)", data, columns, w)
        every = np.arange(data.questions())
        for label, (used, weights) in (
                ("ranker", (columns, w)),
                ("plain dense", ([FEATURES.index("dense")], np.ones(1))),
                ("plain BM25", ([FEATURES.index("lexical")], np.ones(1)))):
            right[label] += int(np.sum(ranks(data, every, used, weights) == 1))
        total += data.questions()
    if paths:
        print(f"out of style, pooled ({total} questions): right first "
              + ", ".join(f"{label} {count}" for label, count in right.items()))


def natural_name(path: Path) -> str:
    """How a natural-question file is named in the figures: its folder for a
    ``questions.yaml`` (``natural-train``), else its own name."""
    return path.parent.name if path.name == "questions.yaml" else path.stem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=HALF_A)
    parser.add_argument("--coqa", default=str(COQA),
                        help="also fit on this CoQA file's stories ('' for SQuAD alone)")
    parser.add_argument("--coqa-min-words", type=int, default=1,
                        help="CoQA turns of at least this many words (default 1: all)")
    parser.add_argument("--natural", nargs="+", type=Path, default=[], metavar="YAML",
                        help="also fit on these natural-question files (their articles beside "
                        "them), e.g. scripts/data/natural-train/questions.yaml")
    parser.add_argument("--natural-weight", type=float, default=1.0,
                        help="each natural question counts this many times in the fit "
                        "(0: reported, cross-validated, but not fitted on)")
    parser.add_argument("--report", nargs="+", type=Path, default=[], metavar="FILE",
                        help="sets never fitted on (WikiQA TSV, natural-question YAML): each "
                        "ranked with the weights fitted on all, and right first pooled")
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
    if args.natural_weight < 0:
        raise SystemExit("error: --natural-weight must not be negative")
    columns = [FEATURES.index(f) for f in names]
    spec = EncoderSpec.from_env(args.model, args.backend)
    sets = [("SQuAD", load_half_a(args.squad))]
    if args.coqa:
        sets.append(("CoQA", load_coqa_turns(args.coqa, args.coqa_min_words)))
    sets += [(natural_name(path), load_natural_set(path)) for path in args.natural]
    fit_parity = {"even": 0, "odd": 1}.get(args.fit_half or "")
    parts, held, offset, counted, spans = [], [], 0, [], []
    for name, squad in sets:
        if fit_parity is not None:
            held.append((name, collect(half(squad, 1 - fit_parity), spec)))
            squad = half(squad, fit_parity)
        chosen = collect(squad, spec)
        parts.append(Candidates(chosen.X, chosen.gold, chosen.offsets, chosen.article + offset))
        offset += len(squad.articles)
        start = sum(p.questions() for p in parts[:-1])
        spans.append((name, start, start + chosen.questions()))
        counted.append(np.full(chosen.questions(), args.natural_weight
                               if name not in ("SQuAD", "CoQA") else 1.0))
    data = stack(parts)
    weight = np.concatenate(counted) if args.natural else None
    print(f"{data.questions()} questions ({', '.join(n for n, _ in sets)}), {len(data.X)} "
          f"candidates, gold among candidates for {np.mean(data.reachable()):.3f}")
    best = choose_l2(data, columns, [float(v) for v in args.l2.split(",")], args.folds,
                     weight=weight)
    if len(sets) > 1:
        for name, start, end in spans:
            print(f"cross-validated, {name} ({end - start} questions): "
                  f"ranker {render(summary(best[2][start:end]))}")
            for label, part in (("plain dense", "dense"), ("plain BM25", "lexical")):
                alone = ranks(data, np.arange(start, end), [FEATURES.index(part)], np.ones(1))
                print(f"cross-validated, {name}: {label} {render(summary(alone))}")
    w = fit(data, np.arange(data.questions()), columns, best[0], weight)
    weights = {name: round(float(v), 4) for name, v in zip(names, w)}
    print("weights:", json.dumps(weights))
    for name, part in held:
        held_out_report(f"{name} {'odd' if fit_parity == 0 else 'even'} half", part, columns, w)
    out_of_style_report(args.report, columns, w, spec)
    if args.write:
        squad_used = "SQuAD v1.1 dev half-a" if args.squad == HALF_A else \
            f"SQuAD {args.squad.name}"
        used = f"{squad_used} ({len(sets[0][1].articles)} articles)" + (
            f" + CoQA dev ({len(sets[1][1].articles)} stories, turns of >= "
            f"{args.coqa_min_words} words)" if args.coqa else "") + "".join(
            f" + {name} ({len(squad.articles)} articles, {len(squad.questions)} questions, "
            f"each weighing {args.natural_weight:g})" for name, squad in sets
            if name not in ("SQuAD", "CoQA"))
        args.out.write_text(json.dumps({
            "weights": weights, "l2": best[0],
            "cross_validated": {k: round(v, 4) for k, v in best[1].items()},
            "fitted_by": "python scripts/train_ranker.py --write" + "".join(
                f" --natural {path}" for path in args.natural) + (
                f" --natural-weight {args.natural_weight:g}" if args.natural else ""),
            "data": f"{used}, {data.questions()} questions, listwise softmax, "
                    f"{args.folds}-fold article-grouped cross-validation",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
