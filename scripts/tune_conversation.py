"""Tune the conversation's constants (bot/conversation.py) on a CoQA-format dev file.

    python scripts/tune_conversation.py ../shared/eval/coqa-dev-wikipedia-literature.json \\
        --set TOPIC_WEIGHT=1.0,2.0 --set WALK_WEIGHT=0.5,1 --set STEPS=0:3.85/1:3.02

Indexes every story together (as ``bot eval`` does, reusing its work directory), then asks
every dialogue turn by turn for each combination of the given values and prints P@1, MRR@10
and story@1 (the top sentence from the dialogue's story). Tune on fitting files only (CoQA dev,
the news dialogues of scripts/data/dialogues-train/): the held-out judgement is other dialogues
(bench/data/dialogues*/ are measurement only). ``--half even`` asks only the dialogues of the stories at
even positions (tune there), ``odd`` the others (report there); every story is indexed either
way. ``--rows FILE`` writes one JSON line per scored turn and setting (file, story, dialogue,
turn, first-hit rank (0: none in the top 10), best sentence id), for a bootstrap over dialogues.

Two styles at once: ``--with FILE`` (repeatable) asks another CoQA-format file's dialogues too,
whole, in an index of its own (news dialogues written for fitting: scripts/data/dialogues-train/);
each file's figures are printed and ``mean p@1``, the files' P@1 averaged, so each style counts
as much whatever its number of turns. ``--step-mix W1,W2`` tunes the step table: for each W,
:data:`bot.conversation.STEPS` is counted from the asked dialogues' gold rationales, the first
file's step shares mixed ``1 - W`` to the ``--with`` files' ``W``. ``--folds K`` cross-validates
that count by story: a dialogue is asked with the table counted without its own fold's stories
(in each file, the asked stories in order, dealt into K folds).

    python scripts/tune_conversation.py ../shared/eval/coqa-dev-wikipedia-literature.json \\
        --half even --with scripts/data/dialogues-train/news-dialogues-train.json \\
        --folds 5 --step-mix 0,0.5,1 --set WALK_WEIGHT=1,1.5
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from bot import conversation, topic
from bot.answering import Answerer
from bot.evaluation.coqa import CoqaSet, load_coqa
from bot.evaluation.dialogues import gold_of, work_dir_for
from bot.evaluation.metrics import first_hit_ranks, ranking_scores
from bot.evaluation.runner import index_articles
from index.embed.encoders import EncoderSpec, load_encoder


STEP_RANGE = range(-3, 6)  # the steps the table holds; any other one counts as a far sentence
STEP_BASE = 0.01  # a table entry is log(share / STEP_BASE), as the shipped table's


@dataclass
class Asked:
    """One CoQA-format file as tuned on: its dialogues to ask, its index and sentence spans."""

    name: str
    coqa: CoqaSet
    spans: list
    answerer: Answerer


def run(answerer: Answerer, coqa, spans, rows: list[dict] | None = None,
        table_for: Callable[[int], dict[int, float]] | None = None) -> dict[str, float]:
    """Ask every dialogue turn by turn; its P@1, MRR@10, story@1 (``table_for(story)``: the
    step table to ask that story's dialogues with, else the current one)."""
    rankings, gold, story_ok, where, best = [], [], [], [], []
    started = time.perf_counter()
    for number, dialogue in enumerate(coqa.dialogues):
        if table_for is not None:
            conversation.STEPS = table_for(dialogue.story)
        chat = answerer.conversation()
        ids = {sid for _, _, sid in spans[dialogue.story]}
        for n, turn in enumerate(dialogue.turns):
            evidence = chat.ask(turn.text, k=10).answer.evidence
            wanted = gold_of(spans[dialogue.story], turn.span)
            if wanted:
                rankings.append([e.sentence_id for e in evidence])
                gold.append(wanted)
                story_ok.append(bool(evidence) and evidence[0].sentence_id in ids)
                where.append((dialogue.story, number, n))
                best.append(evidence[0].sentence_id if evidence else None)
    ranks = first_hit_ranks(rankings, gold)
    if rows is not None:
        rows += [{"story": s, "dialogue": d, "turn": t, "rank": int(r), "best": b}
                 for (s, d, t), r, b in zip(where, ranks, best)]
    row = ranking_scores(ranks).to_json()
    row["story@1"] = round(float(np.mean(story_ok)), 4)
    row["ms_per_turn"] = round(1000 * (time.perf_counter() - started) / max(len(gold), 1), 1)
    return row


def step_counts(coqa, spans, skip: Callable[[int], bool] = lambda story: False
                ) -> collections.Counter[int]:
    """How often a turn's rationale stands each number of sentences from the previous turn's
    (first gold sentence to first gold sentence), over the dialogues whose story ``skip``
    does not leave out."""
    steps: collections.Counter[int] = collections.Counter()
    for dialogue in coqa.dialogues:
        if skip(dialogue.story):
            continue
        previous: set[int] = set()
        for turn in dialogue.turns:
            gold = gold_of(spans[dialogue.story], turn.span)
            if gold and previous:
                steps[min(gold) - min(previous)] += 1
            previous = gold or previous
    return steps


def shares(steps: collections.Counter[int]) -> dict[int, float]:
    """Each table step's share of all the counted steps (0 for none counted)."""
    total = sum(steps.values())
    return {s: steps[s] / total if total else 0.0 for s in STEP_RANGE}


def step_table(first: dict[int, float], others: dict[int, float], mix: float
               ) -> dict[int, float]:
    """The walk's table from two styles' step shares mixed ``1 - mix`` to ``mix``: each
    step's log-share over :data:`STEP_BASE` (as the shipped table), none below 0 (a far
    sentence's, where neither style counted it more often than that)."""
    table = {}
    for step in STEP_RANGE:
        share = (1 - mix) * first[step] + mix * others[step]
        table[step] = round(max(math.log(share / STEP_BASE), 0.0), 2) if share > 0 else 0.0
    return table


def folds_of(coqa, folds: int) -> dict[int, int]:
    """Each asked story's fold: the asked stories in order, dealt into ``folds``."""
    asked = sorted({d.story for d in coqa.dialogues})
    return {story: n % folds for n, story in enumerate(asked)}


def table_maker(files: list[Asked], mix: float, folds: int | None, asked: Asked
                ) -> Callable[[int], dict[int, float]]:
    """``table_for(story)`` for ``asked``'s stories: the table counted on every file's asked
    dialogues; with ``folds``, without those of each file's stories in the story's fold."""
    cache: dict[int | None, dict[int, float]] = {}
    fold_maps = [folds_of(f.coqa, folds) if folds else {} for f in files]
    own = fold_maps[[f is asked for f in files].index(True)]

    def table_for(story: int) -> dict[int, float]:
        fold = own[story] if folds else None
        if fold not in cache:
            counted = [step_counts(f.coqa, f.spans,
                                   lambda s, m=m: folds is not None and m.get(s) == fold)
                       for f, m in zip(files, fold_maps)]
            cache[fold] = step_table(shares(counted[0]),
                                     shares(sum(counted[1:], collections.Counter())), mix)
        return cache[fold]
    return table_for


def count_steps(coqa, spans) -> None:
    """Print where each turn's rationale stands from the previous turn's, in sentences (the
    counts behind ``bot.conversation.STEPS``: log of each share over a far sentence's)."""
    steps = step_counts(coqa, spans)
    total = sum(steps.values())
    near = {s: n / total for s, n in sorted(steps.items()) if -3 <= s <= 5}
    far = (1 - sum(near.values())) / max(len(steps) - len(near), 1)
    print(f"{total} turn pairs; share of each step: "
          + ", ".join(f"{s}: {share:.3f}" for s, share in near.items())
          + f"; a far step: {far:.4f}")
    print("log over 0.01: " + ", ".join(f"{s}: {math.log(share / 0.01):.2f}"
                                        for s, share in near.items()))


def _owner(name: str) -> tuple[object, str]:
    """``(module, constant)`` for ``NAME`` (bot.conversation) or ``topic.NAME`` (bot.topic)."""
    module, _, constant = name.rpartition(".")
    return ({"": conversation, "topic": topic}[module], constant)


def _value(owner: tuple[object, str], text: str) -> object:
    """``text`` as a value of the constant: ``a/b`` for a tuple, ``step:value/...`` for the
    step table (``STEPS=0:3.85/1:3.02``: the steps not named count as far sentences)."""
    current = getattr(*owner)
    if isinstance(current, tuple):
        return tuple(float(x) for x in text.split("/"))
    if isinstance(current, dict):
        return {int(step): float(value) for step, value in
                (pair.split(":") for pair in text.split("/"))}
    return type(current)(text)


def _asked(path: str, encoder, spec, stories: int | None = None, half: str | None = None,
           work_dir: str | None = None) -> Asked:
    """The file at ``path`` indexed (every story), its dialogues kept as ``stories`` and
    ``half`` say."""
    coqa = load_coqa(path)
    if stories:
        coqa = type(coqa)(coqa.articles, [d for d in coqa.dialogues if d.story < stories],
                          coqa.digest)
    if half:
        keep = 0 if half == "even" else 1
        coqa = type(coqa)(coqa.articles, [d for d in coqa.dialogues if d.story % 2 == keep],
                          coqa.digest)
    work = Path(work_dir) if work_dir else work_dir_for(coqa, spec)
    indexed = index_articles(coqa, work, encoder)
    return Asked(Path(path).name, coqa, indexed.spans, Answerer(indexed.searcher))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--with", dest="others", action="append", default=[], metavar="FILE",
                        help="another CoQA-format file whose dialogues are all asked too "
                        "(its own index); prints each file's figures and their mean P@1")
    parser.add_argument("--set", action="append", default=[],
                        help="NAME=v1,v2,... (a constant of bot/conversation.py)")
    parser.add_argument("--step-mix", default=None, metavar="W1,W2",
                        help="count the step table from the asked dialogues, the first file's "
                        "step shares weighing 1-W, the --with files' W (needs --with)")
    parser.add_argument("--folds", type=int, default=None,
                        help="with --step-mix: ask each story's dialogues with the table "
                        "counted without its fold's stories (each file's asked stories in order, dealt "
                        "into K folds)")
    parser.add_argument("--stories", type=int, default=None,
                        help="ask only the dialogues of the first N stories (all indexed)")
    parser.add_argument("--half", choices=("even", "odd"), default=None,
                        help="ask only the dialogues of the stories at even (odd) positions")
    parser.add_argument("--rows", default=None,
                        help="write one JSON line per scored turn and setting to this file")
    parser.add_argument("--work-dir", default=None, help="as bot eval --work-dir (the first "
                        "file's; a --with file's is the bot's cache, as bot eval's default)")
    parser.add_argument("--steps", action="store_true",
                        help="only count the rationale steps between turns")
    args = parser.parse_args()
    if args.step_mix is not None and not args.others:
        parser.error("--step-mix mixes the first file's steps with the --with files': "
                     "give --with")
    if args.folds is not None and (args.step_mix is None or args.folds < 2):
        parser.error("--folds needs --step-mix and at least 2 folds")
    spec = EncoderSpec.from_env()
    encoder = load_encoder(spec)
    files = [_asked(args.file, encoder, spec, args.stories, args.half, args.work_dir)]
    files += [_asked(other, encoder, spec) for other in args.others]
    if args.steps:
        for asked in files:
            print(f"{asked.name}: ", end="")
            count_steps(asked.coqa, asked.spans)
        return
    grid = [(name, [_value(_owner(name), v) for v in values.split(",")])
            for name, values in (s.split("=", 1) for s in args.set)]
    mixes = [float(m) for m in args.step_mix.split(",")] if args.step_mix else [None]
    shipped = conversation.STEPS
    for mix, combo in itertools.product(mixes, itertools.product(*(v for _, v in grid))):
        conversation.STEPS = shipped  # unless this setting names a table
        for (name, _), value in zip(grid, combo):
            setattr(*_owner(name), value)
        setting = " ".join([f"step_mix={mix}"] * (mix is not None)
                           + [f"{n}={v}" for (n, _), v in zip(grid, combo)]) or "defaults"
        results = []
        for asked in files:
            rows: list[dict] = []
            table_for = table_maker(files, mix, args.folds, asked) if mix is not None \
                else None
            result = run(asked.answerer, asked.coqa, asked.spans, rows, table_for)
            results.append(result)
            label = f"{setting}" if len(files) == 1 else f"{setting} [{asked.name}]"
            print(f"{label}: {result}", flush=True)
            if args.rows:
                with open(args.rows, "a", encoding="utf-8") as out:
                    out.writelines(json.dumps({"setting": setting, "file": asked.name, **r})
                                   + "\n" for r in rows)
        if len(files) > 1:
            mean = float(np.mean([r["p@1"] for r in results]))
            print(f"{setting}: mean p@1 {mean:.4f}", flush=True)
        if mix is not None and args.folds is None:
            print(f"{setting}: STEPS = {table_maker(files, mix, None, files[0])(0)}",
                  flush=True)
    conversation.STEPS = shipped


if __name__ == "__main__":
    main()
