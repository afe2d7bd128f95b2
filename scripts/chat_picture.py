"""Draw ``docs/chat.svg``, the README's picture of ``bot chat``: the shipped seeds indexed with
the default model, the README's question and the welcome box's follow-up asked in a 100x30
terminal, the window saved as SVG. Rerun it after a change to the chat or to the answers.

    python scripts/chat_picture.py            # writes docs/chat.svg
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bot.chat.app import WELCOME_FOLLOW_UP, make_app

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("Who is Xiaomi's founder and CEO?", WELCOME_FOLLOW_UP)
SIZE = (100, 30)


async def draw(index_dir: Path, k: int) -> str:
    """The SVG of the chat after asking :data:`QUESTIONS` on the seeds."""
    app = make_app([ROOT / "seeds"], index_dir, k=k)
    async with app.run_test(size=SIZE) as pilot:
        while not app.ready:
            if app.error:
                raise SystemExit(f"error: {app.error}")
            await pilot.pause(0.1)
        for question in QUESTIONS:
            await pilot.click("#question")
            app.question_input.value = question
            await pilot.press("enter")
            view = list(app.turns.values())[-1]
            while view.turn is None:
                await pilot.pause(0.1)
        await pilot.press("tab")  # the follow-up's best sentence focused, as a user would
        await pilot.pause(0.5)
        return app.export_screenshot(title="bot chat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "chat.svg")
    parser.add_argument("-k", type=int, default=2, help="sentences shown per answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        svg = asyncio.run(draw(Path(scratch) / "index", args.k))
    args.out.write_text(svg, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
