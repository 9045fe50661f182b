"""The stats the triggers keep (``sim.service.storage.experiment_aggregates``) equal the scan
of every assignment and event (``experiment_sql.event_cells`` / ``state_cells``), on both
stores, after a workload written by two server workers at once that has what incremental
counting gets wrong: events resent, events stored before their device's assignment, a
grant that arrives after the opt-out it explains, a user's reinstall (a new current device)
and the old device changing after it, a cold arm, an uninstall, and an end moved while the
experiment runs (then events after it), then back and forth (each move rescans only the
units active since the earlier end: their ``seen`` must stay ahead of their events)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from experiment_helpers import ask, client, experiment, register
from service_helpers import DAY, T0

from sim.service.experiments import Experiment, aggregate_facts
from sim.service.storage import experiment_aggregates as xagg
from sim.service.storage import experiment_sql as xsql
from sim.service.storage.experiment_sql import numbered

EXP = experiment(("cold", 0.4, [{"id": "ask", "primer": False}]),
                 ("soft", 0.6, [{"id": "soft", "frequency": {"type": "every_time"}}]),
                 unit="user", platforms=("android",), end=T0 + 30 * DAY)


def _story(c: Any, i: int) -> None:
    """Device ``d{i}`` of user ``u{i // 2}`` (every user has two: a reinstall)."""
    d, u = f"d{i}", f"u{i // 2}"
    t = T0 + (i % 2) * DAY  # the second device of a user arrives a day later
    register(c, d, user_id=u, at=t)

    def post(*events: dict[str, Any]) -> None:
        r = c.post(f"/v1/devices/{d}/events", json={"events": list(events)})
        assert r.status_code == 200, r.text

    # stored before the assignment, timed after it: counts (folded in at assignment)
    post({"type": "os_dialog_result", "event_id": "early", "at": t + 50,
          "outcome": "denied" if i % 3 else "dismissed"})
    decision = ask(c, d, at=t + 10)
    camp = decision.get("campaign_id")
    ask(c, d, at=t + 11)  # every_time: a second impression on the soft arm
    if camp and not camp.endswith(":ask"):
        post({"type": "soft_prompt_clicked", "event_id": "clk", "at": t + 20,
              "campaign_id": camp})
    # an opt-out sent before the grant that explains it; then the grant; then resent
    denial = {"type": "permission_changed", "event_id": "out", "at": t + 40,
              "permission": "denied"}
    grant = {"type": "permission_changed", "event_id": "yes", "at": t + 30,
             "permission": "granted"}
    if i % 4 == 0:
        post(denial)
        post(grant)
        post(denial, grant)
    elif i % 4 == 1:
        post(grant)
    if i % 5 == 0:
        post({"type": "uninstalled", "event_id": "gone", "at": t + 60})
    if i % 2 == 0:  # the old device changes after its user's reinstall was assigned
        post({"type": "permission_changed", "event_id": "late", "at": t + 2 * DAY,
              "permission": "granted"})


def _scan_and_kept(db: str, eid: str) -> tuple[Any, Any]:
    """(scan, kept) rows of the experiment, read straight from the database; asserts that
    every unit's ``seen`` is at most a day behind its latest event since its assignment
    (what a moved end relies on to skip a unit)."""
    async def pg() -> tuple[Any, Any]:
        import asyncpg

        con = await asyncpg.connect(db)
        try:
            return await _both(lambda sql, *p: con.fetch(numbered(sql), *p))
        finally:
            await con.close()

    async def lite() -> tuple[Any, Any]:
        import sqlite3

        con = sqlite3.connect(db)

        async def fetch(sql: str, *p: Any) -> list[Any]:
            return con.execute(sql, p).fetchall()
        try:
            return await _both(fetch)
        finally:
            con.close()

    async def _both(fetch: Callable[..., Any]) -> tuple[Any, Any]:
        (app_id, doc), = await fetch("SELECT app_id, doc FROM experiments WHERE "
                                     "experiment_id = ?", eid)
        end, cold = aggregate_facts(bytes(doc))
        per_user = __import__("msgspec").json.decode(bytes(doc), type=Experiment).unit == "user"
        ids = cold or [""]
        key = (app_id, eid)
        scan = (await fetch(xsql.event_cells(len(ids), False), *ids,
                            1e300 if end is None else end, *key),
                await fetch(xsql.state_cells(per_user), *key))
        kept = (await fetch(xagg.CELLS, *key), await fetch(xagg.STATES, *key))
        kinds = ", ".join(f"'{k}'" for k in xagg.EVENT_KINDS)
        seen = await fetch(
            f"SELECT u.unit_id, u.seen, max(e.at) FROM experiment_units u JOIN assignments a "
            f"ON a.app_id = u.app_id AND a.experiment_id = u.experiment_id AND a.unit_id = "
            f"u.unit_id LEFT JOIN events e ON e.app_id = a.app_id AND e.device_id = "
            f"a.device_id AND e.at >= a.at AND e.kind IN ({kinds}) WHERE u.app_id = ? AND "
            f"u.experiment_id = ? GROUP BY u.unit_id, u.seen", *key)
        assert seen and all(s < xagg.UNKNOWN and (last is None or last < s + xagg.SEEN_LAG)
                            for _, s, last in seen), seen
        return _norm(scan), _norm(kept)

    return asyncio.run(pg() if db.startswith("postgres") else lite())


def _norm(rows: tuple[Any, Any]) -> tuple[list[tuple[Any, ...]], dict[tuple[Any, ...], int]]:
    events = sorted(tuple(r[:4]) + tuple(int(x or 0) for x in r[4:]) for r in rows[0])
    states = {tuple(r[:5]): int(r[5]) for r in rows[1] if r[4] is not None and int(r[5])}
    return events, states


def test_kept_stats_equal_the_scan(db_url, server_factory):
    """Figure for figure and state for state, before and after the end moves (which
    rebuilds); the HTTP stats are the kept ones."""
    s = server_factory(db_url, workers=2)
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/experiments/e1", json=EXP).status_code == 201
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: _story(c, i), range(8)))
        scan, kept = _scan_and_kept(db_url, "e1")
        assert kept == scan
        units = sum(r[4] for r in kept[0])
        assert units == 4  # four users, each with two devices: one unit each
        assert sum(r[4 + 10] for r in kept[0]) > 0  # opt-outs counted (out of order)
        stats = c.get("/v1/experiments/e1/stats").json()
        assert sum(x["units"] for x in stats["cells"]) == units
        assert sum(x["opt_outs"] for x in stats["cells"]) == sum(r[14] for r in kept[0])

        # the end moves to before the reinstalls' late events: rebuilt, then more events
        assert c.put("/v1/experiments/e1", json=EXP | {"end": T0 + DAY + 45}).status_code \
            == 200
        for i in range(4):
            r = c.post(f"/v1/devices/d{i}/events", json={"events": [
                {"type": "permission_changed", "event_id": "after", "at": T0 + 40 * DAY,
                 "permission": "denied"}]})
            assert r.status_code == 200, r.text
        scan2, kept2 = _scan_and_kept(db_url, "e1")
        assert kept2 == scan2
        assert kept2 != kept  # the end left some events out

        # back and forth: later (the late events count again), open (so do the ones
        # after it), then where it was
        for end in (T0 + 30 * DAY, None, T0 + DAY + 45):
            assert c.put("/v1/experiments/e1", json=EXP | {"end": end}).status_code == 200
            scan3, kept3 = _scan_and_kept(db_url, "e1")
            assert kept3 == scan3, end
        assert kept3 == kept2
