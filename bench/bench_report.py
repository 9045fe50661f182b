"""Time ``promptsim report`` on a run directory, stage by stage.

    python bench/bench_report.py RUN_DIR [--repeat N]

Prints the import time, then per repetition the seconds of each stage of
``reports.simulation.write_report`` (read the run, compare strategies, draw the
figures, save PNG + SVG, write the page) and the total. The target for the
1,000,000-device benchmark run is at most 10 s from start to finish, imports
included. The report is written into RUN_DIR, as ``promptsim report`` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

TARGET_S = 10.0


def main() -> int:
    t_start = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    from reports.simulation import write_report

    t_import = time.perf_counter() - t_start
    print(f"imports: {t_import:.2f} s")
    totals = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        rep = write_report(args.run_dir)
        total = time.perf_counter() - t0
        stages = "  ".join(f"{k} {v:.2f}" for k, v in rep.timings.items())
        print(f"run {i + 1}: {stages}  | report {total:.2f} s")
        totals.append(total)
    first = t_import + totals[0]
    panel = rep.html.parent / "panel.parquet"
    print(f"panel.parquet {panel.stat().st_size / 1e6:.1f} MB; page "
          f"{rep.html.stat().st_size / 1e6:.2f} MB; {len(rep.figures)} figure files")
    print(f"wall (imports + first report): {first:.2f} s; best report: {min(totals):.2f} s; "
          f"target <= {TARGET_S:.0f} s: {'met' if first <= TARGET_S else 'MISSED'}")
    return 0 if first <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
