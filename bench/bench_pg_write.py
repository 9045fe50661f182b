"""PostgreSQL decisions, plain and reserving, of this tree against other commits' trees and
against this tree with the experiment-stats triggers disabled, in the same rounds.

Run from the repository root (wrk installed; PostgreSQL at ``$PROMPTSIM_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``, where each run makes fresh schemas)::

    python bench/bench_pg_write.py [--runs 3] [--seconds 6] [--baseline REF ...]
                                   [--no-triggers] [--async-commit] [--in-process N]

Each run starts, on loopback, the bare ASGI app of ``bench_service.py`` and one
``promptsim serve`` per *server*, each on a fresh PostgreSQL schema, one worker, seeded as
``bench_service.py`` seeds (one app, a once and an every-time campaign, 1,000 devices):

- ``this``: this tree;
- one per ``--baseline REF``: REF's ``sim`` package (``baseline_tree.py``: ``git archive``,
  its compiled modules built), or that of a directory holding such a checkout;
- with ``--no-triggers``, ``this, no triggers``: this tree on a schema whose tables'
  user triggers (the experiment stats, PostgreSQL migration 6) are disabled once it is
  seeded (``ALTER TABLE ... DISABLE TRIGGER USER``);
- with ``--async-commit``, ``this, synchronous_commit off``: a diagnostic, not a way to
  run: its sessions commit without waiting for the WAL flush, which shows how much of a
  reserving decision's time is that wait.

In each of three rounds: a bare slice, the time of a one-row commit (median of 30: one WAL
flush each), then each server's plain (``show=false``) and reserving (``show=true``, every
answer reserves an impression in a write) slices, the servers' order turning each round,
with the CPU time per request of the server and of its PostgreSQL backends (found by their
``application_name``). A run's ratio is the median over its rounds of the slice's rate over
the same round's bare rate; the printed figure is the median of the runs'. Servers run on
the last CPU, wrk on the first (``loadgen.py``); PostgreSQL is not pinned.

With ``--in-process N`` it starts no server: each run drives each tree in turn through its
ASGI app in one process (``inprocess_decisions.py``: N requests of each kind from 32 tasks)
and prints the CPU per request, which waiting for a core on a shared machine does not
change as it changes rates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline_tree import baseline_tree
from loadgen import (
    CLIENT_PIN,
    ROOT,
    SERVER_PIN,
    cpu_seconds,
    decide_lua,
    free_port,
    pg_call,
    pg_exec,
    pg_fetch,
    pg_reachable,
    pg_schema,
    pids_cpu_seconds,
    seed,
    start_bare,
    start_service,
    stop,
    wrk,
)

TRIGGERED = ("events", "devices", "assignments")
"""The tables the experiment-stats triggers are on (``experiment_aggregates.triggers``)."""
KINDS = (("read", "plain"), ("write", "reserving"))


@dataclass(frozen=True)
class Variant:
    """A server to start: its label, the tree it serves, and how its schema differs."""
    label: str
    root: Path
    triggers: bool = True
    async_commit: bool = False
    """Diagnostic only: the server's sessions commit without waiting for the WAL flush."""


