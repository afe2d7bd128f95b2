"""Measure the date grammar (``index/search/date_expressions.py``) on held-out news sentences.

    python scripts/date_heldout.py [bench/data/dates/heldout.yaml] [--misses]

The rows were written for this measurement, not with the grammar (its own table is in
tests/test_date_expressions.py). Figures: an expected expression is *found* when a mention
overlapping it has its date; *exact* when the mention's text is the expected text too; a
mention overlapping no expected expression, or overlapping one with another date, is *wrong*;
a sentence is *right* when its mentions' dates are exactly the expected ones, in order.
Measurement only: never change the grammar to fit these rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from index.search.date_expressions import find_dates

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "bench" / "data" / "dates" / "heldout.yaml"


def measure(path: Path, show_misses: bool = False) -> dict[str, float]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))["rows"]
    expected_total = found = exact = mentions = wrong = right_rows = 0
    for row in rows:
        sentence, anchor = str(row["s"]), row["anchor"]
        expected = []
        for text, date in row["expect"]:
            start = sentence.find(str(text))
            if start < 0:
                raise ValueError(f"{text!r} is not in {sentence!r}")
            expected.append((start, start + len(str(text)), str(text), str(date)))
        got = find_dates(sentence, anchor)
        expected_total += len(expected)
        mentions += len(got)
        for start, end, text, date in expected:
            hits = [m for m in got if m.start < end and start < m.end and m.date == date]
            found += bool(hits)
            exact += any(m.text == text for m in hits)
        for m in got:
            if not any(m.start < e and s < m.end and m.date == d for s, e, _, d in expected):
                wrong += 1
        ok = [m.date for m in got] == [d for *_, d in expected]
        right_rows += ok
        if show_misses and not ok:
            print(f"  {sentence}  [{anchor}]\n    expected {[(t, d) for _, _, t, d in expected]}"
                  f"\n    got      {[(m.text, m.date) for m in got]}")
    return {"sentences": len(rows), "expressions": expected_total, "found": found,
            "exact": exact, "mentions": mentions, "wrong": wrong, "right_sentences": right_rows}


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--misses"]
    figures = measure(Path(args[0]) if args else HELDOUT, "--misses" in sys.argv[1:])
    f = figures
    print(f"{f['sentences']} sentences, {f['expressions']} expected expressions")
    print(f"  found with the right date: {f['found']} ({f['found'] / f['expressions']:.3f}); "
          f"same text too: {f['exact']}")
    print(f"  mentions: {f['mentions']}, wrong (no such expression or another date): "
          f"{f['wrong']} (precision {(f['mentions'] - f['wrong']) / max(f['mentions'], 1):.3f})")
    print(f"  sentences exactly right: {f['right_sentences']} of {f['sentences']} "
          f"({f['right_sentences'] / f['sentences']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
