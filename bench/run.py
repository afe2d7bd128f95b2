"""Benchmarks: ``python -m bench.run {encoder,quality,ann,search,filters,ask,conversations,
reindex,shards,ray,all} [--quick]``.

Each subcommand prints its figures (medians over repeats) and, with ``--json FILE``, writes
them; ``all`` runs every subcommand in its own process (so peak memory is each one's own) and
prints the table of docs/performance.md. ``--quick`` shrinks every size (``all --quick``: ~6 minutes here).
Scratch corpora and indexes go to ``--work`` (default ``$BOT_BENCH_DIR`` or ``/tmp/bot-bench``)
and are reused by later runs; the model cache is the user's (``$BOT_CACHE_DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

Row = dict[str, Any]
QUICK = {"encoder": 2000, "repeats": 1, "quality": 300, "ann": [10_000, 50_000],
         "search": [10_000], "filters": [100_000], "ask": 2000, "questions": 200}
FULL = {"encoder": 10_000, "repeats": 3, "quality": 0, "ann": [10_000, 100_000, 1_000_000],
        "search": [10_000, 100_000, 1_000_000], "filters": [1_000_000], "ask": 10_000,
        "questions": 1000}


def _sizes(args: argparse.Namespace, key: str) -> Any:
    return (QUICK if args.quick else FULL)[key]


def _encoder():
    from index.embed.encoders import EncoderSpec, load_encoder

    return load_encoder(EncoderSpec())


def _command(args: argparse.Namespace, *extra: str) -> str:
    return " ".join(["python -m bench.run", args.name, *extra, *(["--quick"] if args.quick
                                                               else [])])


def _fast() -> bool:
    from index.search.ranking import default_rerank_depth

    return default_rerank_depth() == 0


def _depth_label() -> str:
    from index.search.ranking import default_rerank_depth, default_rerank_gap

    depth = default_rerank_depth()
    return f"second stage depth {depth}, gap {default_rerank_gap():g}" if depth else \
        "fast mode: first stage only"


def _depth_args() -> list[str]:
    chosen = os.environ.get("BOT_RERANK_DEPTH", "").strip()
    return ["--rerank-depth", chosen] if chosen else []


def _latency(r: Row) -> str:
    """``p50 … ms (passes …), p95 … ms`` of a latency result."""
    return (f"p50 {r['p50_ms']:.1f} ms (passes " + ", ".join(f"{v:.1f}" for v in r["p50_passes_ms"])
            + f"), p95 {r['p95_ms']:.1f} ms")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def cmd_encoder(args: argparse.Namespace) -> list[Row]:
    from .corpora import squad_corpus
    from .encoding import indexing_vs_raw, sweep
    from .measure import peak_mb

    encoder = _encoder()
    size = args.sentences or _sizes(args, "encoder")
    corpus = squad_corpus(args.work / f"squad-{size}", size)
    rows: list[Row] = []
    if args.sweep:
        from .corpora import squad_sentences

        texts = squad_sentences()[0][:size]
        for r in sweep(encoder, texts, [256, 1024, 4096, 16384], args.repeats or 2):
            print(f"budget {r['budget']:>6} parallel batches {r['parallel_batches']!s:>5}: "
                  f"{r['texts_per_s']:,.0f} texts/s, {r['texts_per_cpu_s']:,.0f} per CPU-second")
            rows.append({"benchmark": f"encoder, token budget {r['budget']}, "
                                      + ("batches in parallel" if r["parallel_batches"]
                                         else "one multi-threaded session"),
                         "result": f"{r['texts_per_s']:,.0f} texts/s, "
                                   f"{r['texts_per_cpu_s']:,.0f} per CPU-second", "target": "",
                         "peak_mb": peak_mb(), "command": _command(args, "--sweep")})
        return rows
    r = indexing_vs_raw(encoder, corpus, args.work, args.repeats or _sizes(args, "repeats"))
    print(json.dumps(r, indent=1))
    note = f"{r['sentences']:,} SQuAD sentences"
    rows.append({"benchmark": "raw encoder (int8 ONNX)",
                 "result": f"{r['raw_sentences_per_s']:,.0f} sentences/s", "target": "",
                 "peak_mb": peak_mb(), "command": _command(args), "note": note})
    rows.append({"benchmark": "indexing from scratch",
                 "result": f"{r['index_sentences_per_s']:,.0f} sentences/s "
                           f"({r['index_seconds']:.1f} s)",
                 "target": "", "peak_mb": peak_mb(), "command": _command(args), "note": note})
    rows.append({"benchmark": "indexing vs raw encoder on the same sentences",
                 "result": f"{r['ratio_vs_raw']:.2f}x wall "
                           f"({r['cpu_ratio_vs_raw']:.2f}x CPU); splitting, I/O, "
                           f"BM25, FAISS {100 * r['non_embedding_share']:.1f}% of the time",
                 "target": ">= 0.9x; << 10%", "peak_mb": peak_mb(), "command": _command(args),
                 "note": note})
    return rows


def cmd_quality(args: argparse.Namespace) -> list[Row]:
    from index.embed.encoders import EncoderSpec
    from index.embed.onnx_encoder import OnnxEncoder, exported_model, quantisation

    from .measure import peak_mb
    from .quality import mrr_at_10

    limit = args.limit if args.limit is not None else _sizes(args, "quality")
    spec = EncoderSpec()
    here = quantisation()
    variants = ["fp32", "avx2", "avx512_vnni"] if here == "avx512_vnni" else ["fp32", here]
    results = {}
    for variant in variants:
        folder = exported_model(spec.model, here if variant == "fp32" else variant)
        results[variant] = mrr_at_10(OnnxEncoder(spec, folder, variant), limit or None)
        print(variant, json.dumps(results[variant]))
    if args.torch:
        from index.embed.torch_encoder import TorchEncoder

        results["torch"] = mrr_at_10(TorchEncoder(EncoderSpec(backend="torch")), limit or None)
        print("torch", json.dumps(results["torch"]))
    base = results["fp32"]["mrr10"]
    rows = []
    for variant, r in results.items():
        delta = 100 * (r["mrr10"] - base)
        rows.append({"benchmark": f"dense MRR@10, {variant}"
                                  + (" (used here)" if variant == here else ""),
                     "result": f"{r['mrr10']:.4f} (P@1 {r['p1']:.3f}; {delta:+.2f} points "
                               "vs fp32)",
                     "target": ">= -0.5 points" if variant not in ("fp32", "torch") else "",
                     "peak_mb": peak_mb(), "command": _command(args, *(["--torch"]
                                                                       if args.torch else [])),
                     "note": f"{r['questions']:,} questions, {r['sentences']:,} sentences"})
    return rows


def cmd_ann(args: argparse.Namespace) -> list[Row]:
    from .corpora import Seeds
    from .searching import ann_recall, real_embeddings

    sentences, questions = real_embeddings(_encoder(), args.work)
    seeds = Seeds(sentences)
    rows = []
    for size in args.sizes or _sizes(args, "ann"):
        r = ann_recall(seeds, questions[:500], size)
        print(json.dumps(r))
        kind = r["kind"] + (f" nlist={r['nlist']} nprobe={r['nprobe']}" if r["nlist"] else "")
        rows.append({"benchmark": f"vector index, {size:,} clustered vectors ({kind})",
                     "result": f"recall@10 {r['recall10_rescored']:.3f} re-scored "
                               f"({r['recall10']:.3f} by the index's own scores); "
                               f"{r['ann_p50_ms']:.2f} ms p50 (exact scan "
                               f"{r['flat_p50_ms']:.1f} ms); {r['index_mb']:,.0f} MB; built in "
                               f"{r['build_s']:.0f} s",
                     "target": ">= 0.95; <= 1 GB at 1M", "peak_mb": r["peak_mb"],
                     "command": _command(args, "--sizes", str(size))})
    return rows


def cmd_search(args: argparse.Namespace) -> list[Row]:
    from .corpora import Seeds
    from .searching import real_embeddings, synthetic_index

    encoder = _encoder()
    sentences, _ = real_embeddings(encoder, args.work)
    rows = []
    for size in args.sizes or _sizes(args, "search"):
        index_dir, info = synthetic_index(args.work, size, encoder, Seeds(sentences))
        print(json.dumps(info))
        result = _child(args, ["_latency", str(index_dir)])
        print(json.dumps(result))
        kind = result["ann"].get("kind", "?")
        target = ({100_000: "p50 <= 5 ms", 1_000_000: "p50 <= 10 ms"} if _fast() else
                  {100_000: "p50 <= 30 ms", 1_000_000: "p50 <= 50 ms"}).get(size, "")
        rows.append({"benchmark": f"warm answer latency, {result['sentences']:,} sentences "
                                  f"({kind}, {_depth_label()})",
                     "result": f"{_latency(result)} (encode {result['encode_p50_ms']:.1f}, vectors "
                               f"{result['ann_p50_ms']:.2f}, BM25, parts, ranking, citations "
                               f"{result['rest_p50_ms']:.1f}); open {result['open_s']:.2f} s; "
                               f"memory {result['anon_mb']:,.0f} MB heap + "
                               f"{result['mapped_mb']:,.0f} MB mapped index files",
                     "target": target, "peak_mb": result["peak_mb"],
                     "command": _command(args, "--sizes", str(size), *_depth_args())})
        rows.append({"benchmark": f"indexing {info['sentences']:,} sentences",
                     "result": f"{info['index_seconds_without_model']:.0f} s without the model; "
                               f"~{_duration(info['index_seconds_extrapolated'])} with it "
                               f"(extrapolated at {info['model_texts_per_s']:,.0f} texts/s)",
                     "target": "", "peak_mb": info["build_peak_mb"],
                     "command": _command(args, "--sizes", str(size))})
    return rows


def cmd_filters(args: argparse.Namespace) -> list[Row]:
    """Filtered search on the synthetic indexes: filters keeping ~50%, 5% and 0.1% of the
    articles (source patterns over the corpus's file names)."""
    from .corpora import Seeds
    from .searching import real_embeddings, synthetic_index

    encoder = _encoder()
    sentences, _ = real_embeddings(encoder, args.work)
    rows = []
    for size in args.sizes or _sizes(args, "filters"):
        index_dir, _ = synthetic_index(args.work, size, encoder, Seeds(sentences))
        for r in _child_rows(args, ["_filtered", str(index_dir)]):
            print(json.dumps(r))
            rows.append({
                "benchmark": f"filtered answer, {r['sentences']:,} sentences, filter keeping "
                             f"{r['share']} of articles (`--source '{r['pattern']}'`)",
                "result": f"{r['kept_articles']:,} of {r['articles']:,} articles "
                          f"({r['kept_sentences']:,} sentences; {r['path']}): "
                          f"{_latency(r)} (unfiltered in the same run: "
                          f"p50 {r['unfiltered_p50_ms']:.1f} ms); dense recall@10 "
                          f"{r['recall10']:.3f} against exact search over the kept "
                          f"sentences; first question under it +{r['build_ms']:.0f} ms",
                "target": "p50 <= 10 ms; recall@10 >= 0.95", "peak_mb": r["peak_mb"],
                "command": _command(args, "--sizes", str(size))})
    return rows


def _timed_questions(args: argparse.Namespace) -> list[str]:
    """The SQuAD questions a latency child asks (``--questions``; 100 quick, else 500)."""
    from .corpora import squad_questions

    return squad_questions(args.questions or (100 if args.quick else 500))


def cmd_filtered(args: argparse.Namespace) -> list[Row]:
    """(internal) measure filtered search on an index in a fresh process."""
    from .searching import filtered_search

    return filtered_search(Path(args.index), _timed_questions(args),
                           rounds=1 if args.quick else 3)


def cmd_latency(args: argparse.Namespace) -> list[Row]:
    """(internal) measure search latency on an index in a fresh process."""
    from .searching import search_latency

    return [search_latency(Path(args.index), _timed_questions(args))]


def _squad_index(args: argparse.Namespace) -> tuple[Path, Path]:
    """The real-model index of a SQuAD corpus, built once and kept up to date (an index kept
    from an older format is updated without embedding again)."""
    from .cli_runs import update_index
    from .corpora import squad_corpus

    size = args.sentences or _sizes(args, "ask")
    corpus = squad_corpus(args.work / f"squad-{size}", size)
    index_dir = args.work / f"squad-{size}-index"
    update_index(corpus, index_dir)  # builds it the first time
    return corpus, index_dir


def cmd_ask(args: argparse.Namespace) -> list[Row]:
    from .cli_runs import batch_ask, cold_ask
    from .corpora import squad_questions

    _, index_dir = _squad_index(args)
    questions = squad_questions()
    count = args.questions or _sizes(args, "questions")
    repeats = args.repeats or (2 if args.quick else 5)
    cold = cold_ask(index_dir, questions[0], repeats)
    print(json.dumps(cold))
    batch = batch_ask(index_dir, questions[:count], max(1, (repeats + 1) // 2))
    print(json.dumps(batch))
    size = args.sentences or _sizes(args, "ask")
    return [
        {"benchmark": f"cold `bot ask QUESTION` ({size:,}-sentence index, {_depth_label()})",
         "result": f"{cold['cold_s']:.2f} s wall (best {cold['cold_min_s']:.2f} s)",
         "target": "<= 1 s", "peak_mb": cold["peak_mb"],
         "command": _command(args, *_depth_args())},
        {"benchmark": f"`bot ask --json` on stdin, {count:,} questions ({_depth_label()})",
         "result": f"{batch['warm_per_s']:,.0f} questions/s warm ({batch['per_s']:,.0f}/s "
                   f"with start-up)",
         "target": ">= 300/s warm" if _fast() else ">= 50/s warm", "peak_mb": batch["peak_mb"],
         "command": _command(args, *_depth_args())},
    ]


def cmd_conversations(args: argparse.Namespace) -> list[Row]:
    """``bot ask --json`` on a stream of conversation turns: 100 conversations of 10 turns
    (consecutive SQuAD questions, mostly about one paragraph), interleaved round-robin."""
    from .cli_runs import batch_ask
    from .corpora import squad_questions

    _, index_dir = _squad_index(args)
    questions = squad_questions()
    talks, turns = (20, 10) if args.quick else (100, 10)
    lines = [json.dumps({"question": questions[c * turns + t], "conversation": f"talk-{c}"})
             for t in range(turns) for c in range(talks)]
    batch = batch_ask(index_dir, lines, args.repeats or (1 if args.quick else 3))
    print(json.dumps(batch))
    return [{"benchmark": f"`bot ask --json`, {len(lines):,} turns in {talks} interleaved "
                          "conversations",
             "result": f"{batch['warm_per_s']:,.0f} turns/s warm ({batch['per_s']:,.0f}/s "
                       "with start-up)",
             "target": ">= 50/s", "peak_mb": batch["peak_mb"], "command": _command(args)}]


def cmd_reindex(args: argparse.Namespace) -> list[Row]:
    from .cli_runs import reindex_unchanged

    corpus, index_dir = _squad_index(args)
    r = reindex_unchanged(corpus, index_dir, args.repeats or (2 if args.quick else 5))
    print(json.dumps(r))
    return [{"benchmark": f"re-index unchanged corpus ({r['sentences']:,} sentences)",
             "result": f"{r['wall_s']:.2f} s wall, {r['embedded']} sentences embedded",
             "target": "<= 1 s, 0 embedded", "peak_mb": r["peak_mb"],
             "command": _command(args)}]


def _child_rows(args: argparse.Namespace, argv: list[str]) -> list[Row]:
    """Run ``python -m bench.run ARGV`` in a new process; all its result rows."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        extra = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, "-m", "bench.run", *argv, "--work", str(args.work),
                        "--json", out.name, *extra], check=True)
        return json.loads(Path(out.name).read_text())


def _child(args: argparse.Namespace, argv: list[str]) -> Row:
    """Run ``python -m bench.run ARGV`` in a new process; its one result row."""
    return _child_rows(args, argv)[0]


def cmd_shards(args: argparse.Namespace) -> list[Row]:
    """Sharded builds of synthetic corpora (one process, shard after shard) and latency."""
    from .searching import real_embeddings
    from .sharding import dump

    encoder = _encoder()
    real_embeddings(encoder, args.work)  # cached for the child processes
    rows = []
    for size in args.sizes or [1_000_000]:
        shards = args.shards or 10
        build = _child(args, ["_shardbuild", str(size), "--shards", str(shards)])
        dump(build)
        index_dir = args.work / f"sharded-{size}-{shards}" / "index"
        latency = _child(args, ["_shardlatency", str(index_dir)])
        dump(latency)
        rows.append({"benchmark": f"sharded index, {build['sentences']:,} synthetic sentences "
                                  f"in {shards} shards: build",
                     "result": f"{build['build_s']:.0f} s without the model (shard after "
                               f"shard, one process)",
                     "target": "peak RSS <= 6 GB at 10M in 10 shards",
                     "peak_mb": build["build_peak_mb"],
                     "command": _command(args, "--sizes", str(size), "--shards", str(shards))})
        rows.append({"benchmark": f"sharded index, {latency['sentences']:,} sentences in "
                                  f"{shards} shards: warm answer latency (in-process)",
                     "result": f"{_latency(latency)}; all shards' "
                               f"candidates {latency['gather_p50_ms']:.1f} ms p50; open "
                               f"{latency['open_s']:.1f} s",
                     "target": "p50 <= 30 ms at 10M in 10 shards",
                     "peak_mb": latency["peak_mb"],
                     "command": _command(args, "--sizes", str(size), "--shards", str(shards))})
    return rows


def cmd_shardbuild(args: argparse.Namespace) -> list[Row]:
    """(internal) build one sharded synthetic index in a fresh process."""
    from .corpora import Seeds, synthetic_corpus
    from .searching import real_embeddings
    from .sharding import build_sharded

    size, shards = int(args.index), args.shards or 10
    folder = args.work / f"sharded-{size}-{shards}"
    corpus = synthetic_corpus(args.work / f"synthetic-blocks-{size}", size)
    encoder = _encoder()
    sentences, _ = real_embeddings(encoder, args.work)
    return [build_sharded(corpus, folder / "index", shards, encoder, Seeds(sentences))]


def cmd_shardlatency(args: argparse.Namespace) -> list[Row]:
    """(internal) latency of a sharded index in a fresh process."""
    from .corpora import squad_questions
    from .sharding import sharded_latency

    return [sharded_latency(Path(args.index),
                            squad_questions(args.questions or (100 if args.quick else 300)))]


def cmd_ray(args: argparse.Namespace) -> list[Row]:
    """Indexing throughput (real model) on a local Ray cluster of 1 and of 2 workers."""
    from .corpora import squad_corpus
    from .sharding import dump

    size = args.sentences or (2000 if args.quick else 8000)
    corpus = squad_corpus(args.work / f"squad-{size}", size)
    rows = []
    for workers in (1, 2):
        r = _child(args, ["_raybuild", str(corpus), "--shards", str(args.shards or 4),
                          "--workers", str(workers)])
        dump(r)
        rows.append({"benchmark": f"indexing {r['sentences']:,} sentences with the model on "
                                  f"a local Ray cluster, {workers} worker(s), "
                                  f"{r['shards']} shards",
                     "result": f"{r['per_s']:,.0f} sentences/s ({r['seconds']:.0f} s)",
                     "target": "", "peak_mb": r["peak_mb"],
                     "command": _command(args, "--sentences", str(size))})
    return rows


def cmd_raybuild(args: argparse.Namespace) -> list[Row]:
    """(internal) one Ray build in a fresh process."""
    from .sharding import ray_throughput

    corpus = Path(args.index)
    return [ray_throughput(corpus, args.work / f"ray-{corpus.name}-{args.workers}",
                           args.shards or 4, args.workers)]


def cmd_all(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for name in ("encoder", "quality", "ann", "search", "filters", "ask", "conversations",
                 "reindex"):
        rows.extend(_child_rows(args, [name]))
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | result | target | peak RSS | load | command |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(f"| {r['benchmark']}{note} | {r['result']} | {r.get('target', '')} | "
                     f"{r['peak_mb']:,.0f} MB | {r.get('load', '')} | `{r['command']}` |")
    return "\n".join(lines)


COMMANDS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "encoder": cmd_encoder, "quality": cmd_quality, "ann": cmd_ann, "search": cmd_search,
    "ask": cmd_ask, "conversations": cmd_conversations, "reindex": cmd_reindex,
    "all": cmd_all, "_latency": cmd_latency,
    "filters": cmd_filters, "_filtered": cmd_filtered,
    "shards": cmd_shards, "ray": cmd_ray, "_shardbuild": cmd_shardbuild,
    "_shardlatency": cmd_shardlatency, "_raybuild": cmd_raybuild,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(COMMANDS))
    parser.add_argument("index", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--work", type=Path,
                        default=Path(os.environ.get("BOT_BENCH_DIR", "/tmp/bot-bench")))
    parser.add_argument("--json", dest="json_out", type=Path, help="write the rows here")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--sentences", type=int, help="corpus size (encoder, ask, reindex)")
    parser.add_argument("--questions", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--limit", type=int, help="questions for quality (0: all)")
    parser.add_argument("--sweep", action="store_true", help="encoder: token budget sweep")
    parser.add_argument("--torch", action="store_true", help="quality: also the torch backend")
    parser.add_argument("--shards", type=int, help="shards: how many (default 10)")
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--rerank-depth", type=int, default=None,
                        help="search/ask: candidates the reranker reads (0: the fast mode)")
    args = parser.parse_args(argv)
    os.environ.setdefault("BOT_PROGRESS", "0")
    if args.rerank_depth is not None:  # children and bot processes inherit it
        os.environ["BOT_RERANK_DEPTH"] = str(args.rerank_depth)
    args.work.mkdir(parents=True, exist_ok=True)
    from .measure import load

    before = load()
    rows = COMMANDS[args.name](args)
    for row in rows:
        row.setdefault("load", round(max(before, load()), 1))
    if args.json_out:
        args.json_out.write_text(json.dumps(rows))
    if not args.name.startswith("_"):
        print(table(rows))


if __name__ == "__main__":
    main()
