"""Golden question files: the YAML format, read and validated with ``file:line`` errors.

A golden file holds many cases; each asks one question and states what the answer must be::

    corpus: ../../seeds          # optional: article files/folders (relative to this file)
                                 # or feed/page URLs
    k: 5                         # optional: how many ranked sentences to fetch and record
    filters: {since: 2022}       # optional: only these articles (since, until, source)
    cases:
      - name: founder            # optional (default: the question)
        question: Who is Xiaomi's founder and CEO?
        expect:
          contains: Lei Jun      # a sentence containing this phrase (or all phrases of a list)
          within: 1              # ... ranks in the top 1 (the default)
          abstain: false         # and the bot answers (true: it must NOT answer)
      - question: What did Leica say?
        filters: {source: "*leica*"}   # a case's own filters replace the file's
        expect: {contains: Leica}
      - name: leica-before-xiaomi  # a dialogue: each turn read with the earlier ones
        turns:
          - question: Who did Leica partner with before Xiaomi?
            expect: {contains: Huawei}
          - question: When did it end?
            expect: {contains: expired in 2021}

A case with ``turns`` becomes one case per turn (named ``NAME · turn N``), each asked in a
conversation after the earlier turns' questions.

Every mapping is checked for unknown keys and wrong types; duplicate keys are errors too (plain
YAML loading would keep the last one silently). Line numbers come from PyYAML's node marks.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from index.embed.encoders import BACKENDS, EncoderSpec
from index.errors import BadInput, UnreadableFile
from index.files import MiB, read_regular_file
from index.ingest.limited_yaml import LimitedLoader
from index.ingest.sources import is_url
from index.search.filters import NO_FILTER, ArticleFilter, BadFilter

from ..cli import SEEDS_DIR
from ..questions import MAX_K

from .names import is_golden_file  # noqa: F401 - part of this module's API
DEFAULT_CORPUS = SEEDS_DIR
DEFAULT_K = 5  # a golden file's own default: sentences fetched and recorded per case
MAX_GOLDEN_BYTES = 16 * MiB  # thousands of cases; YAML is loaded without aliases, 32 levels

FILE_KEYS = ("cases", "corpus", "k", "model", "backend", "description", "filters")
CASE_KEYS = ("name", "question", "expect", "turns", "corpus", "k", "model", "backend",
             "filters")
TURN_KEYS = ("question", "expect")
EXPECT_KEYS = ("contains", "equals", "article", "within", "abstain")


class GoldenFormatError(BadInput):
    """A golden file that cannot be used; the message starts with ``file:line:``."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class Expect:
    """What one case requires of the answer (``None`` = not checked)."""

    contains: tuple[str, ...] = ()
    equals: str | None = None
    article: str | None = None
    within: int = 1
    abstain: bool | None = None

    @property
    def wants_sentence(self) -> bool:
        """True when some ranked sentence must match ``contains``/``equals``/``article``."""
        return bool(self.contains) or self.equals is not None or self.article is not None


@dataclass(frozen=True)
class Case:
    """One question with its expectations and the index it is asked against."""

    name: str
    question: str
    expect: Expect
    corpus: tuple[Path | str, ...]  # paths, and URLs as they were written
    k: int
    spec: EncoderSpec
    file: Path
    line: int
    filters: ArticleFilter = NO_FILTER
    earlier: tuple[str, ...] = ()  # a dialogue's turn: the questions asked before it, in order
    dialogue: str | None = None  # a dialogue's turn: the name of the dialogue

    @property
    def fetch(self) -> int:
        """How many ranked sentences to ask for: ``k``, or more if ``within`` needs them."""
        return max(self.k, self.expect.within)


@dataclass
class GoldenFile:
    """A parsed golden file: its cases in file order."""

    path: Path
    cases: list[Case] = field(default_factory=list)
    description: str | None = None


def find_golden_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named explicitly (any ``.yaml``/``.yml``) plus ``*.qa.yaml`` below folders."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            below = sorted(p for p in path.rglob("*")
                           if p.is_file() and is_golden_file(p)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not below:
                raise BadInput(f"{raw}: no golden files (*.qa.yaml) in this folder")
            found.extend(below)
        elif path.is_file():
            found.append(path)
        elif path.exists():  # a FIFO or device: named, never opened
            raise BadInput(f"{raw}: not a regular file")
        else:
            raise BadInput(f"no such file or directory: {raw}")
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.abspath(path), path)
    return list(unique.values())


