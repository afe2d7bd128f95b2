"""Answering a stream of questions for ``bot ask``: in order, one reply per input line.

A stream is answered by one worker process per core (each with its own single-threaded model
session), since ranking a question is mostly Python and holds the GIL; replies still come out
in input order, each as soon as it and those before it are ready. Lines and replies travel
through one pipe per worker (a process pool's task and result threads cost the parent ~2 ms of
CPU a line). ``BOT_WORKERS=1`` (or a single core) answers in this process.

Turns of one conversation (JSON lines with the same ``"conversation"``) all go to the worker
that answered its first turn, which keeps the dialogue (:class:`bot.conversation.Conversation`)
and answers them in input order; different conversations are spread over the workers.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import threading
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from index.environment import whole_number
from index.errors import EngineError
from index.search.filters import NO_FILTER, ArticleFilter

from .questions import MAX_QUESTION_CHARS, clean_question
from .stream_lines import StreamLine

Item = tuple[int, StreamLine, "str | None"]  # (line number, what it asks, problem)
MAX_CONVERSATIONS = 10_000  # dialogues a process keeps; the least recently asked is forgotten


@dataclass
class Reply:
    """What one input line produces: a stdout line (or none) and stderr lines."""

    stdout: str | None
    stderr: list[str] = field(default_factory=list)
    failed: bool = False


def reply_to(answerer, item: Item, k: int, as_json: bool, single: bool,
             dialogues: "Dialogues | None" = None,
             filters: ArticleFilter = NO_FILTER) -> Reply:
    """Answer one line (or report why it cannot be answered); a turn of a conversation is
    answered in that conversation, kept in ``dialogues``; from the articles the line's own
    ``filters`` keep, else the command's ``filters``."""
    from .human_output import render

    number, line, problem = item
    echo = {"conversation": line.conversation} if line.conversation is not None else {}
    if problem:
        from .answering import Answer

        error = Answer(line.question, answered=False, confidence=0.0, evidence=[]).to_json()
        text = json.dumps(error | echo | {"error": problem}, ensure_ascii=False)
        return Reply(text if as_json else None, [f"error: line {number}: {problem}"], True)
    notes = []
    if (length := len(clean_question(line.question, limit=None))) > MAX_QUESTION_CHARS:
        where = "" if single else f"line {number}: "
        notes.append(f"warning: {where}question has {length} characters; only the first "
                     f"{MAX_QUESTION_CHARS} are searched")
    wanted = line.k or k
    scope = line.filters if line.filters is not None else filters
    if line.conversation is None:
        answer, read_with = answerer.ask(line.question, k=wanted, filters=scope), None
    else:
        dialogues = dialogues if dialogues is not None else Dialogues(answerer)
        turn = dialogues.get(line.conversation).ask(line.question, k=wanted, filters=scope)
        answer, read_with = turn.answer, list(turn.read_with)
    if answer.filters.active and not answer.kept_articles:
        where = "" if single else f"line {number}: "
        notes.append(f"note: {where}the filter ({answer.filters.describe()}) keeps no "
                     f"articles of the {answer.total_articles} in the index")
    if as_json:
        extra = echo | ({"read_with": read_with} if read_with is not None else {})
        out = json.dumps(answer.to_json() | extra, ensure_ascii=False)
    else:
        out = render(answer, read_with) + ("" if single else "\n")
    return Reply(out, notes)


class Dialogues:
    """The conversations of one stream by name, the :data:`MAX_CONVERSATIONS` most recently
    asked kept (memory stays bounded however many dialogues a stream holds)."""

    def __init__(self, answerer, limit: int = MAX_CONVERSATIONS) -> None:  # noqa: ANN001
        self.answerer = answerer
        self.limit = limit
        self.open: collections.OrderedDict = collections.OrderedDict()

    def get(self, name: str):  # noqa: ANN201 - bot.conversation.Conversation
        """The conversation called ``name`` (a new one on its first turn)."""
        if name in self.open:
            self.open.move_to_end(name)
            return self.open[name]
        conversation = self.open[name] = self.answerer.conversation()
        while len(self.open) > self.limit:
            self.open.popitem(last=False)
        return conversation


