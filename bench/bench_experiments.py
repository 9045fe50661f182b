"""Benchmark of experiments in the eligibility service (issue 22's speed targets).

Run from the repository root (wrk installed; PostgreSQL at ``$PROMPTSIM_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``, where each run makes fresh schemas)::

    python bench/bench_experiments.py [--seconds 6] [--rounds 3] [--units 100000,1000000]
                                      [--sqlite-units 100000] [--skip-decisions]

1. **Decisions with an active experiment.** One ``promptsim serve`` on SQLite (one worker,
   pinned as in ``bench_service.py``) holds two apps seeded alike with 1,000 Android devices
   that have seen the once-only prompt: ``plain`` (the app's campaigns) and ``experiment``
   (an experiment of two arms holding the same campaigns takes every device in; each is
   assigned already). ``wrk -t1 -c32`` alternates slices of each app's reads (``show=false``:
   the common case) and writes (an ``every_time`` campaign: each answer reserves), round
   after round; the figure is the median over rounds of experiment req/s over plain req/s
   in the same round. Target: at least 0.90.
2. **Stats read time on PostgreSQL (and SQLite).** For each size, an experiment with that
   many assigned devices, written straight into a fresh schema by SQL (devices in three
   states, two events each, one uninstall in ten, over seven cohort days) with the stats'
   triggers off, its aggregates then rebuilt from the rows (the scan, as a moved end does:
   ``sim/service/storage/experiment_aggregates.py``), then ``GET .../stats`` over HTTP: the
   median of three reads, in seconds. Target: at most 1 s for 1,000,000 units on
   PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from loadgen import (
    ADMIN,
    DEVICES,
    ELIGIBILITY_LUA,
    Client,
    drop_pg_schema,
    free_port,
    pg_reachable,
    pg_schema,
    seed_devices,
    start_service,
    stop,
    wrk,
)

CAMPAIGNS = [{"id": "welcome", "trigger": {"type": "app_open"}, "frequency": {"type": "once"}},
             {"id": "nudge", "trigger": {"type": "programmatic"},
              "frequency": {"type": "every_time"}}]


def seed(port: int, experiment: bool) -> str:
    """An app with the two campaigns (or an experiment whose two arms hold them) and the
    devices, each of which has been asked once (assigned; the once prompt shown)."""
    c = Client(port)
    key: str = c.call("POST", "/v1/apps", {"name": "bench"}, ADMIN)["api_key"]
    now = time.time()
    if experiment:
        c.call("PUT", "/v1/experiments/bench", {
            "arms": [{"name": n, "weight": 0.5, "campaigns": CAMPAIGNS} for n in ("a", "b")],
            "start": now - 86400, "end": None}, key)
    else:
        for camp in CAMPAIGNS:
            fields = {k: v for k, v in camp.items() if k != "id"}
            c.call("PUT", f"/v1/campaigns/{camp['id']}", fields, key)
    seed_devices(c, key, now)
    return key


def decisions(seconds: int, rounds: int, tmp: Path) -> dict[str, float]:
    """Median ratios experiment / plain for reads and writes, with the req/s behind them."""
    port = free_port()
    server = start_service(port, str(tmp / "bench.sqlite3"))
    try:
        keys = {"plain": seed(port, False), "experiment": seed(port, True)}
        got: dict[str, list[float]] = {}
        for r in range(rounds):
            for kind, trigger in (("read", "app_open"), ("write", "programmatic")):
                order = ("plain", "experiment") if r % 2 == 0 else ("experiment", "plain")
                for app in order:
                    lua = ELIGIBILITY_LUA % {"devices": DEVICES, "key": keys[app],
                                             "trigger": trigger}
                    res = wrk(port, lua, seconds)
                    assert res["non2xx"] == 0, res
                    got.setdefault(f"{kind} {app}", []).append(res["rps"])
        out = {k: statistics.median(v) for k, v in got.items()}
        for kind in ("read", "write"):
            out[f"{kind} ratio"] = statistics.median(
                e / p for e, p in zip(got[f"{kind} experiment"], got[f"{kind} plain"],
                                      strict=True))
        return out
    finally:
        stop(server)


FILL = """
INSERT INTO devices (app_id, device_id, user_id, doc, updated_at, rev, state_key)
  SELECT $1, 'b' || g, 'u' || g, t.doc, 0, 0, t.state_key
  FROM generate_series(1, $2) g JOIN devices t ON t.app_id = $1
   AND t.device_id = 'tpl' || (g % 3);
