"""Overload benchmark (issue 28.8): goodput and a light client's service as connections grow.

Run from the repository root (wrk must be installed: ``apt-get install -y wrk``;
PostgreSQL at ``$PROMPTSIM_BENCH_PG``, default ``postgresql://postgres@127.0.0.1:5432/test``,
where each run makes a fresh schema)::

    python bench/bench_overload.py [--runs 3] [--seconds 10] [--stores sqlite,pg]
                                   [--connections 256,1000,2000]

Per run and store it starts ``promptsim serve`` (one worker, pinned to the last CPU as in
``bench_service.py``) on a fresh database seeded with one app, an ``app_open`` campaign shown
once, and 1,000 devices registered without any session event. The load is wrk (pinned to
the first CPU) sending eligibility ``app_open`` calls over those devices: each one starts
the device's session (an install that reports no session events), so **every request is a
write**. For each number of connections, in turn, it measures for ``--seconds``:

* **goodput**: 2xx answers per second (what the clients got done; 503s and timeouts are
  not counted), and the share of answers that were 503;
* **server CPU** per 2xx answer (the server's processes, the probes' requests included:
  they are a few per second);
* **probes**: two light clients, each sending one ``GET /v1/devices/d0`` every 100 ms on a
  fresh connection (a client that sends little, as in the issue): one with the loaded
  app's key (*same app*: it waits its turn among the load's requests), one with a second
  app's (*other app*: another tenant, served in turn with the loaded one); the share of
  their requests answered 200 within 5 s (httpx's default timeout), and their median
  latency;

and the ratio of each goodput to the best goodput of that store in that run (the levels'
order turns each run, so that a burst of background load on a shared machine does not
always hit the same level). ``sqlite-shed`` and ``pg-shed`` run the same with the settings
that give the behaviour before issue 28.8 (1,000 requests at once, 503 at once past
them), for a before/after in one run. It prints each run and the medians of the runs,
and the issue's target: goodput at the most connections >= 80% of the best, with the
other app's probe served.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgen import (
    ADMIN,
    CLIENT_PIN,
    DEVICES,
    SERVER_PIN,
    Client,
    cpu_seconds,
    decide_lua,
    drop_pg_schema,
    free_port,
    pg_reachable,
    pg_schema,
    start_service,
    stop,
)
from repeating import Repeating

LABEL = {"sqlite": "SQLite, 1 worker", "pg": "PostgreSQL, 1 worker",
         "sqlite-shed": "SQLite, 1 worker, shedding at once past 1,000 (before 28.8)",
         "pg-shed": "PostgreSQL, 1 worker, shedding at once past 1,000 (before 28.8)"}
SHED_AT_ONCE = {"PROMPTSIM_MAX_REQUESTS": "1000", "PROMPTSIM_MAX_QUEUED": "0"}
"""The settings that give the behaviour before issue 28.8: 1,000 requests at once, and a
503 at once past them (no queue)."""
WARMUP = 2
"""Seconds of load before the first level, not recorded (the record cache fills)."""
PROBE_EVERY = 0.1
"""Seconds between the probe's requests (the issue's light client)."""
PROBE_TIMEOUT = 5.0
"""Seconds the probe waits for an answer before it counts the request as not served
(httpx's default timeout: what a usual client waits)."""


def seed(port: int, devices: int = DEVICES) -> str:
    """An app with an ``app_open`` campaign shown once and ``devices`` devices without
    sessions: every eligibility call on app open starts a session (a write)."""
    c = Client(port)
    key: str = c.call("POST", "/v1/apps", {"name": "overload"}, ADMIN)["api_key"]
    c.call("PUT", "/v1/campaigns/welcome", {"trigger": {"type": "app_open"},
                                             "frequency": {"type": "once"}}, key)
    for i in range(devices):
        c.call("POST", "/v1/devices", {"device_id": f"d{i}", "user_id": f"u{i}",
                                       "platform": "android", "os_version": 14}, key)
    c.conn.close()
    return key


class Probe(Repeating):
    """One GET every :data:`PROBE_EVERY` seconds on a fresh connection, in a thread beside
    wrk (pinned with it, away from the server)."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(PROBE_EVERY, {int(CLIENT_PIN[-1])} if CLIENT_PIN else None)
        self.port, self.key = port, key
        self.statuses: list[int] = []
        self.seconds: list[float] = []

    def step(self) -> None:
        t = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT)
        try:
            c.request("GET", "/v1/devices/d0", headers={"Authorization": f"Bearer {self.key}"})
            r = c.getresponse()
            r.read()
            self.statuses.append(r.status)
        except OSError:
            self.statuses.append(0)
        finally:
            c.close()
        self.seconds.append(time.monotonic() - t)

    @property
    def served(self) -> float:
        """The share of probe requests answered 200 in time."""
        return sum(s == 200 for s in self.statuses) / max(1, len(self.statuses))


def wrk_load(port: int, lua: str, seconds: int, connections: int) -> dict[str, float]:
    """wrk with ``connections`` connections; goodput (2xx/s), 503 share, errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run([*CLIENT_PIN, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                              "--timeout", "10s", "-s", f.name, f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    assert m, out
    took = float(m[2]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m[3]]
    answered = int(m[1])
    bad_m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    bad = int(bad_m[1]) if bad_m else 0
    err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in err.groups()) if err else 0
    return {"goodput": (answered - bad) / took, "answered": answered / took,
            "shed": bad / max(1, answered), "errors": float(errors)}


def run_store(name: str, seconds: int, levels: list[int], tmp: Path
              ) -> dict[int, dict[str, float]]:
    """Each level of connections, in the order given, on one fresh server of ``name``."""
    sqlite = name.startswith("sqlite")
    db = str(tmp / f"{name}.sqlite3") if sqlite else pg_schema()
    port = free_port()
    saved = dict(os.environ)
    if name.endswith("-shed"):
        os.environ.update(SHED_AT_ONCE)
    try:
        proc = start_service(port, db)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out: dict[int, dict[str, float]] = {}
    try:
        key, other = seed(port), seed(port, 1)
        lua = decide_lua(key, "app_open")
        wrk_load(port, lua, WARMUP, min(levels))
        for n in levels:
            c0 = cpu_seconds(proc)
            with Probe(port, key) as same, Probe(port, other) as light:
                r = wrk_load(port, lua, seconds, n)
            r["cpu_us"] = (cpu_seconds(proc) - c0) / max(1.0, r["goodput"] * seconds) * 1e6
            out[n] = r | {"probe": same.served, "probe_ms": statistics.median(same.seconds) * 1e3,
                          "probes": float(len(same.seconds)), "other": light.served,
                          "other_ms": statistics.median(light.seconds) * 1e3,
                          "others": float(len(light.seconds))}
            time.sleep(1.0)  # the server drains what the last level left
        best = max(r["goodput"] for r in out.values())
        for r in out.values():
            r["ratio"] = r["goodput"] / best
    finally:
        stop(proc)
        if not sqlite:
            drop_pg_schema(db)
    return out


def show(label: str, run: dict[str, dict[int, dict[str, float]]]) -> None:
    """Print one run (or the medians)."""
    print(label)
    for name, levels in run.items():
        print(f"  {LABEL[name]}")
        for n, r in levels.items():
            print(f"    {n:5d} connections  goodput {r['goodput']:6.0f}/s = {r['ratio']:4.0%} of "
                  f"the best  503s {r['shed']:5.1%}  server CPU {r['cpu_us']:4.0f} us per 2xx  "
                  f"socket errors {r['errors']:4.0f}  probe "
                  f"served: same app {r['probe']:4.0%} of {r['probes']:3.0f} (p50 "
                  f"{r['probe_ms']:4.0f} ms), other app {r['other']:4.0%} of {r['others']:3.0f} "
                  f"(p50 {r['other_ms']:4.0f} ms)")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print per-run figures, medians and the target."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10, help="per level of connections")
    ap.add_argument("--stores", default="sqlite,pg",
                    help="comma-separated: sqlite, pg, and sqlite-shed, pg-shed (the same "
                         "with the settings that shed as before issue 28.8)")
    ap.add_argument("--connections", default="256,1000,2000",
                    help="comma-separated numbers of connections, measured in turn (the "
                         "first one moves each run)")
    args = ap.parse_args(argv)
    names = [n for n in args.stores.split(",") if n]
    if bad := [n for n in names if n not in LABEL]:
        ap.error(f"--stores: unknown {', '.join(bad)}; allowed: {', '.join(LABEL)}")
    try:
        levels = [int(x) for x in args.connections.split(",") if x]
    except ValueError:
        ap.error(f"--connections: {args.connections!r} is not a list of integers")
    if not levels or min(levels) < 1:
        ap.error("--connections: give at least one number >= 1")
    if shutil.which("wrk") is None:
        print("bench_overload: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    if any(n.startswith("pg") for n in names) and (why := pg_reachable()) is not None:
        print(f"bench_overload: PostgreSQL is unreachable ({why}); set PROMPTSIM_BENCH_PG "
              "or pass --stores sqlite", file=sys.stderr)
        return 2
    print(f"one-worker servers pinned with {' '.join(SERVER_PIN) or 'nothing'}; wrk and the "
          f"probe with {' '.join(CLIENT_PIN) or 'nothing'}; started "
          f"{time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    runs: list[dict[str, dict[int, dict[str, float]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            k = i % len(names)  # each store's turn moves, and so does each level's
            order = levels[i % len(levels):] + levels[:i % len(levels)]
            run = {name: run_store(name, args.seconds, order, Path(tmp))
                   for name in names[k:] + names[:k]}
            run = {name: {n: run[name][n] for n in levels} for name in run}
            run = {name: run[name] for name in names}
            show(f"run {i + 1}", run)
            runs.append(run)
    median: dict[str, dict[int, dict[str, float]]] = {
        name: {n: {k: statistics.median(r[name][n][k] for r in runs) for k in runs[0][name][n]}
               for n in levels} for name in names}
    show(f"MEDIAN of {args.runs} runs", median)
    top = max(levels)
    print(f"target (issue 28.8): at {top} connections, goodput >= 80% of the best and the "
          "other app's probe served (>= 90% answered 200 within 5 s; the same app's probe "
          "is one more of the load's clients: shown, not a target)")
    for name in names:
        def ok(r: dict[str, float]) -> bool:
            return r["ratio"] >= 0.8 and r["other"] >= 0.9

        m = median[name][top]
        print(f"  {LABEL[name]:60s} ratio {m['ratio']:4.0%}, probe {m['other']:4.0%}: "
              f"{'met' if ok(m) else 'MISSED'} "
              f"({sum(ok(r[name][top]) for r in runs)} of {len(runs)} runs met it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