def workers_for_stream() -> int:
    """How many processes answer a stream (``$BOT_WORKERS``, else one per core)."""
    from index.embed.encoders import cpu_cores

    forced = whole_number("BOT_WORKERS", "worker processes", minimum=1)
    return cpu_cores() if forced is None else forced


def replies(index_dir: str, items: Iterable[Item], k: int, as_json: bool, single: bool,
            workers: int = 1, filters: ArticleFilter = NO_FILTER) -> Iterator[Reply]:
    """Replies to ``items`` in order, answered here or by up to ``workers`` processes, from
    the articles ``filters`` keeps."""
    if workers <= 1:
        from .answering import Answerer

        answerer = Answerer.open(index_dir)
        dialogues = Dialogues(answerer)
        for item in items:
            yield reply_to(answerer, item, k, as_json, single, dialogues, filters)
        return
    from index.store.generations import IndexDir

    store = IndexDir(index_dir)
    store.read_manifest()  # checked once here, before any worker starts, not once per worker
    with _Workers(index_dir, store.require_current().name, (k, as_json, single, filters),
                  workers) as pool:
        yield from pool.replies(items)


class _Workers:
    """Worker processes fed through one pipe each, a line to the least busy, at most
    :data:`QUEUED` lines each; a conversation's turns all to the worker of its first turn.

    Each worker answers its lines in the order it gets them, so taking the replies from the
    workers in dispatch order gives input order. Input is read by a thread, so a reply is
    written as soon as it is ready even while the next line has not come. A worker is started
    only when the others are all busy (a one-line stream starts one).
    """

    def __init__(self, index_dir: str, verified: str, options: tuple, limit: int) -> None:
        self.args = (index_dir, verified, options)
        self.limit = limit
        import multiprocessing  # only a stream with workers needs it (not on bot ask's start)

        self.context = multiprocessing.get_context("spawn")  # no fork of onnxruntime's threads
        self.processes: list = []
        self.pipes: list = []
        self.queued: list[int] = []
        self.owner: collections.OrderedDict[str, int] = collections.OrderedDict()  # by name

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)  # done: the worker exits
        for process in self.processes:
            process.join(timeout=5 if exc[0] is None else 0.5)
            if process.is_alive():
                process.terminate()
                process.join()

    def replies(self, items: Iterable[Item]) -> Iterator[Reply]:
        lines: queue.Queue = queue.Queue(maxsize=QUEUED * self.limit)
        stop = threading.Event()  # set when no more replies are taken (the end, or a failure)
        threading.Thread(target=_feed, args=(items, lines, stop), daemon=True,
                         name=FEEDER).start()
        try:
            yield from self._dispatch(lines)
        finally:
            stop.set()

    def _dispatch(self, lines: queue.Queue) -> Iterator[Reply]:
        """Hand the lines read into ``lines`` to the workers; yield the replies in order."""
        order: collections.deque[int] = collections.deque()  # worker of each line in flight
        done = False
        waiting = None  # a turn whose conversation's worker has its fill
        while not done or order or waiting is not None:
            while not done or waiting is not None:  # hand out what has come, if any
                if waiting is not None:
                    item, waiting = waiting, None
                else:
                    try:
                        item = lines.get(block=not order)
                    except queue.Empty:
                        break
                    if item is _END:
                        done = True
                        break
                    if isinstance(item, BaseException):
                        raise item
                worker = self._worker_for(item)
                if worker is None:
                    waiting = item  # its worker must give a reply first
                    break
                self._send(worker, item)
                self.queued[worker] += 1
                order.append(worker)
                if len(self.processes) == self.limit and min(self.queued) >= QUEUED:
                    break  # every worker has its fill: take a reply first
            if order:
                yield self._reply(order.popleft())

    def _worker_for(self, item: Item) -> int | None:
        """The worker for ``item``: its conversation's (None while that one has its fill),
        else the least busy."""
        name = item[1].conversation if item[2] is None else None
        if name is None:
            return self._free_worker()
        if name in self.owner:
            worker = self.owner[name]
            self.owner.move_to_end(name)
            return worker if self.queued[worker] < QUEUED else None
        worker = self.owner[name] = self._free_worker()
        while len(self.owner) > MAX_CONVERSATIONS:
            self.owner.popitem(last=False)
        return worker

    def _free_worker(self) -> int:
        """The least busy worker, starting one more when every worker is busy."""
        least = min(range(len(self.queued)), key=self.queued.__getitem__, default=-1)
        if least < 0 or (self.queued[least] and len(self.processes) < self.limit):
            ours, theirs = self.context.Pipe()
            process = self.context.Process(target=_serve, args=(theirs, *self.args),
                                           daemon=True)
            process.start()
            theirs.close()
            self.processes.append(process)
            self.pipes.append(ours)
            self.queued.append(0)
            return len(self.pipes) - 1
        return least

    def _send(self, worker: int, item: Item) -> None:
        try:
            self.pipes[worker].send(item)
        except OSError:  # not BrokenPipeError to the CLI: that one means stdout's reader left
            raise self._stopped(worker) from None

    def _reply(self, worker: int) -> Reply:
        try:
            reply = self.pipes[worker].recv()
        except (EOFError, OSError):
            raise self._stopped(worker) from None
        self.queued[worker] -= 1
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def _stopped(self, worker: int) -> "StreamFailed":
        self.processes[worker].join(timeout=1)
        code = self.processes[worker].exitcode
        return StreamFailed(f"a worker process stopped unexpectedly (exit code {code})")


