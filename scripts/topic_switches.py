"""Measure conversations that change subject: dialogues about one story, then another's.

    python scripts/topic_switches.py ../shared/eval/coqa-dev-wikipedia-literature.json --half even
    python scripts/topic_switches.py bench/data/dialogues/news-dialogues.json

Every story of the CoQA-format FILE is indexed together (``bot eval``'s work directory, so a
file ``bot eval`` has indexed embeds nothing). Each selected dialogue A is joined to the
selected dialogue B a fixed number of places on (about another story): A's first ``--before``
turns, then B's first ``--after`` turns, asked turn by turn in one
:class:`bot.conversation.Conversation`. B's first turn is the **switch**; B's later turns are
**after** it; A's turns after its first are the **follow-ups before** it. Beside each turn read in the conversation, the same question asked
alone (``bot ask``), plain dense and plain BM25 of the question alone, on the same sentences.
Per segment: P@1 (the best sentence overlaps the turn's rationale), story@1, the verdict's
answered rate and precision (answered replies whose best sentence is right), and how many turns
the conversation read alone (``follow_up`` False).

Nothing is written to the repository: CoQA's text stays in /work/shared. ``--half even``
selects the dialogues of the stories at even positions (tune there), ``odd`` the others
(report there). ``--rows FILE`` writes one JSON line per scored turn. ``--set NAME=VALUE``
changes a constant of bot/topic_change.py for the run (``--set SWITCH_LEAD=inf --set
NEW_NAMES=0``: every later turn a follow-up, as before the decision existed).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering import Answerer
from bot.conversation import Reply
from bot.evaluation.coqa import CoqaSet, Dialogue, Turn, load_coqa
from bot.evaluation.dialogues import gold_of, work_dir_for
from bot.evaluation.runner import index_articles, top_ids
from bot.questions import clean_question
from index.embed.encoders import EncoderSpec, load_encoder

SEGMENTS = ("first", "before", "switch", "after")


@dataclass(frozen=True)
class Joined:
    """A dialogue about one story, then one about another: ``(story, turn)`` pairs in order,
    the turn's segment beside each."""

    turns: list[tuple[int, Turn, str]]


def switched(coqa: CoqaSet, half: str | None, before: int, after: int) -> list[Joined]:
    """Each selected dialogue's first ``before`` turns followed by the first ``after`` turns
    of another selected dialogue about another story (the one a fixed number of places on,
    so that every dialogue is the second one once)."""
    chosen = [d for d in coqa.dialogues if d.turns  # a distractor story has none
              and (half is None or d.story % 2 == (0 if half == "even" else 1))]
    shift = next((s for s in range(1, len(chosen))
                  if all(d.story != chosen[(n + s) % len(chosen)].story
                         for n, d in enumerate(chosen))), None)
    if shift is None:
        return []
    joined = []
    for n, first in enumerate(chosen):
        second = chosen[(n + shift) % len(chosen)]
        joined.append(Joined(_segment(first, before, "before")
                             + _segment(second, after, "after", "switch")))
    return joined


def _segment(dialogue: Dialogue, count: int, later: str,
             opening: str = "first") -> list[tuple[int, Turn, str]]:
    return [(dialogue.story, turn, opening if n == 0 else later)
            for n, turn in enumerate(dialogue.turns[:count])]


def ask(answerer: Answerer, coqa_spans: list, dialogues: list[Joined]) -> list[dict[str, Any]]:
    """One row per scored turn: what each method's best sentence was and whether it is right."""
    searcher = answerer.searcher
    vectors = np.asarray(searcher.sentence_vectors)
    story_of = {sid: story for story, spans in enumerate(coqa_spans) for _, _, sid in spans}
    rows = []
    for number, dialogue in enumerate(dialogues):
        chat = answerer.conversation()
        for story, turn, segment in dialogue.turns:
            reply = chat.ask(turn.text, k=1)
            gold = gold_of(coqa_spans[story], turn.span)
            if not gold:
                continue
            alone = answerer.ask(turn.text, k=1)
            text = clean_question(turn.text)
            best = {"conversation": _top(reply.answer.evidence), "alone": _top(alone.evidence),
                    "dense": (top_ids(vectors @ searcher.encoder.encode_query(text), 1)
                              or [None])[0],
                    "bm25": (top_ids(searcher.bm25.scores(text), 1) or [None])[0]}
            rows.append({
                "dialogue": number, "segment": segment, "question": turn.text,
                "read_alone": not reply.follow_up,
                "check": _check(reply),
                "right": {m: s in gold for m, s in best.items()},
                "story": {m: story_of.get(s) == story for m, s in best.items()},
                "answered": {"conversation": reply.answer.answered, "alone": alone.answered},
                "confidence": {"conversation": reply.answer.confidence,
                               "alone": alone.confidence}})
    return rows


