"""Golden question files: regression tests of answers (``bot check`` and the pytest plugin).

- :mod:`.format` reads and validates the YAML files;
- :mod:`.expectations` checks an answer against a case;
- :mod:`.runner` builds or reuses the indexes and runs cases;
- :mod:`.baseline` records ranked evidence and reports drift;
- :mod:`.report` and :mod:`.junit` print the results for people, machines and CI.
"""

from .format import Case, Expect, GoldenFile, GoldenFormatError, find_golden_files, load_golden
from .runner import CaseResult, GoldenRunner

__all__ = ["Case", "CaseResult", "Expect", "GoldenFile", "GoldenFormatError", "GoldenRunner",
           "find_golden_files", "load_golden"]