def load_golden(path: str | Path) -> GoldenFile:
    """Read and validate one golden file (raises :class:`GoldenFormatError`)."""
    path = Path(path)
    try:
        text = read_regular_file(path, MAX_GOLDEN_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise GoldenFormatError(path, None, "not UTF-8 text") from None
    except UnreadableFile as exc:  # missing, a FIFO, too large, ...
        raise GoldenFormatError(path, None, exc.reason) from None
    return parse_golden(text, path)


def parse_golden(text: str, path: Path) -> GoldenFile:
    """Validate the YAML ``text`` of the golden file at ``path``."""
    return _Parser(path).parse(text)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = Path(os.path.abspath(path)).parent

    def error(self, node: yaml.Node | None, message: str) -> GoldenFormatError:
        return GoldenFormatError(self.path, _line(node), message)

    def parse(self, text: str) -> GoldenFile:
        try:
            documents = list(yaml.compose_all(text, Loader=LimitedLoader))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
            raise GoldenFormatError(self.path, line, f"invalid YAML: {reason}") from None
        except yaml.YAMLError as exc:
            raise GoldenFormatError(self.path, None, f"invalid YAML: {exc}") from None
        documents = [d for d in documents if d is not None]
        if not documents:
            raise GoldenFormatError(self.path, None, "empty golden file (expected 'cases:')")
        if len(documents) > 1:
            raise self.error(documents[1], "more than one YAML document; put all cases under "
                                           "one 'cases:' list")
        root = documents[0]
        top = self.mapping(root, FILE_KEYS, "the golden file")
        if "cases" not in top:
            raise self.error(root, "missing 'cases:' (a list of questions with expectations)")
        defaults = {
            "corpus": self.corpus(top["corpus"]) if "corpus" in top else (DEFAULT_CORPUS,),
            "k": self.integer(top["k"], "k", 1, MAX_K) if "k" in top else DEFAULT_K,
            "model": self.text(top["model"], "model") if "model" in top else None,
            "backend": self.backend(top["backend"]) if "backend" in top else None,
            "filters": self.filters(top["filters"]) if "filters" in top else NO_FILTER,
        }
        description = self.text(top["description"], "description") \
            if "description" in top else None
        cases_node = top["cases"][1]
        if not isinstance(cases_node, yaml.SequenceNode) or not cases_node.value:
            raise self.error(cases_node, "'cases' must be a non-empty list of cases")
        golden = GoldenFile(self.path, description=description)
        names: dict[str, int] = {}
        for number, node in enumerate(cases_node.value, start=1):
            for case in self.cases(node, number, defaults):
                if case.name in names:
                    raise self.error(node, f"duplicate case name '{case.name}' (first on line "
                                           f"{names[case.name]}); give one of them a 'name:'")
                names[case.name] = case.line
                golden.cases.append(case)
        return golden

    def cases(self, node: yaml.Node, number: int, defaults: dict[str, Any]) -> list[Case]:
        """The case at ``node``: one, or one per turn of a dialogue (``turns:``)."""
        what = f"case {number}"
        keys = self.mapping(node, CASE_KEYS, what)
        if "turns" not in keys:
            return [self.case(node, keys, what, defaults)]
        for key in ("question", "expect"):
            if key in keys:
                raise self.error(keys[key][0], f"{what} has 'turns:', so its '{key}:' belongs "
                                               "in a turn")
        turns_node = keys["turns"][1]
        if not isinstance(turns_node, yaml.SequenceNode) or not turns_node.value:
            raise self.error(turns_node, "'turns' must be a non-empty list of turns "
                                         "(question and expect)")
        cases: list[Case] = []
        dialogue = self.text(keys["name"], "name") if "name" in keys else None
        for n, turn_node in enumerate(turns_node.value, start=1):
            turn_what = f"turn {n} of {what}"
            turn_keys = self.mapping(turn_node, TURN_KEYS, turn_what)
            if dialogue is None and "question" in turn_keys:
                dialogue = " ".join(self.text(turn_keys["question"], "question").split())
            case = self.case(turn_node, {**keys, **turn_keys}, turn_what, defaults,
                             name=f"{dialogue} · turn {n}")
            cases.append(replace(case, earlier=tuple(c.question for c in cases),
                                 dialogue=dialogue))
        return cases

    def case(self, node: yaml.Node, keys: dict[str, tuple[yaml.Node, yaml.Node]], what: str,
             defaults: dict[str, Any], name: str | None = None) -> Case:
        """One question with its expectations (``name``: given by its dialogue)."""
        if "question" not in keys:
            raise self.error(node, f"{what} has no 'question:'")
        question = self.text(keys["question"], "question")
        if "expect" not in keys:
            raise self.error(node, f"{what} has no 'expect:' (e.g. contains, equals, "
                                   "article, within, abstain)")
        expect = self.expect(keys["expect"], what)
        if name is None and "name" in keys:
            name = self.text(keys["name"], "name")
        name = name or " ".join(question.split())
        model = self.text(keys["model"], "model") if "model" in keys else defaults["model"]
        backend = self.backend(keys["backend"]) if "backend" in keys else defaults["backend"]
        try:
            spec = EncoderSpec.from_env(model, backend)
        except BadInput as exc:
            raise self.error(node, str(exc)) from None
        return Case(
            name=name, question=question, expect=expect,
            corpus=self.corpus(keys["corpus"]) if "corpus" in keys else defaults["corpus"],
            k=self.integer(keys["k"], "k", 1, MAX_K) if "k" in keys else defaults["k"],
            spec=spec, file=self.path, line=_line(node) or 0,
            filters=self.filters(keys["filters"]) if "filters" in keys else defaults["filters"])

    def expect(self, entry: tuple[yaml.Node, yaml.Node], what: str) -> Expect:
        _, node = entry
        keys = self.mapping(node, EXPECT_KEYS, f"the 'expect' of {what}")
        contains: tuple[str, ...] = ()
        if "contains" in keys:
            value_node = keys["contains"][1]
            if isinstance(value_node, yaml.SequenceNode):
                if not value_node.value:
                    raise self.error(value_node, "'contains' must not be an empty list")
                contains = tuple(self.text((keys["contains"][0], item), "contains")
                                 for item in value_node.value)
            else:
                contains = (self.text(keys["contains"], "contains"),)
        expect = Expect(
            contains=contains,
            equals=self.text(keys["equals"], "equals") if "equals" in keys else None,
            article=self.text(keys["article"], "article") if "article" in keys else None,
            within=self.integer(keys["within"], "within", 1, MAX_K) if "within" in keys else 1,
            abstain=self.boolean(keys["abstain"], "abstain") if "abstain" in keys else None)
        if not expect.wants_sentence and expect.abstain is None:
            raise self.error(node, f"the 'expect' of {what} checks nothing: give contains, "
                                   "equals, article or abstain")
        if "within" in keys and not expect.wants_sentence:
            raise self.error(keys["within"][0], "'within' needs 'contains', 'equals' or "
                                                "'article' (which sentence must rank there)")
        return expect

    # -- typed values -------------------------------------------------------------------
    def mapping(self, node: yaml.Node, allowed: tuple[str, ...],
                what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """``{key: (key node, value node)}``; unknown and duplicate keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping of 'key: value' lines, "
                                   f"not {_kind(node)}")
        keys: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                raise self.error(key_node, f"keys in {what} must be plain words")
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise self.error(key_node, f"unknown key '{key}' in {what} ({suggestion}"
                                           f"allowed: {', '.join(allowed)})")
            if key in keys:
                raise self.error(key_node, f"duplicate key '{key}' in {what} (first on line "
                                           f"{_line(keys[key][0])})")
            keys[key] = (key_node, value_node)
        return keys

    def value(self, node: yaml.Node) -> Any:
        loader = LimitedLoader("")
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.error(node, f"invalid value: {' '.join(str(exc).split())}") from None
        finally:
            loader.dispose()

    def text(self, entry: tuple[yaml.Node, yaml.Node], key: str) -> str:
        node = entry[1]
        value = self.value(node)
        if not isinstance(node, yaml.ScalarNode) or not isinstance(value, str):
            raise self.error(node, f"'{key}' must be text, not {_kind(node, value)}")
        if not value.strip():
            raise self.error(node, f"'{key}' must not be empty")
        return value

    def integer(self, entry: tuple[yaml.Node, yaml.Node], key: str, low: int, high: int) -> int:
        node = entry[1]
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, f"'{key}' must be a whole number, not {_kind(node, value)}")
        if not low <= value <= high:
            raise self.error(node, f"'{key}' must be between {low} and {high}, not {value}")
        return value

    def boolean(self, entry: tuple[yaml.Node, yaml.Node], key: str) -> bool:
        node = entry[1]
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.error(node, f"'{key}' must be true or false, not {_kind(node, value)}")
        return value

    def filters(self, entry: tuple[yaml.Node, yaml.Node]) -> ArticleFilter:
        """``{since, until, source}`` as for ``bot ask`` (a YAML date is taken as written)."""
        node = entry[1]
        value = self.value(node)
        if isinstance(value, dict):
            value = {k: v.isoformat() if hasattr(v, "isoformat") else v
                     for k, v in value.items()}
        try:
            return ArticleFilter.from_json(value)
        except BadFilter as exc:
            raise self.error(node, f"'filters': {exc}") from None

    def backend(self, entry: tuple[yaml.Node, yaml.Node]) -> str:
        value = self.text(entry, "backend")
        if value not in BACKENDS:
            raise self.error(entry[1], f"unknown backend '{value}' (choose from "
                                       f"{', '.join(BACKENDS)})")
        return value

    def corpus(self, entry: tuple[yaml.Node, yaml.Node]) -> tuple[Path | str, ...]:
        node = entry[1]
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            raise self.error(node, "'corpus' must not be an empty list")
        paths: list[Path | str] = []
        for item in items:
            raw = self.text((entry[0], item), "corpus")
            if is_url(raw):
                paths.append(raw)  # a feed or page, fetched when the corpus is indexed
                continue
            path = Path(os.path.abspath(self.base / Path(raw).expanduser()))
            if not path.exists():
                raise self.error(item, f"corpus path does not exist: {raw} "
                                       f"(paths are relative to the golden file)")
            paths.append(path)
        return tuple(paths)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None and node.start_mark else None


def _kind(node: yaml.Node, value: Any = None) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if value is None:
        return "empty"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    return f"{names.get(type(value), type(value).__name__)} ({node.value!r})"
