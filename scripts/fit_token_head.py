"""Fit how much each question token counts in token matching (``index/search/token_weights.npz``).

    python scripts/fit_token_head.py            # cross-fit by article, print the figures
    python scripts/fit_token_head.py --write    # ... then fit on every article and write it
    python scripts/fit_combiner.py --fold -1 --write   # then refit the combiner's two weights

Token matching (:mod:`index.search.token_match`) scores a sentence by the mean, over the
question's tokens, of each one's best cosine with a token of ``Title: sentence`` (the packaged
MiniLM's own token states, frozen). Here the mean is weighted: token ``i`` counts
``softplus(u · h_i + c)``, ``h_i`` its state (a contextual IDF: 385 numbers, no model run of its
own). Fitted jointly with the combiner's ``a · first stage + b · match`` as a listwise softmax
over each question's first-stage best ``--depth`` (the second stage's candidates; questions
without a gold one there are left out), an L2 penalty ``--l2`` on ``u``; full-batch L-BFGS.

Data (fitting data only): SQuAD v1.1 dev half-a's questions, every CoQA dev turn asked alone
(``--coqa-min-words``, as ``scripts/train_ranker.py``) and ``--natural``
(``scripts/data/natural-train/``, the natural questions written for fitting), from the indexes
``bot eval`` builds; each question's and its candidates' token states read as the second stage
reads them (the question alone, the candidates as one batch), cached beside the index.
Cross-fit: fitted on the articles at even positions of every set, each set's odd articles
scored, and the reverse; printed per set: right first within the depth for the first stage
alone, plain token matching (``a``, ``b`` refitted on the same articles) and the weighted one,
ungated (all ``--depth`` read) and with the shipped gate (of the first stage's best
``RERANK_DEPTH``, those within ``RERANK_GAP`` of its best). The penalty 1e-3 and the model were
chosen on natural-train held out (docs/quality.md). Only the weights are committed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ranker_data import (COQA, HALF_A, load_coqa_turns, load_half_a,  # noqa: E402
                         load_natural_set, question_vectors)

from bot.evaluation.metrics import grouped_bootstrap  # noqa: E402
from bot.evaluation.runner import prepare, work_dir_for  # noqa: E402
from bot.evaluation.squad import SquadSet  # noqa: E402
from bot.questions import clean_question  # noqa: E402
from index.choices import RERANK_DEPTH, RERANK_GAP, SECOND_STAGE_DEPTH  # noqa: E402
from index.embed.encoders import EncoderSpec, load_encoder  # noqa: E402
from index.progress import progress_bar  # noqa: E402
from index.search.token_match import WEIGHTS_FILE, QuestionTokenWeights  # noqa: E402

NATURAL_TRAIN = ROOT / "scripts" / "data" / "natural-train" / "questions.yaml"


@dataclass
class TokenData:
    """Per question: the first stage's best ``depth`` candidates (scores, gold), each question
    token's best cosine with each of them, and the question's token states."""

    name: str
    first: np.ndarray  # (Q, depth) first-stage scores, -inf where fewer candidates
    gold: np.ndarray  # (Q, depth) bool
    best: np.ndarray  # (Q, depth, L) best cosine of question token l (0 past its tokens)
    states: np.ndarray  # (Q, L, dim) question token states (0 past its tokens)
    mask: np.ndarray  # (Q, L) bool: a token there
    article: np.ndarray  # (Q,)

    def subset(self, keep: np.ndarray) -> "TokenData":
        return TokenData(self.name, self.first[keep], self.gold[keep], self.best[keep],
                         self.states[keep], self.mask[keep], self.article[keep])


def token_data(name: str, squad: SquadSet, spec: EncoderSpec, depth: int) -> TokenData:
    """Index ``squad``'s articles (``bot eval``'s work directory) and read every question's
    candidates' token matches; cached beside the index."""
    encoder = load_encoder(spec)
    work_dir = work_dir_for(squad, spec)
    prepared = prepare(squad, work_dir, encoder)
    code = b"".join((ROOT / "index" / p).read_bytes() for p in (
        "search/ranker_weights.json", "search/features.py", "embed/onnx_encoder.py"))
    asked = "".join(f"{q.text}\n{q.article} {q.answer_starts}\n" for q in squad.questions)
    key = hashlib.sha256(code + repr(depth).encode() + asked.encode()).hexdigest()[:12]
    cached = work_dir / f"token-head-{key}.npz"
    if not cached.exists():
        _gather(prepared, squad, encoder, work_dir, depth, cached)
    with np.load(cached) as saved:
        lengths = np.diff(saved["offsets"])
        count, width = len(lengths), max(int(lengths.max(initial=0)), 1)
        states = np.zeros((count, width, encoder.dim), dtype=np.float32)
        best = np.zeros((count, depth, width), dtype=np.float32)
        for q, (start, n) in enumerate(zip(saved["offsets"][:-1], lengths)):
            states[q, :n] = saved["states"][start:start + n]
            best[q, :, :n] = saved["best"][start:start + n].T
        mask = np.arange(width)[None, :] < lengths[:, None]
        return TokenData(name, saved["first"], saved["gold"], best, states, mask,
                         saved["article"])


