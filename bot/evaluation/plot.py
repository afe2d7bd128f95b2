"""``bot eval --plot FILE``: the verdict's reliability diagram and precision–coverage curve as
a picture (matplotlib, Agg backend; imported only when a picture is asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.errors import BadInput

FORMATS = (".svg", ".png")


def check_plot_path(path: Path) -> None:
    """Refuse a picture name whose format is not one of :data:`FORMATS` (before any work)."""
    if path.suffix.lower() not in FORMATS:
        raise BadInput(f"--plot {path}: the picture must end in {' or '.join(FORMATS)}")


def plot_verdict(verdict: dict[str, Any], path: Path, title: str = "") -> None:
    """Draw the two panels of a ``bot eval`` report's ``verdict`` into ``path``."""
    check_plot_path(path)
    try:
        import matplotlib
    except ImportError:
        raise BadInput("--plot needs matplotlib: pip install 'sentence-bot[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    conf = [c for c, _, _ in verdict["reliability"]]
    share = [r for _, r, _ in verdict["reliability"]]
    left.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    left.plot(conf, share, marker="o", label=f"bot (ECE {verdict['all']['ece']:.3f})")
    left.set(xlabel="confidence (mean per bin)", ylabel="share of best sentences right",
             xlim=(0, 1), ylim=(0, 1), title="Reliability")
    left.legend(loc="upper left")
    curve = verdict["precision_coverage"]
    right.plot([c for _, _, c in curve], [p for _, p, _ in curve], label="all thresholds")
    mix = verdict["all"]
    right.scatter([mix["coverage"]], [mix["precision"]], color="red", zorder=3,
                  label=f"shipped threshold {verdict['threshold']:.2f}")
    right.set(xlabel="coverage (right answers / answerable questions)",
              ylabel="precision of answered", xlim=(0, 1), ylim=(0, 1.02),
              title="Precision–coverage")
    right.legend(loc="lower left")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)
