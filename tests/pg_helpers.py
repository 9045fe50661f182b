"""The PostgreSQL server the tests use: its URL, one statement on it, whether it answers.

A plain module, not fixtures: the service tests (``tests/service/conftest.py``) and the
load tests (``tests/loadtest``) each keep their own fixtures and import these, so no
fixture moves into ``tests/conftest.py`` and no xdist grouping changes. PostgreSQL tests
skip when the server does not answer, except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

PG_BASE = os.environ.get("PROMPTSIM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
"""The database the tests make their schemas in (trust auth)."""


def execute(sql: str) -> None:
    """Run one statement on :data:`PG_BASE` over a connection of its own."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_BASE, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def available() -> bool:
    """Whether PostgreSQL answers; under ``CI`` its absence fails the calling test."""
    try:
        execute("SELECT 1")
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but PostgreSQL at {PG_BASE} is unreachable: {exc!r}")
        return False
    return True


def skip_unless(answers: bool) -> None:
    """Skip the calling test unless PostgreSQL answers (:func:`available`)."""
    if not answers:
        pytest.skip(f"PostgreSQL at {PG_BASE} is unreachable (set CI to make this fail)")


def schema_name() -> str:
    """A new schema name no other test uses (the schema itself is not made)."""
    return f"promptsim_test_{uuid.uuid4().hex[:12]}"
