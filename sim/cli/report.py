"""``promptsim report`` and ``promptsim forecast``; ``report_after_simulate`` for ``--report``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int


def register(sub: Any) -> None:
    """Add the report and forecast commands to the ``promptsim`` parser."""
    p = sub.add_parser("report", help="write report.html and figures for a simulation or "
                                      "load run directory")
    p.add_argument("run_dir", type=Path, help="a simulation run or a load run directory")
    p.add_argument("--baseline", help="strategy to compare against (default: the scenario's "
                                      "baseline, else its first strategy)")
    p.set_defaults(func=report)

    f = sub.add_parser("forecast", help="forecast opted-in and reachable users of a rollout, "
                                        "optionally fitted to its first observed days")
    f.add_argument("scenario", type=Path, help="scenario TOML file")
    f.add_argument("--installs-per-day", type=float, required=True, metavar="N",
                   help="new installs a day during the rollout (required)")
    f.add_argument("--horizon", type=positive_int, required=True, metavar="DAYS",
                   help="days to forecast from the first install (required)")
    f.add_argument("--install-days", type=float, metavar="DAYS",
                   help="how long installs keep arriving (default: the whole horizon)")
    f.add_argument("--observed", type=Path, metavar="DAILY.csv",
                   help="observed daily counts per platform: day, platform, "
                        "soft_prompts_shown, soft_prompts_accepted, os_dialogs_shown, "
                        "os_dialogs_allowed")
    f.add_argument("--strategy", help="strategy the rollout uses (default: the one recommended "
                                      "under the scenario's objective, found by simulating "
                                      "the scenario first)")
    f.add_argument("--trajectories", type=positive_int, default=40,
                   help="simulations the intervals are taken over (default 40)")
    f.add_argument("--max-devices", type=positive_int, default=20_000,
                   help="simulate at most this many devices and scale up (default 20,000)")
    f.add_argument("--seed", type=int, help="override the scenario's seed")
    f.add_argument("--jobs", type=non_negative_int, default=0,
                   help="worker processes (default 0: one per core)")
    f.add_argument("--out", type=Path, help="output directory (default: runs/<name>-forecast)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.set_defaults(func=forecast)


def report_run(run_dir: Path, baseline: str | None = None) -> Path:
    """Write the report of a simulation or load run directory; print where; return the page."""
    from reports.load import write_load_report
    from reports.rundir import kind_of
    from reports.simulation import write_report

    t0 = time.perf_counter()
    if kind_of(run_dir) == "simulation":
        rep = write_report(run_dir, baseline)
        page, n, extra = rep.html, len(rep.figures), f"; recommended: {rep.recommendation.strategy}"
    else:
        if baseline is not None:
            from sim.cli import UsageError

            raise UsageError("--baseline: only for simulation runs, not load runs")
        lrep = write_load_report(run_dir)
        verdict = {True: "passed", False: "FAILED", None: "not recorded"}[lrep.passed]
        page, n, extra = lrep.html, len(lrep.figures), f"; checks {verdict}"
    print(f"{page} and {n} figure files in {time.perf_counter() - t0:.1f} s{extra}")
    return page


def report_after_simulate(run_dir: Path, baseline: str | None = None) -> Path:
    """What ``promptsim simulate --report`` calls after ``write_run``."""
    page: Path = _guard(lambda: report_run(run_dir, baseline))
    return page


def _guard(fn: Any) -> Any:
    from reports.rundir import RunDirError
    from sim.analysis.fit import FitError
    from sim.analysis.forecast import ForecastError
    from sim.cli import UsageError

    try:
        return fn()
    except (RunDirError, FitError, ForecastError) as exc:
        raise UsageError(str(exc)) from None


def report(args: argparse.Namespace) -> int:
    """``promptsim report RUN_DIR``."""
    _guard(lambda: report_run(args.run_dir, args.baseline))
    return 0


def forecast(args: argparse.Namespace) -> int:
    """``promptsim forecast SCENARIO.toml --installs-per-day N --horizon DAYS``."""
    return int(_guard(lambda: _forecast(args)))


def _forecast(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reports.forecast_page import write_forecast_page
    from sim.analysis.fit import observed_cube, read_observed
    from sim.analysis.forecast import (
        LABELS,
        Rollout,
        cell,
        check_days,
        forecast_strategy,
        run_forecast,
        simulations,
        write_forecast,
    )
    from sim.cli import UsageError
    from sim.model.population import chunk_count
    from sim.model.scenario import ScenarioError, load_scenario

    try:
        sc = load_scenario(args.scenario, seed=args.seed)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.max_devices < 1:
        raise UsageError("--max-devices: must be at least 1")
    observed = observed_cube(read_observed(args.observed)) if args.observed else None
    # One bar over every simulation: the recommendation's chunks (when no --strategy), the
    # fit's design points (with --observed), then the trajectories.
    pick = 0 if args.strategy or len(sc.strategies) == 1 else sc.replications * chunk_count(sc)
    total = pick + simulations(max(args.trajectories, 0), observed is not None)
    bar = tqdm(total=total, unit="sim", desc=f"{sc.name} forecast", disable=args.no_progress,
               file=sys.stderr)
    with bar:
        try:
            strategy, why = forecast_strategy(sc, args.strategy, jobs=args.jobs,
                                              on_task_done=lambda: bar.update(1))
        except ScenarioError as exc:
            raise UsageError(str(exc)) from None
        r = Rollout(installs_per_day=args.installs_per_day, horizon=args.horizon,
                    install_days=args.install_days or float(args.horizon),
                    strategy=strategy, max_devices=args.max_devices, why=why)
        t0 = time.perf_counter()
        fc = run_forecast(sc, r, observed=observed, trajectories=args.trajectories,
                          jobs=args.jobs, progress=lambda m: bar.set_postfix_str(m),
                          on_done=lambda: bar.update(1))
    out = args.out or Path("runs") / f"{sc.name}-forecast"
    write_forecast(fc, out)
    page, _ = write_forecast_page(fc, out, str(args.scenario))
    print(f"{sc.name}: strategy {r.strategy} ({why}), {r.installs_per_day:,g} installs/day, "
          f"{r.horizon} days, {fc.trajectories} trajectories in "
          f"{time.perf_counter() - t0:.1f} s -> {page}")
    if fc.fit is not None:
        for name, s in fc.fit.summary.items():
            print(f"  fitted {name}: {s['q50']:.3f} (95% interval {s['q2.5']:.3f} - "
                  f"{s['q97.5']:.3f})")
    print("median [95% interval] over trajectories:")
    for k, x in fc.series.items():
        print(f"  {LABELS[k]}: " + "; ".join(f"day {d} {cell(k, x[:, d - 1])}"
                                             for d in check_days(r.horizon)))
    return 0