def _check(reply: Reply) -> dict[str, Any] | None:
    """The turn's topic-change decision's inputs (None for a first turn, and for code before
    the decision existed: this script also measures that code, for a before/after)."""
    check = getattr(reply, "check", None)
    return None if check is None else {
        "refers_back": check.refers_back, "lead": round(check.lead, 4),
        "new_names": check.new_names, "shared": check.shared}


def _top(evidence: list) -> int | None:
    return evidence[0].sentence_id if evidence else None


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per segment and method: turns, P@1, story@1, answered rate, precision of answered."""
    out: dict[str, dict[str, Any]] = {}
    for segment in SEGMENTS:
        mine = [r for r in rows if r["segment"] == segment]
        if not mine:
            continue
        table: dict[str, Any] = {"turns": len(mine), "read_alone": _mean(
            [r["read_alone"] for r in mine])}
        for method in ("conversation", "alone", "dense", "bm25"):
            row = {"P@1": _mean([r["right"][method] for r in mine]),
                   "story@1": _mean([r["story"][method] for r in mine])}
            if method in ("conversation", "alone"):
                said = [r for r in mine if r["answered"][method]]
                row["answered"] = _mean([r["answered"][method] for r in mine])
                row["precision"] = _mean([r["right"][method] for r in said]) if said else None
            table[method] = row
        out[segment] = table
    return out


def _mean(values: list[bool]) -> float:
    return round(float(np.mean(values)), 3) if values else 0.0


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['file']}: {report['dialogues']} joined dialogues, "
             f"{report['sentences']} sentences; half {report['half'] or 'all'}; "
             f"{' '.join(report['set']) or 'shipped constants'}"]
    lines.append(f"{'segment':8} {'turns':>5} {'alone%':>6}  {'method':12} {'P@1':>6} "
                 f"{'story@1':>7} {'answered':>8} {'precision':>9}")
    for segment, table in report["segments"].items():
        for n, method in enumerate(("conversation", "alone", "dense", "bm25")):
            row = table[method]
            head = f"{segment:8} {table['turns']:5d} {100 * table['read_alone']:5.1f}%" if n == 0 \
                else " " * 20
            precision = row.get("precision")
            lines.append(f"{head}  {method:12} {row['P@1']:6.3f} {row['story@1']:7.3f} "
                         + (f"{row['answered']:8.3f} "
                            f"{'-' if precision is None else f'{precision:.3f}':>9}"
                            if "answered" in row else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--half", choices=("even", "odd"), default=None,
                        help="only the dialogues of the stories at even (odd) positions")
    parser.add_argument("--before", type=int, default=4, help="turns of the first dialogue")
    parser.add_argument("--after", type=int, default=4, help="turns of the second dialogue")
    parser.add_argument("--rows", type=Path, default=None, help="write each turn's row here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a constant of bot/topic_change.py for this run, e.g. "
                             "SWITCH_LEAD=inf (no article lead makes a new question)")
    args = parser.parse_args()
    for setting in args.set:
        from bot import topic_change

        name, _, value = setting.partition("=")
        if not hasattr(topic_change, name):
            parser.error(f"bot/topic_change.py has no constant {name}")
        setattr(topic_change, name, type(getattr(topic_change, name))(float(value)))
    coqa = load_coqa(args.file)
    spec = EncoderSpec.from_env()
    encoder = load_encoder(spec)
    indexed = index_articles(coqa, work_dir_for(coqa, spec), encoder)
    indexed.searcher.rerank_depth = 0  # as bot eval --fast
    answerer = Answerer(indexed.searcher)
    dialogues = switched(coqa, args.half, args.before, args.after)
    rows = ask(answerer, indexed.spans, dialogues)
    if args.rows:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = {"file": args.file, "half": args.half, "set": args.set, "dialogues": len(dialogues),
              "sentences": indexed.searcher.size, "segments": summary(rows)}
    print(json.dumps(report) if args.json else render(report))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
