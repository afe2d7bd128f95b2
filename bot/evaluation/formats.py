"""Question sets in other formats, read as a :class:`~bot.evaluation.squad.SquadSet`.

``bot eval`` measures every set the same way (index the articles, ask the questions, a hit is a
returned sentence holding a gold offset); only the reading differs:

- SQuAD v1.1/v2.0 JSON (:func:`bot.evaluation.squad.load_squad`);
- CoQA JSON (``{"data": [{"story", "questions", "answers"}]}``): each story is an article, each
  turn whose rationale is in the story a question, gold = the sentences the rationale touches;
- WikiQA TSV (``QuestionID``, ``Question``, ``DocumentID``, ``DocumentTitle``, ``Sentence``,
  ``Label``): each document is an article (its title line, its sentences as one paragraph),
  each question with a ``Label`` 1 sentence a question; its own candidates are its document's
  sentences (``own_candidates``: ranked alone too, for MAP);
- a natural-questions YAML file (``questions.yaml`` beside article ``.txt`` files): each
  question names its article file and a fragment of the sentence that answers it.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, cast

from index.errors import BadInput

from .coqa import CoqaSet, coqa_dialogues, is_coqa
from .squad import (Question, SquadArticle, SquadSet, read_json, read_set_file, safe_name,
                    squad_set)

COQA_MIN_WORDS = 1  # turns kept by default (all); the reranker's data keeps self-contained ones


def load_question_set(path: str | Path) -> SquadSet:
    """Read ``path`` in whichever format it is (by extension, then by content); a CoQA file's
    turns as standalone questions (:func:`coqa_set`)."""
    return cast(SquadSet, load_eval_set(path, dialogues=False))


def load_eval_set(path: str | Path, dialogues: bool = True) -> SquadSet | CoqaSet:
    """What ``bot eval`` asks from ``path``, read once: a CoQA file's dialogues, turn by turn
    (:func:`bot.evaluation.coqa.coqa_dialogues`; ``dialogues=False``: its turns as standalone
    questions), else its questions."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return load_wikiqa(path)
    if suffix in {".yaml", ".yml"}:
        return load_natural(path)
    data, raw = read_json(path)
    digest = hashlib.sha256(raw).hexdigest()
    if not is_coqa(data):
        return squad_set(data, digest, path)
    return coqa_dialogues(data, digest, path) if dialogues else \
        coqa_set(data["data"], digest, str(path))


