"""Measure a query adapter: a linear map W applied to the question's vector only.

    python scripts/train_query_adapter.py                  # cross-fit by article, report
    python scripts/train_query_adapter.py --pull 0.1       # a stronger pull toward identity
    python scripts/train_query_adapter.py --kind diagonal  # a variant (diagonal | low-rank)
    python scripts/train_query_adapter.py --report ../shared/eval/wikiqa-dev.tsv,...

Measured and not shipped (docs/quality.md, "A query adapter"): fitted on SQuAD and CoQA it
gains there, cross-fitted, but not measurably on the sets it never saw.

The index's sentence vectors (``Title: sentence``) stay as they are; only the question's vector
is mapped (``W q``, then re-normalised), so the adapter costs one 384x384 product per
question and no reindexing. W starts at the identity and is pulled toward it (``--pull``:
``pull * |W - I|^2``). Objective: a listwise softmax (temperature ``--temperature``) of each
question's gold sentences against **every sentence of the fitting half's articles in the
same index** (a superset of the first stage's dense and BM25 candidates, and of in-batch
negatives from the same set), averaged over questions; full-batch L-BFGS.

Data: SQuAD v1.1 dev half-a's questions and every CoQA dev turn (each asked alone), as
``scripts/train_ranker.py`` uses them, in the indexes ``bot eval`` and the ranker's data
already built (a rerun embeds no sentence); each question is embedded alone, as ``bot ask``
embeds it, and cached. Cross-fit: fit on the even articles and
stories, score the odd ones, and the reverse. ``--report FILE,...`` also scores plain dense
retrieval with and without the adapter (fitted on all articles) on sets never fitted on
(WikiQA dev: corpus-wide and own-candidates MAP; natural questions; dialogue turns alone).
Nothing is written but the caches (question vectors beside each work directory's index).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranker_data import (COQA, HALF_A, load_coqa_turns, load_natural_set,  # noqa: E402
                         text_vectors)

from bot.evaluation.coqa import CoqaSet  # noqa: E402
from bot.evaluation.dialogues import gold_of  # noqa: E402
from bot.evaluation.dialogues import work_dir_for as dialogue_work_dir  # noqa: E402
from bot.evaluation.formats import load_eval_set  # noqa: E402
from bot.evaluation.metrics import grouped_bootstrap  # noqa: E402
from bot.evaluation.runner import _gold, index_articles, work_dir_for  # noqa: E402
from bot.evaluation.squad import SquadSet  # noqa: E402
from bot.questions import clean_question  # noqa: E402
from index.embed.encoders import EncoderSpec, load_encoder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPORT = ",".join(str(p) for p in (
    ROOT.parent / "shared" / "eval" / "wikiqa-dev.tsv",
    ROOT / "bench" / "data" / "natural" / "questions.yaml",
    ROOT / "bench" / "data" / "natural" / "reader-questions.yaml",
    ROOT / "bench" / "data" / "dialogues" / "news-dialogues.json"))


@dataclass
class DenseSet:
    """One indexed question set, as plain dense retrieval sees it."""

    name: str
    questions: np.ndarray  # (Q, d) question vectors, unadapted
    sentences: np.ndarray  # (N, d) the index's stored sentence vectors
    sentence_article: np.ndarray  # (N,) article position of each sentence (-1: none)
    gold: list[np.ndarray]  # per question: gold sentence ids
    article: np.ndarray  # (Q,) article position of each question
    bm25: np.ndarray  # (Q,) plain BM25's rank of the first gold sentence (the reference)
    own_candidates: bool = False
    weight: float = 1.0  # each question's weight in the fit

    def subset(self, keep: np.ndarray) -> "DenseSet":
        """The questions where ``keep`` is True (the sentences all stay)."""
        picked = np.flatnonzero(keep)
        return DenseSet(self.name, self.questions[picked], self.sentences,
                        self.sentence_article, [self.gold[i] for i in picked],
                        self.article[picked], self.bm25[picked], self.own_candidates,
                        self.weight)


def dense_set(name: str, path: "str | Path | SquadSet", spec: EncoderSpec) -> DenseSet:
    """Index the set's articles (``bot eval``'s work directory: a rerun embeds nothing), embed
    its questions as ``bot ask`` does (cached) and map answers to gold sentence ids. A CoQA
    file given as ``path`` is read as ``bot eval`` reads dialogues (each turn alone, gold: the
    sentences its rationale overlaps); a :class:`SquadSet` is used as it is."""
    encoder = load_encoder(spec)
    loaded = path if isinstance(path, SquadSet) else load_eval_set(path)
    if isinstance(loaded, CoqaSet):
        work_dir = dialogue_work_dir(loaded, spec)
        indexed = index_articles(loaded, work_dir, encoder)
        asked = [(t.text, d.story, gold_of(indexed.spans[d.story], t.span))
                 for d in loaded.dialogues for t in d.turns]
    else:
        work_dir = work_dir_for(loaded, spec)
        indexed = index_articles(loaded, work_dir, encoder)
        asked = [(q.text, q.article, _gold(indexed.spans[q.article], q.answer_starts))
                 for q in loaded.questions]
    asked = [a for a in asked if a[2]]
    sentences = np.asarray(indexed.searcher.sentence_vectors, dtype=np.float32)
    sentence_article = np.full(len(sentences), -1, dtype=np.int64)
    for position, spans in enumerate(indexed.spans):
        sentence_article[[sid for _, _, sid in spans]] = position
    texts = [clean_question(text) for text, _, _ in asked]
    gold = [np.array(sorted(g), dtype=np.int64) for _, _, g in asked]
    bm25 = np.array([first_rank(indexed.searcher.bm25.scores(t), g) for t, g in zip(texts, gold)],
                    dtype=np.int64)
    return DenseSet(name, text_vectors(texts, encoder, work_dir), sentences, sentence_article,
                    gold, np.array([a for _, a, _ in asked], dtype=np.int64), bm25,
                    bool(getattr(loaded, "own_candidates", False)))


def first_rank(scores: np.ndarray, gold: np.ndarray) -> int:
    """1-based rank of the best-scored gold item (ties counted in its favour)."""
    return 1 + int(np.sum(scores > scores[gold].max()))


def adapt(questions: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``W q`` per row, re-normalised."""
    mapped = questions @ W.T
    return mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)


