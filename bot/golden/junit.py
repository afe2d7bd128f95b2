"""JUnit XML for CI systems: one ``<testsuite>`` per golden file, one ``<testcase>`` per case."""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from ..atomic_file import write_atomically
from ..citation import display_path
from .report import details
from .runner import CaseResult

# Characters XML 1.0 cannot carry at all, even escaped.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def junit_xml(results: list[CaseResult], seconds: float) -> ET.ElementTree:
    """The JUnit document for ``results`` (grouped by golden file, in run order)."""
    files: dict[str, list[CaseResult]] = {}
    for result in results:
        files.setdefault(str(result.case.file), []).append(result)
    root = ET.Element("testsuites", name="bot check", tests=str(len(results)),
                      failures=str(sum(r.status == "fail" for r in results)),
                      errors=str(sum(r.status == "error" for r in results)),
                      time=f"{seconds:.3f}")
    stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    for file, group in files.items():
        suite = ET.SubElement(
            root, "testsuite", name=_clean(display_path(file)), tests=str(len(group)),
            failures=str(sum(r.status == "fail" for r in group)),
            errors=str(sum(r.status == "error" for r in group)), skipped="0",
            time=f"{sum(r.seconds for r in group):.3f}", timestamp=stamp,
            hostname=_clean(socket.gethostname()))
        for result in group:
            _testcase(suite, result)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(results: list[CaseResult], seconds: float, path: str | Path) -> None:
    """Write the JUnit document to ``path`` atomically (UTF-8, with an XML declaration)."""
    document = ET.tostring(junit_xml(results, seconds).getroot(), encoding="utf-8",
                           xml_declaration=True)
    write_atomically(path, document)


def _testcase(suite: ET.Element, result: CaseResult) -> None:
    case = result.case
    classname = case.file.name.removesuffix(".yaml").removesuffix(".yml")
    element = ET.SubElement(suite, "testcase", classname=_clean(classname),
                            name=_clean(case.name), file=_clean(display_path(str(case.file))),
                            line=str(case.line), time=f"{result.seconds:.3f}")
    if result.error:
        error = ET.SubElement(element, "error", message=_clean(result.error), type="error")
        error.text = _clean("\n".join(details(result)))
    elif result.failures:
        failure = ET.SubElement(element, "failure", message=_clean(result.failures[0]),
                                type="expectation")
        failure.text = _clean("\n".join(details(result)))
    if result.drift:
        out = ET.SubElement(element, "system-out")
        out.text = _clean("drift against the baseline:\n" + "\n".join(result.drift.lines()))


def _clean(text: str) -> str:
    return _ILLEGAL.sub("\ufffd", text)
