"""The default encoder: an int8-quantised ONNX export of a sentence-transformers model.

sentence-transformers exports and quantises the model once into the cache directory (never into
site-packages); afterwards only onnxruntime and tokenizers are imported, which keeps a cold
``bot ask`` near one second.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .encoders import EncoderSpec, ProgressFn, length_sorted_batches, model_path
from .errors import ModelUnavailable
from .paths import cache_dir

QUANTISATION = "avx2"  # portable dynamic int8 kernels; onnxruntime picks faster ones at run time
QUANTISED_FILE = f"onnx/model_quint8_{QUANTISATION}.onnx"


class OnnxEncoder:
    """Runs the quantised ONNX graph with mean pooling and L2 normalisation."""

    def __init__(self, spec: EncoderSpec, export_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.spec = spec
        config = _read_json(export_dir / "sentence_bert_config.json")
        pooling = _read_json(export_dir / "1_Pooling" / "config.json")
        self.max_length = int(config.get("max_seq_length", 256))
        self.pooling = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        self.tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(export_dir / QUANTISED_FILE), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    @classmethod
    def from_spec(cls, spec: EncoderSpec) -> "OnnxEncoder":
        return cls(spec, exported_model(spec.model))

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in length_sorted_batches(texts):
            out[batch] = self._run([texts[i] for i in batch])
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self._run([text])[0]

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        if self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def exported_model(model: str) -> Path:
    """The cached ONNX export of ``model``, exporting it first (~10 s, once) when missing."""
    source = model_path(model)
    key = hashlib.sha256(source.encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{Path(source).name}-{key}"
    if (target / QUANTISED_FILE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        _export(source, staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not (target / QUANTISED_FILE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(source: str, staging: Path) -> None:
    from .notices import warn

    warn(f"exporting {Path(source).name} to quantised ONNX (once, into {staging.parent})")
    try:
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except ImportError:
        raise ModelUnavailable("the ONNX backend needs sentence-transformers[onnx]") from None
    try:
        model = SentenceTransformer(source, backend="onnx", device="cpu")
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported the same way
        raise ModelUnavailable(f"cannot load model '{source}' offline: {exc}".splitlines()[0]) \
            from None
    model.save_pretrained(str(staging))
    export_dynamic_quantized_onnx_model(model, QUANTISATION, str(staging))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
