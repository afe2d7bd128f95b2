"""pytest plugin: golden question files (``*.qa.yaml``) become test items, one per case.

Registered through the ``pytest11`` entry point, so installing the package is enough::

    pytest tests/golden                     # every case is a test: seed.qa.yaml::founder
    pytest tests/golden --golden-update     # record the baselines (like bot check --update)

Indexes are built once per session in a temporary folder (``--golden-index-dir DIR`` keeps them
between sessions). Items take fixtures like any test, so conftest autouse fixtures apply; a
conftest can override ``golden_encoders`` to share an already loaded model with the runner.
Drift against the baselines is listed in the terminal summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from .golden.names import is_golden_file

if TYPE_CHECKING:  # the rest loads only when a session has golden files (numpy, YAML, ...)
    from .golden.format import Case, GoldenFile
    from .golden.runner import CaseResult, GoldenRunner


@dataclass
class _Session:
    """What the plugin remembers across items: every file's cases and results."""

    files: dict[Path, GoldenFile] = field(default_factory=dict)
    results: dict[Path, dict[str, CaseResult]] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)


_STATE = pytest.StashKey[_Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("golden", "golden question files (*.qa.yaml)")
    group.addoption("--golden-index-dir", default=None, metavar="DIR",
                    help="keep the golden indexes in DIR between sessions "
                         "(default: a temporary folder per session)")
    group.addoption("--golden-update", action="store_true", default=False,
                    help="record each golden file's ranked evidence as its baseline")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "golden: a case of a golden question file (*.qa.yaml)")
    config.stash[_STATE] = _Session()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_golden_file(file_path):
        return GoldenCollector.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def golden_encoders() -> list[Any]:
    """Encoders already loaded in this session, reused by the runner (override to share)."""
    return []


@pytest.fixture(scope="session")
def golden_runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  golden_encoders: list[Any]) -> GoldenRunner:
    """One runner per session: each corpus is indexed once, on first use."""
    from .golden.runner import GoldenRunner

    root = request.config.getoption("golden_index_dir") or tmp_path_factory.mktemp("golden")
    return GoldenRunner(Path(root), encoders=golden_encoders)


class GoldenCollector(pytest.File):
    """A golden file; a malformed one is a collection error naming the file and line."""

    def collect(self) -> Iterator["GoldenItem"]:
        from .golden.format import GoldenFormatError, load_golden

        try:
            golden = load_golden(self.path)
        except GoldenFormatError as exc:
            raise self.CollectError(" ".join(str(exc).split())) from None
        self.config.stash[_STATE].files[golden.path] = golden
        for case in golden.cases:
            yield GoldenItem.from_parent(self, name=case.name, case=case)


class GoldenFailure(Exception):
    """A case whose answer broke its expectations (or that could not run)."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.error or "; ".join(result.failures))
        self.result = result


class GoldenItem(pytest.Function):
    """One case, run as a test function that asks for the ``golden_runner`` fixture."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        self.case = case
        super().__init__(callobj=_case_test(case), **kwargs)
        self.add_marker("golden")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"golden case: {self.case.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, GoldenFailure):
            return _FailureRepr(excinfo.value.result)
        return super().repr_failure(excinfo, style)


def _case_test(case: Case) -> Callable[..., None]:
    def run_golden_case(golden_runner: GoldenRunner, request: pytest.FixtureRequest) -> None:
        result = golden_runner.run_case(case)
        state = request.config.stash[_STATE]
        state.results.setdefault(case.file, {})[case.name] = result
        if result.drift:
            request.node.user_properties.append(("drift", "\n".join(result.drift.lines())))
        if not result.ok:
            raise GoldenFailure(result)

    return run_golden_case


@dataclass
class _Crash:
    message: str
    path: str
    lineno: int


class _FailureRepr:
    """A failure report without a traceback: the question, why it failed, what came back."""

    def __init__(self, result: CaseResult) -> None:
        from .golden.report import details

        case = result.case
        self.text = "\n".join([f"golden case '{case.name}' ({case.file}:{case.line})",
                               *details(result)])
        message = result.error or result.failures[0]
        self.reprcrash = _Crash(message, str(case.file), case.line)

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith("  ") and not line.startswith("  #"))

    def __str__(self) -> str:
        return self.text


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    drifted = [(path, r) for path, results in state.results.items()
               for r in results.values() if r.drift]
    if drifted:
        terminalreporter.section("golden drift against the baselines", sep="-", yellow=True)
        for _, result in drifted:
            terminalreporter.line(f"{result.case.file.name}::{result.case.name}")
            for change in result.drift.lines():
                terminalreporter.line(f"  ~ {change}")
    for written in state.written:
        terminalreporter.line(f"golden baseline recorded: {written}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``--golden-update``, record the baseline of every golden file that ran."""
    state = session.config.stash.get(_STATE, None)
    if state is None or not session.config.getoption("golden_update"):
        return
    from .golden.baseline import record

    for path, results in state.results.items():
        golden = state.files.get(path)
        if golden is not None and (written := record(golden, results.values())):
            state.written.append(written)
