"""Answering a stream of questions for ``bot ask``: in order, one reply per input line.

A stream is answered by one worker process per core (each with its own single-threaded model
session), since ranking a question is mostly Python and holds the GIL; replies still come out
in input order, each as soon as it and those before it are ready. ``BOT_WORKERS=1`` (or a
single core) answers in this process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .questions import MAX_QUESTION_CHARS, clean_question

Item = tuple[int, str, "str | None"]  # (line number, question, problem)


@dataclass
class Reply:
    """What one input line produces: a stdout line (or none) and stderr lines."""

    stdout: str | None
    stderr: list[str] = field(default_factory=list)
    failed: bool = False


def reply_to(answerer, item: Item, k: int, as_json: bool, single: bool) -> Reply:
    """Answer one line (or report why it cannot be answered)."""
    from .human_output import render

    number, text, problem = item
    if problem:
        from .answering import Answer

        error = Answer(text, answered=False, confidence=0.0, evidence=[]).to_json()
        line = json.dumps(error | {"error": problem}, ensure_ascii=False)
        return Reply(line if as_json else None, [f"error: line {number}: {problem}"], True)
    notes = []
    if (length := len(clean_question(text, limit=None))) > MAX_QUESTION_CHARS:
        where = "" if single else f"line {number}: "
        notes.append(f"warning: {where}question has {length} characters; only the first "
                     f"{MAX_QUESTION_CHARS} are searched")
    answer = answerer.ask(text, k=k)
    out = json.dumps(answer.to_json(), ensure_ascii=False) if as_json else \
        render(answer) + ("" if single else "\n")
    return Reply(out, notes)


def workers_for_stream() -> int:
    """How many processes answer a stream (``$BOT_WORKERS``, else one per core)."""
    from index.encoders import cpu_cores

    forced = os.environ.get("BOT_WORKERS", "")
    return int(forced) if forced.isdigit() and int(forced) > 0 else cpu_cores()


def replies(index_dir: str, items: Iterable[Item], k: int, as_json: bool, single: bool,
            workers: int = 1) -> Iterator[Reply]:
    """Replies to ``items`` in order, answered here or by ``workers`` processes."""
    if workers <= 1:
        from .answering import Answerer

        answerer = Answerer.open(index_dir)
        for item in items:
            yield reply_to(answerer, item, k, as_json, single)
        return
    from index.store import IndexDir

    store = IndexDir(index_dir)
    store.read_manifest()  # checked once here, before any worker starts, not once per worker
    verified = store.require_current().name
    context = multiprocessing.get_context("spawn")  # no fork of onnxruntime's threads
    with context.Pool(workers, initializer=_start_worker,
                      initargs=(index_dir, verified)) as pool:
        jobs = ((item, k, as_json, single) for item in items)
        yield from pool.imap(_work, jobs, chunksize=1)


_answerer = None
_failure: Exception | None = None


def _start_worker(index_dir: str, verified: str) -> None:
    """Load the index in a worker. A failure (damaged index, no model) is kept and raised by
    the first job, so it reaches the parent as an error instead of a pool that respawns
    failing workers forever."""
    global _answerer, _failure
    os.environ["BOT_THREADS"] = "1"  # one core per worker: the workers share the machine
    from index.encoders import quiet_hub

    quiet_hub()
    from .answering import Answerer

    try:
        _answerer = Answerer.open(index_dir, verified=verified)
    except Exception as exc:  # noqa: BLE001 - re-raised in the parent through _work
        _failure = exc


def _work(job: tuple[Item, int, bool, bool]) -> Reply:
    if _failure is not None:
        raise _failure
    item, k, as_json, single = job
    return reply_to(_answerer, item, k, as_json, single)
