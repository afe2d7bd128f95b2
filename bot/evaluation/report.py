"""The human-readable form of a ``bot eval`` report."""

from __future__ import annotations

from typing import Any

BAR = 30  # characters of a full bar in the terminal diagrams
CURVE_THRESHOLDS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


def _second_stage(report: dict[str, Any]) -> str:
    """``rerank depth N, gap G`` (``no gate``: every question read; depth 0: first stage)."""
    depth = report.get("rerank_depth", 0)
    if not depth:
        return "rerank depth 0"
    gap = report.get("rerank_gap")
    return f"rerank depth {depth}, " + (f"gap {gap:g}" if gap is not None else "no gate")


def render(report: dict[str, Any]) -> str:
    """A small table: one row per method, then the verdict, abstention and timing lines."""
    lines = [f"{report['questions']} questions on {report['file_articles']} articles "
             f"({report['sentences']} sentences), model {report['model']}, "
             f"ranker {report['ranker']}, {_second_stage(report)}",
             f"{'method':<8} {'P@1':>6} {'MRR@10':>7} {'R@5':>6} {'R@10':>6} {'answered':>9}"]
    for name, row in report["methods"].items():
        answered = f"{row['answered']:>9.3f}" if "answered" in row else f"{'-':>9}"
        lines.append(f"{name:<8} {row['p@1']:>6.3f} {row['mrr@10']:>7.3f} {row['r@5']:>6.3f} "
                     f"{row['r@10']:>6.3f} {answered}")
    if "own_candidates" in report:
        lines.append("each question's own candidates: " + ", ".join(
            f"{name} MAP {row['map']:.3f} MRR {row['mrr']:.3f}"
            for name, row in report["own_candidates"].items()))
    if "ooc" in report:
        ooc = report["ooc"]
        lines.append(f"out-of-corpus: {ooc['questions']} questions, "
                     f"answered {ooc['answered']:.3f}, "
                     f"confidence AUROC {ooc['auroc']:.3f}")
    if "verdict" in report:
        lines += render_verdict(report["verdict"])
    lines.append(f"time per question: {report['ms_per_question']:.1f} ms "
                 f"({report['ms_per_question_search']:.1f} ms after embedding the question); "
                 f"indexing {report['index_seconds']:.1f} s, "
                 f"{report['sentences_embedded']} sentences embedded")
    return "\n".join(lines)


def render_verdict(verdict: dict[str, Any]) -> list[str]:
    """The verdict's figures, its reliability diagram and its precision–coverage curve."""
    mix = verdict["all"]
    rule = f"confidence >= {verdict['threshold']:.3f}"
    if "first_stage_threshold" in verdict:  # a gated second stage: two models judged the run
        rule += (f" where the second stage read the reply, >= "
                 f"{verdict['first_stage_threshold']:.3f} elsewhere")
    lines = [f"verdict (answered = {rule}), "
             f"{mix['replies']} replies: precision {_figure(mix['precision'])}, "
             f"coverage {_figure(mix['coverage'])}, AUROC {_figure(mix['auroc'])}, "
             f"ECE {_figure(mix['ece'])}"]
    if base := verdict.get("baseline_auroc"):
        lines.append(f"  AUROC of the best sentence's plain dense cosine {_figure(base['dense'])}"
                     f", plain BM25 {_figure(base['bm25'])} (as the confidence, same replies)")
    rates = [f"{name.replace('ooc', 'out-of-corpus')} answered {verdict[name]['answered']:.3f} "
             f"of {verdict[name]['questions']}" for name in ("unanswerable", "ooc")
             if name in verdict]
    if rates:
        lines.append("  " + "; ".join(rates))
    lines.append("  reliability: mean confidence, share right, replies "
                 "(# share right, + mean confidence)")
    for conf, right, n in verdict["reliability"]:
        bar = ["#" if i < round(BAR * right) else " " for i in range(BAR + 1)]
        bar[min(round(BAR * conf), BAR)] = "+"
        lines.append(f"  {conf:>5.2f} {right:>6.3f} {n:>6.0f} |{''.join(bar)}|")
    lines.append("  precision-coverage: threshold, precision, coverage")
    curve = verdict["precision_coverage"]
    for cut in CURVE_THRESHOLDS:
        point = next(((t, p, c) for t, p, c in reversed(curve) if t >= cut), None)
        if point is not None:
            mark = "  <- shipped threshold" if abs(cut - verdict["threshold"]) < 0.05 else ""
            lines.append(f"  >= {cut:.1f}  {point[1]:.3f}  {point[2]:.3f}{mark}")
    return lines


def _figure(value: float | None) -> str:
    """A figure to three decimals, or "-" where there was nothing to measure."""
    return "-" if value is None else f"{value:.3f}"


def render_dialogues(report: dict[str, Any]) -> str:
    """The dialogue report: one row per method, with the share of right-story top sentences."""
    lines = [f"{report['turns']} scored turns of {report['dialogues']} dialogues on "
             f"{report['stories']} stories ({report['sentences']} sentences; "
             f"{report['unscored_turns']} turns without a rationale asked but not scored), "
             f"model {report['model']}, ranker {report['ranker']}, "
             f"{_second_stage(report)}",
             f"{'method':<15} {'P@1':>6} {'MRR@10':>7} {'R@5':>6} {'R@10':>6} {'story@1':>8} "
             f"{'ms/turn':>8}"]
    for name, row in report["methods"].items():
        ms = f"{row['ms_per_turn']:>8.1f}" if "ms_per_turn" in row else f"{'-':>8}"
        lines.append(f"{name:<15} {row['p@1']:>6.3f} {row['mrr@10']:>7.3f} {row['r@5']:>6.3f} "
                     f"{row['r@10']:>6.3f} {row['story@1']:>8.3f} {ms}")
    lines.append(f"conversation: {report['read_with_earlier_turns']} of {report['turns']} "
                 f"turns read with earlier turns; indexing {report['index_seconds']:.1f} s")
    return "\n".join(lines)
