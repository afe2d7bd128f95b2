"""Baselines: the ranked evidence recorded for each case, and what drifted since.

``bot check --update`` writes ``NAME.qa.baseline.json`` next to ``NAME.qa.yaml``. Later runs
compare each case's ranked sentences with it: sentences lost from or gained in the top k,
sentences that moved, and answers that flipped between answered and abstained. Drift is
reported even when every expectation still passes, so a change is visible before it breaks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from index.errors import BadInput, UnreadableFile
from index.files import MiB, read_regular_file

from ..atomic_file import write_atomically
from ..answering import Answer
from .expectations import normal, quote

if TYPE_CHECKING:
    from .format import GoldenFile
    from .runner import CaseResult

BASELINE_VERSION = 1
MAX_BASELINE_BYTES = 64 * MiB


def baseline_path(golden: Path) -> Path:
    """``x.qa.yaml`` → ``x.qa.baseline.json`` in the same folder."""
    name = golden.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return golden.with_name(f"{name}.baseline.json")


def snapshot(answer: Answer, golden: Path) -> dict[str, Any]:
    """What a baseline keeps of one answer (sources relative to the golden file's folder)."""
    base = Path(os.path.abspath(golden)).parent
    return {
        "question": answer.question,
        "answered": answer.answered,
        "confidence": round(answer.confidence, 4),
        "evidence": [{"text": e.text, "source": _relative(e.source, base), "start": e.start,
                      "end": e.end, "score": round(e.score, 4)} for e in answer.evidence],
    }


def load_baseline(golden: Path) -> dict[str, dict[str, Any]] | None:
    """The recorded cases of ``golden`` by name, or ``None`` when none was recorded."""
    path = baseline_path(golden)
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(read_regular_file(path, MAX_BASELINE_BYTES).decode("utf-8"))
    except UnreadableFile as exc:  # a FIFO, too large, unreadable, ...
        raise BadInput(f"{path}: unreadable baseline ({exc.reason}); record it again with "
                       "--update") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise BadInput(f"{path}: unreadable baseline ({reason}); "
                       "record it again with --update") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or \
            not isinstance(data.get("cases"), dict):
        raise BadInput(f"{path}: not a version-{BASELINE_VERSION} baseline; record it again "
                       "with --update")
    return data["cases"]


def write_baseline(golden: Path, snapshots: dict[str, dict[str, Any]],
                   keep: Iterable[str] = ()) -> Path:
    """Record ``snapshots`` (by case name) for ``golden``; cases named in ``keep`` that were not
    run this time keep their old record. Written atomically."""
    path = baseline_path(golden)
    cases: dict[str, Any] = {}
    keep = set(keep) - set(snapshots)
    if keep:
        try:
            old = load_baseline(golden) or {}
        except BadInput:
            old = {}
        cases.update({name: old[name] for name in keep if name in old})
    cases.update(snapshots)
    data = {"version": BASELINE_VERSION, "golden": golden.name, "cases": cases}
    return write_atomically(path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n")
                            .encode("utf-8"))


@dataclass
class Drift:
    """How one case's ranked evidence differs from its baseline."""

    recorded: bool = True  # False: the baseline has no entry for this case
    lost: list[tuple[int, str]] = field(default_factory=list)  # (old rank, text)
    gained: list[tuple[int, str]] = field(default_factory=list)  # (new rank, text)
    moved: list[tuple[int, int, str]] = field(default_factory=list)  # (old, new, text)
    answered: tuple[bool, bool] | None = None  # (then, now) when it flipped

    def __bool__(self) -> bool:
        return not self.recorded or bool(self.lost or self.gained or self.moved or self.answered)

    def lines(self) -> list[str]:
        """One readable line per change."""
        if not self.recorded:
            return ["not in the baseline yet (--update records it)"]
        out = []
        if self.answered:
            then, now = self.answered
            out.append(f"now {'answers' if now else 'abstains'} (baseline: "
                       f"{'answered' if then else 'abstained'})")
        out += [f"re-ranked #{a}\u2192#{b}: {quote(t, 70)}" for a, b, t in self.moved]
        out += [f"lost (was #{a}): {quote(t, 70)}" for a, t in self.lost]
        out += [f"gained (now #{b}): {quote(t, 70)}" for b, t in self.gained]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"recorded": self.recorded,
                "answered": list(self.answered) if self.answered else None,
                "moved": [{"from": a, "to": b, "text": t} for a, b, t in self.moved],
                "lost": [{"rank": a, "text": t} for a, t in self.lost],
                "gained": [{"rank": b, "text": t} for b, t in self.gained]}



def record(golden: "GoldenFile", results: Iterable["CaseResult"]) -> Path | None:
    """Write the baseline of ``golden`` from the results of its cases that produced an answer
    (its other cases keep their old record); None when none did."""
    snaps = {r.case.name: snapshot(r.answer, golden.path) for r in results
             if r.case.file == golden.path and r.answer is not None}
    if not snaps:
        return None
    return write_baseline(golden.path, snaps, keep=[c.name for c in golden.cases])

def compare(recorded: dict[str, Any] | None, current: dict[str, Any]) -> Drift:
    """The drift from a case's recorded snapshot to its ``current`` one."""
    if recorded is None:
        return Drift(recorded=False)
    old = recorded.get("evidence") or []
    new = current["evidence"]
    depth = min(len(old), len(new))
    if len(old) != len(new) and depth == 0:
        depth = max(len(old), len(new))
    old_ranks = {_key(e): rank for rank, e in enumerate(old[:depth], start=1)}
    new_ranks = {_key(e): rank for rank, e in enumerate(new[:depth], start=1)}
    drift = Drift()
    for key, rank in old_ranks.items():
        if key not in new_ranks:
            drift.lost.append((rank, key[1]))
        elif new_ranks[key] != rank:
            drift.moved.append((rank, new_ranks[key], key[1]))
    drift.gained = [(rank, key[1]) for key, rank in new_ranks.items() if key not in old_ranks]
    drift.moved.sort(key=lambda m: m[1])
    if bool(recorded.get("answered")) != current["answered"]:
        drift.answered = (bool(recorded.get("answered")), current["answered"])
    return drift


def _key(evidence: dict[str, Any]) -> tuple[str, str]:
    return str(evidence.get("source", "")), normal(str(evidence.get("text", "")))


def _relative(source: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(source, base)).as_posix()
    except ValueError:
        return source