QUEUED = 2  # lines handed to a worker at once: one being answered, one waiting
_END = object()


FEEDER = "bot-stream-input"  # the thread reading a stream's input


def _feed(items: Iterable[Item], lines: queue.Queue, stop: threading.Event) -> None:
    """Read the input (in a thread) into ``lines``, then an end mark; give up once ``stop``
    is set (a failed stream takes no more lines)."""
    try:
        for item in items:
            if not _put(lines, item, stop):
                return
    except BaseException as exc:  # noqa: BLE001 - raised again in the reading loop
        _put(lines, exc, stop)
        return
    _put(lines, _END, stop)


def _put(lines: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` in ``lines`` as soon as there is room; False if ``stop`` came first."""
    while not stop.is_set():
        try:
            lines.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _serve(pipe, index_dir: str, verified: str, options: tuple) -> None:
    """A worker: load the index once, then answer each line received until ``None``. A failure
    (damaged index, no model, a bug) is sent back as the exception instead of a reply, so it
    reaches the parent as one error; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["BOT_THREADS"] = "1"  # one core per worker: the workers share the machine
    from index.embed.encoders import quiet_hub

    quiet_hub()
    from .answering import Answerer

    k, as_json, single, *rest = options  # (k, as_json, single[, filters])
    filters = rest[0] if rest else NO_FILTER
    answerer, failure, dialogues = None, None, None
    try:
        answerer = Answerer.open(index_dir, verified=verified)
        dialogues = Dialogues(answerer)
    except Exception as exc:  # noqa: BLE001 - raised in the parent
        failure = _portable(exc)
    try:
        while (item := pipe.recv()) is not None:
            try:
                pipe.send(failure or reply_to(answerer, item, k, as_json, single, dialogues,
                                              filters))
            except Exception as exc:  # noqa: BLE001 - raised in the parent
                pipe.send(_portable(exc))
    except (EOFError, OSError):  # the parent went away
        pass


class StreamFailed(EngineError):
    """A worker answering a stream failed or stopped."""


def _portable(exc: Exception) -> Exception:
    """``exc`` as the parent can receive and report it: an engine error made of its message
    alone as it is, anything else (a bug) as a :class:`StreamFailed` naming it."""
    if isinstance(exc, EngineError) and exc.args == (str(exc),):
        return exc
    return StreamFailed(f"a worker failed: {type(exc).__name__}: {exc}".splitlines()[0])
