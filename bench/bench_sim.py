"""Benchmark the simulator on scenarios/bench_1m.toml against a bare SimPy loop.

Prints wall time, CPU time (the simulation's processes: main process plus
workers), peak memory (the process tree), engine events and engine events/s per
core (events / wall / jobs), and, measured in the same run, the events/s of a bare
SimPy model with one timeout-driven generator process per entity on one core, as
the baseline, and their ratio. It says whether the engine ran its mypyc-compiled
modules (``sim.compiled()``; ``--pure-python`` forces the sources). The machine is
shared and noisy: compare the ratio and the CPU time, and run it a few times
(``--repeat``) to quote medians.

    python bench/bench_sim.py [--scenario scenarios/bench_1m.toml] [--jobs 2] [--repeat 1]
                              [--pure-python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import simpy

TARGET_SECONDS = 20.0
TARGET_BYTES = 2 * 1024**3
TARGET_RATIO = 0.75
"""Engine events/s per core over the bare SimPy loop's events/s on one core (issue 14)."""


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


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_simulation(scenario: str, jobs: int,
                   pure: bool) -> tuple[float, float, int, int, bool]:
    """Run ``promptsim simulate`` in a subprocess: (wall seconds, CPU seconds of it and its
    workers, peak tree RSS, events, whether the compiled modules ran)."""
    out = Path(tempfile.mkdtemp(prefix="bench_sim_"))
    cmd = [sys.executable, "-m", "sim", "simulate", scenario, "--jobs", str(jobs),
           "--out", str(out), "--no-progress"]
    env = {**os.environ, "PROMPTSIM_PURE_PYTHON": "1" if pure else "0"}
    check = [sys.executable, "-c", "import sim; print(int(sim.compiled()))"]
    compiled = subprocess.run(check, env=env, capture_output=True, text=True,
                              check=True).stdout.strip() == "1"
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
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
    cpu = _children_cpu() - cpu0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"simulate failed with exit code {proc.returncode}")
    events = int(json.loads((out / "run.json").read_text())["engine_events"])
    return wall, cpu, peak, events, compiled


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/bench_1m.toml")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--pure-python", action="store_true",
                    help="run the simulator's Python sources, not its compiled modules")
    args = ap.parse_args()

    walls, cpus, peaks, rates, bases = [], [], [], [], []
    for k in range(args.repeat):
        base = bare_simpy_events_per_s()
        wall, cpu, peak, events, compiled = run_simulation(args.scenario, args.jobs,
                                                           args.pure_python)
        rate = events / wall / args.jobs
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        rates.append(rate)
        bases.append(base)
        print(f"run {k + 1} ({'compiled' if compiled else 'pure Python'}): wall {wall:.1f} s, "
              f"CPU {cpu:.1f} s, peak memory {peak / 2**20:.0f} MiB, {events:,} events, "
              f"{rate:,.0f} events/s per core ({events / cpu:,.0f} per CPU second; bare SimPy, "
              f"one core: {base:,.0f} events/s; ratio {rate / base:.2f})", flush=True)
    m_wall, m_cpu = statistics.median(walls), statistics.median(cpus)
    m_peak, m_rate = statistics.median(peaks), statistics.median(rates)
    m_base = statistics.median(bases)
    ratio = statistics.median([r / b for r, b in zip(rates, bases, strict=True)])
    print(f"median of {args.repeat}: wall {m_wall:.1f} s (target <= {TARGET_SECONDS:.0f} s), "
          f"CPU {m_cpu:.1f} s, peak memory {m_peak / 2**30:.2f} GiB "
          f"(target <= {TARGET_BYTES / 2**30:.0f} GiB)")
    print(f"engine events/s per core {m_rate:,.0f} with --jobs {args.jobs}; bare SimPy events/s "
          f"{m_base:,.0f}; ratio {ratio:.2f} (target >= {TARGET_RATIO})")
    ok = m_wall <= TARGET_SECONDS and m_peak <= TARGET_BYTES and ratio >= TARGET_RATIO
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
