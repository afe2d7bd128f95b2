"""Fit the confidence model (``bot/confidence_weights.json``): P(the best sentence is right).

    python scripts/fit_confidence.py            # cross-fitted figures
    python scripts/fit_confidence.py --write    # ... and write the model
    python scripts/fit_confidence.py --reranked --write   # the model for replies the second
                                                          # stage read (the shipped depth and
                                                          # gate; the main model: the first
                                                          # stage's)
    python scripts/fit_confidence.py --natural     # without our natural training questions

Replies labelled right or wrong (``scripts/confidence_data.py``: answerable SQuAD questions,
questions about articles not indexed, SQuAD v2.0 questions their article does not answer,
CoQA conversations with follow-ups, and the questions of natural-question files written for
fitting, answerable and ``answer: null`` ones: ``--natural FILE...``, by default
``scripts/data/natural-train/questions.yaml``; ``--natural`` alone for none) are turned into
features (:func:`bot.confidence_features.verdict_features`). The model is a logistic regression (L2)
followed by an isotonic calibration map. Figures are **cross-fitted by article**: the articles
and stories are dealt into ``--folds`` folds, and every reply is scored by a model fitted
without its article's fold. The threshold is the lowest cross-fitted confidence at which the
answered replies of the SQuAD mix (answerable, on-topic unanswerable, other articles' questions)
are right at least ``--precision`` of the time, and so are the natural questions' answered
replies (since 2026-12-02: the mix alone let a reader's questions be answered wrongly a third
of the time), and other articles' questions are answered at most ``--ooc`` of the time. The
written model is fitted on all replies.

On-topic unanswerable questions weigh ``--impossible-weight`` each (default: so that they are
to the answerable ones as in the held-out mix the issue describes, 1,154 to 5,609), in the fit
and in every figure; the probabilities are calibrated for that mix.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from confidence_data import (COQA, NATURAL_TRAIN, SQUAD_V1, SQUAD_V2, Reply,  # noqa: E402
                             collect, summary)

from bot.confidence import WEIGHTS_FILE  # noqa: E402
from bot.confidence_features import verdict_features  # noqa: E402
from bot.evaluation.metrics import auroc, precision_coverage, verdict_scores  # noqa: E402
from index.choices import RERANK_DEPTH, RERANK_DEPTH_ENV, SECOND_STAGE_DEPTH  # noqa: E402
from index.embed.encoders import EncoderSpec, load_encoder  # noqa: E402

L2 = 1e-3
CALIBRATION_POINTS = 40
HELD_OUT_IMPOSSIBLE_SHARE = 1154 / 5609  # unanswerable : answerable in issue 13's held-out mix
NATURAL_KINDS = ("natural", "natural_impossible")  # --natural files' replies


@dataclass
class Data:
    """Feature matrix, labels, weights and the bookkeeping of each reply."""

    names: list[str]
    X: np.ndarray
    right: np.ndarray
    group: np.ndarray
    kind: np.ndarray
    follow_up: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, replies: list[Reply], impossible_weight: float | None = None,
           natural_weight: float = 1.0) -> "Data":
        rows = [verdict_features(r.question, [_Ranked(p, *t) for p, t in zip(r.parts, r.texts)],
                                 r.follow_up) if r.parts else None for r in replies]
        names = list(next(r for r in rows if r is not None))
        X = np.array([[row[n] for n in names] if row else [0.0] * len(names) for row in rows])
        kind = np.array([r.kind for r in replies])
        if impossible_weight is None:
            impossible, answerable = np.sum(kind == "impossible"), np.sum(kind == "answerable")
            impossible_weight = min(1.0, HELD_OUT_IMPOSSIBLE_SHARE * answerable
                                    / max(impossible, 1))
        weight = np.where(kind == "impossible", impossible_weight, 1.0) * np.where(
            np.isin(kind, NATURAL_KINDS), natural_weight, 1.0)
        return cls(names, X, np.array([r.right for r in replies], dtype=float),
                   np.array([r.group for r in replies]), kind,
                   np.array([r.follow_up for r in replies]), weight)

    def take(self, keep: np.ndarray) -> "Data":
        return Data(self.names, self.X[keep], self.right[keep], self.group[keep],
                    self.kind[keep], self.follow_up[keep], self.weight[keep])


class _Ranked:
    """A stored ranked sentence, as the features read it."""

    def __init__(self, parts: dict[str, float], text: str, title: str) -> None:
        self.parts, self.text, self.title = parts, text, title


def fit_logistic(X: np.ndarray, y: np.ndarray, weight: np.ndarray,
                 l2: float = L2) -> tuple[np.ndarray, float]:
    """Weighted, L2-penalised logistic regression on standardised columns, returned on the
    raw scale."""
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = np.column_stack([(X - mean) / scale, np.ones(len(X))])
    w_n = weight / weight.sum()

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = Z @ w
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        value = -np.sum(w_n * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        reg = w.copy()
        reg[-1] = 0
        return float(value + l2 * reg @ reg), Z.T @ (w_n * (p - y)) + 2 * l2 * reg

    w = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B").x
    coefficients = w[:-1] / scale
    return coefficients, float(w[-1] - coefficients @ mean)


def logistic(coefficients: np.ndarray, intercept: float, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(X @ coefficients + intercept, -50, 50)))


def fit_calibration(p: np.ndarray, y: np.ndarray, weight: np.ndarray,
                    points: int = CALIBRATION_POINTS) -> tuple[list[float], list[float]]:
    """An isotonic map from raw probabilities to right rates, kept as ``points`` knots."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        p, y, sample_weight=weight)
    xs = np.unique(np.quantile(p, np.linspace(0, 1, points)))
    ys = np.maximum.accumulate(iso.predict(xs))
    return [round(float(x), 5) for x in xs], [round(float(v), 5) for v in ys]


