"""Write the news dialogues (``bench/data/dialogues/dialogues.yaml``) as a CoQA-format file.

    python scripts/dialogues_to_coqa.py            # writes bench/data/dialogues/news-dialogues.json
    python scripts/dialogues_to_coqa.py --check    # exit 1 when the JSON is not up to date
    python scripts/dialogues_to_coqa.py --source bench/data/dialogues2/dialogues.yaml
        # another set: writes news-dialogues2.json beside it (news-<its folder>.json)
    python scripts/dialogues_to_coqa.py --source scripts/data/dialogues-train/dialogues.yaml
        # the news dialogues written for fitting (scripts/tune_conversation.py --with)
    python scripts/dialogues_to_coqa.py --out /tmp/news-dialogues-among-coqa.json \
        --distractors ../shared/eval/coqa-dev-wikipedia-literature.json  # + stories, none asked

Each dialogue names an article file (relative to the YAML file) and its turns, each a question
and a fragment of the sentence that answers it. In the JSON each dialogue is one CoQA item: the
article file's text exactly as its ``story`` (so the indexed file and the story agree on
offsets), the questions, and as each answer's rationale span the fragment's place in the story
(it must occur there exactly once). ``bot eval`` indexes each story once, however many
dialogues are about it. The sets under bench/data/ are for measurement only: never fit on them
(scripts/data/dialogues-train/ is the one written for fitting).

``--distractors FILE --out PATH`` writes the same dialogues with FILE's stories added after
them with no questions: indexed (so they compete for every turn) but never asked. Write such a
file outside the repository when FILE's licence forbids copying its text here (CoQA).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bench" / "data" / "dialogues" / "dialogues.yaml"


def target_of(source: Path) -> Path:
    """The JSON file written for ``source``: ``news-<its folder's name>.json`` beside it."""
    return source.with_name(f"news-{source.resolve().parent.name}.json")


def build(source: Path = SOURCE) -> dict[str, Any]:
    """The CoQA-format object for the dialogues in ``source`` (ValueError naming a bad turn)."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    items = []
    for number, dialogue in enumerate(data["dialogues"], 1):
        story = (source.parent / dialogue["article"]).read_text(encoding="utf-8")
        questions, answers = [], []
        for turn_id, turn in enumerate(dialogue["turns"], 1):
            fragment = str(turn["answer"])
            start = story.find(fragment)
            if start < 0 or story.find(fragment, start + 1) >= 0:
                raise ValueError(f"dialogue {number}, turn {turn_id}: {fragment!r} is "
                                 f"{'not in' if start < 0 else 'more than once in'} "
                                 f"{dialogue['article']}")
            questions.append({"turn_id": turn_id, "input_text": str(turn["q"])})
            answers.append({"turn_id": turn_id, "span_start": start,
                            "span_end": start + len(fragment), "span_text": fragment})
        items.append({"source": Path(dialogue["article"]).stem, "id": f"news-{number:02d}",
                      "story": story, "questions": questions, "answers": answers})
    return {"version": f"{target_of(source).stem}-1", "data": items}


def rendered(source: Path = SOURCE) -> str:
    return json.dumps(build(source), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="the dialogues' YAML file (default: the first set, "
                        "bench/data/dialogues/dialogues.yaml)")
    parser.add_argument("--check", action="store_true",
                        help="only check that the JSON file matches the YAML file")
    parser.add_argument("--distractors", type=Path, default=None,
                        help="a CoQA-format file whose stories are added, without questions")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the dialogues with the distractors (only with "
                        "--distractors: the committed file is always news-<folder>.json)")
    args = parser.parse_args()
    if args.out is not None and args.distractors is None:
        parser.error("--out goes with --distractors")
    if args.distractors is not None:
        if args.out is None or args.check:
            parser.error("--distractors needs --out (and no --check)")
        try:
            data = build(args.source)
            others = json.loads(args.distractors.read_text(encoding="utf-8"))["data"]
            data["data"] += [{"source": o.get("source", "story"), "id": f"distractor-{i}",
                              "story": o["story"], "questions": [], "answers": []}
                             for i, o in enumerate(others)]
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        args.out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        print(f"{args.out}: {len(data['data'])} stories")
        return 0
    try:
        text = rendered(args.source)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    target = target_of(args.source)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            again = "" if args.source == SOURCE else f" --source {args.source}"
            print(f"error: {_shown(target)} is out of date: run "
                  f"python scripts/dialogues_to_coqa.py{again}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    data = json.loads(text)["data"]
    print(f"{_shown(target)}: {len(data)} dialogues, "
          f"{sum(len(d['questions']) for d in data)} turns, "
          f"{len({d['story'] for d in data})} articles")
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
