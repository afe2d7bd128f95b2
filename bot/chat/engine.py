"""The chat's link to the answering API: load (building or updating the index), ask, look up.

Plain Python, no Textual: the app runs every call of one :class:`ChatEngine` on its single
engine worker thread, so the heavy imports (numpy, FAISS, onnxruntime) happen there and never
on the UI thread.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from index.embed.encoders import EncoderSpec

    from ..answering import Answerer, Article, Evidence, PassageView
    from ..conversation import Conversation, Reply

StatusFn = Callable[[str], None]


@dataclass(frozen=True)
class Shown:
    """One evidence sentence ready to show: the evidence plus its paragraph."""

    evidence: "Evidence"
    passage: "PassageView"


@dataclass(frozen=True)
class Turn:
    """An answered question as the UI shows it."""

    reply: "Reply"
    shown: tuple[Shown, ...]

    @property
    def answer(self):  # noqa: ANN201 - bot.answering.Answer
        return self.reply.answer


@dataclass(frozen=True)
class Loaded:
    """What :meth:`ChatEngine.load` found: the index's size and what the update did."""

    articles: int
    sentences: int
    model: str
    summary: str


class ChatEngine:
    """Opens one index (updating it from ``paths`` first) and answers questions from it.

    It embeds with ``spec`` when given, else with the model the index was built with (a new
    index: the configured one, ``$BOT_MODEL``/``$BOT_BACKEND`` or the default).
    """

    def __init__(self, paths: Sequence[str | Path] | None, index_dir: str | Path,
                 spec: "EncoderSpec | None" = None) -> None:
        self.paths = [str(p) for p in paths] if paths else []
        self.index_dir = Path(index_dir)
        self.spec = spec
        self.answerer: Answerer | None = None
        self.conversation: Conversation | None = None
        self.encoder = None

    def load(self, status: StatusFn, rebuild: bool = False) -> Loaded:
        """Bring the index up to date with ``paths`` (when given) and open it."""
        from index.embed.encoders import quiet_hub
        from index.notices import set_sink

        quiet_hub()
        set_sink(status)
        try:
            with _quiet():
                return self._load(status, rebuild)
        finally:
            set_sink(None)

    def _load(self, status: StatusFn, rebuild: bool) -> Loaded:
        from index.embed.encoders import load_encoder
        from index.sharded_indexer import open_store

        from ..answering import Answerer
        from ..conversation import Conversation

        store = open_store(self.index_dir)
        spec = self.spec or _built_with(store)
        if self.encoder is None or self.encoder.spec != spec:
            status(f"loading the model {spec.model}…")
            self.encoder = load_encoder(spec)
        summary = "index opened"
        if self.paths:
            from ..indexing import index_folder

            status(f"checking the index against {_describe(self.paths)}…")
            report = index_folder(self.paths, self.index_dir, rebuild=rebuild,
                                  encoder=_Reporting(self.encoder, status))
            changes = ", ".join(f"{n} {what}" for n, what in (
                (len(report.added), "added"), (len(report.changed), "changed"),
                (len(report.removed), "removed")) if n)
            summary = (f"index updated in {report.seconds:.1f}s ({changes or 'rebuilt'})"
                       if report.committed else "index up to date") + _skipped(report.skipped)
        status("opening the index…")
        self.answerer = Answerer.open(self.index_dir, encoder=self.encoder)
        self.conversation = Conversation(self.answerer)
        counts = self.answerer.searcher.manifest.counts
        return Loaded(counts.get("articles", 0), counts.get("sentences", 0), spec.model, summary)

    def ask(self, question: str, k: int, filters=None) -> Turn:  # noqa: ANN001
        """Answer ``question`` (as a follow-up when it leans on the previous turn), from the
        articles ``filters`` (an :class:`~index.search.filters.ArticleFilter`) keeps."""
        assert self.conversation is not None and self.answerer is not None, "not loaded"
        reply = self.conversation.ask(question, k=k, filters=filters)
        shown = tuple(Shown(e, self.answerer.passage(e)) for e in reply.answer.evidence)
        return Turn(reply, shown)

    def article(self, evidence: "Evidence") -> "Article":
        """The whole article an evidence sentence comes from."""
        assert self.answerer is not None, "not loaded"
        return self.answerer.article(evidence)

    def forget(self) -> None:
        """Start a new topic: the next question is not read as a follow-up."""
        if self.conversation is not None:
            self.conversation.clear()


class _Reporting:
    """The encoder, telling the status line how far embedding has got (for index builds)."""

    EVERY_SECONDS = 0.2

    def __init__(self, encoder, status: StatusFn) -> None:  # noqa: ANN001 - an index Encoder
        self.encoder = encoder
        self.spec = encoder.spec
        self.dim = encoder.dim
        self.status = status

    def encode(self, texts, progress=None):  # noqa: ANN001, ANN201 - Encoder.encode
        done, total, last = 0, len(texts), 0.0

        def report(n: int) -> None:
            nonlocal done, last
            done += n
            if progress is not None:
                progress(n)
            now = time.monotonic()
            if now - last >= self.EVERY_SECONDS or done >= total:
                last = now
                self.status(f"indexing: embedded {done:,} of {total:,} sentences and "
                            f"paragraphs…")

        self.status(f"indexing: embedding {total:,} sentences and paragraphs…")
        return self.encoder.encode(texts, progress=report)

    def encode_query(self, text: str):  # noqa: ANN201 - numpy array
        return self.encoder.encode_query(text)

    def token_states(self, texts, specials: bool = True):  # noqa: ANN001, ANN201
        return self.encoder.token_states(texts, specials)


@contextlib.contextmanager
def _quiet():
    """Keep library chatter (export notices, tracer warnings, log lines) off the terminal the UI
    owns: a log handler made before the UI started would write straight to it."""
    sink = io.StringIO()
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink), \
                contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


def _built_with(store) -> "EncoderSpec":  # noqa: ANN001 - an index.store.generations.IndexDir
    """The encoder the live index was built with, or the configured one for a new index (only
    the manifest is read: opening the index checks its files)."""
    from index.embed.encoders import EncoderSpec

    live = store.current()
    if live is None:
        return EncoderSpec.from_env()
    return store.read_manifest(live, verify=False).encoder_spec()


def _skipped(problems: Sequence[str]) -> str:
    """What the status line keeps of the files and URLs an update skipped (their warnings
    flash by while it runs): the first one's warning, and how many more there were."""
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more skipped)" if len(problems) > 1 else ""
    return f" \u00b7 warning: {problems[0]}{more}"


def _describe(paths: Sequence[str]) -> str:
    if len(paths) == 1:
        return Path(paths[0]).name or paths[0]
    return f"{len(paths)} paths"