def fit_adapter(parts: list[tuple[DenseSet, np.ndarray]], kind: str = "full",
                pull: float = 0.03, temperature: float = 0.05, rank: int = 32,
                iterations: int = 200, seed: int = 0) -> np.ndarray:
    """W fitted on each ``(set, sentence mask)``: its questions against the masked sentences."""
    import torch

    torch.manual_seed(seed)
    dim = parts[0][0].questions.shape[1]
    eye = torch.eye(dim, dtype=torch.float32)
    data = []
    for ds, mask in parts:
        columns = np.flatnonzero(mask)
        where = {int(c): i for i, c in enumerate(columns)}
        target = torch.zeros(len(ds.gold), len(columns), dtype=torch.bool)
        for q, ids in enumerate(ds.gold):
            for sid in ids:
                if int(sid) in where:
                    target[q, where[int(sid)]] = True
        usable = target.any(1)
        data.append((torch.tensor(ds.questions, dtype=torch.float32)[usable],
                     torch.tensor(ds.sentences[columns], dtype=torch.float32),
                     target[usable], ds.weight))
    count = sum(len(q) * weight for q, _, _, weight in data)
    if kind == "full":
        params = [torch.zeros(dim, dim, dtype=torch.float32, requires_grad=True)]
    elif kind == "diagonal":
        params = [torch.zeros(dim, dtype=torch.float32, requires_grad=True)]
    elif kind == "low-rank":
        params = [(0.01 * torch.randn(dim, rank, dtype=torch.float32)).requires_grad_(),
                  torch.zeros(dim, rank, dtype=torch.float32, requires_grad=True)]
    else:
        raise SystemExit(f"error: unknown adapter kind '{kind}'")

    def delta() -> torch.Tensor:
        if kind == "full":
            return params[0]
        if kind == "diagonal":
            return torch.diag(params[0])
        return params[0] @ params[1].T

    optimiser = torch.optim.LBFGS(params, lr=1, max_iter=iterations,
                                  line_search_fn="strong_wolfe", tolerance_change=1e-10)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        W = eye + delta()
        loss = torch.zeros((), dtype=torch.float32)
        for questions, sentences, target, weight in data:
            mapped = questions @ W.T
            mapped = mapped / mapped.norm(dim=1, keepdim=True).clamp_min(1e-12)
            logits = mapped @ sentences.T / temperature
            every = torch.logsumexp(logits, 1)
            gold = torch.logsumexp(logits.masked_fill(~target, -torch.inf), 1)
            loss = loss + weight * (every - gold).sum()
        loss = loss / count + pull * (W - eye).pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return (eye + delta()).numpy().astype(np.float32)


