"""Encoders: batching, the quantisation choice, and agreement of the direct ONNX encoder with
sentence-transformers' own encodings (slow: the real model)."""

from __future__ import annotations

import numpy as np
import pytest

from index.embed.encoders import EncoderSpec, token_batches
from index.errors import ModelUnavailable

TEXTS = [
    "Xiaomi and Leica announced a long-term partnership on smartphone cameras.",
    "The river flooded the lower town after three days of rain.",
    "Shares rose 4.5% on Tuesday.",
    "Who founded the company?",
    "",
    "A much longer sentence, with clauses and commas, that goes on about the harvest, the "
    "weather, the prices at the market and what the farmers said to the reporters afterwards.",
] + [f"Item {i} of the list, number {i * 7}." for i in range(40)]


@pytest.mark.parametrize("lengths", [[], [5], [3] * 7, [1, 300, 2, 250, 40, 40, 7, 90] * 9])
def test_token_batches_cover_every_item_once_within_the_budget(lengths: list[int]) -> None:
    batches = token_batches(lengths, budget=256, max_batch=16)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 16
        widest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * widest <= 256  # one long item may exceed it


def test_quantisation_can_be_forced_and_rejects_unknown_variants(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from index.embed.onnx_encoder import QUANTISATIONS, model_file, quantisation

    assert quantisation() in QUANTISATIONS
    monkeypatch.setenv("BOT_ONNX_QUANTISATION", "avx2")
    assert quantisation() == "avx2"
    assert model_file("avx2") != model_file("avx512_vnni") != model_file("fp32")
    monkeypatch.setenv("BOT_ONNX_QUANTISATION", "fp8")
    with pytest.raises(ModelUnavailable, match="fp8"):
        quantisation()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def reference(real_encoder):
    """sentence-transformers loading the very file our encoder runs, and the torch model."""
    from sentence_transformers import SentenceTransformer

    from index.embed.encoders import model_path

    folder = real_encoder.path.parent.parent
    onnx = SentenceTransformer(str(folder), backend="onnx", device="cpu",
                               model_kwargs={"file_name": str(real_encoder.path.relative_to(
                                   folder))})
    torch = SentenceTransformer(model_path(EncoderSpec().model), device="cpu")
    return onnx, torch


@pytest.mark.slow
def test_onnx_encoder_matches_sentence_transformers_onnx(real_encoder, reference) -> None:
    onnx, _ = reference
    ours_alone = np.stack([real_encoder.encode_query(t) for t in TEXTS])
    theirs_alone = np.stack([onnx.encode([t], normalize_embeddings=True) for t in TEXTS])[:, 0]
    assert cosines(ours_alone, theirs_alone).min() > 0.9999  # same graph, same input
    ours = real_encoder.encode(TEXTS)
    theirs = onnx.encode(TEXTS, batch_size=8, normalize_embeddings=True)
    # int8 activations are quantised per batch, so the company a text keeps in its batch moves
    # its vector a little (most for the empty text: two tokens, mean-pooled)
    assert cosines(ours, theirs).min() > 0.95
    assert cosines(ours, theirs).mean() > 0.985


@pytest.mark.slow
def test_int8_encoder_stays_close_to_the_fp32_torch_model(real_encoder, reference) -> None:
    _, torch = reference
    expected = torch.encode(TEXTS, normalize_embeddings=True)
    ours = real_encoder.encode(TEXTS)
    assert ours.shape == (len(TEXTS), real_encoder.dim) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, expected).min() > 0.95
    assert cosines(ours, expected).mean() > 0.985


@pytest.mark.slow
def test_fp32_export_reproduces_torch(real_encoder, reference) -> None:
    from index.embed.onnx_encoder import OnnxEncoder

    _, torch = reference
    fp32 = OnnxEncoder(real_encoder.spec, real_encoder.path.parent.parent, "fp32")
    assert cosines(fp32.encode(TEXTS), torch.encode(TEXTS)).min() > 0.9999


@pytest.mark.slow
@pytest.mark.parametrize("count", [0, 1, 2, 3, 17, len(TEXTS)])
def test_batches_keep_the_input_order(real_encoder, count: int) -> None:
    texts = TEXTS[::-1][:count]
    vectors = real_encoder.encode(texts)
    assert vectors.shape == (count, real_encoder.dim)
    for text, vector in zip(texts, vectors):
        alone = real_encoder.encode_query(text)
        others = vectors @ alone
        assert float(vector @ alone) > 0.95  # int8: batch company moves a vector a little
        assert float(vector @ alone) >= others.max() - 0.02  # itself, not a neighbour


@pytest.mark.slow
def test_export_lives_in_the_cache_and_names_its_variant(real_encoder, session_cache) -> None:
    from index.embed.onnx_encoder import quantisation

    assert session_cache in real_encoder.path.parents
    assert real_encoder.details == {"quantisation": quantisation()}


def test_notices_say_warning_for_problems_and_note_for_expected_slow_work(capsys):
    from index import notices

    notices.warn("a skipped\nfile")
    notices.note("exporting the model (once)")
    assert capsys.readouterr().err == "warning: a skipped file\nnote: exporting the model (once)\n"
    seen: list[str] = []
    notices.set_sink(seen.append)
    try:
        notices.note("exporting")
        notices.warn("bad line")
    finally:
        notices.set_sink(None)
    assert seen == ["note: exporting", "warning: bad line"]  # a sink shows whole lines
