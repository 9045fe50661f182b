"""``apps create``, key storage and versioned migrations, on both stores."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys

import httpx
from service_helpers import ROOT

from sim.service.settings import Settings
from sim.service.storage.migrations import POSTGRES, SQLITE
from sim.service.storage.store import open_store


def test_apps_create_prints_id_and_key(db_url, server_factory):
    out = subprocess.run([sys.executable, "-m", "sim", "apps", "create", "shop",
                          "--clock", "client", "--db", db_url], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    created = json.loads(out)
    assert set(created) == {"app_id", "name", "clock", "api_key"}
    assert created["name"] == "shop" and created["clock"] == "client"
    s = server_factory(db_url)
    r = httpx.get(s.url + "/v1/app", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert r.json() == {"app_id": created["app_id"], "name": "shop", "clock": "client"}
    if not db_url.startswith("postgresql"):
        conn = sqlite3.connect(db_url)
        stored = conn.execute("SELECT key_hash FROM apps").fetchall()
        conn.close()
        assert stored == [(hashlib.sha256(created["api_key"].encode()).hexdigest(),)]


def test_migrations_are_versioned_and_idempotent(db_url):
    async def versions() -> tuple[list[int], str]:
        store = open_store(Settings(db=db_url))
        await store.open()
        try:
            if store.kind == "sqlite":
                rows = store.conn.execute(  # type: ignore[attr-defined]
                    "SELECT version FROM schema_migrations ORDER BY version").fetchall()
            else:
                rows = await store.pool.fetch(  # type: ignore[attr-defined]
                    "SELECT version FROM schema_migrations ORDER BY version")
            return [r[0] for r in rows], store.kind
        finally:
            await store.close()

    first, kind = asyncio.run(versions())
    again, _ = asyncio.run(versions())  # a second start applies nothing new
    expected = [m[0] for m in (SQLITE if kind == "sqlite" else POSTGRES)]
    assert first == again == expected


def test_sqlite_store_uses_wal(sqlite_url):
    async def run() -> None:
        store = open_store(Settings(db=sqlite_url))
        await store.open()
        await store.close()

    asyncio.run(run())
    conn = sqlite3.connect(sqlite_url)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_a_search_path_schema_that_does_not_exist_is_created(pg_url):
    """Issue 26 item 5: the documented ``?search_path=promptsim`` on a fresh database failed
    with PostgreSQL's "no schema has been selected to create in"; the schema is created, the
    tables go into it, and ``promptsim serve`` says where they went."""
    from service_helpers import free_port

    schema = pg_url.rsplit("search_path=", 1)[1]

    async def drop_then_open() -> tuple[str | None, list[str]]:
        import asyncpg

        conn = await asyncpg.connect(pg_url.split("?")[0])
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")  # as on a fresh database
        finally:
            await conn.close()
        store = open_store(Settings(db=pg_url))
        await store.open()
        try:
            rows = await store.pool.fetch(  # type: ignore[attr-defined]
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                schema)
            return store.schema, sorted(r[0] for r in rows)  # type: ignore[attr-defined]
        finally:
            await store.close()

    where, names = asyncio.run(drop_then_open())
    assert where == schema
    assert {"apps", "campaigns", "devices", "events", "schema_migrations"} <= set(names)
    proc = subprocess.Popen([sys.executable, "-m", "sim", "serve", "--db", pg_url, "--port",
                             str(free_port())], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert f"?search_path={schema} (tables in schema {schema}) on http://" in first


def test_browser_answers_are_stored_once_each(db_url):
    """The answers to Chrome's prompt of one browser (``browser_answers``, migration 6 on
    SQLite, 8 on PostgreSQL): 20 writers at once store overlapping batches (a retried batch,
    two workers storing the same answer), and each answer (device and event id) is stored
    once, read back oldest first; another browser and another app see none of them."""
    async def run() -> tuple[list[tuple[float, str]], list[tuple[float, str]],
                             list[tuple[float, str]]]:
        store = open_store(Settings(db=db_url))
        await store.open()
        try:
            app = (await store.create_app("shop", "client")).app_id
            other = (await store.create_app("other", "client")).app_id
            rows = [(f"d{i % 3}", f"e{i}", float(10 - i), "denied" if i % 2 else "allowed")
                    for i in range(6)]
            await asyncio.gather(*(store.add_browser_answers(app, "b1", rows[k % 4:])
                                   for k in range(20)))
            return (await store.browser_answers(app, "b1"),
                    await store.browser_answers(app, "b2"),
                    await store.browser_answers(other, "b1"))
        finally:
            await store.close()

    got, other_browser, other_app = asyncio.run(run())
    assert got == [(float(10 - i), "denied" if i % 2 else "allowed") for i in reversed(range(6))]
    assert other_browser == other_app == []
