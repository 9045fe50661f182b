"""Benchmark the simulator on scenarios/bench_1m.toml against a bare SimPy loop.

Prints wall time, peak memory (the process tree: main process plus workers),
engine events and events/s, and, measured in the same run, the events/s of a
bare SimPy model with one timeout-driven generator process per entity, as the
baseline. The machine is shared and noisy: compare the ratio, and run it a few
times (``--repeat``) to quote medians.

    python bench/bench_sim.py [--scenario scenarios/bench_1m.toml] [--jobs 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import simpy

TARGET_SECONDS = 60.0
TARGET_BYTES = 2 * 1024**3


def bare_simpy_events_per_s(entities: int = 50_000, steps: int = 20) -> float:
    """Events/s of the textbook model: one generator process per entity, ``yield timeout``."""
    env = simpy.Environment()

    def entity(env: simpy.Environment, gap: float):  # type: ignore[no-untyped-def]
        for _ in range(steps):
            yield env.timeout(gap)

    for i in range(entities):
        env.process(entity(env, 1.0 + (i % 97) / 97.0))
    t0 = time.perf_counter()
    env.run()
    return entities * steps / (time.perf_counter() - t0)


def _tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in bytes (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def run_simulation(scenario: str, jobs: int) -> tuple[float, int, int]:
    """Run ``promptsim simulate`` in a subprocess: (wall seconds, peak tree RSS, events)."""
    out = Path(tempfile.mkdtemp(prefix="bench_sim_"))
    cmd = [sys.executable, "-m", "sim", "simulate", scenario, "--jobs", str(jobs),
           "--out", str(out), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"simulate failed with exit code {proc.returncode}")
    events = int(json.loads((out / "run.json").read_text())["engine_events"])
    return wall, peak, events


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/bench_1m.toml")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    walls, peaks, rates, bases = [], [], [], []
    for k in range(args.repeat):
        base = bare_simpy_events_per_s()
        wall, peak, events = run_simulation(args.scenario, args.jobs)
        walls.append(wall)
        peaks.append(peak)
        rates.append(events / wall)
        bases.append(base)
        print(f"run {k + 1}: wall {wall:.1f} s, peak memory {peak / 2**20:.0f} MiB, "
              f"{events:,} events, {events / wall:,.0f} events/s "
              f"(bare SimPy, one core: {base:,.0f} events/s)", flush=True)
    wall, peak = statistics.median(walls), statistics.median(peaks)
    rate, base = statistics.median(rates), statistics.median(bases)
    print(f"median of {args.repeat}: wall {wall:.1f} s (target <= {TARGET_SECONDS:.0f} s), "
          f"peak memory {peak / 2**30:.2f} GiB (target <= {TARGET_BYTES / 2**30:.0f} GiB)")
    print(f"engine events/s {rate:,.0f} with --jobs {args.jobs}; bare SimPy events/s {base:,.0f}; "
          f"ratio {rate / base:.2f}")
    ok = wall <= TARGET_SECONDS and peak <= TARGET_BYTES
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
