"""``bot check``: exit codes, the failure table, ``--json``, ``--junit-xml`` and baselines.

Fast: the golden files here use the deterministic ``hashing`` model on a tiny corpus.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.golden.format import load_golden
from bot.golden.runner import GoldenRunner

from .conftest import write_corpus

ARTICLES = {
    "world.txt": "Mount Everest is the highest mountain on Earth.\n\n"
                 "The Nile is the longest river in Africa. Basil is a herb used in cooking.\n",
    "food.txt": "Saffron is the most expensive spice in the world. Penguins live in Antarctica.\n",
}

PASSING = """\
corpus: news
model: hashing
cases:
  - name: everest
    question: Which is the highest mountain on Earth?
    expect: {contains: Everest}
  - name: saffron
    question: What is the most expensive spice?
    expect: {contains: Saffron, article: food.txt}
  - name: penguins
    question: Where do penguins live?
    expect: {contains: Antarctica, within: 2}
"""

BROKEN = PASSING.replace("{contains: Everest}", "{contains: Kilimanjaro}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "news", ARTICLES)
    return tmp_path


def check(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def golden(project: Path, text: str, name: str = "g.qa.yaml") -> Path:
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


def test_all_passing_exits_0_with_a_table(project: Path) -> None:
    path = golden(project, PASSING)
    code, out, _ = check(path, "--index-dir", project / "idx")
    assert code == 0
    rows = out.splitlines()
    assert [row.split()[0] for row in rows[:3]] == ["PASS", "PASS", "PASS"]
    assert rows[0].split() == ["PASS", f"{path}:4", "everest"]
    assert rows[-1].startswith("3 passed, 0 failed, 0 errors")


def test_broken_expectation_fails_with_a_readable_reason(project: Path) -> None:
    golden(project, BROKEN)
    code, out, err = check(project, "--index-dir", project / "idx")  # a folder: finds *.qa.yaml
    assert code == 1
    assert err == ""  # the table is the result: stdout
    lines = out.splitlines()
    assert lines[0].startswith("FAIL") and lines[0].endswith("everest")
    assert lines[1].strip() == (
        '\u21b3 expected a sentence containing "Kilimanjaro" as the top answer; none in the top '
        '5; rank 1 was "Mount Everest is the highest mountain on Earth."')
    assert lines[-1].startswith("2 passed, 1 failed, 0 errors")


def test_malformed_file_exits_2_naming_file_and_line_and_runs_nothing(project: Path) -> None:
    good = golden(project, PASSING)
    bad = golden(project, PASSING.replace("    expect: {contains: Saffron",
                                          "    expcet: {contains: Saffron"), "bad.qa.yaml")
    code, out, err = check(good, bad, "--index-dir", project / "idx")
    assert code == 2
    assert out == ""
    assert err == (f"error: {bad}:9: unknown key 'expcet' in case 2 (did you mean 'expect'? "
                   "allowed: name, question, expect, turns, corpus, k, model, backend, filters)\n")
    assert not (project / "idx").exists()


@pytest.mark.parametrize("args, message", [
    (["missing.qa.yaml"], "error: no such file or directory: missing.qa.yaml"),
    (["news"], "error: news: no golden files (*.qa.yaml) in this folder"),
])
def test_bad_paths_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
                          message: str) -> None:
    monkeypatch.chdir(project)
    code, out, err = check(*args)
    assert (code, out, err.strip()) == (2, "", message)


def test_json_report(project: Path) -> None:
    golden(project, BROKEN)
    code, out, _ = check(project / "g.qa.yaml", "--index-dir", project / "idx", "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["passed"], report["failed"], report["errors"]) == (2, 1, 0)
    first = report["cases"][0]
    assert (first["name"], first["status"], first["line"]) == ("everest", "fail", 4)
    assert "Kilimanjaro" in first["failures"][0]
    assert first["answers"][0]["text"] == "Mount Everest is the highest mountain on Earth."
    assert first["drift"] is None  # no baseline recorded
    assert report["cases"][1]["status"] == "pass"


def test_junit_xml_reads_as_junit(project: Path) -> None:
    golden(project, BROKEN)
    out = project / "report.xml"
    code, _, _ = check(project / "g.qa.yaml", "--index-dir", project / "idx", "--junit-xml", out)
    assert code == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["everest", "saffron", "penguins"]
    assert all(float(c.get("time")) >= 0 for c in cases)
    failure = cases[0].find("failure")
    assert "Kilimanjaro" in failure.get("message")
    assert "Q: Which is the highest mountain on Earth?" in failure.text
    assert "#1 Mount Everest is the highest mountain on Earth." in failure.text
    assert any(line.startswith("got: ") for line in failure.text.splitlines())  # as in pytest
    assert cases[1].find("failure") is None and cases[2].find("failure") is None


@pytest.mark.parametrize("where", ["missing/report.xml", "a-file/report.xml"])
def test_junit_xml_into_a_missing_folder_is_refused_before_running(project: Path,
                                                                    where: str) -> None:
    golden(project, PASSING)
    (project / "a-file").write_text("not a folder")
    code, out, err = check(project / "g.qa.yaml", "--index-dir", project / "idx",
                           "--junit-xml", project / where)
    assert code == 2 and out == ""
    assert err.startswith("error: cannot write the JUnit report") and err.count("\n") == 1
    assert not (project / "idx").exists()  # no case ran


def test_a_damaged_index_is_rebuilt(project: Path) -> None:
    path = golden(project, PASSING)
    idx = project / "idx"
    assert check(path, "--index-dir", idx)[0] == 0
    for vectors in idx.rglob("*.faiss"):  # its checksum no longer matches
        vectors.write_bytes(b"garbage")
    code, out, err = check(path, "--index-dir", idx)
    assert code == 0, out
    assert err.startswith("warning: rebuilding ")


def test_a_case_that_cannot_run_is_an_error_row(project: Path) -> None:
    path = golden(project, PASSING)
    case = load_golden(path).cases[0]
    blocked = GoldenRunner(project / "idx").index_dir(case.corpus, case.spec)
    write_corpus(blocked.parent, {blocked.name: "a file where the index folder goes"})
    code, out, err = check(path, "--index-dir", project / "idx")
    assert code == 1
    rows = out.splitlines()
    assert [row.split()[0] for row in rows[:6:2]] == ["ERROR", "ERROR", "ERROR"]
    assert rows[1].strip() == f"\u21b3 cannot use the index folder {blocked}: File exists"
    assert "Traceback" not in out + err
    assert rows[-1].startswith("0 passed, 0 failed, 3 errors")


def test_update_records_a_baseline_and_later_runs_report_drift(project: Path) -> None:
    path = golden(project, PASSING)
    idx = project / "idx"
    code, _, err = check(path, "--index-dir", idx, "--update")
    assert code == 0
    baseline = project / "g.qa.baseline.json"
    assert f"baseline recorded: {baseline}" in err
    recorded = json.loads(baseline.read_text(encoding="utf-8"))
    assert set(recorded["cases"]) == {"everest", "saffron", "penguins"}
    top = recorded["cases"]["everest"]["evidence"][0]
    assert (top["text"], top["source"]) == ("Mount Everest is the highest mountain on Earth.",
                                            "news/world.txt")

    code, out, _ = check(path, "--index-dir", idx)
    assert code == 0 and "~" not in out and "drift" not in out  # nothing changed

    # The article is edited: the expectations still pass, and the drift shows.
    write_corpus(project / "news", {"world.txt": ARTICLES["world.txt"].replace(
        "Mount Everest is", "Mount Everest, in Nepal, is")})
    code, out, _ = check(path, "--index-dir", idx)
    assert code == 0
    rows = out.splitlines()
    assert rows[0].startswith("PASS") and rows[0].endswith("everest")
    assert rows[1:3] == ['       ~ lost (was #1): "Mount Everest is the highest mountain on '
                         'Earth."',
                         '       ~ gained (now #1): "Mount Everest, in Nepal, is the highest '
                         'mountain on Earth."']
    assert rows[-1].startswith("3 passed, 0 failed, 0 errors; drift in")

    code, out, _ = check(path, "--index-dir", idx, "--json")
    drift = json.loads(out)["cases"][0]["drift"]
    assert drift["lost"] == [{"rank": 1, "text": "Mount Everest is the highest mountain on "
                                                 "Earth."}]
    assert drift["gained"][0]["rank"] == 1

    golden(project, PASSING + "  - name: basil\n    question: What is basil?\n"
                              "    expect: {contains: herb, within: 2}\n")
    code, out, _ = check(path, "--index-dir", idx)
    assert code == 0
    assert out.splitlines()[-2:] == ["       ~ not in the baseline yet (--update records it)",
                                     out.splitlines()[-1]]


def test_bot_check_as_a_process(project: Path) -> None:
    golden(project, BROKEN)
    run = subprocess.run([sys.executable, "-m", "bot", "check", "g.qa.yaml", "--index-dir",
                          "idx"], cwd=project, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0].split() == ["FAIL", "g.qa.yaml:4", "everest"]
    assert "Traceback" not in run.stderr


def test_each_case_uses_its_own_corpus_and_index(project: Path) -> None:
    path = golden(project, """\
model: hashing
cases:
  - name: whole-corpus
    corpus: news
    question: Which is the highest mountain on Earth?
    expect: {contains: Everest, article: world.txt}
  - name: one-article
    corpus: news/food.txt
    question: Which is the highest mountain on Earth?
    expect: {article: food.txt, within: 1}
""")
    idx = project / "idx"
    code, out, _ = check(path, "--index-dir", idx, "--json")
    assert code == 0, out
    sources = [{Path(a["source"]).name for a in case["answers"]}
               for case in json.loads(out)["cases"]]
    assert sources == [{"world.txt", "food.txt"}, {"food.txt"}]
    assert len([p for p in idx.iterdir() if p.is_dir()]) == 2
