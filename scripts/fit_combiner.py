"""Fit how the second stage's score and the first stage's score combine (``combiner_weights.json``).

    python scripts/fit_combiner.py --fold -1 --write   # token matching (the second stage's
                                                      # scorer): every article; writes
                                                      # index/search/combiner_weights.json
    BOT_RERANKER=cross-encoder python scripts/fit_combiner.py   # the cross-encoder (fold 1)
    python scripts/fit_combiner.py --squad FILE --coqa '' --depth 10   # other data

Data: SQuAD v1.1 half-a's questions and every CoQA dev turn (``--coqa-min-words``, as
``scripts/train_ranker.py``), the articles at ``--fold`` parity: for the cross-encoder, fold 1
(odd positions), which ``scripts/reranker_data.py`` kept from its training; token matching is
not trained, so it uses all (``--fold -1``). For every question, the first stage's best
``--depth`` candidates with their second-stage score and first-stage score, and which are gold.
Model: ``w_rerank * rerank + w_first * first_stage``, fitted as a listwise softmax over each
question's candidates (``scripts/train_ranker.py``'s fit); the penalty is chosen by
article-grouped cross-validation and the printed P@1/MRR@10 (within the reranked candidates)
are held-out figures, beside the first stage alone and the reranker alone. Only the weights are
committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ranker_data import Candidates, gather, load_coqa_turns, stack  # noqa: E402
from train_ranker import choose_l2, fit, ranks, render, summary  # noqa: E402

from bot.evaluation.squad import SquadSet, load_squad  # noqa: E402
from index.choices import SECOND_STAGE_DEPTH  # noqa: E402
from index.embed.encoders import EncoderSpec  # noqa: E402
from index.search.ranking import COMBINER_FILE, DEFAULT_COMBINER  # noqa: E402
from index.search.reranker import MODEL_DIR, cross_encoder_chosen  # noqa: E402
from index.search.searcher import Pool, Searcher  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
COLUMNS = ("rerank", "first_stage")
HELD_OUT_FOLD = 1  # the articles the reranker never saw


def collect(squad: SquadSet, depth: int, spec: EncoderSpec, offset: int = 0) -> Candidates:
    """Every question's reranked candidates (``COLUMNS``) with gold labels; articles are
    numbered from ``offset`` (so several sets can be stacked). Cached beside the index."""
    if cross_encoder_chosen():
        model = (MODEL_DIR / "model.onnx").read_bytes() if (MODEL_DIR / "model.onnx").exists() \
            else b""
    else:  # token matching: its code and the encoder's
        model = b"".join((ROOT / "index" / name).read_bytes() for name in (
            "search/token_match.py", "embed/onnx_encoder.py", "search/ranker_weights.json",
            "search/token_weights.npz"))
    asked = "".join(f"{q.text}\n" for q in squad.questions)
    key = hashlib.sha256(model + repr(depth).encode() + squad.digest.encode()
                         + asked.encode()).hexdigest()[:12]

    def reranked(searcher: Searcher, text: str, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
        first = searcher.ranker.score(pool.parts)
        top = np.argsort(-first, kind="stable")[:depth]
        logits = searcher.rerank_scores(text, pool.ids[top])
        return np.column_stack([logits, first[top]]), pool.ids[top]

    data = gather(squad, spec, f"combiner-{key}.npz", reranked, "reranking")
    return Candidates(data.X, data.gold, data.offsets, data.article + offset)


def held_out_articles(squad: SquadSet, fold: int) -> SquadSet:
    return squad.subset([a for a in range(len(squad.articles)) if a % 2 == fold])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default=str(EVAL / "squad-v1.1-dev-half-a.json"))
    parser.add_argument("--coqa", default=str(EVAL / "coqa-dev-wikipedia-literature.json"),
                        help="CoQA file ('' for none)")
    parser.add_argument("--coqa-min-words", type=int, default=1,
                        help="CoQA turns of at least this many words (default 1: all)")
    parser.add_argument("--fold", type=int, default=HELD_OUT_FOLD,
                        help="use the articles at positions of this parity (-1: all)")
    parser.add_argument("--depth", type=int, default=SECOND_STAGE_DEPTH)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--l2", default="0.0001,0.001,0.01")
    parser.add_argument("--write", action="store_true", help=f"write {COMBINER_FILE.name}")
    parser.add_argument("--out", type=Path, default=COMBINER_FILE, help="where --write writes")
    parser.add_argument("--model", default=None, help="encoder model (default: as bot index)")
    parser.add_argument("--backend", default=None, help="encoder backend (default: onnx)")
    args = parser.parse_args()
    spec = EncoderSpec.from_env(args.model, args.backend)
    sets = [load_squad(args.squad)]
    if args.coqa:
        sets.append(load_coqa_turns(args.coqa, args.coqa_min_words))
    parts, offset = [], 0
    for squad in sets:
        chosen = squad if args.fold < 0 else held_out_articles(squad, args.fold)
        parts.append(collect(chosen, args.depth, spec, offset))
        offset += len(chosen.articles)
    data = stack(parts)
    every = np.arange(data.questions())
    print(f"{data.questions()} questions, {len(data.X)} candidates; "
          f"gold within depth {args.depth} for {np.mean(data.reachable()):.3f}")
    for name, column in zip(COLUMNS, range(len(COLUMNS))):
        print(f"{name} alone: {render(summary(ranks(data, every, [column], np.ones(1))))}")
    columns = list(range(len(COLUMNS)))
    best = choose_l2(data, columns, [float(v) for v in args.l2.split(",")], args.folds,
                     "combined, ")
    w = fit(data, every, columns, best[0])
    weights = {name: round(float(v), 4) for name, v in zip(COLUMNS, w)}
    assert set(weights) == set(DEFAULT_COMBINER)
    print("weights:", json.dumps(weights))
    if args.write:
        args.out.write_text(json.dumps({
            "weights": weights, "l2": best[0], "depth": args.depth,
            "cross_validated": {k: round(v, 4) for k, v in best[1].items()},
            "scorer": "cross-encoder" if cross_encoder_chosen() else "token matching",
            "fitted_by": "python scripts/fit_combiner.py --write" + (
                f" --fold {args.fold}" if args.fold != HELD_OUT_FOLD else ""),
            "data": f"SQuAD v1.1 half-a and CoQA (turns of >= {args.coqa_min_words} words), "
                    + ("every article" if args.fold < 0 else
                       f"articles at {'odd' if args.fold else 'even'} positions")
                    + f", {data.questions()} questions, listwise softmax, "
                    f"{args.folds}-fold article-grouped cross-validation",
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
