"""Benchmark of experiments in the eligibility service (issue 22's speed targets).

Run from the repository root (wrk installed; PostgreSQL at ``$PROMPTSIM_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``, where each run makes fresh schemas)::

    python bench/bench_experiments.py [--seconds 6] [--rounds 3] [--units 100000,1000000]
                                      [--sqlite-units 100000] [--skip-decisions]
                                      [--baseline DIR] [--moves] [--root DIR]

1. **Decisions with an active experiment.** One ``promptsim serve`` on SQLite (one worker,
   pinned as in ``bench_service.py``) holds two apps seeded alike with 1,000 Android devices
   that have seen the once-only prompt: ``plain`` (the app's campaigns) and ``experiment``
   (an experiment of two arms holding the same campaigns takes every device in; each is
   assigned already). ``wrk -t1 -c32`` alternates slices of each app's reads (``show=false``:
   the common case) and writes (an ``every_time`` campaign: each answer reserves), round
   after round; the figure is the median over rounds of experiment req/s over plain req/s
   in the same round. Target: at least 0.90. The server's CPU time per request (its
   process's user + system time over the slice, ``psutil``) is measured alike: a figure
   that other load on the machine moves less than req/s. ``--baseline DIR`` runs a second
   server from the ``sim`` of another tree (``/work/main``, say) and alternates its slices
   with this one's, so that both trees' ratios come from the same minutes.
2. **Stats read time on PostgreSQL (and SQLite).** For each size, an experiment with that
   many assigned devices, written straight into a fresh schema by SQL (devices in three
   states, two events each, one uninstall in ten, over seven cohort days, unit ``g`` of
   ``n`` active ``g / n`` of the way into a week of 2023) with the stats' triggers off,
   its aggregates then rebuilt from the rows (as the first PUT does:
   ``sim/service/storage/experiment_aggregates.py``), then ``GET .../stats`` over HTTP: the
   median of three reads, in seconds. Target: at most 1 s for 1,000,000 units on
   PostgreSQL.
3. **Moving the end** (``--moves``). On the same experiments, after the reads:
   ``PUT /v1/experiments/bench`` with the end moved to 30 days from now and back to none
   (no unit has an event near either end), then to the middle of the fill's week and back
   (64% of the units were active since a day before it), each ``--rounds`` times: the
   median seconds of each PUT over HTTP and its status (a store call over
   ``PROMPTSIM_STORE_TIMEOUT``, 5 s by default, is 503 on PostgreSQL). ``--root DIR``
   serves and fills with the ``sim`` of another tree, for its "before" figures.
4. **Ingestion with and without the stats' triggers on PostgreSQL** (``--ingest``), for an
   app with no experiment: two servers (one worker each, pinned alike), each on a fresh
   schema, one with the triggers of ``events``, ``devices`` and ``assignments`` disabled;
   ``wrk -c8`` posts batches of 100 new events to the 1,000 devices (``session_time``, as
   ``bench_service.py``: no trigger's ``WHEN`` holds; and ``soft_prompt_dismissed``: each
   runs its trigger's function to its quick exit, the device has no assignment),
   alternating slices; the median over rounds of events/s with the triggers over without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from loadgen import (
    ADMIN,
    DEVICES,
    ELIGIBILITY_LUA,
    EVENTS_LUA,
    ROOT,
    Client,
    cpu_seconds,
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


def decisions(seconds: int, rounds: int, tmp: Path,
              trees: dict[str, Path]) -> dict[str, float]:
    """Per tree (``name: root``), median ratios experiment / plain for reads and writes, of
    req/s and of the server's CPU seconds per request, with the figures behind them."""
    servers = {}
    keys: dict[str, dict[str, str]] = {}
    try:
        for name, root in trees.items():
            port = free_port()
            servers[name] = (port, start_service(port, str(tmp / f"{name}.sqlite3"), root=root))
            keys[name] = {"plain": seed(port, False), "experiment": seed(port, True)}
        got: dict[str, list[float]] = {}
        for r in range(rounds):
            for kind, trigger in (("read", "app_open"), ("write", "programmatic")):
                order = ("plain", "experiment") if r % 2 == 0 else ("experiment", "plain")
                names = list(trees) if r % 2 == 0 else list(reversed(trees))
                for name in names:
                    port, server = servers[name]
                    for app in order:
                        lua = ELIGIBILITY_LUA % {"devices": DEVICES, "key": keys[name][app],
                                                 "trigger": trigger}
                        cpu = cpu_seconds(server)
                        res = wrk(port, lua, seconds)
                        cpu = cpu_seconds(server) - cpu
                        assert res["non2xx"] == 0, res
                        got.setdefault(f"{name} {kind} {app}", []).append(res["rps"])
                        got.setdefault(f"{name} {kind} {app} cpu_us",
                                       []).append(cpu / (res["rps"] * seconds) * 1e6)
        out = {k: statistics.median(v) for k, v in got.items()}
        for name in trees:
            for kind in ("read", "write"):
                ratios = [e / p for e, p in zip(got[f"{name} {kind} experiment"],
                                                got[f"{name} {kind} plain"], strict=True)]
                cpu = [p / e for e, p in zip(got[f"{name} {kind} experiment cpu_us"],
                                             got[f"{name} {kind} plain cpu_us"], strict=True)]
                out[f"{name} {kind} ratio"] = statistics.median(ratios)
                out[f"{name} {kind} cpu ratio"] = statistics.median(cpu)
                print(f"{name} {kind} ratios by round: "
                      + ", ".join(f"{x:.3f}" for x in ratios) + "; CPU per request, plain "
                      "over experiment: " + ", ".join(f"{x:.3f}" for x in cpu), flush=True)
        return out
    finally:
        for _, server in servers.values():
            stop(server)


