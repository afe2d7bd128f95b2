"""Running golden cases: build or reuse one index per corpus and model, ask, check, compare.

Indexes live under one root folder, one sub-folder per (corpus, model) pair, and are brought up
to date incrementally with :func:`index.indexer.update_index` the first time a run needs them
(unchanged articles embed nothing). They are a cache: a damaged or outdated one is rebuilt. Questions go through :class:`bot.answering.Answerer`, the
same API as ``bot ask``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.errors import BadInput, EngineError, IndexCorrupt, IndexMismatch
from index.indexer import update_index
from index.notices import warn
from index.paths import cache_dir

from ..answering import Answer, Answerer
from .baseline import Drift, compare, load_baseline, snapshot
from .expectations import check
from .format import DEFAULT_CORPUS, Case, GoldenFile


def default_index_root() -> Path:
    """Where ``bot check`` keeps its indexes unless told: ``<cache dir>/check``."""
    return cache_dir() / "check"


@dataclass
class CaseResult:
    """The outcome of one case: its answer, why it failed, and how it drifted."""

    case: Case
    answer: Answer | None = None
    failures: list[str] = field(default_factory=list)
    error: str | None = None  # the case could not be run (no index, no model, ...)
    drift: Drift | None = None  # None: no baseline file to compare with
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``pass``, ``fail`` or ``error``."""
        return "error" if self.error else "fail" if self.failures else "pass"

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        answer = self.answer.to_json() if self.answer else \
            {"answered": None, "confidence": None, "answers": []}  # the bot ask contract
        return {
            "file": str(self.case.file), "line": self.case.line, "name": self.case.name,
            "question": self.case.question, "status": self.status, "failures": self.failures,
            "error": self.error, "seconds": round(self.seconds, 4),
            "answered": answer["answered"], "confidence": answer["confidence"],
            "answers": answer["answers"],
            "drift": self.drift.to_json() if self.drift is not None else None,
        }


class GoldenRunner:
    """Runs cases against indexes kept under ``index_root``; reuse one for many cases."""

    def __init__(self, index_root: Path | str | None = None,
                 encoders: Iterable[Encoder] = ()) -> None:
        self.index_root = Path(index_root) if index_root else default_index_root()
        self._encoders: dict[EncoderSpec, Encoder] = {e.spec: e for e in encoders}
        self._answerers: dict[str, Answerer] = {}
        self._failed: dict[str, str] = {}
        self._baselines: dict[Path, dict[str, Any] | None] = {}
        self._dialogue: tuple[tuple, Any] | None = None  # the last dialogue's conversation

    def index_dir(self, corpus: tuple[Path | str, ...], spec: EncoderSpec) -> Path:
        """The index folder for one corpus and model: ``<root>/<name>-<hash>``."""
        key = json.dumps({"corpus": sorted(str(p) for p in corpus), "model": spec.model,
                          "backend": spec.backend}, sort_keys=True)
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        first = corpus[0] if isinstance(corpus[0], Path) else Path(str(corpus[0]).rstrip("/"))
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{first.name}-{Path(spec.model).name}")
        return self.index_root / f"{slug.strip('-.')[:40]}-{digest}"

    def answerer(self, case: Case) -> Answerer:
        """The answerer for ``case``'s corpus and model, indexing on first use."""
        folder = self.index_dir(case.corpus, case.spec)
        key = str(folder)
        if key in self._failed:
            raise BadInput(self._failed[key])
        if key not in self._answerers:
            try:
                self._answerers[key] = self._open(case, folder)
            except OSError as exc:
                self._failed[key] = f"cannot use the index folder {folder}: " \
                                    f"{exc.strerror or exc}"
                raise BadInput(self._failed[key]) from None
            except EngineError as exc:
                self._failed[key] = str(exc)
                raise
        return self._answerers[key]

    def _open(self, case: Case, folder: Path) -> Answerer:
        if case.corpus == (DEFAULT_CORPUS,) and not DEFAULT_CORPUS.exists():
            raise BadInput(f"the shipped seeds ({DEFAULT_CORPUS}) are not installed; give the "
                           "golden file a 'corpus:'")
        encoder = self._encoders.get(case.spec)
        if encoder is None:
            encoder = self._encoders[case.spec] = load_encoder(case.spec)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            update_index(case.corpus, folder, encoder=encoder)
            return Answerer.open(folder, encoder=encoder)
        except (IndexCorrupt, IndexMismatch) as exc:
            # these indexes are a cache of the corpus: rebuild a damaged or outdated one
            warn(f"rebuilding {folder}: {exc}")
            update_index(case.corpus, folder, encoder=encoder, rebuild=True)
            return Answerer.open(folder, encoder=encoder)

    def baseline(self, golden: Path) -> dict[str, Any] | None:
        """The recorded snapshots of ``golden`` (cached; a broken file is warned about once)."""
        if golden not in self._baselines:
            try:
                self._baselines[golden] = load_baseline(golden)
            except BadInput as exc:
                warn(str(exc))
                self._baselines[golden] = None
        return self._baselines[golden]

    def run_case(self, case: Case) -> CaseResult:
        """Ask ``case``'s question, check its expectations and compare with the baseline."""
        result = CaseResult(case)
        started = time.perf_counter()
        try:
            answer = self._ask(case)
        except EngineError as exc:
            result.error = " ".join(str(exc).split())
            return result
        result.seconds = time.perf_counter() - started
        result.answer = answer
        result.failures = check(case, answer)
        recorded = self.baseline(case.file)
        if recorded is not None:
            result.drift = compare(recorded.get(case.name), snapshot(answer, case.file))
        return result

    def _ask(self, case: Case) -> Answer:
        """The answer to ``case``; a dialogue's turn is asked in a conversation after the
        earlier turns (the conversation of the previous turn is reused when it is that one)."""
        answerer = self.answerer(case)
        if case.dialogue is None:
            return answerer.ask(case.question, k=case.fetch, filters=case.filters)
        key = (str(case.file), case.dialogue, id(answerer), case.fetch, case.filters)
        if self._dialogue is not None and self._dialogue[0] == (*key, case.earlier):
            conversation = self._dialogue[1]
        else:
            conversation = answerer.conversation()
            for question in case.earlier:
                conversation.ask(question, k=case.fetch, filters=case.filters)
        answer = conversation.ask(case.question, k=case.fetch, filters=case.filters).answer
        self._dialogue = ((*key, (*case.earlier, case.question)), conversation)
        return answer

    def run_file(self, golden: GoldenFile) -> list[CaseResult]:
        """Every case of ``golden``, in file order."""
        return [self.run_case(case) for case in golden.cases]