def ranks(ds: DenseSet, W: np.ndarray | None) -> np.ndarray:
    """1-based rank of the first gold sentence among all sentences, by dense cosine."""
    q = ds.questions if W is None else adapt(ds.questions, W)
    scores = q @ ds.sentences.T
    return np.array([first_rank(scores[n], ids) for n, ids in enumerate(ds.gold)],
                    dtype=np.int64)


def own_average_precision(ds: DenseSet, W: np.ndarray | None) -> np.ndarray:
    """Per question: average precision ranking its own article's sentences alone."""
    q = ds.questions if W is None else adapt(ds.questions, W)
    out = np.zeros(len(q))
    for n, (ids, article) in enumerate(zip(ds.gold, ds.article)):
        own = np.flatnonzero(ds.sentence_article == article)
        order = own[np.argsort(-(ds.sentences[own] @ q[n]), kind="stable")]
        hits = np.isin(order, ids)
        found = np.cumsum(hits)
        out[n] = float(np.sum(found[hits] / (np.flatnonzero(hits) + 1)) / len(ids))
    return out


def reciprocal(r: np.ndarray) -> np.ndarray:
    """1/rank within the first 10, else 0 (MRR@10's terms)."""
    return np.where(r <= 10, 1 / r, 0.0)


def figures(r: np.ndarray) -> str:
    mrr = reciprocal(r)
    return f"P@1 {np.mean(r == 1):.3f} ({int(np.sum(r == 1))}) MRR@10 {mrr.mean():.3f}"


def parity_mask(ds: DenseSet, parity: int) -> tuple[np.ndarray, np.ndarray]:
    """(questions, sentences) of the articles at even (0) or odd (1) positions."""
    return ds.article % 2 == parity, (ds.sentence_article >= 0) & (
        ds.sentence_article % 2 == parity)