FILL = """
INSERT INTO devices (app_id, device_id, user_id, doc, updated_at, rev, state_key)
  SELECT $1, 'b' || g, 'u' || g, t.doc, 0, 0, t.state_key
  FROM generate_series(1, $2) g JOIN devices t ON t.app_id = $1
   AND t.device_id = 'tpl' || (g % 3);
INSERT INTO assignments (app_id, experiment_id, device_id, unit_id, arm, platform, profile,
                         cohort_day, at)
  SELECT $1, 'bench', 'b' || g, 'b' || g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
         'android', 'android13', '2026-12-0' || (1 + g % 7),
         {at}
  FROM generate_series(1, $2) g;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'i', 'impression', {at} + 1, {at} + 1,
         'bench:' || CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END || ':welcome', 'os_dialog'
  FROM generate_series(1, $2) g;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'o', 'os_dialog_result', {at} + 2, {at} + 2, NULL,
         CASE WHEN g % 3 = 1 THEN 'allowed' ELSE 'denied' END
  FROM generate_series(1, $2) g WHERE g % 3 <> 0;
INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT $1, 'b' || g, 'u', 'uninstalled', {at} + 3, {at} + 3, NULL, NULL
  FROM generate_series(1, $2) g WHERE g % 10 = 0;
ANALYZE devices; ANALYZE assignments; ANALYZE events;
""".replace("{at}", "(1700000000 + CAST(g AS BIGINT) * 604800 / $2)")
"""Parameters: app id, units (unit ``g`` is active ``g / units`` of the way into the week).
Device states: ``tpl0`` never asked, ``tpl1`` granted,
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


def _shown(c: Client, key: str) -> int:
    stats = c.call("GET", "/v1/experiments/bench/stats", None, key)
    return sum(x["os_shown"] for x in stats["cells"])


def _moves(c: Client, key: str, body: dict[str, Any], units: int,
           rounds: int) -> tuple[dict[str, list[tuple[float, int]]], list[int]]:
    """Seconds (and status) of each PUT that moves the end, there and back, per case: 30
    days from now, and the middle of the fill's week (unit ``g`` of ``n`` is active
    ``g / n`` of the way into it: the units active from a day before the middle on, 64%,
    are rescanned); and the dialogs counted before and after each (the same, then about
    half, then all again)."""
    out: dict[str, list[tuple[float, int]]] = {}
    shown = [_shown(c, key)]
    for case, end in (("future", time.time() + 30 * 86400), ("middle", 1_700_302_400)):
        out |= {f"{case} there": [], f"{case} back": []}
        for _ in range(rounds):
            for leg, value in (("there", end), ("back", None)):
                c.conn.request("PUT", "/v1/experiments/bench", json.dumps(body | {"end": value}),
                               {"Authorization": f"Bearer {key}"})
                t0 = time.perf_counter()
                r = c.conn.getresponse()
                r.read()
                out[f"{case} {leg}"].append((time.perf_counter() - t0, r.status))
                shown.append(_shown(c, key))
    return out, shown


def stats_read(units: int, store: str, tmp: Path, root: Path, moves: int) -> dict[str, Any]:
    """Seconds to read the stats of an experiment with ``units`` assigned devices (and, if
    ``moves``, to move its end that many times each way)."""
    url = pg_schema() if store == "postgres" else str(tmp / f"stats{units}.sqlite3")
    port = free_port()
    server = start_service(port, url, root=root)
    try:
        c = Client(port)
        key = c.call("POST", "/v1/apps", {"name": "bench"}, ADMIN)["api_key"]
        app_id = c.call("GET", "/v1/app", None, key)["app_id"]
        body = {"arms": [{"name": n, "weight": 0.5, "campaigns": CAMPAIGNS[:1]} for n in "ab"],
                "start": 1_600_000_000, "end": None}
        c.call("PUT", "/v1/experiments/bench", body, key)
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
            stats = c.call("GET", "/v1/experiments/bench/stats", None, key)
            times.append(time.perf_counter() - t0)
        total = sum(x["units"] for x in stats["cells"])
        assert total == units, (total, units)
        # b1, b4, ...: granted
        assert sum(x["opted_in"] for x in stats["cells"]) == (units + 2) // 3
        out = {"units": units, "seconds": statistics.median(times), "runs": times,
               "fill_seconds": fill}
        if moves:
            out["moves"], out["os_shown"] = _moves(c, key, body, units, moves)
            after = c.call("GET", "/v1/experiments/bench/stats", None, key)
            if all(s == 200 for runs in out["moves"].values() for _, s in runs):
                assert after["cells"] == stats["cells"]  # back where it was
        return out
    finally:
        stop(server)
        if store == "postgres":
            drop_pg_schema(url)


DISMISSED_LUA = EVENTS_LUA.replace('"type":"session_time","seconds":12.5',
                                   '"type":"soft_prompt_dismissed","campaign_id":"welcome"')
"""Batches of ``soft_prompt_dismissed`` events (a kind the stats' triggers watch)."""


def _disable_triggers(url: str) -> None:
    import asyncpg

    async def run() -> None:
        con = await asyncpg.connect(url, timeout=10)
        try:
            for table in ("events", "devices", "assignments"):
                await con.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        finally:
            await con.close()

    asyncio.run(run())


def ingestion(seconds: int, rounds: int, root: Path) -> dict[str, Any]:
    """Events/s of an app with no experiment, with the stats' triggers and without, per
    kind of event: the median ratio over rounds and the figures behind it."""
    import loadgen

    urls = {"with": pg_schema(), "without": pg_schema()}
    servers = {}
    try:
        for name, url in urls.items():
            port = free_port()
            servers[name] = (port, start_service(port, url, root=root), loadgen.seed(port))
        _disable_triggers(urls["without"])
        got: dict[str, list[float]] = {}
        for r in range(rounds):
            for kind, lua in (("session_time", EVENTS_LUA), ("dismissed", DISMISSED_LUA)):
                for name in (("with", "without") if r % 2 == 0 else ("without", "with")):
                    port, _, key = servers[name]
                    res = wrk(port, lua % {"devices": DEVICES, "key": key, "batch": 100,
                                           "prefix": f"{kind[:3]}{r}{name}"},
                              seconds, connections=8)
                    assert res["non2xx"] == 0, res
                    got.setdefault(f"{kind} {name}", []).append(res["rps"] * 100)
        out: dict[str, Any] = {}
        for kind in ("session_time", "dismissed"):
            ratios = [w / wo for w, wo in zip(got[f"{kind} with"], got[f"{kind} without"],
                                              strict=True)]
            out[kind] = {"ratio": statistics.median(ratios), "ratios": ratios,
                         "with": statistics.median(got[f"{kind} with"]),
                         "without": statistics.median(got[f"{kind} without"])}
        return out
    finally:
        for _, server, _ in servers.values():
            stop(server)
        for url in urls.values():
            drop_pg_schema(url)


def main(argv: list[str] | None = None) -> int:
    """Run the parts and print each figure with its target."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=6, help="per wrk slice")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--units", default="100000,1000000",
                    help="stats sizes on PostgreSQL, comma separated (empty: none)")
    ap.add_argument("--sqlite-units", default="100000",
                    help="stats sizes on SQLite, comma separated (empty: none)")
    ap.add_argument("--skip-decisions", action="store_true")
    ap.add_argument("--baseline", type=Path, help="a tree whose server's decisions to "
                    "alternate with this one's (e.g. /work/main)")
    ap.add_argument("--moves", action="store_true", help="time PUTs that move the end")
    ap.add_argument("--ingest", action="store_true",
                    help="PostgreSQL ingestion with and without the stats' triggers")
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="the tree whose sim serves and fills (default: this one)")
    args = ap.parse_args(argv)
    import tempfile

    sys.path.insert(0, str(args.root))  # the fill's rebuild is the served tree's
    if not args.skip_decisions:
        trees = {"this": args.root} | ({"baseline": args.baseline} if args.baseline else {})
        with tempfile.TemporaryDirectory() as tmp:
            d = decisions(args.seconds, args.rounds, Path(tmp), trees)
        for k, v in d.items():
            print(f"decisions {k:>30}: {v:10.3f}" + (" req/s" if k.split()[-1] in (
                "plain", "experiment") else ""))
        for name in trees:
            for kind in ("read", "write"):
                ratio = d[f"{name} {kind} ratio"]
                print(f"target ({name}) {kind} with an experiment >= 0.90 of without: "
                      f"{'met' if ratio >= 0.9 else 'NOT met'} ({ratio:.3f}; CPU per "
                      f"request {d[f'{name} {kind} cpu ratio']:.3f})")
    why = pg_reachable()
    if args.ingest and why is None:
        for kind, x in ingestion(args.seconds, args.rounds, args.root).items():
            print(f"ingestion on postgres, no experiment, {kind:>12}: {x['with']:8.0f} events/s "
                  f"with the triggers, {x['without']:8.0f} without: ratio {x['ratio']:.3f} "
                  f"median ({', '.join(f'{v:.3f}' for v in x['ratios'])})", flush=True)
    stores = [("sqlite", args.sqlite_units)]
    if why is None:
        stores.insert(0, ("postgres", args.units))
    else:
        print(f"PostgreSQL unreachable, its stats not measured: {why}")
    for store, sizes in stores:
        for n in (int(x) for x in sizes.split(",") if x):
            with tempfile.TemporaryDirectory() as tmp:
                r = stats_read(n, store, Path(tmp), args.root, args.rounds if args.moves else 0)
            runs = ", ".join(f"{x:.3f}" for x in r["runs"])
            ok = "" if n != 1_000_000 or store != "postgres" else (
                "; target <= 1 s " + ("met" if r["seconds"] <= 1 else "NOT met"))
            print(f"stats of {n:>9,} units on {store:8}: {r['seconds']:.3f} s median ({runs}); "
                  f"filled and rebuilt in {r['fill_seconds']:.1f} s{ok}", flush=True)
            if "os_shown" in r:
                print(f"  dialogs counted before and after each move: {r['os_shown']}")
            for case, legs in r.get("moves", {}).items():
                secs = ", ".join(f"{t:.3f}" + ("" if st == 200 else f" ({st})")
                                 for t, st in legs)
                print(f"  end moved {case:>14} on {store}: "
                      f"{statistics.median(t for t, _ in legs):.3f} s median ({secs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
