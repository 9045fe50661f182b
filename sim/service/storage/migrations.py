"""Versioned schema migrations, a list of SQL steps per backend.

Each migration is ``(version, name, statements)``. ``schema_migrations`` records
the versions applied; at start the store applies the missing ones in order,
each in its own transaction, under a lock so that two workers starting at once
do not both migrate. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sim.service.storage import (
    experiment_aggregates,
    experiment_triggers_v1,
    experiment_triggers_v2,
)

Migration = tuple[int, str, tuple[str, ...]]

SQLITE: tuple[Migration, ...] = (
    (1, "initial schema", (
        """CREATE TABLE apps (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, clock TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE, policy_version INTEGER NOT NULL DEFAULT 0,
            settings BLOB, created_at REAL NOT NULL)""",
        """CREATE TABLE campaigns (
            app_id TEXT NOT NULL REFERENCES apps(id), campaign_id TEXT NOT NULL,
            doc BLOB NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (app_id, campaign_id)) WITHOUT ROWID""",
        """CREATE TABLE devices (
            app_id TEXT NOT NULL REFERENCES apps(id), device_id TEXT NOT NULL,
            user_id TEXT NOT NULL, doc BLOB NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (app_id, device_id)) WITHOUT ROWID""",
        "CREATE INDEX devices_by_user ON devices (app_id, user_id)",
        """CREATE TABLE events (
            app_id TEXT NOT NULL, device_id TEXT NOT NULL, event_id TEXT NOT NULL,
            kind TEXT NOT NULL, at REAL, received_at REAL NOT NULL,
            campaign_id TEXT, detail TEXT,
            PRIMARY KEY (app_id, device_id, event_id)) WITHOUT ROWID""",
        "CREATE INDEX events_by_campaign ON events (app_id, campaign_id, kind, detail)",
    )),
    (2, "health probe", (
        "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, at REAL NOT NULL)",
    )),
    (3, "experiments and their assignments", (
        """CREATE TABLE experiments (
            app_id TEXT NOT NULL REFERENCES apps(id), experiment_id TEXT NOT NULL,
            doc BLOB NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (app_id, experiment_id)) WITHOUT ROWID""",
        """CREATE TABLE assignments (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, device_id TEXT NOT NULL,
            unit_id TEXT NOT NULL, arm TEXT NOT NULL, platform TEXT NOT NULL,
            profile TEXT NOT NULL, cohort_day TEXT NOT NULL, at REAL NOT NULL,
            PRIMARY KEY (app_id, experiment_id, device_id)) WITHOUT ROWID""",
        "CREATE INDEX assignments_by_unit ON assignments (app_id, experiment_id, unit_id, at)",
        # experiments.state_key of the document, written with it (null: written before)
        "ALTER TABLE devices ADD COLUMN state_key TEXT",
    )),
    (4, "experiment stats kept by triggers", experiment_triggers_v1.SQLITE),
    (5, "a moved end rescans only the units seen since", experiment_triggers_v2.SQLITE),
    (6, "answers to Chrome's prompt per browser", (
        # ops.browser_quiet: Chrome's adaptive quiet UI counts them across the app's origins.
        """CREATE TABLE browser_answers (
            app_id TEXT NOT NULL, browser_id TEXT NOT NULL, device_id TEXT NOT NULL,
            event_id TEXT NOT NULL, at REAL NOT NULL, outcome TEXT NOT NULL,
            PRIMARY KEY (app_id, browser_id, device_id, event_id)) WITHOUT ROWID""",
    )),
)
"""SQLite migrations."""

POSTGRES: tuple[Migration, ...] = (
    (1, "initial schema", (
        """CREATE TABLE apps (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, clock TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE, policy_version BIGINT NOT NULL DEFAULT 0,
            settings BYTEA, created_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE campaigns (
            app_id TEXT NOT NULL REFERENCES apps(id), campaign_id TEXT NOT NULL,
            doc BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (app_id, campaign_id))""",
        """CREATE TABLE devices (
            app_id TEXT NOT NULL REFERENCES apps(id), device_id TEXT NOT NULL,
            user_id TEXT NOT NULL, doc BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (app_id, device_id))""",
        "CREATE INDEX devices_by_user ON devices (app_id, user_id)",
        """CREATE TABLE events (
            app_id TEXT NOT NULL, device_id TEXT NOT NULL, event_id TEXT NOT NULL,
            kind TEXT NOT NULL, at DOUBLE PRECISION, received_at DOUBLE PRECISION NOT NULL,
            campaign_id TEXT, detail TEXT,
            PRIMARY KEY (app_id, device_id, event_id))""",
        "CREATE INDEX events_by_campaign ON events (app_id, campaign_id, kind, detail)",
    )),
    (2, "change feed, device revisions", (
        # storage/pg_feed.py: per serving process, how many change transactions it
        # committed, and what each changed; every worker's record cache checks them.
        # storage/pg_commit.py: a write from a cached record checks its revision.
        "ALTER TABLE devices ADD COLUMN rev BIGINT NOT NULL DEFAULT 0",
        """CREATE TABLE change_writers (
            writer TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL, n BIGINT NOT NULL,
            at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE change_log (
            writer TEXT NOT NULL, n BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL,
            keys TEXT NOT NULL, PRIMARY KEY (writer, n))""",
    )),
    (3, "campaign index over credited events only", (
        # Most ingested events (sessions, custom events) credit no campaign: leaving them
        # out of the index saves an index insert each; the stats query asks for one
        # campaign_id, which implies NOT NULL, so it still uses the index.
        "DROP INDEX events_by_campaign",
        "CREATE INDEX events_by_campaign ON events (app_id, campaign_id, kind, detail) "
        "WHERE campaign_id IS NOT NULL",
    )),
    (4, "room for in-place updates of device rows", (
        # Every write rewrites its device row. With pages left half empty, the new
        # version fits on the same page (a HOT update: no index entry) and old versions
        # are pruned early; full pages made PostgreSQL spend 2x the CPU per reserving
        # decision (bench_service, 1,000 hot devices). Applies to pages written from now.
        "ALTER TABLE devices SET (fillfactor = 50)",
    )),
    (5, "experiments and their assignments", (
        # sim/service/experiments.py; the stats join assignments to events by device
        # (the events' primary key starts with app_id, device_id).
        """CREATE TABLE experiments (
            app_id TEXT NOT NULL REFERENCES apps(id), experiment_id TEXT NOT NULL,
            doc BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (app_id, experiment_id))""",
        """CREATE TABLE assignments (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, device_id TEXT NOT NULL,
            unit_id TEXT NOT NULL, arm TEXT NOT NULL, platform TEXT NOT NULL,
            profile TEXT NOT NULL, cohort_day TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (app_id, experiment_id, device_id))""",
        "CREATE INDEX assignments_by_unit ON assignments (app_id, experiment_id, unit_id, at)",
        # experiments.state_key of the document, written with it (null: written before);
        # the stats group by it instead of parsing a JSON document per device (25 us each).
        "ALTER TABLE devices ADD COLUMN state_key TEXT",
    )),
    (6, "experiment stats kept by triggers", experiment_triggers_v1.POSTGRES),
    (7, "a moved end rescans only the units seen since", experiment_triggers_v2.POSTGRES),
    (8, "answers to Chrome's prompt per browser", (
        # ops.browser_quiet: Chrome's adaptive quiet UI counts them across the app's origins.
        """CREATE TABLE browser_answers (
            app_id TEXT NOT NULL, browser_id TEXT NOT NULL, device_id TEXT NOT NULL,
            event_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, outcome TEXT NOT NULL,
            PRIMARY KEY (app_id, browser_id, device_id, event_id))""",
    )),
    # experiment_aggregates._PG_DEVICE_ASSIGNMENTS: a generic plan cached on an empty
    # table made each event scan every unit of the app (5-7 min for 1,200 devices).
    (9, "the triggers look devices up by a plan of the call",
     experiment_aggregates.pg_functions()),
)
"""PostgreSQL migrations (same tables; the schema is the connection's search_path)."""

_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")


def migrate_sqlite(conn: sqlite3.Connection,
                   migrations: tuple[Migration, ...] = SQLITE) -> list[int]:
    """Apply the missing SQLite migrations (``conn`` in autocommit mode); return those applied."""
    applied: list[int] = []
    for version, name, steps in migrations:
        conn.execute("BEGIN IMMEDIATE")  # the write lock: one migrator at a time
        try:
            conn.execute(_TABLE)
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                (version,)).fetchone()
            if done is None:
                for sql in steps:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                             (version, name, time.time()))
                applied.append(version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied


async def ensure_schema(conn: Any) -> str:
    """The connection's schema, created when its ``search_path`` names one that does not
    exist (PostgreSQL would refuse to create a table: "no schema has been selected")."""
    schema: str | None = await conn.fetchval("SELECT current_schema()")
    if schema is not None:
        return schema
    path: str = await conn.fetchval("SHOW search_path")
    first = next((p.strip() for p in path.split(",") if p.strip() != '"$user"'), "")
    name = first[1:-1].replace('""', '"') if first.startswith('"') else first
    if not name:
        raise ValueError("search_path names no schema")
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{name.replace(chr(34), chr(34) * 2)}"')
    return name


async def migrate_postgres(conn: Any, migrations: tuple[Migration, ...] = POSTGRES) -> list[int]:
    """Apply the missing PostgreSQL migrations on an asyncpg connection; return those applied.

    The tables go into the connection's schema (the first of its ``search_path``); a schema
    that ``?search_path=NAME`` names and that does not exist yet is created first."""
    await ensure_schema(conn)
    applied: list[int] = []
    for version, name, steps in migrations:
        async with conn.transaction():
            # One migrator per database at a time (released at commit).
            await conn.execute("SELECT pg_advisory_xact_lock(7215522)")
            await conn.execute(_TABLE)
            done = await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1",
                                       version)
            if done is None:
                for sql in steps:
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                                   version, name, time.time())
                applied.append(version)
    return applied
