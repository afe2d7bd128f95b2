"""The ``bot`` command as a user runs it: cold single question, questions on stdin, re-index."""

from __future__ import annotations

import os
import re
import statistics
import sys
from pathlib import Path

from .measure import Run, run_process


def bot_command() -> list[str]:
    script = Path(sys.executable).with_name("bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def bot_env() -> dict[str, str]:
    return {**os.environ, "BOT_PROGRESS": "0"}


def _check(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise SystemExit(f"error: {what} failed ({run.returncode}): "
                         f"{run.stderr.decode(errors='replace').strip()[-300:]}")
    return run


def cold_ask(index_dir: Path, question: str, repeats: int) -> dict[str, float]:
    """Wall time of ``bot ask QUESTION`` in a new process (median), and its peak memory."""
    runs = [_check(run_process([*bot_command(), "ask", question, "--index-dir", str(index_dir)],
                               env=bot_env()), "bot ask") for _ in range(repeats)]
    return {"cold_s": statistics.median(r.seconds for r in runs),
            "cold_min_s": min(r.seconds for r in runs),
            "peak_mb": max(r.peak_mb for r in runs), "repeats": repeats}


def batch_ask(index_dir: Path, questions: list[str], repeats: int) -> dict[str, float]:
    """``bot ask --json < questions``: questions/s overall and warm (start-up subtracted, the
    start-up being a one-question run's wall time)."""
    text = ("\n".join(questions) + "\n").encode()
    one = (questions[0] + "\n").encode()
    many, single = [], []
    for _ in range(repeats):
        single.append(_check(run_process([*bot_command(), "ask", "--json", "--index-dir",
                                          str(index_dir)], stdin=one, env=bot_env()),
                             "bot ask (one line)").seconds)
        run = _check(run_process([*bot_command(), "ask", "--json", "--index-dir",
                                  str(index_dir)], stdin=text, env=bot_env()), "bot ask")
        lines = run.stdout.decode().count("\n")
        if lines != len(questions):
            raise SystemExit(f"error: bot ask answered {lines} of {len(questions)} lines")
        many.append(run)
    wall = statistics.median(r.seconds for r in many)
    startup = statistics.median(single)
    return {"questions": len(questions), "wall_s": wall, "per_s": len(questions) / wall,
            "warm_per_s": (len(questions) - 1) / max(wall - startup, 1e-9),
            "peak_mb": max(r.peak_mb for r in many), "repeats": repeats}


def reindex_unchanged(corpus: Path, index_dir: Path, repeats: int) -> dict[str, float]:
    """``bot index CORPUS`` again with nothing changed: wall time and sentences embedded."""
    runs = [_check(run_process([*bot_command(), "index", str(corpus), "--index-dir",
                                str(index_dir)], env=bot_env()), "bot index")
            for _ in range(repeats)]
    found = re.search(r"(\d+) sentences embedded", runs[-1].stderr.decode())
    sentences = re.search(r"(\d+) sentences \(", runs[-1].stderr.decode())
    return {"wall_s": statistics.median(r.seconds for r in runs),
            "embedded": int(found.group(1)) if found else -1,
            "sentences": int(sentences.group(1)) if sentences else -1,
            "peak_mb": max(r.peak_mb for r in runs), "repeats": repeats}


def update_index(corpus: Path, index_dir: Path) -> Run:
    """``bot index CORPUS`` on the index in ``index_dir`` (the real model; built if absent)."""
    return _check(run_process([*bot_command(), "index", str(corpus), "--index-dir",
                               str(index_dir)], env=bot_env()), "bot index")
