"""PostgreSQL's experiment triggers stay one row's work however the app grew.

A PL/pgSQL function keeps, per connection, a generic plan of each of its statements, made
on its first calls. When a new experiment starts, its tables are empty and have no
statistics, and the plan made then reached the event's unit through a nested loop over
every unit of the app with a scan of its assignments inside: each event cost O(units x
units) index rows, and a 1,200-device load run took 5-7 minutes with writes past the
store's 5 s timeout (issue 22). The triggers now look the device up by a plan of the call
and read every other table by its whole primary key
(``experiment_aggregates._PG_DEVICE_ASSIGNMENTS``).

The test counts index rows, not seconds: on one connection, the first events are written
while the app has a few units (the plans are made then), the app then grows to
:data:`UNITS` units, and one more assignment, event and state change, each in its own
transaction, count the index entries they read (``pg_stat_get_xact_tuples_returned``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sim.service.storage import migrations

UNITS = 3000
"""The app's units when the counted event is written (the old plan read ~UNITS^2/2 rows)."""
LIMIT = 200
"""Index entries one write may read (the old plans: 15,087 for an assignment, 9,013,448 for
an event and 3,005 for a state change, at 3,000 units): a unit's own rows are a handful, and
the indexes of the few cell rows it adds to hold their dead versions until they are pruned
(~80 here)."""
APP, EXP = "app", "exp"


async def _assign(conn: Any, first: int, last: int) -> None:
    await conn.executemany(
        "INSERT INTO assignments VALUES ($1, $2, $3, $4, 'a', 'android', 'p', 'd0', $5)",
        [(APP, EXP, f"d{i}", f"u{i}", float(i)) for i in range(first, last)])


async def _event(conn: Any, device: str, event_id: str) -> None:
    await conn.execute(
        "INSERT INTO events VALUES ($1, $2, $3, 'impression', 1e6, 1e6, 'camp', NULL)",
        APP, device, event_id)


async def _fetched(conn: Any) -> int:
    """Index entries read in the schema's indexes by this connection, not yet reported to
    the statistics collector (so at least this transaction's)."""
    return int(await conn.fetchval(
        "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0) FROM pg_class c "
        "WHERE c.relkind = 'i' AND c.relnamespace = current_schema()::regnamespace"))


async def _story(url: str, upto: int | None = None) -> tuple[int, int, int]:
    """Index rows read by an assignment, an event and a state change once the app has
    :data:`UNITS` units, with the migrations up to ``upto`` (all: None) applied."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await migrations.migrate_postgres(conn, migrations.POSTGRES[:upto])
        await conn.execute("INSERT INTO apps VALUES ($1, 'a', 'device', 'k', 0, NULL, 0)", APP)
        await conn.execute("INSERT INTO experiment_meta VALUES ($1, $2, NULL, 0)", APP, EXP)
        await conn.executemany(
            "INSERT INTO devices (app_id, device_id, user_id, doc, updated_at, state_key) "
            "VALUES ($1, $2, $2, '\\x00', 0, 's0')", [(APP, f"d{i}") for i in range(UNITS)])
        # the plans are made while the app has 8 units (a generic one after 5 calls)
        await _assign(conn, 0, 8)
        for i in range(8):
            await _event(conn, f"d{i}", "e0")
            await conn.execute("UPDATE devices SET state_key = 's1' WHERE app_id = $1 AND "
                               "device_id = $2", APP, f"d{i}")
        await _assign(conn, 8, UNITS - 1)
        counts = []
        for op in (_assign(conn, UNITS - 1, UNITS), _event(conn, f"d{UNITS - 2}", "e1"),
                   conn.execute("UPDATE devices SET state_key = 's2' WHERE app_id = $1 AND "
                                "device_id = $2", APP, f"d{UNITS - 3}")):
            async with conn.transaction():
                before = await _fetched(conn)
                await op
                counts.append(await _fetched(conn) - before)
        # the event and the state change were counted (the plans did run)
        cells = await conn.fetchval("SELECT sum(imp) FROM experiment_cells")
        moved = await conn.fetchval("SELECT sum(n) FROM experiment_states WHERE state_key = "
                                    "'s2'")
        units = await conn.fetchval("SELECT sum(units) FROM experiment_cells")
        assert (cells, moved, units) == (9, 1, UNITS)
        return counts[0], counts[1], counts[2]
    finally:
        await conn.close()


@pytest.mark.slow
def test_an_event_reads_one_units_rows_after_the_app_grew(pg_url: str) -> None:
    assigned, event, state = asyncio.run(_story(pg_url))
    assert assigned <= LIMIT, (assigned, "index rows read by one assignment")
    assert event <= LIMIT, (event, "index rows read by one event")
    assert state <= LIMIT, (state, "index rows read by one state change")