def folds_of(groups: np.ndarray, folds: int) -> np.ndarray:
    """Each reply's fold: its article's (articles dealt round-robin, SQuAD and CoQA apart)."""
    unique = np.unique(groups)
    fold = {g: n % folds for n, g in enumerate(unique)}
    return np.array([fold[g] for g in groups])


def raw_cross_fit(data: Data, folds: int) -> np.ndarray:
    """Cross-fitted logistic outputs (no calibration): what a calibration map is fitted on."""
    fold = folds_of(data.group, folds)
    out = np.zeros(len(data.right))
    for f in range(folds):
        train, test = fold != f, fold == f
        w, c = fit_logistic(data.X[train], data.right[train], data.weight[train])
        out[test] = logistic(w, c, data.X[test])
    return out


def fit_model(data: Data, folds: int) -> tuple[np.ndarray, float, list[float], list[float]]:
    """Coefficients, intercept and calibration knots fitted on ``data`` (the calibration on
    the logistic's own cross-fitted outputs, so it corrects what a new article would see)."""
    xs, ys = fit_calibration(raw_cross_fit(data, folds), data.right, data.weight)
    coefficients, intercept = fit_logistic(data.X, data.right, data.weight)
    return coefficients, intercept, xs, ys


def cross_fit(data: Data, folds: int) -> np.ndarray:
    """Cross-fitted calibrated confidence of every reply: scored by a whole model (logistic
    and calibration) fitted without its article's fold."""
    fold = folds_of(data.group, folds)
    out = np.zeros(len(data.right))
    for f in range(folds):
        coefficients, intercept, xs, ys = fit_model(data.take(fold != f), folds - 1)
        out[fold == f] = np.interp(logistic(coefficients, intercept, data.X[fold == f]), xs, ys)
    return out


def squad_mix(data: Data) -> np.ndarray:
    return np.isin(data.kind, ("answerable", "impossible", "ooc"))


def choose_threshold(conf: np.ndarray, data: Data, precision: float, ooc: float) -> float:
    """The lowest threshold at which the answered replies are right at least ``precision`` of
    the time both on the SQuAD mix and on the natural questions (when there are any: a promise
    that held on SQuAD's style alone was broken on a reader's), and other articles' questions
    are answered at most ``ooc``."""
    groups = [g for g in (squad_mix(data), np.isin(data.kind, NATURAL_KINDS)) if g.any()]
    outside = data.kind == "ooc"
    for t in np.unique(np.round(conf, 3)):
        shares = [_right_share(data, (conf >= t) & group) for group in groups]
        if np.isnan(shares[0]):
            break
        if all(np.isnan(s) or s >= precision for s in shares) and (
                not outside.any() or np.mean(conf[outside] >= t) <= ooc):
            return float(t)
    return 1.0


