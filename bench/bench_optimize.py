"""Benchmark ``promptsim optimize`` and Dask distributed.

1. ``promptsim optimize scenarios/optimize.toml`` (42 candidate schedules x 20,000 devices
   x 365 days, racing to 10 replications) in a subprocess, ``--jobs 2``: wall time
   (target: at most 4 minutes) and the device-years it simulated against running every
   candidate to full precision (the saving of the race), both read from its output.
2. The same sensitivity run (``frequency_showdown``, ``--draws`` prior draws x 20,000
   devices x 365 days x 6 strategies) on a Dask LocalCluster of 1 worker process and of 2,
   interleaved: the ratio of their wall times (target: 2 workers at least 1.7x faster).

The machine is shared: compare ratios measured in the same run, and quote medians of
``--repeat`` runs.

    python bench/bench_optimize.py [--repeat 3] [--draws 16] [--skip-optimize] [--skip-dask]
                                   [--with-pool]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 240.0
TARGET_SPEEDUP = 1.7
SCENARIO = "scenarios/optimize.toml"
SENSITIVITY = "scenarios/frequency_showdown.toml"


def run_optimize() -> tuple[float, float, float, float, int]:
    """One optimize in a subprocess: (wall s, CPU s of it and its workers, device-years
    simulated, at full precision, candidates)."""
    out = Path(tempfile.mkdtemp(prefix="bench_opt_")) / "out"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sim", "optimize", SCENARIO, "--jobs", "2",
                           "--out", str(out), "--no-progress"], check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"simulated ([\d,]+) device-years against ([\d,]+)", done.stdout)
    n = re.search(r": (\d+) candidates", done.stdout)
    assert m and n, done.stdout
    return (wall, cpu, float(m.group(1).replace(",", "")), float(m.group(2).replace(",", "")),
            int(n.group(1)))


def run_dask(workers: int, draws: int) -> float:
    """The sensitivity run on a fresh LocalCluster of ``workers`` processes: wall seconds
    of the run (the cluster's start-up excluded)."""
    from distributed import LocalCluster

    from sim.analysis.sensitivity import run_sensitivity
    from sim.model.scenario import load_scenario

    sc = load_scenario(SENSITIVITY, devices=20_000, days=365)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        t0 = time.perf_counter()
        run_sensitivity(sc, draws, scheduler=cluster.scheduler_address)
        return time.perf_counter() - t0


def run_pool(jobs: int, draws: int) -> float:
    """The same sensitivity run on the local process pool (``--jobs``): wall seconds."""
    from sim.analysis.sensitivity import run_sensitivity
    from sim.model.scenario import load_scenario

    sc = load_scenario(SENSITIVITY, devices=20_000, days=365)
    t0 = time.perf_counter()
    run_sensitivity(sc, draws, jobs=jobs)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--skip-optimize", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--with-pool", action="store_true",
                    help="also time the local pool with 2 processes (Dask's overhead)")
    args = ap.parse_args()
    ok = True
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
          flush=True)
    if not args.skip_optimize:
        walls, cpus, savings = [], [], []
        for k in range(args.repeat):
            wall, cpu, spent, full, n = run_optimize()
            walls.append(wall)
            cpus.append(cpu)
            savings.append(spent / full)
            print(f"optimize run {k + 1}: {wall:.1f} s wall, {cpu:.0f} CPU s (/ 2 cores = "
                  f"{cpu / 2:.0f} s), {n} candidates; "
                  f"{spent:,.0f} device-years simulated vs {full:,.0f} at full precision "
                  f"({spent / full:.2f}x; load average {os.getloadavg()[0]:.1f})", flush=True)
        wall = statistics.median(walls)
        met = wall <= TARGET_SECONDS
        ok &= met
        print(f"optimize, median of {args.repeat}: {wall:.1f} s (target <= "
              f"{TARGET_SECONDS:.0f} s: {'met' if met else 'NOT met'}); CPU s / 2 "
              f"{statistics.median(cpus) / 2:.0f} s (the wall time if both cores were the "
              f"run's alone); device-years "
              f"simulated / full precision {statistics.median(savings):.2f}", flush=True)
    if not args.skip_dask:
        ratios = []
        for k in range(args.repeat):
            one = run_dask(1, args.draws)
            two = run_dask(2, args.draws)
            ratios.append(one / two)
            pool = f", local pool of 2 {run_pool(2, args.draws):.1f} s" if args.with_pool else ""
            print(f"dask run {k + 1}: {args.draws} prior draws x 20,000 devices x 365 days x 6 "
                  f"strategies: 1 worker {one:.1f} s, 2 workers {two:.1f} s, speed-up "
                  f"{one / two:.2f}x{pool} (load average {os.getloadavg()[0]:.1f})",
                  flush=True)
        r = statistics.median(ratios)
        met = r >= TARGET_SPEEDUP
        ok &= met
        print(f"dask, median of {args.repeat}: 2 workers / 1 worker speed-up {r:.2f}x "
              f"(target >= {TARGET_SPEEDUP}: {'met' if met else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
