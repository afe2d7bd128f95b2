"""The cross-encoder reranker: reads a question and a candidate sentence together and scores
how well the sentence answers it. The second stage reads with token matching
(:mod:`index.search.token_match`) unless ``$BOT_RERANKER=cross-encoder`` selects this.

The model (``reranker/`` beside this file, shipped as package data once one earns its place:
none does yet, see docs/quality.md) is MiniLM cut to a few layers, its token states
mean-pooled into one score, fine-tuned on SQuAD/CoQA question-sentence pairs and exported to
int8 ONNX by ``scripts/train_reranker.py``. It is run with onnxruntime and tokenizers only (no torch), on one
session created on first use. A candidate is read as ``"Title: sentence"`` (the title says what
"it" or "the company" is), question first; pairs longer than ``MAX_TOKENS`` are cut from the
longer side.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from index.environment import whole_number
from index.errors import ModelUnavailable

MODEL_DIR = Path(__file__).with_name("reranker")
MAX_TOKENS = 96
THREADS_ENV = "BOT_RERANK_THREADS"
RERANKER_ENV = "BOT_RERANKER"  # "cross-encoder": the second stage reads with this model


def cross_encoder_chosen() -> bool:
    """Whether ``$BOT_RERANKER`` has the second stage read with the cross-encoder (else it
    matches tokens with the question's own encoder: :mod:`index.search.token_match`)."""
    return os.environ.get(RERANKER_ENV, "").strip() == "cross-encoder"


def pair_text(title: str | None, sentence: str) -> str:
    """What the reranker reads for a sentence (as in training: ``scripts/reranker_data.py``)."""
    return f"{title}: {sentence}" if title else sentence


class Reranker:
    """Scores question/sentence pairs with the int8 ONNX cross-encoder in ``folder``."""

    def __init__(self, folder: Path = MODEL_DIR, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, vocabulary = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not vocabulary.is_file():
            raise ModelUnavailable(f"no reranker model in {folder} (none is shipped yet: "
                                   "run without it, --rerank-depth 0, or train one with "
                                   "scripts/train_reranker.py)")
        self.tokenizer = Tokenizer.from_file(str(vocabulary))
        self.tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(model), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged file: say which
            raise ModelUnavailable(f"cannot load the reranker {model} "
                                   f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
        self.inputs = {i.name for i in self.session.get_inputs()}

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score (a logit: higher = more likely to answer) per text, for ``question``."""
        if not len(texts):
            return np.zeros(0, dtype=np.float64)
        encoded = self.tokenizer.encode_batch([(question, t) for t in texts])
        feed = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encoded], dtype=np.int64)
        return self.session.run(None, feed)[0].reshape(-1).astype(np.float64)


def _threads() -> int:
    """Cores for one question's pairs: ``$BOT_RERANK_THREADS``, else those the process may
    use (``$BOT_THREADS``; a stream's workers have one each), at most 2."""
    chosen = whole_number(THREADS_ENV, "threads", minimum=1)
    if chosen is not None:
        return chosen
    from index.embed.encoders import cpu_cores

    return min(2, cpu_cores())


_shared: Reranker | None = None
_shared_lock = threading.Lock()


def shared_reranker() -> Reranker:
    """The packaged reranker, loaded once per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Reranker()
        return _shared
