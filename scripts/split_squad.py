"""Split a SQuAD-format file into two files by article (even / odd positions).

    python scripts/split_squad.py ../shared/eval/squad-v1.1-dev-half-a.json /tmp/a.json /tmp/b.json
    bot eval /tmp/a.json --ooc /tmp/b.json     # b's questions are out of a's corpus

Write the halves outside the repository: the data is for measurement only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit("usage: split_squad.py IN.json OUT_EVEN.json OUT_ODD.json")
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for parity, out in ((0, sys.argv[2]), (1, sys.argv[3])):
        part = {**data, "data": data["data"][parity::2]}
        Path(out).write_text(json.dumps(part), encoding="utf-8")
        print(f"{out}: {len(part['data'])} articles")


if __name__ == "__main__":
    main()
