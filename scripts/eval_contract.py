"""Measure ``bot ask --json`` end to end on a SQuAD-format file, exactly as a script would.

Writes each article as ``.txt`` (title line, blank line, paragraphs), runs ``bot index`` and one
``bot ask --json -k 10`` over all questions on stdin, and scores P@1 / MRR@10: a hit is a
returned sentence whose [start, end) holds an annotator's answer start.

    python scripts/eval_contract.py ../shared/eval/squad-v1.1-dev-half-a.json --work /tmp/squad
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path


def write_articles(squad: Path, work: Path) -> list[tuple[str, str, list[int]]]:
    """``(question, article file, answer starts in that file)`` for every question."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    cases = []
    work.mkdir(parents=True, exist_ok=True)
    for number, article in enumerate(data):
        title = article["title"].replace("_", " ")
        path = work / f"{number:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', title)[:40]}.txt"
        text = title + "\n\n"
        for paragraph in article["paragraphs"]:
            offset = len(text)
            text += paragraph["context"].strip() + "\n\n"
            lead = len(paragraph["context"]) - len(paragraph["context"].lstrip())
            for qa in paragraph["qas"]:
                starts = sorted({offset + a["answer_start"] - lead for a in qa["answers"]})
                cases.append((" ".join(qa["question"].split()), str(path.resolve()), starts))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bot-squad"))
    args = parser.parse_args()
    cases = write_articles(args.squad, args.work / "articles")
    index_dir = str(args.work / "index")
    subprocess.run(["bot", "index", str(args.work / "articles"), "--index-dir", index_dir],
                   check=True)
    started = time.perf_counter()
    run = subprocess.run(["bot", "ask", "--json", "-k", "10", "--index-dir", index_dir],
                         input="\n".join(q for q, _, _ in cases) + "\n", capture_output=True,
                         text=True, check=True)
    seconds = time.perf_counter() - started
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(cases), (len(answers), len(cases))
    p1 = mrr = answered = 0.0
    for (question, source, starts), obj in zip(cases, answers):
        assert obj["question"] == question
        answered += obj["answered"]
        for rank, hit in enumerate(obj["answers"], start=1):
            if hit["source"] == source and any(hit["start"] <= s < hit["end"] for s in starts):
                p1 += rank == 1
                mrr += 1 / rank
                break
    n = len(cases)
    print(f"questions {n}  P@1 {p1 / n:.3f}  MRR@10 {mrr / n:.3f}  answered {answered / n:.3f}  "
          f"ask wall {seconds:.1f}s ({n / seconds:.0f} q/s incl. start-up)")


if __name__ == "__main__":
    sys.exit(main())
