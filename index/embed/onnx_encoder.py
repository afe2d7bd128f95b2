"""The default encoder: an int8-quantised ONNX export of a sentence-transformers model.

sentence-transformers exports and quantises the model once into the cache directory (never into
site-packages); afterwards only onnxruntime and tokenizers are imported, which keeps a cold
``bot ask`` well under a second.

Quantisation: dynamic int8. Variant ``avx512_vnni`` (signed int8 weights, ~2x faster here) where
the CPU has VNNI instructions, else ``avx2`` (unsigned weights, safe on every x86-64 CPU),
``arm64`` on ARM; with signed weights only the matrix products are quantised (the word
embeddings stay float), which keeps MRR@10 within a few tenths of a point of fp32. The variant
only changes the cached model file, never the index format: each variant's vectors agree with
fp32 to a cosine of ~0.99, so an index built on one machine still answers on another; the
manifest records the variant it was built with.

Bulk encoding tokenises everything once, sorts by token length and cuts batches by a padded
token budget, then runs batches on one single-threaded session per core (whole batches in
parallel scale better than splitting each matrix product across threads). One question runs on
one thread too: a second thread only adds hand-over costs for ~15 tokens (1.9 vs 2.3 ms p50
for a SQuAD question here).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from index.embed.encoders import EncoderSpec, ProgressFn, cpu_cores, token_batches
from index.errors import ModelUnavailable
from index.paths import cache_dir

QUANTISATIONS = ("avx2", "avx512_vnni", "arm64")
QUANTISATION_ENV = "BOT_ONNX_QUANTISATION"
TOKEN_BUDGET = 1024  # padded tokens per batch (python -m bench.run encoder --sweep)
MAX_BATCH = 256
PARALLEL_BATCHES = True  # whole batches on one 1-thread session per core (measured faster)


def quantisation() -> str:
    """The int8 variant for this CPU (``$BOT_ONNX_QUANTISATION`` overrides)."""
    chosen = os.environ.get(QUANTISATION_ENV, "").strip()
    if chosen:
        if chosen not in QUANTISATIONS:
            raise ModelUnavailable(f"{QUANTISATION_ENV}={chosen} is not one of "
                                   f"{', '.join(QUANTISATIONS)}")
        return chosen
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    return "avx512_vnni" if _cpu_flags() & {"avx512_vnni", "avx_vnni"} else "avx2"


def model_file(variant: str) -> str:
    """A model's path inside an export folder; ``fp32`` is the unquantised export, kept for
    measuring what quantisation costs."""
    if variant == "fp32":
        return "onnx/model.onnx"
    return f"onnx/model_{_suffix(variant)}.onnx"


def _suffix(variant: str) -> str:
    kind = "quint8" if variant == "avx2" else "qint8"
    return f"{kind}_{variant}" + ("_matmul" if _MATMUL_ONLY[variant] else "")


# Which variants quantise the matrix products only, keeping the word embeddings in float.
# MRR@10 on SQuAD against fp32 (python -m bench.run quality): signed weights (avx512_vnni)
# lose 0.41 points with the preset and 0.01-0.21 products-only; unsigned ones (avx2) lose
# 0.01-0.32 with the preset and 0.37-0.52 products-only (ranges: batch sizes).
_MATMUL_ONLY = {"avx2": False, "avx512_vnni": True, "arm64": True}


class OnnxEncoder:
    """Runs an exported ONNX graph with the model's pooling and L2 normalisation."""

    def __init__(self, spec: EncoderSpec, export_dir: Path, variant: str) -> None:
        from tokenizers import Tokenizer

        self.spec = spec
        self.variant = variant
        self.path = export_dir / model_file(variant)
        config = _read_json(export_dir / "sentence_bert_config.json")
        pooling = _read_json(export_dir / "1_Pooling" / "config.json")
        self.max_length = int(config.get("max_seq_length", 256))
        self.pooling = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        self.tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()
        self.session = self._session(1)  # questions; also the first bulk session
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self._last_query: tuple[str, np.ndarray] | None = None  # text, its token states
        self._pair = None  # a two-thread session for the second stage's batch (first use)
        self._workers: list = []
        self._threaded = None
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: EncoderSpec) -> "OnnxEncoder":
        variant = quantisation()
        return cls(spec, exported_model(spec.model, variant), variant)

    @property
    def details(self) -> dict[str, str]:
        """What the manifest records beside model and backend."""
        return {"quantisation": self.variant}

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        batches = token_batches([len(i) for i in ids], TOKEN_BUDGET, MAX_BATCH)
        sessions = self._bulk_sessions(len(batches))
        slots = _SessionPool(sessions)

        def work(batch: list[int]) -> np.ndarray:
            return slots.run(self._run, [ids[i] for i in batch])

        with ThreadPoolExecutor(len(sessions)) as pool:
            done = pool.map(work, batches) if len(sessions) > 1 else map(work, batches)
            for batch, vectors in zip(batches, done):  # in order, as each batch finishes
                out[batch] = vectors
                if progress:
                    progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        hidden, mask = self._hidden(self.session, [self.tokenizer.encode(text).ids])
        if hidden.ndim == 3:  # the second stage reads this run's token states again
            self._last_query = (text, hidden[0])
        return self._pooled(hidden, mask)[0]

    def token_states(self, texts: Sequence[str], specials: bool = True) -> list[np.ndarray]:
        """The model's output state of every token of each text (one batch on the question
        session), L2-normalised per token; ``specials=False`` drops [CLS] and [SEP]."""
        if not len(texts):
            return []
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        last = self._last_query
        if len(texts) == 1 and last is not None and last[0] == texts[0]:
            hidden = last[1][None]  # the question just embedded: the same run's states
        else:
            hidden, _ = self._hidden(self._batch_session() if len(texts) > 1 else self.session,
                                     ids)
        if hidden.ndim != 3:
            raise ModelUnavailable(f"{self.path} gives pooled vectors, not token states")
        cut = 0 if specials else 1
        out = []
        for row, seq in enumerate(ids):
            states = hidden[row, cut:max(len(seq) - cut, cut + 1)]
            norms = np.linalg.norm(states, axis=1, keepdims=True)
            out.append((states / np.maximum(norms, 1e-12)).astype(np.float32))
        return out

    def _batch_session(self):
        """The session for one small batch read at once (the second stage's sentences): on up
        to two cores, made on first use (one thread per process where only one may be used);
        its matrix products split across threads, so it gives the single-threaded session's
        results."""
        threads = min(2, cpu_cores())
        if threads == 1:
            return self.session
        with self._lock:
            if self._pair is None:
                self._pair = self._session(threads)
            return self._pair

    def _hidden(self, session, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The graph's output for token ids ``ids`` (padded into one batch) and the mask."""
        width = max(len(i) for i in ids)
        tokens = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            tokens[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        feed = {"input_ids": tokens, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(tokens)
        return session.run(None, feed)[0], mask

    def _run(self, session, ids: list[list[int]]) -> np.ndarray:
        return self._pooled(*self._hidden(session, ids))

    def _pooled(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The model's sentence vectors from its output ``hidden`` (normalised)."""
        if hidden.ndim == 2:  # the graph already pools
            vectors = hidden
        elif self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask.astype(np.float32)
            vectors = np.einsum("bld,bl->bd", hidden, weights) / weights.sum(1, keepdims=True)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def _session(self, threads: int):
        """A session on ``threads`` cores. The graph optimised by onnxruntime is saved beside
        the model the first time and loaded as is afterwards (~0.2 s less start-up)."""
        import onnxruntime as ort

        optimised = self.path.with_name(f"{self.path.stem}.ort-{ort.__version__}.onnx")
        if optimised.exists():
            options = _options(threads)
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                return ort.InferenceSession(str(optimised), options,
                                            providers=["CPUExecutionProvider"])
            except Exception:  # noqa: BLE001 - damaged: fall back to the exported model
                pass
        options = _options(threads)
        # "extended" fusions only: "all" adds layout changes tied to the machine's CPU
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        staging = optimised.with_name(f".{optimised.name}.{os.getpid()}")
        if not optimised.exists():
            options.optimized_model_filepath = str(staging)
        try:
            session = ort.InferenceSession(str(self.path), options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged cache file, say which
            raise ModelUnavailable(f"cannot load {self.path} ({exc}); delete that folder to "
                                   "export the model again".splitlines()[0]) from None
        with contextlib.suppress(OSError):
            if staging.exists():
                os.replace(staging, optimised)
        return session

    def _bulk_sessions(self, batches: int) -> list:
        """One single-threaded session per core (the question session among them), created
        on first bulk use."""
        cores = cpu_cores()
        if cores == 1 or batches < 2:
            return [self.session]
        with self._lock:
            if not PARALLEL_BATCHES:  # one session on all cores (slower; kept for the sweep)
                if self._threaded is None:
                    self._threaded = self._session(cores)
                return [self._threaded]
            if not self._workers:
                self._workers.append(self.session)
            while len(self._workers) < cores:
                self._workers.append(self._session(1))
        return self._workers


def _options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # no busy-waiting between runs: the CPU goes to FAISS/BM25 (or other processes)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class _SessionPool:
    """Hands each worker thread a session nobody else is using."""

    def __init__(self, sessions: list) -> None:
        self.free = list(sessions)
        self.lock = threading.Lock()

    def run(self, fn, ids: list[list[int]]) -> np.ndarray:
        with self.lock:
            session = self.free.pop()
        try:
            return fn(session, ids)
        finally:
            with self.lock:
                self.free.append(session)


def exported_model(model: str, variant: str | None = None) -> Path:
    """The cached ONNX export of ``model`` holding the ``variant`` file, exporting it (~10 s,
    once) when missing."""
    from index.embed.encoders import model_path

    variant = variant or quantisation()
    source = model_path(model)
    key = hashlib.sha256(source.encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{Path(source).name}-{key}"
    if (target / model_file(variant)).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        _export(source, staging, variant, existing=target)
        if target.exists():  # an export of another variant: add this file to it
            final = target / model_file(variant)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / model_file(variant), final)
        else:
            try:
                staging.rename(target)
            except OSError:  # another process finished first
                if not (target / model_file(variant)).exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(source: str, staging: Path, variant: str, existing: Path) -> None:
    from index.notices import note

    note(f"exporting {Path(source).name} to int8 ONNX ({variant}; once, into "
         f"{staging.parent})")
    with _quiet_export():
        try:
            from sentence_transformers import (SentenceTransformer,
                                               export_dynamic_quantized_onnx_model)
        except ImportError:
            raise ModelUnavailable("the ONNX backend needs sentence-transformers[onnx]") \
                from None
        base = existing if (existing / "onnx" / "model.onnx").exists() else source
        try:
            model = SentenceTransformer(str(base), backend="onnx", device="cpu",
                                        model_kwargs={"file_name": "onnx/model.onnx"}
                                        if base == existing else None)
        except Exception as exc:  # noqa: BLE001 - any loading failure is reported the same way
            raise ModelUnavailable(
                f"cannot load model '{source}' offline: {exc}".splitlines()[0]) from None
        model.save_pretrained(str(staging))
        export_dynamic_quantized_onnx_model(model, _quantisation_config(variant), str(staging),
                                            file_suffix=_suffix(variant))


def _quantisation_config(variant: str):
    """sentence-transformers' preset for ``variant``, products-only where that is better."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    preset = getattr(AutoQuantizationConfig, variant)
    if _MATMUL_ONLY[variant]:
        return preset(is_static=False, operators_to_quantize=["MatMul"])
    return preset(is_static=False)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Hide the exporter's advice and tracer warnings: the one notice above says it all."""
    loggers = [logging.getLogger(n) for n in ("sentence_transformers", "transformers",
                                              "optimum", "onnxruntime")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