def coqa_set(items: list[dict[str, Any]], digest: str, source: str = "CoQA",
             min_words: int = COQA_MIN_WORDS) -> SquadSet:
    """CoQA stories as articles and their turns (with at least ``min_words`` words and a
    rationale in the story) as questions; gold offsets: the rationale's first and last
    characters."""
    articles: list[SquadArticle] = []
    questions: list[Question] = []
    try:
        for number, item in enumerate(items):
            title = f"{item.get('source', 'story')} story {number + 1}"
            story = str(item["story"])
            offset = len(title) + 2
            for q, a in zip(item["questions"], item["answers"]):
                start, end = int(a.get("span_start", -1)), int(a.get("span_end", -1))
                text = str(q["input_text"]).strip()
                if start < 0 or end <= start or end > len(story) or \
                        len(text.split()) < min_words:
                    continue
                while start < end and story[start].isspace():
                    start += 1
                while end > start and story[end - 1].isspace():
                    end -= 1
                questions.append(Question(f"{number}-{q.get('turn_id')}", text, number,
                                          sorted({offset + start, offset + end - 1})))
            articles.append(SquadArticle(title, f"{title}\n\n{story}\n",
                                         f"{number:03d}-{safe_name(title)}.txt"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadInput(f"{source}: malformed CoQA story {len(articles) + 1} ({exc!r})") \
            from None
    if not questions:
        raise BadInput(f"{source} holds no answerable questions")
    return SquadSet(articles, questions, digest, source=source)


def load_wikiqa(path: Path) -> SquadSet:
    """WikiQA's TSV: documents as articles, questions with an answering sentence."""
    raw = read_set_file(path)
    try:
        rows = list(csv.DictReader(raw.decode("utf-8").splitlines(), delimiter="\t",
                                   quoting=csv.QUOTE_NONE))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path} is not a WikiQA TSV file ({exc})") from None
    needed = {"QuestionID", "Question", "DocumentID", "DocumentTitle", "Sentence", "Label"}
    if not rows or not needed <= set(rows[0]):
        raise BadInput(f"{path} is not a WikiQA TSV file (columns {', '.join(sorted(needed))})")
    documents: dict[str, tuple[str, list[str]]] = {}
    asked: dict[str, tuple[str, str, set[int]]] = {}
    for row in rows:
        title, sentences = documents.setdefault(row["DocumentID"],
                                                (row["DocumentTitle"].strip(), []))
        position = len(sentences)
        sentence = " ".join(row["Sentence"].split())
        if row["QuestionID"] in asked and asked[row["QuestionID"]][1] != row["DocumentID"]:
            continue
        _, _, labelled = asked.setdefault(row["QuestionID"],
                                          (row["Question"].strip(), row["DocumentID"], set()))
        if sentence and position == len(sentences):
            sentences.append(sentence)
        if row["Label"].strip() == "1" and sentence:
            labelled.add(sentences.index(sentence))
    articles, starts_of = [], {}
    for number, (doc, (title, sentences)) in enumerate(documents.items()):
        offset, starts = len(title) + 2, []
        for sentence in sentences:
            starts.append(offset)
            offset += len(sentence) + 1
        starts_of[doc] = (number, starts)
        articles.append(SquadArticle(title, f"{title}\n\n{' '.join(sentences)}\n",
                                     f"{number:03d}-{safe_name(title)}.txt"))
    questions = [Question(qid, text, starts_of[doc][0],
                          sorted(starts_of[doc][1][i] for i in labelled))
                 for qid, (text, doc, labelled) in asked.items() if labelled]
    return SquadSet(articles, questions, hashlib.sha256(raw).hexdigest(), source=str(path),
                    own_candidates=True)


def load_natural(path: Path) -> SquadSet:
    """A YAML file of questions about article files beside it::

        articles: [a.txt, b.txt]          # optional; default: every file a question names
        questions:
          - q: Who runs Xiaomi?
            article: a.txt
            answer: Lei Jun, the company's founder   # a fragment of the answering sentence
          - q: How much does the phone cost?
            article: a.txt
            answer: null      # on topic, but the article does not say (v2.0's is_impossible)

    Questions with ``answer: null`` go to ``unanswerable``, which ``bot eval`` asks and counts
    as it does SQuAD v2.0's; a question without an ``answer`` key is an error, not one of them.
    """
    import yaml

    raw = read_set_file(path)
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
        entries = data["questions"]
        names = list(data.get("articles") or dict.fromkeys(e["article"] for e in entries))
    except (UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise BadInput(f"{path} is not a natural-questions file ({exc})") from None
    texts = {}
    for name in names:
        article_path = path.parent / name
        texts[name] = read_set_file(article_path).decode("utf-8").replace("\r\n", "\n")
    articles = [SquadArticle(Path(n).stem, texts[n], f"{i:03d}-{safe_name(Path(n).stem)}.txt")
                for i, n in enumerate(names)]
    questions, unanswerable = [], []
    for number, entry in enumerate(entries):
        name = entry.get("article") if isinstance(entry, dict) else None
        if name not in texts:
            raise BadInput(f"{path}: question {number + 1} names no listed article")
        if "answer" not in entry or "q" not in entry:
            raise BadInput(f"{path}: question {number + 1} has no "
                           f"'{'q' if 'q' not in entry else 'answer'}' (null if unanswered)")
        if entry["answer"] is None:
            unanswerable.append(Question(str(number + 1), str(entry["q"]), names.index(name)))
            continue
        fragments = entry["answer"] if isinstance(entry["answer"], list) else [entry["answer"]]
        starts = []
        for fragment in fragments:
            at = texts[name].find(str(fragment))
            if at < 0:
                raise BadInput(f"{path}: question {number + 1}: '{fragment}' is not in {name}")
            starts.append(at)
        questions.append(Question(str(number + 1), str(entry["q"]), names.index(name), starts))
    if not questions:
        raise BadInput(f"{path} holds no answerable questions")
    return SquadSet(articles, questions, hashlib.sha256(raw + b"".join(
        t.encode() for t in texts.values())).hexdigest(), unanswerable, source=str(path))
