"""What one PostgreSQL call costs the service's worker, by the way it is made.

    python bench/bench_pg_calls.py [--calls 3000] [--rounds 5]

Runs ``SELECT 1`` many times on loopback PostgreSQL (``$PROMPTSIM_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``), interleaving the ways in rounds, and
prints the median wall time and client CPU per call of: a held connection; an asyncpg
pool with its default reset on release (a second round trip); the pool as the store
configures it (no reset); the store's deadline wrapper around that pool
(``PostgresStore._call``: ``asyncio.timeout`` + acquire); ``asyncio.timeout`` alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import uvloop
from loadgen import PG_BASE

from sim.service.storage.postgres import PostgresStore


async def measure(calls: int, rounds: int) -> None:
    """Print the per-call figures."""
    schema = f"promptsim_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_BASE)
    await admin.execute(f"CREATE SCHEMA {schema}")
    store = PostgresStore(f"{PG_BASE}?search_path={schema}")
    await store.open()
    default = await asyncpg.create_pool(PG_BASE, min_size=1, max_size=8)
    held = await asyncpg.connect(PG_BASE)
    q = "SELECT 1"

    async def held_con() -> None:
        await held.fetchrow(q)

    async def pool_default() -> None:
        async with default.acquire() as con:
            await con.fetchrow(q)

    async def pool_store() -> None:
        async with store.pool.acquire() as con:
            await con.fetchrow(q)

    async def wrapped() -> None:
        await store._call(lambda con: con.fetchrow(q))

    async def timeout_alone() -> None:
        async with asyncio.timeout(5):
            pass

    ways: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("held connection", held_con), ("pool, asyncpg's default reset", pool_default),
        ("pool, no reset (the store's)", pool_store),
        ("store._call: deadline + pool", wrapped), ("asyncio.timeout alone", timeout_alone)]
    got: dict[str, list[tuple[float, float]]] = {}
    try:
        for _ in range(rounds):
            for name, fn in ways:
                c0, t0 = time.process_time(), time.perf_counter()
                for _ in range(calls):
                    await fn()
                got.setdefault(name, []).append(((time.perf_counter() - t0) / calls * 1e6,
                                                 (time.process_time() - c0) / calls * 1e6))
    finally:
        await held.close()
        await default.close()
        await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    for name, xs in got.items():
        print(f"{name:32s} wall {statistics.median(x[0] for x in xs):7.1f} us   client CPU "
              f"{statistics.median(x[1] for x in xs):7.1f} us per call")


def main() -> None:
    """Parse the arguments and measure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    uvloop.run(measure(args.calls, args.rounds))


if __name__ == "__main__":
    main()