def cross_fit(sets: list[DenseSet], options: dict) -> dict[str, np.ndarray]:
    """Each fitting set's questions ranked by a W that never saw their articles."""
    held = {ds.name: np.zeros(len(ds.gold), dtype=np.int64) for ds in sets}
    for parity in (0, 1):
        parts = []
        for ds in sets:
            questions, sentences = parity_mask(ds, parity)
            parts.append((ds.subset(questions), sentences))
        W = fit_adapter(parts, **options)
        for ds in sets:
            other = ds.article % 2 != parity
            held[ds.name][other] = ranks(ds.subset(other), W)
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default=str(HALF_A), help="'' for CoQA alone")
    parser.add_argument("--coqa", default=str(COQA), help="'' for SQuAD alone")
    parser.add_argument("--natural", default="",
                        help="also fit on this natural-questions YAML "
                             "(scripts/data/natural-train/questions.yaml)")
    parser.add_argument("--natural-weight", type=float, default=1.0,
                        help="weight of each --natural question against one SQuAD/CoQA one")
    parser.add_argument("--kind", choices=("full", "diagonal", "low-rank"), default="full")
    parser.add_argument("--rank", type=int, default=32, help="for --kind low-rank")
    parser.add_argument("--pull", type=float, default=0.03,
                        help="weight of |W - I|^2 (the pull toward the identity)")
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--report", default=REPORT,
                        help="comma-separated sets never fitted on, scored with W fitted on all")
    parser.add_argument("--no-cross-fit", action="store_true")
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", default=None)
    args = parser.parse_args()
    spec = EncoderSpec.from_env(args.model, args.backend)
    options = dict(kind=args.kind, pull=args.pull, temperature=args.temperature,
                   rank=args.rank, iterations=args.iterations)
    sets = [dense_set("SQuAD", args.squad, spec)] if str(args.squad) else []
    if args.coqa:
        sets.append(dense_set("CoQA", load_coqa_turns(args.coqa, 1), spec))
    if args.natural:
        sets.append(dense_set("natural-train", load_natural_set(args.natural), spec))
        sets[-1].weight = args.natural_weight
    print(f"fitting sets: {', '.join(f'{d.name} {len(d.gold)}' for d in sets)}; {options}")
    if not args.no_cross_fit:
        held = cross_fit(sets, options)
        for ds in sets:
            plain = ranks(ds, None)
            diff = (held[ds.name] == 1).astype(float) - (plain == 1)
            low, high = grouped_bootstrap(diff, ds.article)
            print(f"cross-fitted {ds.name}: adapted {figures(held[ds.name])}; "
                  f"plain dense {figures(plain)}; P@1 diff {diff.mean():+.3f} "
                  f"[{low:+.3f}, {high:+.3f}] (article bootstrap); "
                  f"plain BM25 {figures(ds.bm25)}")
    W = fit_adapter([(ds, ds.sentence_article >= 0) for ds in sets], **options)
    print(f"fitted on all: |W - I| = {np.linalg.norm(W - np.eye(len(W))):.3f}")
    pooled: dict[str, list[np.ndarray]] = {"p@1": [], "rr": [], "dialogue": []}
    for path in [p for p in args.report.split(",") if p]:
        ds = dense_set(Path(path).name, path, spec)
        plain, adapted = ranks(ds, None), ranks(ds, W)
        diff = (adapted == 1).astype(float) - (plain == 1)
        line = (f"out of style {ds.name} ({len(ds.gold)}): adapted {figures(adapted)}; "
                f"plain dense {figures(plain)}; plain BM25 {figures(ds.bm25)}")
        if ds.own_candidates:
            a, p = own_average_precision(ds, W), own_average_precision(ds, None)
            low, high = grouped_bootstrap(a - p)
            line += (f"; own-candidates MAP adapted {a.mean():.3f} plain {p.mean():.3f} "
                     f"diff {np.mean(a - p):+.3f} [{low:+.3f}, {high:+.3f}]")
        print(line)
        if "dialogue" in ds.name:
            pooled["dialogue"].append(diff)
            low, high = grouped_bootstrap(diff)
            print(f"  dialogue turns alone P@1 diff {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}]")
        else:
            pooled["p@1"].append(diff)
            pooled["rr"].append(reciprocal(adapted) - reciprocal(plain))
    if pooled["p@1"]:
        diff, rr = np.concatenate(pooled["p@1"]), np.concatenate(pooled["rr"])
        low, high = grouped_bootstrap(diff)
        rr_low, rr_high = grouped_bootstrap(rr)
        print(f"pooled out of style (not dialogues, {len(diff)}): P@1 diff {diff.mean():+.3f} "
              f"[{low:+.3f}, {high:+.3f}], {int(diff.sum()):+d} questions "
              f"({int(np.sum(diff > 0))} gained, {int(np.sum(diff < 0))} lost); MRR@10 diff "
              f"{rr.mean():+.3f} [{rr_low:+.3f}, {rr_high:+.3f}]")
        if pooled["dialogue"]:
            every = np.concatenate([diff, *pooled["dialogue"]])
            low, high = grouped_bootstrap(every)
            print(f"pooled with the dialogue turns ({len(every)}): P@1 diff {every.mean():+.3f} "
                  f"[{low:+.3f}, {high:+.3f}], {int(every.sum()):+d} questions")


if __name__ == "__main__":
    main()
