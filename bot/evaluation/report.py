"""The human-readable form of a ``bot eval`` report."""

from __future__ import annotations

from typing import Any


def render(report: dict[str, Any]) -> str:
    """A small table: one row per method, then abstention and timing lines."""
    lines = [f"{report['questions']} questions on {report['file_articles']} articles "
             f"({report['sentences']} sentences), model {report['model']}, "
             f"ranker {report['ranker']}",
             f"{'method':<8} {'P@1':>6} {'MRR@10':>7} {'R@5':>6} {'R@10':>6} {'answered':>9}"]
    for name, row in report["methods"].items():
        answered = f"{row['answered']:>9.3f}" if "answered" in row else f"{'-':>9}"
        lines.append(f"{name:<8} {row['p@1']:>6.3f} {row['mrr@10']:>7.3f} {row['r@5']:>6.3f} "
                     f"{row['r@10']:>6.3f} {answered}")
    if "ooc" in report:
        ooc = report["ooc"]
        lines.append(f"out-of-corpus: {ooc['questions']} questions, "
                     f"answered {ooc['answered']:.3f}, "
                     f"confidence AUROC {ooc['auroc']:.3f}")
    lines.append(f"time per question: {report['ms_per_question']:.1f} ms "
                 f"({report['ms_per_question_search']:.1f} ms after embedding the question); "
                 f"indexing {report['index_seconds']:.1f} s, "
                 f"{report['sentences_embedded']} sentences embedded")
    return "\n".join(lines)
