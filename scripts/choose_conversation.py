"""Choose among the conversation's tuned settings by cross-validation over stories.

    python scripts/choose_conversation.py /tmp/fit-*.jsonl --folds 5

Reads the turns ``scripts/tune_conversation.py --rows`` wrote (one line per scored turn and
setting, naming its file and story). In each file the stories are dealt in order into K folds
(as ``tune_conversation --folds``). For each fold the setting with the best mean of the files'
P@1 on the other folds is chosen and scored on that fold; the held-out turns of all folds give
each file's cross-validated P@1 under the choice, beside each setting's own. Every file counts
as much whatever its number of turns (CoQA's 1,600 turns do not drown 140 news turns). The
last line names the setting chosen on all folds. A setting missing a file's turns is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

Key = tuple[str, str, int]  # setting, file, fold


def read_rows(paths: list[Path], folds: int) -> tuple[dict[Key, list[bool]], list[str], list[str]]:
    """Each (setting, file, fold)'s turns (right first or not), the settings in the order
    first met, the files."""
    rows = [json.loads(line) for path in paths
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    stories: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        stories[row["file"]].add(row["story"])
    fold_of = {f: {s: n % folds for n, s in enumerate(sorted(asked))}
               for f, asked in stories.items()}
    right: dict[Key, list[bool]] = defaultdict(list)
    settings: dict[str, None] = {}
    for row in rows:
        settings[row["setting"]] = None
        right[row["setting"], row["file"], fold_of[row["file"]][row["story"]]].append(
            row["rank"] == 1)
    files = sorted(stories)
    complete = [s for s in settings if all((s, f, 0) in right for f in files)]
    return right, complete, files


def p_at_1(right: dict[Key, list[bool]], setting: str, file: str, keep: list[int]) -> float:
    turns = [hit for fold in keep for hit in right.get((setting, file, fold), [])]
    return sum(turns) / len(turns) if turns else 0.0


def mean_p_at_1(right, setting: str, files: list[str], keep: list[int]) -> float:
    """The files' P@1 on the folds ``keep``, averaged over the files."""
    return sum(p_at_1(right, setting, f, keep) for f in files) / len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", type=Path, help="tune_conversation --rows files")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    if args.folds < 2:
        parser.error("--folds: at least 2")
    try:
        right, settings, files = read_rows(args.rows, args.folds)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not settings:
        print("error: no setting has turns of every file", file=sys.stderr)
        return 1
    every = list(range(args.folds))
    for setting in settings:
        figures = " / ".join(f"{p_at_1(right, setting, f, every):.4f}" for f in files)
        print(f"{setting}: P@1 {figures}, mean {mean_p_at_1(right, setting, files, every):.4f}")
    held: dict[str, list[bool]] = defaultdict(list)
    for fold in every:
        others = [k for k in every if k != fold]
        best = max(settings, key=lambda s: mean_p_at_1(right, s, files, others))
        print(f"fold {fold}: {best}")
        for f in files:
            held[f] += right.get((best, f, fold), [])
    cross = [sum(held[f]) / len(held[f]) for f in files]
    print("cross-validated choice: P@1 " + " / ".join(f"{c:.4f}" for c in cross)
          + f" ({', '.join(files)}), mean {sum(cross) / len(cross):.4f}")
    chosen = max(settings, key=lambda s: mean_p_at_1(right, s, files, every))
    print(f"chosen on all folds: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
