"""The project's own golden files run through the plugin with the real model (slow tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.pytest_plugin import GoldenItem

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def golden_encoders(real_encoder) -> list:
    """Share the session's real model with the golden runner (loaded once)."""
    return [real_encoder]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Golden cases here use the real model: mark them slow (``-m 'not slow'`` skips them)."""
    for item in items:
        if isinstance(item, GoldenItem) and HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
