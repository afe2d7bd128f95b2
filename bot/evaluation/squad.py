"""SQuAD-format files as article files on disk, with each question's gold answer offsets.

Each article becomes one ``.txt`` file: its title (underscores as spaces) on the first line,
then its paragraphs separated by blank lines. An answer's ``answer_start`` (relative to its
paragraph) is mapped to an offset in that file, so the gold sentence is simply the indexed
sentence whose ``[start, end)`` contains it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import BadInput, UnreadableFile
from index.files import MiB, read_regular_file
from index.safe_text import valid_unicode

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SQUAD_BYTES = 512 * MiB  # SQuAD v1.1 train is 30 MB


@dataclass
class Question:
    """One question with the file offsets of its annotators' answer starts."""

    qid: str
    text: str
    article: int  # position of its article in the SQuAD file
    answer_starts: list[int] = field(default_factory=list)


@dataclass
class SquadArticle:
    """One article: its title and the text written to its file."""

    title: str
    text: str
    filename: str


@dataclass
class SquadSet:
    """All articles and questions of one SQuAD-format file."""

    articles: list[SquadArticle]
    questions: list[Question]  # the answerable ones
    digest: str  # of the source file, to name a reusable work directory
    unanswerable: list[Question] = field(default_factory=list)  # v2.0 ``is_impossible``
    source: str = ""  # where it was read from (for messages)
    own_candidates: bool = False  # each question comes with its own article's sentences (MAP)

    def subset(self, articles: list[int]) -> "SquadSet":
        """Only the given articles (by position) and their questions."""
        keep = {a: n for n, a in enumerate(articles)}

        def moved(questions: list[Question]) -> list[Question]:
            return [Question(q.qid, q.text, keep[q.article], q.answer_starts)
                    for q in questions if q.article in keep]

        return SquadSet([self.articles[a] for a in articles], moved(self.questions),
                        hashlib.sha256((self.digest + repr(articles)).encode()).hexdigest(),
                        moved(self.unanswerable), self.source, self.own_candidates)


def read_set_file(path: str | Path) -> bytes:
    """The bytes of the regular file ``path`` of an evaluation set (a FIFO or a device is
    refused without blocking; too large or unreadable: a one-line :class:`BadInput`)."""
    try:
        return read_regular_file(Path(path), MAX_SQUAD_BYTES)
    except UnreadableFile as exc:
        raise BadInput(f"cannot read {path}: {exc.reason}") from None


def read_json(path: str | Path) -> tuple[Any, bytes]:
    """The parsed JSON of the regular file ``path`` and its bytes (:func:`read_set_file`;
    every problem is a one-line :class:`BadInput`). The one reader of the JSON question sets:
    SQuAD, CoQA (:mod:`bot.evaluation.coqa`) and
    :func:`bot.evaluation.formats.load_question_set`."""
    raw = read_set_file(path)
    try:
        return json.loads(raw.decode("utf-8")), raw
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        first = (str(exc).splitlines() or ["nested too deeply"])[0]
        raise BadInput(f"{path} is not JSON ({first})") from None


def load_squad(path: str | Path) -> SquadSet:
    """Read a SQuAD v1.1/v2.0-format JSON file (v2.0 ``is_impossible`` questions, which their
    article does not answer, are kept apart in ``unanswerable``)."""
    data, raw = read_json(path)
    return squad_set(data, hashlib.sha256(raw).hexdigest(), path)


def squad_set(data: Any, digest: str, path: str | Path) -> SquadSet:
    """The question set of a SQuAD-format file's parsed JSON ``data`` (``digest``: of the
    file's bytes; ``path``: named in errors)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BadInput(f"{path} is not a SQuAD-format file (no 'data' list of articles)")
    articles: list[SquadArticle] = []
    questions: list[Question] = []
    unanswerable: list[Question] = []
    try:
        for number, item in enumerate(data["data"]):
            articles.append(_article(number, item, questions, unanswerable))
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        reason = " ".join(repr(exc).split())[:200]
        raise BadInput(f"{path}: malformed SQuAD article {len(articles) + 1} ({reason})") \
            from None
    if not questions:
        raise BadInput(f"{path} holds no answerable questions")
    return SquadSet(articles, questions, digest, unanswerable, str(path))


def _article(number: int, item: dict[str, Any], questions: list[Question],
             unanswerable: list[Question]) -> SquadArticle:
    title = " ".join(valid_unicode(str(item.get("title") or f"Article {number + 1}"))
                     .replace("_", " ").split())
    parts = [title]
    offset = len(title) + 2  # the title line and a blank line
    for paragraph in item["paragraphs"]:
        context = valid_unicode(str(paragraph["context"])).replace("\r", " ").replace("\n", " ")
        for qa in paragraph["qas"]:
            answers = [_answer_start(a) for a in qa.get("answers", [])]
            starts = [offset + start for start in answers if 0 <= start < len(context)]
            question = valid_unicode(str(qa["question"]))
            if not question.strip():
                continue
            if qa.get("is_impossible", False) is True:
                unanswerable.append(Question(str(qa.get("id", f"u{len(unanswerable)}")),
                                             question, number))
            elif starts:
                questions.append(Question(str(qa.get("id", len(questions))), question,
                                          number, sorted(set(starts))))
        parts.append(context)
        offset += len(context) + 2
    name = f"{number:03d}-{safe_name(title)}.txt"
    return SquadArticle(title, "\n\n".join(parts) + "\n", name)


def _answer_start(answer: dict[str, Any]) -> int:
    """An answer's ``answer_start``, which must be a whole number (``"12"`` and ``12.0`` are)."""
    value = answer["answer_start"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or \
            float(value) != int(float(value)):
        raise ValueError(f"answer_start {str(value)[:40]!r} is not an integer")
    return int(float(value))


def safe_name(title: str) -> str:
    """``title`` as a short file-name stem (letters, digits, ``._-``)."""
    return _UNSAFE.sub("_", title)[:60].strip("_") or "article"


def write_articles(squad: SquadSet, folder: Path) -> list[Path]:
    """Write each article as a ``.txt`` file in ``folder`` (unchanged files are not rewritten,
    stale ones are removed), returning the paths in article order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for article in squad.articles:
        path = folder / article.filename
        if not path.exists() or path.read_text(encoding="utf-8") != article.text:
            path.write_text(article.text, encoding="utf-8", newline="")
        paths.append(path)
    wanted = {p.name for p in paths}
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    return paths
