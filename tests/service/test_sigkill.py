"""Nothing acknowledged is lost: SIGKILL a loaded server, restart it, count.

Clients send event batches concurrently; every 200 means committed. The
server's process group is killed with SIGKILL mid-load; after a restart on the
same database, re-sending every acknowledged batch must find each event
already stored (all duplicates), and each device's session count must cover
every acknowledged ``session_start``.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from service_helpers import T0

DEVICES = 6
BATCH = 20
ACKED_BEFORE_KILL = 200
"""Acknowledged events the load has had before the kill (10 batches): then it is going."""
LOAD_BEFORE_KILL = 1.2
"""Seconds of load before the kill at least (thousands of events on a quiet machine)."""
GUARD = 60.0
"""Seconds the load may take to reach :data:`ACKED_BEFORE_KILL`, a guard only: the kill
waits for that many acknowledged events, not for a time alone (on a loaded machine a fixed
wait could end before the load got going)."""


async def _load(url: str, key: str, acked: dict[int, list[list[dict]]],
                stop: asyncio.Event) -> None:
    """Each device sends batches one after the other until ``stop``; ``acked`` gets every
    batch answered 200."""

    async def device(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10,
                                     headers={"Authorization": f"Bearer {key}"}) as c:
            n = 0
            while not stop.is_set():
                n += 1
                batch = [{"type": "session_start", "event_id": f"d{i}-b{n}-{k}",
                          "at": T0 + n + k / 100} for k in range(BATCH)]
                try:
                    r = await c.post(f"/v1/devices/d{i}/events", json={"events": batch})
                except httpx.TransportError:
                    await asyncio.sleep(0.01)  # the server is gone: keep trying until stop
                    continue
                if r.status_code == 200:
                    acked[i].append(batch)

    await asyncio.gather(*(device(i) for i in range(DEVICES)))


def _total(acked: dict[int, list[list[dict]]]) -> int:
    return sum(len(b) for b in acked.values()) * BATCH


def test_sigkill_under_load_loses_no_acknowledged_event(db_url, server_factory):
    s = server_factory(db_url)
    key = s.new_app()
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"}) as c:
        for i in range(DEVICES):
            assert c.post("/v1/devices", json={"device_id": f"d{i}", "user_id": f"u{i}",
                                               "platform": "ios", "at": T0}).status_code == 201
    acked: dict[int, list[list[dict]]] = {i: [] for i in range(DEVICES)}

    async def load_and_kill() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(_load(s.url, key, acked, stop))
        t0 = time.monotonic()
        while (_total(acked) < ACKED_BEFORE_KILL or time.monotonic() - t0 < LOAD_BEFORE_KILL) \
                and time.monotonic() - t0 < GUARD:
            await asyncio.sleep(0.05)
        s.kill()  # SIGKILL to the server's process group, mid-load
        stop.set()
        await task

    asyncio.run(load_and_kill())
    assert _total(acked) >= ACKED_BEFORE_KILL, "the load did not get going before the kill"

    s2 = server_factory(db_url)
    with httpx.Client(base_url=s2.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        for i, batches in acked.items():
            sessions = c.get(f"/v1/devices/d{i}").json()["state"]["sessions"]
            assert sessions >= len(batches) * BATCH
            for batch in batches:
                r = c.post(f"/v1/devices/d{i}/events", json={"events": batch})
                assert r.status_code == 200
                assert r.json()["new"] == 0, f"acknowledged events of d{i} were lost"
                assert r.json()["duplicate"] == BATCH
