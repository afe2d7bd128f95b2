"""Question/sentence pairs for training the cross-encoder reranker (``scripts/train_reranker.py``).

    python scripts/reranker_data.py            # writes pairs under the bot cache, prints counts

Sources (CC BY-SA, in ``../shared/eval/``; only fitted weights are ever committed):

- SQuAD v1.1 dev half-a: each question's gold sentence(s) as positives; as negatives the
  best-ranked other sentences of the bot's own first stage (hard negatives, mostly from the
  same article) and one sentence of another article;
- SQuAD v2.0 half-a's unanswerable questions: the first stage's best sentences as negatives
  (on topic, yet they do not answer);
- CoQA's Wikipedia and literature stories: turns of at least ``SELF_CONTAINED_WORDS`` words
  (the self-contained ones), rationale sentences as positives, negatives as for SQuAD.

Articles are split in two folds by position (``article % 2``): the shipped reranker is trained
on fold 0 only, so that fold 1 (SQuAD and CoQA articles it never saw) measures it honestly.
Each pair is ``{"q", "text", "label", "fold", "set"}``; ``text`` is ``"Title: sentence"`` when the
article has a real title (CoQA's stories have none).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation.runner import prepare, work_dir_for  # noqa: E402
from bot.evaluation.squad import Question, SquadSet, load_squad  # noqa: E402
from bot.questions import clean_question  # noqa: E402
from index.embed.encoders import EncoderSpec, load_encoder  # noqa: E402
from index.paths import cache_dir  # noqa: E402
from index.search.reranker import pair_text  # noqa: E402  (what it reads at query time)
from ranker_data import load_coqa_turns  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SQUAD = EVAL / "squad-v1.1-dev-half-a.json"
SQUAD2 = EVAL / "squad-v2.0-dev-half-a.json"
COQA = EVAL / "coqa-dev-wikipedia-literature.json"
HARD = 4  # hard negatives per question: the 3 best-ranked wrong sentences + 1 from ranks 4-10
UNANSWERABLE_NEGATIVES = 2
SEED = 13


def unanswerable(v2: Path, squad: SquadSet) -> list[Question]:
    """SQuAD v2.0's unanswerable questions, placed in ``squad``'s articles by title."""
    position = {a.title: n for n, a in enumerate(squad.articles)}
    impossible = load_squad(v2)
    return [Question(q.qid, q.text, position[impossible.articles[q.article].title], [])
            for q in impossible.unanswerable
            if impossible.articles[q.article].title in position]


def pairs_of(squad: SquadSet, name: str, titled: bool, extra: list[Question] = (),
             rng: random.Random | None = None) -> Iterator[dict]:
    """Pairs for every question of ``squad`` (and negatives-only pairs for ``extra``)."""
    rng = rng or random.Random(SEED)
    encoder = load_encoder(EncoderSpec())
    prepared = prepare(squad, work_dir_for(squad, encoder.spec), encoder)
    searcher = prepared.searcher
    size = searcher.size
    texts = searcher.docs.all_sentence_texts()
    titles = searcher.docs.all_titles()
    article_of = searcher.table.article

    def text(sid: int) -> str:
        return pair_text(titles[int(article_of[sid])] if titled else None, texts[sid])

    questions = list(zip(prepared.questions, prepared.gold)) + [(q, set()) for q in extra]
    for number, (question, gold) in enumerate(questions):
        q = clean_question(question.text)
        fold = question.article % 2
        hits = searcher.search(q, 10)
        wrong = [h.sentence.id for h in hits
                 if not ({h.sentence.id} | {r.id for r, _ in h.also}) & gold]
        base = {"q": q, "fold": fold, "set": name}
        if not gold:
            for sid in wrong[:UNANSWERABLE_NEGATIVES]:
                yield {**base, "text": text(sid), "label": 0}
            continue
        for sid in sorted(gold)[:2]:
            yield {**base, "text": text(sid), "label": 1}
        chosen = wrong[:HARD - 1] + rng.sample(wrong[HARD - 1:], min(1, len(wrong[HARD - 1:])))
        for sid in chosen:
            yield {**base, "text": text(sid), "label": 0}
        own = int(article_of[next(iter(gold))])
        for _ in range(20):
            other = rng.randrange(size)
            if int(article_of[other]) != own:
                yield {**base, "text": text(other), "label": 0}
                break
        if number % 500 == 0:
            print(f"  {name}: {number}/{len(questions)} questions", file=sys.stderr)


def main() -> None:
    out = cache_dir() / "reranker" / "pairs.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    squad = load_squad(SQUAD)
    coqa = load_coqa_turns(COQA)
    counts: dict[tuple[str, int, int], int] = {}
    with out.open("w", encoding="utf-8") as sink:
        for pair in [*pairs_of(squad, "squad", True, unanswerable(SQUAD2, squad)),
                     *pairs_of(coqa, "coqa", False)]:
            sink.write(json.dumps(pair) + "\n")
            key = (pair["set"], pair["fold"], pair["label"])
            counts[key] = counts.get(key, 0) + 1
    for key, count in sorted(counts.items()):
        print(*key, count)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
