"""Benchmark a probabilistic sensitivity run: 100 prior draws x 20,000 devices x 365 days x
the showdown's 6 strategies, with ``--jobs 2`` (target: at most 4 minutes).

Each run is ``promptsim simulate ... --prior-draws N`` in a subprocess (wall time includes
start-up and writing the run directory). The baseline, measured in the same run and
interleaved with it, is a plain run of the same scenario at its default priors with
``--replications R``: the ratio of seconds per draw to seconds per replication shows what
drawing the priors costs beyond the simulation itself. The machine is shared: compare the
ratio, and quote medians of ``--repeat`` runs.

    python bench/bench_sensitivity.py [--draws 100] [--devices 20000] [--days 365]
                                      [--jobs 2] [--repeat 3] [--baseline-replications 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 240.0
SCENARIO = "scenarios/frequency_showdown.toml"


def run(extra: list[str], args: argparse.Namespace) -> tuple[float, float, int]:
    """One ``promptsim simulate`` in a subprocess: (wall seconds, CPU seconds of it and its
    workers, engine events)."""
    out = Path(tempfile.mkdtemp(prefix="bench_psa_"))
    cmd = [sys.executable, "-m", "sim", "simulate", SCENARIO, "--devices", str(args.devices),
           "--days", str(args.days), "--jobs", str(args.jobs), "--out", str(out),
           "--no-progress", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(json.loads((out / "run.json").read_text())["engine_events"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--devices", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-replications", type=int, default=10)
    args = ap.parse_args()
    psa, cpus, base, ratios = [], [], [], []
    for k in range(args.repeat):
        b_wall, _, b_events = run(["--replications", str(args.baseline_replications)], args)
        p_wall, p_cpu, p_events = run(["--prior-draws", str(args.draws)], args)
        per_draw = p_wall / args.draws
        per_rep = b_wall / args.baseline_replications
        psa.append(p_wall)
        cpus.append(p_cpu)
        base.append(per_rep)
        ratios.append(per_draw / per_rep)
        print(f"run {k + 1}: sensitivity {p_wall:.1f} s wall, {p_cpu:.1f} CPU s "
              f"({per_draw:.2f} s per draw, {p_events:,} events); baseline {b_wall:.1f} s for "
              f"{args.baseline_replications} replications ({per_rep:.2f} s each, "
              f"{b_events:,} events); ratio per draw / per replication "
              f"{per_draw / per_rep:.2f}", flush=True)
    wall = statistics.median(psa)
    print(f"median of {args.repeat}: sensitivity run {wall:.1f} s for {args.draws} draws x "
          f"{args.devices:,} devices x {args.days} days x 6 strategies, --jobs {args.jobs} "
          f"(target <= {TARGET_SECONDS:.0f} s); baseline {statistics.median(base):.2f} s per "
          f"replication; ratio {statistics.median(ratios):.2f}; "
          f"CPU {statistics.median(cpus):.0f} s (CPU s / jobs = "
          f"{statistics.median(cpus) / args.jobs:.0f} s: the wall time if the "
          f"{args.jobs} cores were the run's alone)")
    ok = wall <= TARGET_SECONDS
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
