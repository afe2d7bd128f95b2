"""Small made-up question sets in the formats the confidence model is fitted on (SQuAD v1.1,
SQuAD v2.0 with unanswerable questions, CoQA conversations, natural-question YAML files),
written here from templates."""

from __future__ import annotations

import json
from pathlib import Path

TOWNS = [("Aldmere", "Lune", 1204, "Hugh Ashby", 3, "wool", "March", "Edith Crane"),
         ("Brackwater", "Teme", 1321, "Ralph Dunn", 5, "cheese", "June", "Oswin Hale"),
         ("Corrinford", "Wyre", 1187, "Alys Fenwick", 2, "rope", "August", "Piers Quill"),
         ("Dunholt", "Ouse", 1412, "Gilbert Marsh", 7, "cider", "October", "Rowan Pike"),
         ("Elsworth", "Avon", 1266, "Maud Tarrant", 4, "glass", "May", "Simon Vale"),
         ("Farrowby", "Eden", 1350, "Walter Noyes", 6, "lace", "July", "Tamsin Roe"),
         ("Glenmoor", "Tay", 1098, "Isolde Grey", 1, "whisky", "September", "Ulric Stone"),
         ("Harwick", "Tees", 1433, "Cedric Lowe", 8, "pottery", "April", "Vera Holt")]


def town_paragraphs(town: tuple) -> list[str]:
    name, river, year, founder, bridges, product, month, mayor = town
    return [f"{name} is a market town on the river {river}. It was founded in {year} by "
            f"{founder}. The town has {bridges} stone bridges over the {river}.",
            f"{name} is known across the region for its {product}. Its annual fair is held "
            f"every {month}. The mayor of {name} is {mayor}."]


def town_questions(town: tuple) -> list[tuple[str, str]]:
    name, river, year, founder, bridges, product, month, mayor = town
    return [(f"When was {name} founded?", str(year)),
            (f"Who founded the town of {name}?", founder),
            (f"How many stone bridges does {name} have?", f"{bridges} stone bridges"),
            (f"What is {name} known for?", product),
            (f"In which month is the annual fair of {name} held?", month),
            (f"Who is the mayor of {name}?", mayor)]


def unanswerable_questions(town: tuple) -> list[str]:
    name = town[0]
    return [f"How many people live in {name} today?",
            f"What is the name of the oldest church in {name}?"]


def squad(towns: list[tuple], impossible: bool = False) -> dict:
    """A SQuAD v1.1 (or, with ``impossible``, v2.0) structure about ``towns``."""
    data = []
    for town in towns:
        paragraphs = []
        for p, context in enumerate(town_paragraphs(town)):
            qas = [{"id": f"{town[0]}-{n}", "question": q,
                    "answers": [{"text": a, "answer_start": context.index(a)}]}
                   for n, (q, a) in enumerate(town_questions(town)) if a in context]
            if impossible and p == 0:
                qas += [{"id": f"{town[0]}-u{n}", "question": q, "answers": [],
                         "is_impossible": True}
                        for n, q in enumerate(unanswerable_questions(town))]
            paragraphs.append({"context": context, "qas": qas})
        data.append({"title": town[0], "paragraphs": paragraphs})
    return {"version": "v2.0" if impossible else "1.1", "data": data}


def coqa(towns: list[tuple]) -> dict:
    """CoQA-style conversations: a question, then follow-ups that lean on it."""
    data = []
    for town in towns:
        story = " ".join(town_paragraphs(town))
        name, _, year, founder, _, product, month, mayor = town
        turns = [(f"Who founded {name}?", founder), ("When did he found it?", str(year)),
                 (f"What is {name} known for?", product), ("When is its fair held?", month),
                 ("Who is its mayor?", mayor), ("What is its population?", None)]
        questions, answers = [], []
        for n, (q, a) in enumerate(turns, start=1):
            start = story.index(a) if a else -1
            questions.append({"input_text": q, "turn_id": n})
            answers.append({"input_text": a or "unknown", "turn_id": n, "span_start": start,
                            "span_end": start + len(a) if a else -1, "span_text": a or ""})
        data.append({"source": "made-up", "story": story, "questions": questions,
                     "answers": answers})
    return {"version": "1.0", "data": data}


def natural(towns: list[tuple], folder: Path) -> Path:
    """A natural-questions YAML file about ``towns`` (one article file each, beside it): three
    answerable questions a town and one its article leaves open (``answer: null``)."""
    lines = ["questions:"]
    for town in towns:
        name, river, year, founder, bridges, product, month, mayor = town
        (folder / f"{name.lower()}.txt").write_text(
            f"{name} news\ndate 2026-01-01\n\n" + "\n\n".join(town_paragraphs(town)) + "\n",
            encoding="utf-8")
        asked = [(f"who started {name}", f"It was founded in {year}"),
                 (f"{name} bridges", f"The town has {bridges} stone bridges"),
                 (f"who runs {name} now", f"The mayor of {name} is"),
                 (f"how many shops does {name} have", None)]
        for question, fragment in asked:
            answer = "null" if fragment is None else json.dumps(fragment)
            lines.append(f"  - {{q: {json.dumps(question)}, article: {name.lower()}.txt, "
                         f"answer: {answer}}}")
    path = folder / "questions.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