class Server:
    """One ``promptsim serve`` on a PostgreSQL schema of its own, seeded; its connections
    are named after the schema (``application_name``), so that its backends can be found."""

    def __init__(self, v: Variant) -> None:
        self.label = v.label
        url = pg_schema()
        self.schema = url.rpartition("=")[2]
        self.port = free_port()
        # asyncpg passes a URL's unknown parameters to the server as session settings
        extra = "&synchronous_commit=off" if v.async_commit else ""
        self.proc = start_service(self.port, f"{url}&application_name={self.schema}{extra}",
                                  root=v.root)
        key = seed(self.port)
        if not v.triggers:
            pg_exec("; ".join(f"ALTER TABLE {self.schema}.{t} DISABLE TRIGGER USER"
                              for t in TRIGGERED))
        self.lua = {"read": decide_lua(key, "app_open"), "write": decide_lua(key, "programmatic")}

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by the server and by its PostgreSQL backends (those
        connected now)."""
        pids = [r[0] for r in pg_fetch("SELECT pid FROM pg_stat_activity WHERE "
                                       "application_name = $1", self.schema)]
        return cpu_seconds(self.proc), pids_cpu_seconds(pids)

    def close(self) -> None:
        """Stop the server and drop its schema."""
        stop(self.proc)
        pg_exec(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def commit_ms(n: int = 30) -> float:
    """The median time of a one-row INSERT committed alone (one WAL flush), in ms."""
    async def probe(con: Any) -> float:
        schema = f"promptsim_bench_probe_{uuid.uuid4().hex[:10]}"
        await con.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.t (x int)")
        try:
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                await con.execute(f"INSERT INTO {schema}.t VALUES (1)")
                times.append(time.perf_counter() - t0)
            return statistics.median(times) * 1e3
        finally:
            await con.execute(f"DROP SCHEMA {schema} CASCADE")

    return pg_call(probe)


def run_once(variants: list[Variant], seconds: int,
             rounds: int = 3) -> dict[str, dict[str, float]]:
    """One run: per server and kind, the median over rounds of the ratio to the same
    round's bare rate, of the p50 latency and of the CPU per request; the mean rate.
    ``bare`` holds the bare app's mean rate and the median commit time."""
    slice_s = max(2, seconds // rounds)
    bare_port = free_port()
    bare_proc = start_bare(bare_port)
    servers: list[Server] = []
    try:
        for v in variants:
            servers.append(Server(v))
        bare: list[float] = []
        commits: list[float] = []
        got: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {
            (s.label, kind): [] for s in servers for kind, _ in KINDS}
        for i in range(rounds):
            bare.append(wrk(bare_port, servers[0].lua["read"], slice_s)["rps"])
            commits.append(commit_ms())
            k = i % len(servers)  # each server's turn moves: none always comes first
            for s in servers[k:] + servers[:k]:
                for kind, _ in KINDS:
                    c0 = s.cpu()
                    r = wrk(s.port, s.lua[kind], slice_s)
                    c1 = s.cpu()
                    assert r["non2xx"] == 0, (s.label, r)
                    n = r["rps"] * slice_s
                    got[(s.label, kind)].append((r["rps"], r["p50"], (c1[0] - c0[0]) / n * 1e6,
                                                 (c1[1] - c0[1]) / n * 1e6))
        out = {"bare": {"rps": statistics.fmean(bare), "commit_ms": statistics.median(commits)}}
        for s in servers:
            out[s.label] = {}
            for kind, _ in KINDS:
                xs = got[(s.label, kind)]
                out[s.label] |= {
                    f"{kind}_rps": statistics.fmean(x[0] for x in xs),
                    f"{kind}_ratio": statistics.median(x[0] / b for x, b in zip(xs, bare,
                                                                                strict=True)),
                    f"{kind}_p50": statistics.median(x[1] for x in xs),
                    f"{kind}_app_us": statistics.median(x[2] for x in xs),
                    f"{kind}_pg_us": statistics.median(x[3] for x in xs)}
        return out
    finally:
        for s in servers:
            s.close()
        stop(bare_proc)


def show(title: str, run: dict[str, dict[str, float]]) -> None:
    """Print one run (or the medians)."""
    print(f"{title}\n  bare ASGI {run['bare']['rps']:.0f} req/s; a one-row commit "
          f"{run['bare']['commit_ms']:.2f} ms")
    first = next(k for k in run if k != "bare")
    for label, r in run.items():
        if label == "bare":
            continue
        rel = (f" (x{r['write_ratio'] / run[first]['write_ratio']:.2f} of {first}'s)"
               if label != first else "")
        print(f"  {label}")
        for kind, name in KINDS:
            print(f"    {name:9s} {r[f'{kind}_rps']:6.0f} req/s = {r[f'{kind}_ratio']:4.0%} of "
                  f"bare, p50 {r[f'{kind}_p50']:5.2f} ms; CPU per request: server "
                  f"{r[f'{kind}_app_us']:4.0f} us, its PostgreSQL backends "
                  f"{r[f'{kind}_pg_us']:4.0f} us" + (rel if kind == "write" else ""))
    sys.stdout.flush()


def in_process(variants: list[Variant], requests: int) -> dict[str, dict[str, float]]:
    """One run of ``inprocess_decisions.py`` per variant (its tree on ``PYTHONPATH``):
    CPU per plain and reserving request of the process and of its PostgreSQL backends."""
    out: dict[str, dict[str, float]] = {}
    for v in variants:
        cmd = [sys.executable, str(ROOT / "bench" / "inprocess_decisions.py"), "--requests",
               str(requests), *([] if v.triggers else ["--no-triggers"]),
               *(["--async-commit"] if v.async_commit else [])]
        got = json.loads(subprocess.run(cmd, cwd=v.root, env=os.environ | {
            "PYTHONPATH": str(v.root)}, capture_output=True, text=True, check=True).stdout)
        assert got["sim"] == str(v.root / "sim" / "__init__.py"), (v, got["sim"])
        out[v.label] = {f"{kind}_{k}": got[kind][k] for kind in ("plain", "reserving")
                        for k in ("process_us", "backends_us")}
    return out


def show_in_process(title: str, run: dict[str, dict[str, float]]) -> None:
    """Print one in-process run (or the medians)."""
    print(title)
    for label, r in run.items():
        print(f"  {label:30s} CPU per request, process + PostgreSQL backends: plain "
              f"{r['plain_process_us']:4.0f} + {r['plain_backends_us']:3.0f} us; reserving "
              f"{r['reserving_process_us']:4.0f} + {r['reserving_backends_us']:3.0f} us")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print each run and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=6, help="per server and kind (3 slices)")
    ap.add_argument("--baseline", metavar="REF", action="append", default=[],
                    help="also serve this git commit's sim package, or that of a directory "
                         "holding a checkout with its compiled modules built (repeatable)")
    ap.add_argument("--no-triggers", action="store_true",
                    help="also serve this tree with the experiment-stats triggers disabled")
    ap.add_argument("--async-commit", action="store_true",
                    help="also serve this tree with synchronous_commit off (a diagnostic: "
                         "what the reserving rate would be without waiting for WAL flushes)")
    ap.add_argument("--in-process", type=int, metavar="REQUESTS", default=0,
                    help="instead of servers and wrk, drive each tree in-process "
                         "(inprocess_decisions.py) with this many requests of each kind, "
                         "and print CPU per request")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None and not args.in_process:
        print("bench_pg_write: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    if (why := pg_reachable()) is not None:
        print(f"bench_pg_write: PostgreSQL is unreachable ({why}); set PROMPTSIM_BENCH_PG",
              file=sys.stderr)
        return 2
    print(f"servers pinned with {' '.join(SERVER_PIN) or 'nothing'}; wrk with "
          f"{' '.join(CLIENT_PIN) or 'nothing'}; started {time.strftime('%Y-%m-%d %H:%M:%S')}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        variants = [Variant("this", ROOT)]
        for i, ref in enumerate(args.baseline):
            given = Path(ref)
            variants.append(Variant(ref, given.resolve() if (given / "sim").is_dir()
                                    else baseline_tree(ref, Path(tmp) / f"base{i}")))
        if args.no_triggers:
            variants.append(Variant("this, no triggers", ROOT, triggers=False))
        if args.async_commit:
            variants.append(Variant("this, synchronous_commit off", ROOT, async_commit=True))
        runs = []
        for i in range(args.runs):
            if args.in_process:
                k = i % len(variants)  # the trees' order turns each run
                runs.append(in_process(variants[k:] + variants[:k], args.in_process))
                show_in_process(f"run {i + 1}", runs[-1])
            else:
                runs.append(run_once(variants, args.seconds))
                show(f"run {i + 1}", runs[-1])
    if args.in_process:
        show_in_process(f"MEDIAN of {args.runs} runs", {
            v.label: {k: statistics.median(r[v.label][k] for r in runs)
                      for k in runs[0][v.label]} for v in variants})
        return 0
    median = {label: {k: statistics.median(r[label][k] for r in runs) for k in runs[0][label]}
              for label in runs[0]}
    show(f"MEDIAN of {args.runs} runs", median)
    for label in (k for k in runs[0] if k != "bare"):
        each = ", ".join(f"{r[label]['write_ratio']:.0%}" for r in runs)
        print(f"  {label}: reserving by run {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
