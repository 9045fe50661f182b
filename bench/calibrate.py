"""Print promptsim's default priors against the published benchmarks, row by row.

Each row simulates what the benchmark measured (``sim.analysis.calibration``): an OS
cohort alone under the cold baseline for a year of installs, or the drawn population
for retention and uninstalls. The table is the one ``docs/behaviour-priors.md``
carries; paste it there after changing a default.

    python bench/calibrate.py [--devices 20000] [--seed 1] [--jobs 2] [--hold-out]

With ``--hold-out`` it fits the opt-in priors on every opt-in source but one instead and
prints how close the model lands on each source left out (``sim.analysis.holdout``).
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.analysis.calibration import calibrate, format_rows
from sim.analysis.holdout import format_hold_outs, hold_outs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=20_000, help="devices per cohort")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--hold-out", action="store_true",
                    help="fit on every opt-in source but one; print the error on the one left "
                         "out, for each source")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.hold_out:
        results = hold_outs(devices=args.devices, seed=args.seed, jobs=args.jobs,
                            progress=lambda m: print(m, file=sys.stderr))
        print(format_hold_outs(results, args.devices, args.seed))
        print(f"({time.perf_counter() - t0:.1f} s)")
        return 0
    rows = calibrate(devices=args.devices, seed=args.seed, jobs=args.jobs,
                     progress=lambda m: print(m, file=sys.stderr))
    print(format_rows(rows))
    missed = [r.target.key for r in rows if not r.within]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} rows within the published range "
          f"({args.devices:,} devices per cohort, seed {args.seed}, "
          f"{time.perf_counter() - t0:.1f} s)" + (f"; outside: {', '.join(missed)}" if missed
                                                   else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
