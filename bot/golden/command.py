"""``bot check``: run golden question files, print a pass/fail table, exit non-zero on failure.

Exit codes: 0 every case passed; 1 a case failed or could not run; 2 bad arguments or a
malformed golden file (nothing is run then).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from index.errors import BadInput

from ..safe_text import printable
from .baseline import record
from .format import GoldenFile, GoldenFormatError, find_golden_files, load_golden
from .junit import write_junit
from .report import as_json, table
from .runner import CaseResult, GoldenRunner, default_index_root


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--index-dir", type=click.Path(file_okay=False), default=None,
              help="Where bot check keeps its indexes, one sub-folder per corpus and model "
                   f"[default: {default_index_root()}].")
@click.option("--json", "as_json_flag", is_flag=True,
              help="Print one JSON object with every case instead of the table.")
@click.option("--junit-xml", "junit_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a JUnit XML report to this file (for CI).")
@click.option("--update", is_flag=True,
              help="Record the current ranked evidence as each file's baseline.")
def check_command(paths: tuple[str, ...], index_dir: str | None, as_json_flag: bool,
                  junit_path: str | None, update: bool) -> None:
    """Run the golden question files PATHS (folders: every *.qa.yaml below them)."""
    if junit_path:
        _check_writable(junit_path)
    goldens = _load_all(paths)
    started = time.perf_counter()
    runner = GoldenRunner(Path(index_dir) if index_dir else None)
    results: list[CaseResult] = []
    for golden in goldens:
        results.extend(runner.run_file(golden))
    seconds = time.perf_counter() - started
    if update:
        for golden in goldens:
            if path := record(golden, results):
                click.echo(f"baseline recorded: {path}", err=True)
    if as_json_flag:
        click.echo(json.dumps(as_json(results, seconds), ensure_ascii=False))
    else:
        click.echo(table(results, seconds))
    if junit_path:  # after the results are shown, so a failing disk does not hide them
        try:
            write_junit(results, seconds, junit_path)
        except OSError as exc:
            raise BadInput(f"cannot write {junit_path}: {exc.strerror or exc}") from None
    if any(not r.ok for r in results):
        sys.exit(1)


def _check_writable(path: str) -> None:
    """Refuse (exit 2, before any case runs) a report file whose folder is missing or
    read-only: finding out after minutes of checks would lose the results."""
    folder = Path(path).parent
    problem = ("does not exist" if not folder.exists() else "is not a folder"
               if not folder.is_dir() else "is not writable"
               if not os.access(folder, os.W_OK | os.X_OK) else None)
    if problem:
        click.echo(f"error: cannot write the JUnit report {printable(path)}: the folder "
                   f"{printable(str(folder))} {problem}", err=True)
        sys.exit(2)


def _load_all(paths: tuple[str, ...]) -> list[GoldenFile]:
    """Every golden file, validated; malformed ones are each reported and exit with code 2."""
    try:
        files = find_golden_files(paths)
    except BadInput as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    goldens: list[GoldenFile] = []
    broken = 0
    for path in files:
        try:
            goldens.append(load_golden(path))
        except GoldenFormatError as exc:
            broken += 1
            click.echo(f"error: {' '.join(str(exc).split())}", err=True)
    if broken:
        sys.exit(2)
    return goldens
