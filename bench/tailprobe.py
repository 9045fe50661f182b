"""``promptsim serve`` (one worker) with probes of where its time goes, for ``bench_tail.py``.

    python bench/tailprobe.py OUT.json serve --db ... --port ...

Before running the CLI it hooks, in the worker process (one worker: uvicorn serves in
this process):

* the cyclic garbage collector (``gc.callbacks``): every collection's generation and
  duration;
* the event loop, once started (``Service.startup``): a task that sleeps 1 ms and records
  how late it wakes (the loop's stalls, whatever blocked it) together with the CPU time
  this thread used meanwhile (``time.thread_time``): a stall the thread spent running was
  work (a long pass, a collection), one it did not was time the process was not on a CPU
  (the machine) or waited in a system call.

Times are ``time.perf_counter()`` (``CLOCK_MONOTONIC``, the same clock in every process),
so the benchmark can keep what fell inside its own measurement window.

At shutdown it writes OUT.json.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any

OUT = sys.argv[1]
STALL = 0.005
"""Wake-ups later than this (seconds) are recorded one by one."""

stats: dict[str, Any] = {"gc": {"0": [], "1": [], "2": []}, "stalls": [], "lag_max": 0.0,
                         "wakeups": 0, "started": 0.0, "ended": 0.0}
_gc_t0 = [0.0]


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_t0[0] = time.perf_counter()
    else:
        stats["gc"][str(info["generation"])].append(
            [_gc_t0[0], time.perf_counter() - _gc_t0[0]])


async def _watch() -> None:
    while True:
        w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
        await asyncio.sleep(0.001)
        lag = time.perf_counter() - w0 - 0.001
        stats["wakeups"] += 1
        stats["lag_max"] = max(stats["lag_max"], lag)
        if lag > STALL:
            stats["stalls"].append([w0, lag, time.thread_time() - c0,
                                    time.process_time() - p0])


def _install() -> None:
    from sim.service.http import service

    start, stop = service.Service.startup, service.Service.shutdown
    tasks: list[asyncio.Task[None]] = []

    async def startup(self: service.Service) -> None:
        await start(self)
        stats["started"] = time.perf_counter()
        tasks.append(asyncio.get_running_loop().create_task(_watch()))

    async def shutdown(self: service.Service) -> None:
        for t in tasks:
            t.cancel()
        stats["ended"] = time.perf_counter()
        with open(OUT, "w") as fh:
            json.dump(stats, fh)
        await stop(self)

    service.Service.startup = startup  # type: ignore[method-assign]
    service.Service.shutdown = shutdown  # type: ignore[method-assign]
    gc.callbacks.append(_on_gc)


if __name__ == "__main__":
    _install()
    from sim.cli import main

    sys.exit(main(sys.argv[2:]))