def _right_share(data: Data, answered: np.ndarray) -> float:
    """The weighted share of the ``answered`` replies that are right (nan: none answered)."""
    if not answered.any():
        return float("nan")
    return float(data.weight[answered] @ data.right[answered] / data.weight[answered].sum())


def precision_at_coverage(conf: np.ndarray, data: Data, coverage: float) -> tuple[float, float]:
    """The SQuAD mix's precision, and the threshold, where coverage first reaches ``coverage``."""
    mix = squad_mix(data)
    thresholds, precision, covered = precision_coverage(
        conf[mix], data.right[mix] == 1, data.kind[mix] == "answerable", data.weight[mix])
    at = min(int(np.searchsorted(covered, coverage)), len(covered) - 1)
    return float(precision[at]), float(thresholds[at])


def report(conf: np.ndarray, data: Data, threshold: float) -> dict:
    """Verdict figures on the SQuAD mix, on everything, and on each kind of reply."""
    answerable = np.isin(data.kind, ("answerable", "coqa", "natural"))
    mix = squad_mix(data)
    out = {"mix": verdict_scores(conf[mix], data.right[mix], threshold,
                                 answerable[mix], data.weight[mix]),
           "all": verdict_scores(conf, data.right, threshold, answerable, data.weight)}
    for kind in np.unique(data.kind):
        keep = data.kind == kind
        out[str(kind)] = verdict_scores(conf[keep], data.right[keep], threshold)
    natural = np.isin(data.kind, NATURAL_KINDS)
    if natural.any():
        out["natural all"] = verdict_scores(conf[natural], data.right[natural], threshold,
                                            answerable[natural])
    coqa = data.kind == "coqa"
    for name, keep in (("coqa first", coqa & ~data.follow_up),
                       ("coqa follow-up", coqa & data.follow_up)):
        if keep.any():
            out[name] = verdict_scores(conf[keep], data.right[keep], threshold)
    return out


