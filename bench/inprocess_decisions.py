"""One worker's PostgreSQL decisions driven in-process through the ASGI app (no server, no
socket): CPU time per request of the process and of its PostgreSQL backends.

    python bench/inprocess_decisions.py [--requests 6000] [--no-triggers] [--async-commit]

Run with ``PYTHONPATH`` at the tree to measure (``bench_pg_write.py --in-process`` does, for
each tree); prints one JSON object. It opens the service on a fresh schema of
``$PROMPTSIM_BENCH_PG``, seeds it as ``loadgen.seed`` does (one app, a once and an
every-time campaign, 1,000 devices), then sends ``--requests`` plain (``app_open``:
``show=false``) and as many reserving (``programmatic``: every answer reserves) eligibility
requests from 32 tasks, each kind after a warm-up of a tenth as many. On a shared machine
CPU per request holds where a rate does not: it does not count the time spent waiting for a
core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import psutil
import uvloop
from loadgen import ADMIN, DEVICES, PG_BASE

import sim
from sim.service.http.service import Service
from sim.service.settings import Settings

TASKS = 32
TRIGGERED = ("events", "devices", "assignments")
"""The tables the experiment-stats triggers are on (``experiment_aggregates.triggers``)."""


async def call(app: Any, method: str, path: str, body: Any, key: str) -> Any:
    """One request through the ASGI app; its JSON answer (raises on a non-2xx)."""
    raw = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode()),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode())]}
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app(scope, receive, send)
    data = b"".join(m.get("body", b"") for m in sent[1:])
    if sent[0]["status"] >= 300:
        raise RuntimeError(f"{method} {path}: {sent[0]['status']} {data!r}")
    return json.loads(data) if data else None


async def seed(app: Any) -> str:
    """The app, its campaigns and devices of ``loadgen.seed``; its key."""
    key: str = (await call(app, "POST", "/v1/apps", {"name": "bench"}, ADMIN))["api_key"]
    await call(app, "PUT", "/v1/campaigns/welcome", {"trigger": {"type": "app_open"},
                                                     "frequency": {"type": "once"}}, key)
    await call(app, "PUT", "/v1/campaigns/nudge", {"trigger": {"type": "programmatic"},
                                                   "frequency": {"type": "every_time"}}, key)
    now = time.time()

    async def devices(first: int) -> None:  # TASKS at once: their writes share commits
        for i in range(first, DEVICES, TASKS):
            await call(app, "POST", "/v1/devices", {"device_id": f"d{i}", "user_id": f"u{i}",
                                                    "platform": "android", "os_version": 14},
                       key)
            await call(app, "POST", f"/v1/devices/d{i}/events", {"events": [
                {"type": "session_start", "event_id": "s1", "at": now}]}, key)
            await call(app, "POST", f"/v1/devices/d{i}/eligibility", {"trigger": "app_open"},
                       key)

    await asyncio.gather(*(devices(c) for c in range(TASKS)))
    return key


def backends_cpu(name: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends whose application_name is
    ``name`` (measured from here: the admin connection is another name)."""
    async def pids() -> list[int]:
        con = await asyncpg.connect(PG_BASE)
        try:
            return [r[0] for r in await con.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", name)]
        finally:
            await con.close()

    loop = asyncio.new_event_loop()
    try:
        found = loop.run_until_complete(pids())
    finally:
        loop.close()
    total = 0.0
    for pid in found:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def drive(app: Any, key: str, trigger: str, n: int, show: bool) -> float:
    """``n`` eligibility requests for ``trigger`` over the devices from TASKS tasks; wall s."""
    left = n

    async def task(first: int) -> None:
        nonlocal left
        i = first
        while left > 0:
            left -= 1
            d = await call(app, "POST", f"/v1/devices/d{i % DEVICES}/eligibility",
                           {"trigger": trigger}, key)
            assert d["show"] is show, d
            i += TASKS

    t0 = time.perf_counter()
    await asyncio.gather(*(task(c) for c in range(TASKS)))
    return time.perf_counter() - t0


async def measure(requests: int, triggers: bool, async_commit: bool) -> dict[str, Any]:
    """The figures of one process (see the module doc)."""
    schema = f"promptsim_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_BASE)
    await admin.execute(f"CREATE SCHEMA {schema}")
    extra = "&synchronous_commit=off" if async_commit else ""
    app = Service(Settings(db=f"{PG_BASE}?search_path={schema}&application_name={schema}"
                              f"{extra}", admin_key=ADMIN))
    out: dict[str, Any] = {"sim": sim.__file__}
    await app.startup()
    try:
        key = await seed(app)
        if not triggers:
            for t in TRIGGERED:
                await admin.execute(f"ALTER TABLE {schema}.{t} DISABLE TRIGGER USER")
        for kind, trigger, show in (("plain", "app_open", False),
                                    ("reserving", "programmatic", True)):
            await drive(app, key, trigger, requests // 10, show)
            c0, b0 = time.process_time(), await asyncio.to_thread(backends_cpu, schema)
            wall = await drive(app, key, trigger, requests, show)
            c1, b1 = time.process_time(), await asyncio.to_thread(backends_cpu, schema)
            out[kind] = {"process_us": (c1 - c0) / requests * 1e6,
                         "backends_us": (b1 - b0) / requests * 1e6,
                         "rate": requests / wall}
    finally:
        await app.shutdown()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    return out


def main() -> None:
    """Print the figures as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--no-triggers", action="store_true")
    ap.add_argument("--async-commit", action="store_true")
    args = ap.parse_args()
    uvloop.install()
    print(json.dumps(asyncio.run(measure(args.requests, not args.no_triggers,
                                         args.async_commit))))


if __name__ == "__main__":
    main()
