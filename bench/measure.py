"""Timing and memory helpers: CPU time, percentiles, peak and resident memory, child runs."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Read from ``VmHWM``: ``getrusage`` would also count the memory of the process that started
    this one (Linux carries the high-water mark across ``fork`` + ``exec``).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> dict[str, float]:
    """Current resident memory split into anonymous (heap) and file-backed (memory-mapped
    index files, which the page cache holds anyway) MiB."""
    out = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("RssAnon:", "RssFile:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def load() -> float:
    """The 1-minute load average (how busy the shared machine was)."""
    return os.getloadavg()[0]


@dataclass
class Run:
    """One finished child process."""

    seconds: float
    peak_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes


# A tiny process that runs the command and reports its wall time and peak memory: measured
# from here, a child's peak would include this (big) benchmark process's memory.
_LAUNCHER = """
import json, os, sys, time
report, args = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(args[0], args)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    json.dump({"seconds": time.perf_counter() - start, "peak_kb": usage.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, out)
"""


def run_process(args: Sequence[str], stdin: bytes | None = None,
                env: dict[str, str] | None = None) -> Run:
    """Run a command to completion: its wall time and its own peak memory."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, report.name, *args],
                              input=stdin or b"", capture_output=True, env=env)
        result = json.loads(Path(report.name).read_text() or "{}")
    if not result:
        return Run(0.0, 0.0, proc.returncode or 1, proc.stdout, proc.stderr)
    return Run(result["seconds"], result["peak_kb"] / 1024, result["code"], proc.stdout,
               proc.stderr)