def _figure(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def render(figures: dict) -> str:
    lines = [f"{'replies':<16} {'n':>6} {'right':>6} {'answered':>9} {'precision':>9} "
             f"{'coverage':>8} {'AUROC':>6} {'ECE':>6}"]
    for name, s in figures.items():
        lines.append(f"{name:<16} {s['replies']:>6} {_figure(s['right_rate'], 6)} "
                     f"{_figure(s['answered'], 9)} {_figure(s['precision'], 9)} "
                     f"{_figure(s['coverage'], 8)} {_figure(s['auroc'], 6)} "
                     f"{_figure(s['ece'], 6)}")
    return "\n".join(lines)


def shown(path: Path) -> str:
    """``path`` as a command in the repository would name it."""
    try:
        return str(path.resolve().relative_to(NATURAL_TRAIN.parents[3]))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_V1)
    parser.add_argument("--squad-v2", type=Path, default=SQUAD_V2)
    parser.add_argument("--coqa", type=Path, default=COQA)
    parser.add_argument("--articles", type=int, default=None, help="first N SQuAD articles")
    parser.add_argument("--stories", type=int, default=None, help="first N CoQA stories")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--precision", type=float, default=0.8)
    parser.add_argument("--ooc", type=float, default=0.03)
    parser.add_argument("--impossible-weight", type=float, default=None)
    parser.add_argument("--natural", nargs="*", type=Path, default=[NATURAL_TRAIN],
                        metavar="YAML", help="also fit on these natural-question files (articles "
                        "beside them; default: %(default)s); --natural alone: none")
    parser.add_argument("--natural-weight", type=float, default=1.0,
                        help="each natural reply weighs this many others")
    parser.add_argument("--model", default=None, help="model name or path (default: bot's)")
    parser.add_argument("--backend", default=None, help="encoder backend (default: bot's)")
    parser.add_argument("--write", action="store_true", help="write the model")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where --write writes")
    parser.add_argument("--reranked", action="store_true",
                        help="fit the model for replies the second stage read (a 'rerank' "
                        "part; BOT_RERANK_DEPTH, default the shipped depth, gated as "
                        "shipped unless BOT_RERANK_GAP says) on them alone and write it as "
                        "the file's "
                        "'reranked' section; without it the main model is fitted on the first "
                        "stage's replies (BOT_RERANK_DEPTH=0 unless given)")
    args = parser.parse_args(argv)
    # the main model is the first stage's (--fast), the reranked one the second stage's
    os.environ.setdefault(RERANK_DEPTH_ENV, str(RERANK_DEPTH or SECOND_STAGE_DEPTH)
                          if args.reranked else "0")
    for path in (args.squad, args.squad_v2, args.coqa, *args.natural):
        if not path.exists():
            raise SystemExit(f"error: {path} not found")
    spec = EncoderSpec.from_env(args.model, args.backend)
    replies = collect(load_encoder(spec), spec, args.squad, args.squad_v2, args.coqa,
                      args.articles, args.stories, args.natural)
    print(summary(replies))
    reranked = sum(1 for r in replies if r.parts and "rerank" in r.parts[0])
    if args.reranked and reranked:  # the gated replies: those the second stage read
        replies = [r for r in replies if r.parts and "rerank" in r.parts[0]]
        print(f"fitting on the {reranked} replies the second stage read")
    elif args.reranked or reranked > len(replies) / 2:
        raise SystemExit(f"error: {reranked} of {len(replies)} replies were reranked; "
                         + ("run with the second stage on (BOT_RERANK_DEPTH > 0) for "
                            "--reranked" if args.reranked else
                            "fit the main model without the second stage (BOT_RERANK_DEPTH=0), "
                            "and the reranked one with --reranked"))
    data = Data.of(replies, args.impossible_weight, args.natural_weight)
    conf = cross_fit(data, args.folds)
    threshold = choose_threshold(conf, data, args.precision, args.ooc)
    figures = report(conf, data, threshold)
    print(f"cross-fitted by article ({args.folds} folds), threshold {threshold:.3f}, "
          f"on-topic unanswerable weigh {data.weight[data.kind == 'impossible'].min(initial=1):.3f}")
    print(render(figures))
    mix = squad_mix(data)
    baselines = {}
    for part in ("dense", "lexical_log"):
        v = np.array([r.parts[0].get(part, 0.0) if r.parts else 0.0 for r in replies])[mix]
        ok = data.right[mix] == 1
        baselines[part] = round(auroc(v[ok], v[~ok]), 4)
    at = precision_at_coverage(conf, data, 0.6)
    print(f"on the mix, at coverage 0.60: precision {at[0]:.3f} (threshold {at[1]:.3f})")
    print("baselines, the best sentence's part as the confidence, AUROC on the mix: "
          + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()))
    if not args.write:
        return
    coefficients, intercept, xs, ys = fit_model(data, args.folds)
    fitted = {
        "model": "logistic regression, then an isotonic calibration map",
        "intercept": round(intercept, 5),
        "coefficients": {n: round(float(w), 5) for n, w in zip(data.names, coefficients)},
        "calibration": {"x": xs, "y": ys},
        "threshold": round(threshold, 3),
        "cross_fitted": figures,
        "baselines_auroc_on_mix": baselines,
        "mix_precision_at_coverage_0.6": round(at[0], 4),
        "fitted_by": "python scripts/fit_confidence.py --write"
                     + (" --reranked" if args.reranked else "") + "".join(
            f" --natural {shown(path)}" for path in args.natural) + (
            f" --natural-weight {args.natural_weight:g}" if args.natural else " --natural"),
        "fitted_on": f"{datetime.date.today()}: " + "; ".join(
            f"{k} {int(np.sum(data.kind == k))}" for k in np.unique(data.kind)),
        "threshold_rule": f"lowest cross-fitted confidence with precision >= {args.precision} "
                          "on the SQuAD mix" + (" and on the natural questions" if args.natural
                                                else "")
                          + f", and other-article questions answered <= {args.ooc}",
    }
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    if args.reranked:
        if "coefficients" not in old:
            raise SystemExit(f"error: fit the main model into {args.out} first")
        written = {**old, "reranked": fitted}
    else:
        written = fitted | ({"reranked": old["reranked"]} if old.get("reranked") else {})
        if "reranked" in written:
            print("kept the file's 'reranked' model: refit it (--reranked) if the ranking changed")
    args.out.write_text(json.dumps(written, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}" + (" (section 'reranked')" if args.reranked else ""))


if __name__ == "__main__":
    main()
