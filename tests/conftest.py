"""Options shared by every test folder."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden files from the current model")


PROCESS_FIXTURES = frozenset({"server_factory"})
"""Fixtures that start a real server process: a test using one is ``slow``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The edit-loop lane, ``pytest -m "not slow"``, leaves out every test that starts a
    real server process (by its fixtures) besides those marked ``slow`` by hand (browsers,
    Locust, long simulations); CI runs them all."""
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