INSERT INTO assignments (app_id, experiment_id, device_id, unit_id, arm, platform, profile,
                         cohort_day, at)
  SELECT $1, 'bench', 'b' || g, 'b' || g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
         'android', 'android13', '2026-12-0' || (1 + g % 7), 1700000000 + g % 604800
  FROM generate_series(1, $2) g;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'i', 'impression', 1700000000 + g % 604800 + 1, 0,
         'bench:' || CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END || ':welcome', 'os_dialog'
  FROM generate_series(1, $2) g;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'o', 'os_dialog_result', 1700000000 + g % 604800 + 2, 0, NULL,
         CASE WHEN g % 3 = 1 THEN 'allowed' ELSE 'denied' END
  FROM generate_series(1, $2) g WHERE g % 3 <> 0;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'u', 'uninstalled', 1700000000 + g % 604800 + 3, 0, NULL, NULL
  FROM generate_series(1, $2) g WHERE g % 10 = 0;
ANALYZE devices; ANALYZE assignments; ANALYZE events;
"""
"""Parameters: app id, units. Device states: ``tpl0`` never asked, ``tpl1`` granted,
``tpl2`` denied (templates registered over HTTP, so their documents are real ones)."""


def _rebuild(app_id: str) -> list[tuple[str, tuple[Any, ...]]]:
    from sim.service.storage.experiment_aggregates import rebuild

    return rebuild(app_id, "bench", [], None, False)


def _fill_pg(url: str, app_id: str, units: int) -> None:
    """The rows by SQL with the stats' triggers off (``session_replication_role``), then
    the experiment's aggregates rebuilt from them at once (``experiment_aggregates.rebuild``:
    the scan the triggers replace), as the service does when an experiment's end moves."""
    import asyncpg

    from sim.service.storage.experiment_sql import numbered

    async def run() -> None:
        con = await asyncpg.connect(url, timeout=10)
        try:
            await con.execute("SET session_replication_role = replica")
            for sql in FILL.strip().split(";\n"):
                if sql.strip().startswith("ANALYZE"):
                    await con.execute(sql)
                else:
                    await con.execute(sql, app_id, units)
            await con.execute("SET session_replication_role = DEFAULT")
            async with con.transaction():
                for sql, params in _rebuild(app_id):
                    await con.execute(numbered(sql), *params)
        finally:
            await con.close()

    asyncio.run(run())


def _fill_sqlite(path: str, app_id: str, units: int) -> None:
    """The same rows into SQLite (``generate_series`` as a recursive CTE), the experiment's
    ``experiment_meta`` row set aside meanwhile (the triggers count only experiments that
    have one), then put back and the aggregates rebuilt."""
    import re
    import sqlite3

    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        meta = con.execute("SELECT * FROM experiment_meta WHERE app_id = ?",
                           (app_id,)).fetchall()
        con.execute("DELETE FROM experiment_meta WHERE app_id = ?", (app_id,))
        series = "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $2) "
        for sql in FILL.strip().split(";\n"):
            if sql.strip().startswith("ANALYZE"):
                continue
            sql = sql.replace("generate_series(1, $2) g", "s").replace(
                ", rev, state_key)", ", state_key)").replace(", 0, 0, t.", ", 0, t.")
            head, _, rest = sql.partition("SELECT")
            sql = re.sub(r"\$(\d)", r"?\1", f"{head}{series}SELECT{rest}")
            con.execute(sql, (app_id, units))
        con.executemany("INSERT INTO experiment_meta VALUES (?, ?, ?, ?)", meta)
        for sql, params in _rebuild(app_id):
            con.execute(sql, params)
        con.execute("COMMIT")
        con.execute("ANALYZE")
    finally:
        con.close()


