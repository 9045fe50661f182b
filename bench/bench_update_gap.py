"""The event loop's longest gap while one Thompson-sampling update is drawn (3 platforms x
3 arms, 10,000 posterior draws, ``sim.service.allocation.thompson``): drawn on the loop, as
the service did, and in a thread (``asyncio.to_thread``), as it does. A probe coroutine
yields to the loop in a tight loop and records the longest time between two of its turns.
Medians of 5 of each; run from the repository root::

    python bench/bench_update_gap.py
"""

import asyncio
import statistics
import time

import numpy as np

from sim.service import allocation as alloc

T0 = 1_700_000_000.0
a = alloc.Thompson(prices=tuple(alloc.Price(platform=p, blocked=0.5)
                               for p in ("ios", "android", "web")),
                   prices_source="bench", min_weight=0.05)
counts = {p: np.array([[4000, 1500, 300], [4000, 1400, 500], [4000, 1300, 200]],
                      dtype=np.int64) for p in ("ios", "android", "web")}
step = alloc.first_step(T0, (1 / 3,) * 3)


def draw() -> alloc.Step:
    return alloc.thompson(a, counts, step, T0 + 86400, alloc.seed_of("e", T0 + 86400),
                          burn_in=300)


async def probe(stop: asyncio.Event) -> float:
    worst, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0)
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    return worst


async def once(threaded: bool) -> tuple[float, float]:
    stop = asyncio.Event()
    p = asyncio.ensure_future(probe(stop))
    await asyncio.sleep(0.01)
    t = time.perf_counter()
    if threaded:
        await asyncio.to_thread(draw)
    else:
        draw()
    took = time.perf_counter() - t
    stop.set()
    return took, await p


def main() -> None:
    for threaded in (False, True):
        r = [asyncio.run(once(threaded)) for _ in range(5)]
        update = statistics.median(x[0] for x in r) * 1e3
        gap = statistics.median(x[1] for x in r) * 1e3
        runs = ", ".join(f"{x[1] * 1e3:.1f}" for x in r)
        print(f"{'in a thread' if threaded else 'on the loop'}: update {update:.1f} ms, "
              f"longest loop gap {gap:.1f} ms (runs {runs})")


if __name__ == "__main__":
    main()