def _gather(prepared, squad: SquadSet, encoder, work_dir: Path, depth: int,
            cached: Path) -> None:
    searcher = prepared.searcher
    vectors = question_vectors(squad, encoder, work_dir)
    firsts, golds, articles, states, best, offsets = [], [], [], [], [], [0]
    with progress_bar(len(squad.questions), "token states", unit="question") as bar:
        for question, gold, vector in zip(prepared.questions, prepared.gold, vectors):
            bar.update(1)
            text = clean_question(question.text)
            pool = searcher.candidates(text, vector)
            asked = encoder.token_states([text], specials=False)[0]
            if pool is None or not len(asked):
                continue
            first = searcher.ranker.score(pool.parts)
            top = np.argsort(-first, kind="stable")[:depth]
            ids = pool.ids[top]
            texts = searcher.read_texts(ids, pool.table)
            unique = list(dict.fromkeys(texts))
            read = dict(zip(unique, encoder.token_states(unique)))
            row_first = np.full(depth, -np.inf)
            row_first[:len(top)] = first[top]
            row_gold = np.zeros(depth, dtype=bool)
            row_gold[:len(top)] = np.isin(ids, list(gold))
            row_best = np.zeros((len(asked), depth), dtype=np.float32)
            for c, t in enumerate(texts):
                row_best[:, c] = (asked @ read[t].T).max(axis=1)
            firsts.append(row_first)
            golds.append(row_gold)
            articles.append(question.article)
            states.append(asked.astype(np.float16))
            best.append(row_best)
            offsets.append(offsets[-1] + len(asked))
    np.savez(cached, first=np.array(firsts), gold=np.array(golds), article=np.array(articles),
             states=np.concatenate(states), best=np.concatenate(best), offsets=np.array(offsets))


