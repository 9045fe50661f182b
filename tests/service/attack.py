"""Hostile clients for the hardening tests, run as a subprocess so the test can measure the
server and serve normal clients meanwhile: ``python attack.py KIND N PORT HOLD [KEY]``.

Kinds: ``body`` (each connection sends a 1 MiB ``POST`` without a key, stopping 100 KB
short), ``authbody`` (the same with a key), ``slow`` (headers trickled, a byte a second),
``idle`` (connect, send nothing). Every connection stays open ``HOLD`` seconds unless the
server closes it. Prints one JSON object: connections opened, closed by the server (and
after how long), and the status lines received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time

BODY = 1 << 20


async def one(kind: str, port: int, hold: float, key: str, out: dict[str, list[float | str]]
              ) -> None:
    t0 = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except (OSError, TimeoutError):
        out["refused"].append(0.0)
        return
    out["opened"].append(0.0)
    auth = f"Authorization: Bearer {key}\r\n" if kind == "authbody" else ""
    head = (f"POST /v1/devices/d1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            f"\r\n{auth}Content-Length: {BODY}\r\n\r\n").encode()

    async def feed() -> None:
        if kind in ("body", "authbody"):
            w.write(head + b" " * (BODY - 100_000))
            await w.drain()
        elif kind == "slow":
            for byte in head:
                w.write(bytes([byte]))
                await w.drain()
                await asyncio.sleep(1.0)

    async def watch() -> None:
        with contextlib.suppress(ConnectionError):
            line = await r.readline()
            if line:
                out["status"].append(line.decode(errors="replace").split(" ", 2)[1])
            while await r.read(65536):
                pass
        out["closed_after"].append(round(time.monotonic() - t0, 2))

    feeding = asyncio.ensure_future(feed())
    with contextlib.suppress(OSError, TimeoutError, ConnectionError):
        await asyncio.wait_for(watch(), hold)
    feeding.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await feeding
    w.close()
    with contextlib.suppress(Exception):
        await w.wait_closed()


async def main(kind: str, n: int, port: int, hold: float, key: str) -> None:
    out: dict[str, list[float | str]] = {"opened": [], "refused": [], "status": [],
                                         "closed_after": []}
    tasks = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(one(kind, port, hold, key, out)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # a burst, not a single SYN flood
    await asyncio.gather(*tasks)
    statuses: dict[str, int] = {}
    for s in out["status"]:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    closed = sorted(float(x) for x in out["closed_after"])
    print(json.dumps({"opened": len(out["opened"]), "refused": len(out["refused"]),
                      "statuses": statuses, "closed_by_server": len(closed),
                      "closed_median_s": closed[len(closed) // 2] if closed else None}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                     sys.argv[5] if len(sys.argv) > 5 else ""))
