"""The pytest plugin: golden files become one test per case, with readable failure reports."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from .conftest import write_corpus
from .test_golden_check import ARTICLES, BROKEN, PASSING

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def engine_loaded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run the engine once in this process before any in-process pytest run.

    Pytester forgets every module first imported during a run, and re-importing C extensions
    (FAISS, SciPy, NumPy's random) in one process crashes it: import them all here first.
    """
    from bot.golden.format import parse_golden
    from bot.golden.runner import GoldenRunner

    folder = tmp_path_factory.mktemp("warm")
    write_corpus(folder / "news", ARTICLES)
    golden = parse_golden(PASSING, folder / "g.qa.yaml")
    assert all(r.ok for r in GoldenRunner(folder / "idx").run_file(golden))


@pytest.fixture
def project(pytester: pytest.Pytester, engine_loaded: None) -> pytest.Pytester:
    """A folder with a tiny corpus for in-process pytest runs."""
    write_corpus(pytester.path / "news", ARTICLES)
    # snapshot plugins keep session-global temp folders that an inner run would delete
    pytester.makeini("[pytest]\naddopts = -p no:textual-snapshot -p no:syrupy\n")
    return pytester


def test_registered_as_a_pytest11_entry_point() -> None:
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("golden") == "bot.pytest_plugin"


def test_one_item_per_case(project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=PASSING)
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["g.qa.yaml::everest", "g.qa.yaml::saffron",
                                 "g.qa.yaml::penguins"])


def test_passing_file_in_a_fresh_process(project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=PASSING)
    result = project.runpytest_subprocess("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*g.qa.yaml::everest PASSED*"])


def test_failure_report_is_readable(project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=BROKEN)
    result = project.runpytest("-ra")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*golden case: everest*",
        "golden case 'everest' (*g.qa.yaml:4)",
        "Q: Which is the highest mountain on Earth?",
        '  expected a sentence containing "Kilimanjaro" as the top answer; none in the top 5; '
        'rank 1 was "Mount Everest is the highest mountain on Earth."',
        "got: *",
        "  #1 Mount Everest is the highest mountain on Earth.",
        '*FAILED g.qa.yaml::everest - expected a sentence containing "Kilimanjaro"*',
    ])
    assert "run_golden_case" not in result.stdout.str()  # no traceback into the plugin


def test_malformed_file_is_a_collection_error_with_file_and_line(
        project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=PASSING.replace("  - name: saffron", "  - nmae: saffron"))
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*g.qa.yaml:7: unknown key 'nmae' in case 2 (did you mean "
                                 "'name'?*"])


def test_conftest_fixtures_apply_and_marker_selects(project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=PASSING)
    project.makeconftest("""
        import pytest

        @pytest.fixture(autouse=True)
        def seen(request):
            with open(request.config.rootpath / "seen.txt", "a") as out:
                out.write(request.node.name + "\\n")
    """)
    result = project.runpytest("-m", "golden")
    result.assert_outcomes(passed=3)
    seen = (project.path / "seen.txt").read_text().split()
    assert seen == ["everest", "saffron", "penguins"]
    assert project.runpytest("-m", "not golden").ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_update_records_baseline_and_drift_shows_in_summary(project: pytest.Pytester) -> None:
    project.makefile(".qa.yaml", g=PASSING)
    project.runpytest("--golden-update").assert_outcomes(passed=3)
    baseline = json.loads((project.path / "g.qa.baseline.json").read_text(encoding="utf-8"))
    assert set(baseline["cases"]) == {"everest", "saffron", "penguins"}

    result = project.runpytest()
    result.assert_outcomes(passed=3)
    assert "golden drift" not in result.stdout.str()

    write_corpus(project.path / "news", {"world.txt": ARTICLES["world.txt"].replace(
        "Mount Everest is", "Mount Everest, in Nepal, is")})
    result = project.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*golden drift against the baselines*",
        "g.qa.yaml::everest",
        '  ~ lost (was #1): "Mount Everest is the highest mountain on Earth."',
        '  ~ gained (now #1): "Mount Everest, in Nepal, is the highest mountain on Earth."',
    ])


def test_golden_file_with_a_url_corpus(project: pytest.Pytester,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A corpus of feeds: the plugin's own test, served by the local site on 127.0.0.1."""
    from .local_site import start_site

    site, server = start_site()
    monkeypatch.setenv("BOT_FETCH_DELAY", "0")
    try:
        project.makefile(".qa.yaml", web=f"""\
corpus: [{site.base}/rss, {site.base}/markets.json]
model: hashing
cases:
  - name: shelters
    question: How many shelters did the regional government open for families?
    expect: {{contains: three shelters, article: {site.base}/news/rain.html}}
  - name: wheat
    question: What did the traders blame for the rise?
    expect: {{contains: drought in Kansas, article: Wheat prices climb}}
""")
        result = project.runpytest_subprocess("-v")
        result.assert_outcomes(passed=2)
        assert site.got("/rss") and site.got("/news/rain.html")
    finally:
        site.stop.set()
        server.shutdown()
        server.server_close()