def fit(sets: list[TokenData], l2: float, learn_weights: bool = True,
        iterations: int = 200) -> tuple[QuestionTokenWeights, np.ndarray]:
    """``u``, ``c`` (kept at equal weights when not ``learn_weights``) and the combiner's
    ``a``, ``b``, by full-batch L-BFGS on the listwise softmax."""
    import torch

    dim = sets[0].states.shape[2]
    u = torch.zeros(dim, dtype=torch.float64, requires_grad=learn_weights)
    c = torch.zeros((), dtype=torch.float64, requires_grad=learn_weights)
    ab = torch.tensor([0.5, 15.0], dtype=torch.float64, requires_grad=True)
    data = []
    for d in sets:
        keep = d.gold.any(1)
        data.append(tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in (
            d.states[keep].astype(np.float64), d.mask[keep], d.best[keep].astype(np.float64),
            np.where(np.isfinite(d.first[keep]), d.first[keep], -1e9), d.gold[keep])))
    count = sum(len(x[0]) for x in data)
    params = [u, c, ab] if learn_weights else [ab]
    optimiser = torch.optim.LBFGS(params, lr=1, max_iter=iterations,
                                  line_search_fn="strong_wolfe", tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.zeros((), dtype=torch.float64)
        for states, mask, best, first, gold in data:
            weight = torch.nn.functional.softplus(states @ u + c) * mask
            match = (best * weight[:, None, :]).sum(-1) / weight.sum(-1, keepdim=True)
            score = (ab[0] * first + ab[1] * match).masked_fill(first <= -1e9, -1e9)
            loss = loss + (torch.logsumexp(score, 1)
                           - torch.logsumexp(score.masked_fill(~gold, -1e9), 1)).sum()
        loss = loss / count + l2 * u.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return (QuestionTokenWeights(u.detach().numpy().copy(), float(c), ""),
            ab.detach().numpy().copy())


def matches(d: TokenData, weights: QuestionTokenWeights) -> np.ndarray:
    """(Q, depth) weighted token match of every candidate."""
    w = np.where(d.mask, weights(d.states), 0.0)
    return (d.best * w[:, None, :]).sum(-1) / np.maximum(w.sum(-1, keepdims=True), 1e-300)


def right_first(d: TokenData, match: np.ndarray, ab: np.ndarray, gated: bool) -> np.ndarray:
    """Per question: is the candidate put first gold? Ungated: all ``depth`` read; gated: of
    the first stage's best ``RERANK_DEPTH`` those within ``RERANK_GAP`` of its best, none when
    only the best is that close (then the first stage's order)."""
    combined = ab[0] * d.first + ab[1] * match
    chosen = np.zeros(len(d.first), dtype=np.int64)
    for q in range(len(d.first)):
        read = np.arange(d.first.shape[1])
        if gated:
            head = d.first[q, :RERANK_DEPTH]
            read = np.flatnonzero(head[0] - head < RERANK_GAP)
            if len(read) < 2:
                continue
        chosen[q] = read[np.argmax(np.where(np.isfinite(d.first[q, read]),
                                            combined[q, read], -np.inf))]
    return d.gold[np.arange(len(d.first)), chosen]


def cross_fit(sets: list[TokenData], l2: float) -> None:
    """Fit on each set's even articles, score the odd ones, and the reverse; print per set."""
    held: dict[str, dict[str, np.ndarray]] = {d.name: {} for d in sets}
    for parity in (0, 1):
        fitted = [d.subset(d.article % 2 == parity) for d in sets]
        plain, plain_ab = fit(fitted, l2, learn_weights=False)
        weights, ab = fit(fitted, l2)
        for d in sets:
            scored = d.subset(d.article % 2 != parity)
            rows = {"first stage": scored.gold[:, 0]}
            for gated in (False, True):
                tag = " gated" if gated else ""
                rows["token match" + tag] = right_first(scored, matches(scored, plain),
                                                        plain_ab, gated)
                rows["weighted" + tag] = right_first(scored, matches(scored, weights), ab, gated)
            rows["article"] = scored.article
            for k, v in rows.items():
                held[d.name][k] = np.concatenate([held[d.name].get(k, v[:0]), v])
    for d in sets:
        h = held[d.name]
        line = f"cross-fitted {d.name} ({len(h['article'])}): first stage " \
               f"{int(h['first stage'].sum())}"
        for tag in ("", " gated"):
            diff = h["weighted" + tag].astype(float) - h["token match" + tag]
            low, high = grouped_bootstrap(diff, h["article"])
            line += (f"; token match{tag} {int(h['token match' + tag].sum())}, weighted "
                     f"{int(h['weighted' + tag].sum())} ({diff.mean():+.3f} "
                     f"[{low:+.3f}, {high:+.3f}])")
        print(line + " right first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default=str(HALF_A), help="SQuAD file ('' for none)")
    parser.add_argument("--coqa", default=str(COQA), help="CoQA file ('' for none)")
    parser.add_argument("--coqa-min-words", type=int, default=1)
    parser.add_argument("--natural", default=str(NATURAL_TRAIN),
                        help="natural-questions YAML for fitting ('' for none)")
    parser.add_argument("--depth", type=int, default=SECOND_STAGE_DEPTH)
    parser.add_argument("--l2", type=float, default=1e-3, help="penalty on u")
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS_FILE.name}")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where --write writes")
    parser.add_argument("--model", default=None, help="encoder model (default: as bot index)")
    parser.add_argument("--backend", default=None, help="encoder backend (default: onnx)")
    args = parser.parse_args()
    spec = EncoderSpec.from_env(args.model, args.backend)
    named = []
    if args.squad:
        named.append(("SQuAD", load_half_a(Path(args.squad))))
    if args.coqa:
        named.append(("CoQA", load_coqa_turns(args.coqa, args.coqa_min_words)))
    if args.natural:
        named.append(("natural-train", load_natural_set(Path(args.natural))))
    if not named:
        raise SystemExit("error: no fitting data (--squad, --coqa, --natural all empty)")
    sets = [token_data(name, squad, spec, args.depth) for name, squad in named]
    print(", ".join(f"{d.name} {len(d.first)}" for d in sets) + f" questions; depth "
          f"{args.depth}; l2 {args.l2:g}")
    cross_fit(sets, args.l2)
    weights, ab = fit(sets, args.l2)
    print(f"fitted on all: |u| {np.linalg.norm(weights.u):.3f}, c {weights.c:.3f}; "
          f"a {ab[0]:.4f} b {ab[1]:.4f} (refit by scripts/fit_combiner.py)")
    if args.write:
        QuestionTokenWeights(weights.u, weights.c, spec.model).save(args.out, {
            "fitted_by": "python scripts/fit_token_head.py --write",
            "data": ", ".join(f"{d.name} {len(d.first)}" for d in sets)
                    + f" questions, depth {args.depth}, listwise softmax with the combiner",
            "l2": args.l2, "combiner_fitted_with_it": [round(float(v), 4) for v in ab]})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
