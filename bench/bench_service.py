"""Benchmark of the eligibility service on SQLite and PostgreSQL against a bare ASGI app.

Run from the repository root (wrk must be installed: ``apt-get install -y wrk``; a C
compiler builds the open-loop client; PostgreSQL at ``$PROMPTSIM_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``, where each run makes fresh schemas)::

    python bench/bench_service.py [--runs 3] [--seconds 9] [--stores sqlite,pg,pg2]
                                  [--baseline REF]

For each run it starts side by side, on loopback:

1. the bare ASGI "hello world" below (it answers without reading the body), one worker;
2. per store, ``promptsim serve`` seeded with one app, a campaign set and 1,000
   registered devices: ``sqlite`` (a fresh file, one worker), ``pg`` (a fresh PostgreSQL
   schema, one worker) and ``pg2`` (another schema, two workers).

One-worker servers run on the last CPU and the load generators on the first (``taskset``);
the two-worker server may use both CPUs, which it shares with wrk and PostgreSQL (see
the README for what that makes of the 2-worker ratio). PostgreSQL itself is not pinned.
It measures, with ``wrk -t1 -c32 --latency`` and the same POST request shape,
alternating in slices (bare, then each store's read and write, the stores' order turning
each round; three rounds) so that background load on a shared machine hits all alike;
ratios are medians of per-round ratios to the bare slice of the same round:

* **bare**: req/s, p50, p99 of the hello world;
* **decide (read)**: eligibility where the answer is ``show=false``
  (``frequency_limit``: the once-only prompt was already shown) -- the common case,
  decided on the committed state without a write;
* **decide (write)**: eligibility where every answer is ``show=true`` (an
  ``every_time`` campaign): each reserves the impression in a write transaction;
* **p99 at 70%** (one-worker stores): the read request again at 70% of the maximum read
  rate wrk measured just before, two ways:

  - *open loop* (``bench/openloop.c``): Poisson arrivals on 32 keep-alive connections,
    each latency counted from the request's *scheduled* time, so a stall is charged to
    every request it delays (wrk2-style; no coordinated omission). The bare app is
    measured at the same absolute rate as a floor;
  - *wrk paced*: wrk with 64 connections, each waiting an exponentially distributed
    think time between requests, calibrated by a 2 s trial to the same rate (closed loop);

* **read, cache off** (one-worker stores): the service restarted on the same store with
  ``PROMPTSIM_DEVICE_CACHE=0``, every read going to the database; a round of its own, a
  bare slice then the cache-off slice, its share divided by that bare slice's rate;
* **ingestion**: batches of 100 events (``session_time``, unique ids) to 1,000 devices
  on 8 connections; events/s = 2xx batches/s x 100;
* **server CPU** during the read slices, per request, and the cores it used.

With ``--baseline REF`` (a git commit or branch, e.g. ``main``) it also runs ``base``:
SQLite, one worker, served by the ``sim`` package of that commit (``git archive``, its
compiled modules built: ``bench/baseline_tree.py``), in the same rounds, cache-off round
included, and prints this tree's SQLite decisions over the baseline's, cached and with the
cache off (each as a share of the same round's bare rate): the cost of a change to the
request path, measured in one run.

It prints each run, the medians, and each target of issue 14 with the runs that met it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baseline_tree import baseline_tree
from loadgen import (
    CLIENT_PIN,
    ROOT,
    SERVER_PIN,
    build_openloop,
    cpu_seconds,
    decide_lua,
    drop_pg_schema,
    events_lua,
    free_port,
    openloop,
    paced,
    pg_reachable,
    pg_schema,
    seed,
    start_bare,
    start_service,
    stop,
    write_requests,
    wrk,
)

NAN = float("nan")
WORKERS = {"sqlite": 1, "pg": 1, "pg2": 2, "base": 1}
LABEL = {"sqlite": "SQLite, 1 worker", "pg": "PostgreSQL, 1 worker",
         "pg2": "PostgreSQL, 2 workers", "base": "SQLite, 1 worker, --baseline tree"}


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare ASGI app: a fixed JSON body, nothing else."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b'{"show":false,"reason":"hello"}'
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Store:
    """One ``promptsim serve`` of the run: its database, process and seeded app."""

    def __init__(self, name: str, tmp: Path, root: Path = ROOT) -> None:
        self.name = name
        self.workers = WORKERS[name]
        self.root = root
        self.sqlite = name in ("sqlite", "base")
        self.db = str(tmp / f"{name}.sqlite3") if self.sqlite else pg_schema()
        self.port = free_port()
        self.proc = start_service(self.port, self.db, self.workers, root=root)
        self.key = seed(self.port)
        self.read, self.write = decide_lua(self.key, "app_open"), decide_lua(self.key,
                                                                             "programmatic")

    def restart(self, cache: bool) -> None:
        """Start again on the same database, with the record cache on or off."""
        stop(self.proc)
        self.proc = start_service(self.port, self.db, self.workers, cache, self.root)

    def close(self) -> None:
        """Stop the server; drop a PostgreSQL schema."""
        stop(self.proc)
        if not self.sqlite:
            drop_pg_schema(self.db)


def _median(xs: list[dict[str, float]], k: str) -> float:
    return statistics.median(x[k] for x in xs)


def _slices(bare: list[dict[str, float]], reads: list[dict[str, float]],
            writes: list[dict[str, float]], cpu: list[float]) -> dict[str, float]:
    return {
        "read_rps": statistics.fmean(x["rps"] for x in reads), "read_p50": _median(reads, "p50"),
        "read_p99": _median(reads, "p99"),
        "write_rps": statistics.fmean(x["rps"] for x in writes),
        "write_p50": _median(writes, "p50"), "write_p99": _median(writes, "p99"),
        "read_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(reads, bare,
                                                                            strict=True)),
        "write_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(writes, bare,
                                                                             strict=True)),
        "cpu_us": statistics.median(cpu),
    }


def _extras(store: Store, bare_port: int, exe: Path | None, tmp: Path,
            slice_s: int) -> dict[str, float]:
    """Open-loop and paced p99 at 70% of the maximum, and the cache-off read rate."""
    now_max = wrk(store.port, store.read, slice_s)["rps"]
    rate = 0.7 * now_max
    o = ob = {"achieved": NAN, "p50": NAN, "p99": NAN, "non2xx": 0.0}
    if exe is not None:
        requests = tmp / f"requests-{store.name}.bin"
        write_requests(requests, store.key)
        o = openloop(exe, store.port, requests, rate, slice_s + 2)
        ob = openloop(exe, bare_port, requests, rate, slice_s + 2)
    f = paced(store.port, store.read, rate, slice_s + 2)
    assert o["non2xx"] == 0 and f["non2xx"] == 0, (o, f)
    return {"max_before": now_max, "rate70": rate, "open_rate": o["achieved"],
            "open_p50": o["p50"], "open_p99": o["p99"], "open_bare_p50": ob["p50"],
            "open_bare_p99": ob["p99"], "paced_rate": f["rate"], "paced_p50": f["p50"],
            "paced_p99": f["p99"]}


def _uncached(s: Store, bare_port: int, bare_lua: str, slice_s: int) -> dict[str, float]:
    """The store restarted with its record cache off, in a round of its own: a bare slice,
    then the cache-off read slice, as in the rounds."""
    s.restart(cache=False)
    ub = wrk(bare_port, bare_lua, slice_s)
    u = wrk(s.port, s.read, slice_s)
    assert u["non2xx"] == 0, u
    return {"uncached_rps": u["rps"], "uncached_ratio": u["rps"] / ub["rps"],
            "uncached_bare_rps": ub["rps"]}


def run_once(seconds: int, exe: Path | None, names: list[str], rounds: int = 3,
             base: Path | None = None) -> dict[str, dict[str, float]]:
    """Every measurement of one run, by store (``bare`` holds the bare app's)."""
    slice_s = max(2, seconds // rounds)
    bare_port = free_port()
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bare_proc = start_bare(bare_port)
        stores: list[Store] = []
        try:
            for name in names:
                stores.append(Store(name, tmp))
            if base is not None:
                stores.append(Store("base", tmp, base))
            bare_lua = stores[0].read
            b: list[dict[str, float]] = []
            r: dict[str, list[dict[str, float]]] = {s.name: [] for s in stores}
            w: dict[str, list[dict[str, float]]] = {s.name: [] for s in stores}
            cpu: dict[str, list[float]] = {s.name: [] for s in stores}
            for i in range(rounds):
                b.append(wrk(bare_port, bare_lua, slice_s))
                k = i % len(stores)  # each store's turn moves: no store always comes first
                for s in stores[k:] + stores[:k]:
                    c0 = cpu_seconds(s.proc)
                    r[s.name].append(wrk(s.port, s.read, slice_s))
                    used = cpu_seconds(s.proc) - c0
                    cpu[s.name].append(used / (r[s.name][-1]["rps"] * slice_s) * 1e6)
                    w[s.name].append(wrk(s.port, s.write, slice_s))
            out["bare"] = {"rps": statistics.fmean(x["rps"] for x in b),
                           "p50": _median(b, "p50"), "p99": _median(b, "p99")}
            for s in stores:
                res = _slices(b, r[s.name], w[s.name], cpu[s.name])
                res["cores"] = res["cpu_us"] * res["read_rps"] / 1e6
                if s.name == "base":
                    res |= _uncached(s, bare_port, bare_lua, slice_s)
                    out[s.name] = res
                    continue
                if s.workers == 1:
                    res |= _extras(s, bare_port, exe, tmp, slice_s)
                e = wrk(s.port, events_lua(s.key), slice_s, connections=8)
                assert e["non2xx"] == 0, e
                res["events_per_s"] = e["rps"] * 100
                if s.workers == 1:
                    res |= _uncached(s, bare_port, bare_lua, slice_s)
                assert all(x["non2xx"] == 0 for x in (*r[s.name], *w[s.name])), s.name
                out[s.name] = res
        finally:
            for s in stores:
                s.close()
            stop(bare_proc)
    if "sqlite" in out and "base" in out:
        out["sqlite"]["vs_base"] = out["sqlite"]["read_ratio"] / out["base"]["read_ratio"]
        out["sqlite"]["vs_base_uncached"] = (out["sqlite"]["uncached_ratio"]
                                             / out["base"]["uncached_ratio"])
    if "pg" in out and "pg2" in out:
        out["pg2"]["scale"] = out["pg2"]["read_rps"] / out["pg"]["read_rps"]
        out["pg2"]["scale_ratio"] = out["pg2"]["read_ratio"] / out["pg"]["read_ratio"]
    return out


def show(label: str, run: dict[str, dict[str, float]]) -> None:
    """Print one run (or the medians)."""
    b = run["bare"]
    print(f"{label}\n  bare ASGI          {b['rps']:9.0f} req/s  p50 {b['p50']:.2f} ms  "
          f"p99 {b['p99']:.2f} ms")
    for name, r in run.items():
        if name == "bare":
            continue
        print(f"  {LABEL[name]}\n"
              f"    decide (read)    {r['read_rps']:9.0f} req/s  p50 {r['read_p50']:.2f} ms  "
              f"p99 {r['read_p99']:.2f} ms  = {r['read_ratio']:.0%} of bare  (server CPU "
              f"{r['cpu_us']:.0f} us/request, {r['cores']:.2f} cores)\n"
              f"    decide (write)   {r['write_rps']:9.0f} req/s  p50 {r['write_p50']:.2f} ms  "
              f"p99 {r['write_p99']:.2f} ms  = {r['write_ratio']:.0%} of bare")
        if "uncached_rps" in r:
            print(f"    read, cache off  {r['uncached_rps']:9.0f} req/s  = "
                  f"{r['uncached_ratio']:.0%} of bare (bare in its round "
                  f"{r['uncached_bare_rps']:.0f} req/s)")
        if "open_rate" in r:
            print(f"    at 70% of the {r['max_before']:.0f}/s read max ({r['rate70']:.0f}/s):\n"
                  f"      open loop      {r['open_rate']:9.0f}/s     p50 {r['open_p50']:.2f} ms"
                  f"  p99 {r['open_p99']:.2f} ms  (bare app at the same rate: p50 "
                  f"{r['open_bare_p50']:.2f} ms, p99 {r['open_bare_p99']:.2f} ms)\n"
                  f"      wrk paced      {r['paced_rate']:9.0f}/s     p50 {r['paced_p50']:.2f} ms"
                  f"  p99 {r['paced_p99']:.2f} ms  (64 connections, think times)")
        if "events_per_s" in r:
            print(f"    ingestion        {r['events_per_s']:9.0f} events/s (batches of 100)")
        if "vs_base" in r:
            print(f"    this tree / --baseline: decisions (share of bare) {r['vs_base']:.3f}x, "
                  f"with the cache off {r['vs_base_uncached']:.3f}x")
        if "scale" in r:
            print(f"    2 workers / 1 worker: decisions {r['scale']:.2f}x (ratio to bare "
                  f"{r['scale_ratio']:.2f}x)")
    sys.stdout.flush()


TARGETS = [  # (store, measure, comparison, goal, text)
    ("sqlite", "read_ratio", ">=", 0.50, "SQLite decisions >= 50% of bare"),
    ("sqlite", "open_p99", "<=", 10.0, "SQLite open-loop p99 at 70% <= 10 ms"),
    ("sqlite", "events_per_s", ">=", 5000.0, "SQLite ingestion >= 5,000 events/s"),
    ("pg", "read_ratio", ">=", 0.40, "PostgreSQL decisions >= 40% of bare"),
    ("pg", "write_ratio", ">=", 0.20, "PostgreSQL reserving decisions >= 20% of bare"),
    ("pg", "open_p99", "<=", 10.0, "PostgreSQL open-loop p99 at 70% <= 10 ms"),
    ("pg", "events_per_s", ">=", 50000.0, "PostgreSQL ingestion >= 50,000 events/s"),
    ("pg2", "scale", ">=", 1.5, "PostgreSQL 2 workers >= 1.5x one worker (decisions)"),
]


def verdicts(runs: list[dict[str, dict[str, float]]],
             median: dict[str, dict[str, float]]) -> None:
    """Each target: the median, met or not, and the runs that met it."""
    print("targets (issue 14):")
    for store, k, cmp, goal, text in TARGETS:
        if store not in median or k not in median[store]:
            continue

        def ok(v: float, cmp: str = cmp, goal: float = goal) -> bool:
            return v >= goal if cmp == ">=" else v <= goal

        each = [r[store][k] for r in runs]
        fmt = "{:.0%}" if k.endswith("ratio") else "{:.2f}" if k == "scale" else "{:,.1f}"
        print(f"  {text:55s} median {fmt.format(median[store][k]):>9s}: "
              f"{'met' if ok(median[store][k]) else 'MISSED'} "
              f"(runs {', '.join(fmt.format(v) for v in each)}; "
              f"{sum(ok(v) for v in each)} of {len(each)} met)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print per-run figures, medians and targets."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=9, help="per measurement (3 slices)")
    ap.add_argument("--stores", default="sqlite,pg,pg2",
                    help="comma-separated: sqlite, pg (PostgreSQL, 1 worker), pg2 (2 workers)")
    ap.add_argument("--baseline", metavar="REF", default=None,
                    help="also serve SQLite from this git commit's sim package, in the same "
                         "rounds, and compare (e.g. main); or from a directory holding a "
                         "checkout with its compiled modules built")
    args = ap.parse_args(argv)
    names = [n for n in args.stores.split(",") if n]
    if bad := [n for n in names if n not in WORKERS]:
        ap.error(f"--stores: unknown {', '.join(bad)}; allowed: sqlite, pg, pg2")
    if shutil.which("wrk") is None:
        print("bench_service: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    if any(n.startswith("pg") for n in names) and (why := pg_reachable()) is not None:
        print(f"bench_service: PostgreSQL is unreachable ({why}); set PROMPTSIM_BENCH_PG "
              "or pass --stores sqlite", file=sys.stderr)
        return 2
    print(f"one-worker servers pinned with {' '.join(SERVER_PIN) or 'nothing'}; load "
          f"generators with {' '.join(CLIENT_PIN) or 'nothing'}; started "
          f"{time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_openloop(Path(tmp))
        base = None
        if args.baseline:
            given = Path(args.baseline)
            base = (given.resolve() if (given / "sim").is_dir()
                    else baseline_tree(args.baseline, Path(tmp) / "baseline"))
        if exe is None:
            print("bench_service: no C compiler: the open-loop latency is skipped",
                  file=sys.stderr)
        runs = []
        for i in range(args.runs):
            run = run_once(args.seconds, exe, names, base=base)
            show(f"run {i + 1}", run)
            runs.append(run)
    median = {store: {k: statistics.median(r[store][k] for r in runs) for k in runs[0][store]}
              for store in runs[0]}
    show(f"MEDIAN of {args.runs} runs", median)
    verdicts(runs, median)
    return 0


if __name__ == "__main__":
    sys.exit(main())