def stats_read(units: int, store: str, tmp: Path) -> dict[str, Any]:
    """Seconds to read the stats of an experiment with ``units`` assigned devices."""
    url = pg_schema() if store == "postgres" else str(tmp / f"stats{units}.sqlite3")
    port = free_port()
    server = start_service(port, url)
    try:
        c = Client(port)
        key = c.call("POST", "/v1/apps", {"name": "bench"}, ADMIN)["api_key"]
        app_id = c.call("GET", "/v1/app", None, key)["app_id"]
        c.call("PUT", "/v1/experiments/bench", {
            "arms": [{"name": n, "weight": 0.5, "campaigns": CAMPAIGNS[:1]} for n in "ab"],
            "start": 1_600_000_000, "end": None}, key)
        for i, (perm, outcome) in enumerate([(None, None), (None, "allowed"),
                                             (None, "denied")]):
            c.call("POST", "/v1/devices", {"device_id": f"tpl{i}", "user_id": "t",
                                           "platform": "android", "os_version": 14,
                                           "at": 1_700_000_000, "permission": perm}, key)
            if outcome:
                c.call("POST", f"/v1/devices/tpl{i}/events", {"events": [
                    {"type": "os_dialog_result", "event_id": "o", "at": 1_700_000_000,
                     "outcome": outcome}]}, key)
        t0 = time.perf_counter()
        (_fill_pg if store == "postgres" else _fill_sqlite)(url, app_id, units)
        fill = time.perf_counter() - t0
        c = Client(port)  # the kept-alive connection timed out during the fill
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            body = c.call("GET", "/v1/experiments/bench/stats", None, key)
            times.append(time.perf_counter() - t0)
        total = sum(x["units"] for x in body["cells"])
        assert total == units, (total, units)
        assert sum(x["opted_in"] for x in body["cells"]) == (units + 2) // 3  # b1, b4, ...: granted
        return {"units": units, "seconds": statistics.median(times), "runs": times,
                "fill_seconds": fill}
    finally:
        stop(server)
        if store == "postgres":
            drop_pg_schema(url)


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print each figure with its target."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=6, help="per wrk slice")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--units", default="100000,1000000",
                    help="stats sizes on PostgreSQL, comma separated")
    ap.add_argument("--sqlite-units", default="100000",
                    help="stats sizes on SQLite, comma separated (empty: none)")
    ap.add_argument("--skip-decisions", action="store_true")
    args = ap.parse_args(argv)
    import tempfile

    if not args.skip_decisions:
        with tempfile.TemporaryDirectory() as tmp:
            d = decisions(args.seconds, args.rounds, Path(tmp))
        for k, v in d.items():
            print(f"decisions {k:>18}: {v:10.2f}" + (" req/s" if "ratio" not in k else ""))
        for kind in ("read", "write"):
            ok = d[f"{kind} ratio"] >= 0.9
            print(f"target {kind} with an experiment >= 0.90 of without: "
                  f"{'met' if ok else 'NOT met'} ({d[f'{kind} ratio']:.3f})")
    stores = [("sqlite", args.sqlite_units)]
    why = pg_reachable()
    if why is None:
        stores.insert(0, ("postgres", args.units))
    else:
        print(f"PostgreSQL unreachable, its stats not measured: {why}")
    for store, sizes in stores:
        for n in (int(x) for x in sizes.split(",") if x):
            with tempfile.TemporaryDirectory() as tmp:
                r = stats_read(n, store, Path(tmp))
            runs = ", ".join(f"{x:.3f}" for x in r["runs"])
            ok = "" if n != 1_000_000 or store != "postgres" else (
                "; target <= 1 s " + ("met" if r["seconds"] <= 1 else "NOT met"))
            print(f"stats of {n:>9,} units on {store:8}: {r['seconds']:.3f} s median ({runs}); "
                  f"filled and rebuilt in {r['fill_seconds']:.1f} s{ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
