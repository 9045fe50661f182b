"""``promptsim simulate`` and ``promptsim validate``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int, scheduler_address


def register(sub: Any) -> None:
    """Add the simulation commands to the ``promptsim`` parser."""
    p = sub.add_parser("simulate", help="run a scenario and write a run directory")
    p.add_argument("scenario", type=Path, help="scenario TOML file")
    p.add_argument("--devices", type=positive_int, help="override the number of devices")
    p.add_argument("--days", type=positive_int, help="override the horizon in days")
    p.add_argument("--replications", type=positive_int, help="override the number of replications")
    p.add_argument("--seed", type=int, help="override the root seed")
    p.add_argument("--prior-draws", type=positive_int, metavar="N",
                   help="probabilistic sensitivity analysis: draw the uncertain priors N times "
                        "(each draw one replication, every strategy on it); the summary and "
                        "the report then give P(best), expected loss and what flips the choice "
                        "(default: the scenario's sensitivity.draws, else none)")
    p.add_argument("--jobs", type=non_negative_int, default=0,
                   help="worker processes (default 0: one per core); results do not depend on it")
    p.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                   help="run the tasks on the Dask cluster whose scheduler is at ADDRESS "
                        "(tcp://HOST:8786) instead of local processes; same results "
                        "(docs/distributed.md)")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<scenario name>); "
                   "it must be new, empty, or hold an earlier run of the same scenario file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace whatever run the directory holds")
    p.add_argument("--events", action="store_true", help="also write the event log")
    p.add_argument("--report", action="store_true",
                   help="also write report.html and figures/ into the run directory")
    p.add_argument("--step-every-session", action="store_true",
                   help="process every session instead of skipping idle ones (slower, "
                        "same results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=simulate)

    v = sub.add_parser("validate", help="check a scenario file and print what it resolves to")
    v.add_argument("scenario", type=Path, help="scenario TOML file")
    v.add_argument("--quiet", action="store_true", help="print nothing when it is valid")
    v.set_defaults(func=validate)

    d = sub.add_parser("scenario-docs",
                       help="write docs/scenario-reference.md and docs/scenario.schema.json "
                            "from the scenario types")
    d.add_argument("--out", type=Path, default=Path("docs"),
                   help="directory to write them to (default: docs)")
    d.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the files there differ from the code")
    d.set_defaults(func=scenario_docs)

    n = sub.add_parser("rules-native",
                       help="write sim/rules/native.py (the rules' native copies of the "
                            "configuration) from the Structs of sim/rules/config/")
    n.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the file differs from the Structs")
    n.set_defaults(func=rules_native)


NATIVE = Path(__file__).resolve().parents[1] / "rules" / "native.py"
"""The module ``promptsim rules-native`` writes."""


def _load(args: argparse.Namespace) -> Any:
    from sim.cli import UsageError
    from sim.model.scenario import ScenarioError, load_scenario

    over = {k: getattr(args, k, None) for k in ("devices", "days", "replications", "seed")}
    try:
        return load_scenario(args.scenario, **over)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def simulate(args: argparse.Namespace) -> int:
    """Run the scenario, write the run directory and print the summary table."""
    from tqdm import tqdm

    from sim.analysis.platform_picks import platform_picks
    from sim.cli import UsageError
    from sim.engine.executor import SchedulerError
    from sim.engine.output import RunDirTaken, check_run_dir, write_run
    from sim.engine.runner import platform_sum
    from sim.engine.runner import simulate as run
    from sim.engine.summary import format_table, summary_rows
    from sim.model.population import chunk_count
    from sim.model.scenario import pick_strategy

    sc = _load(args)
    if args.jobs < 0:
        raise UsageError(f"--jobs: must be 0 (one per core) or more, got {args.jobs}")
    draws = sc.sensitivity.draws if args.prior_draws is None else args.prior_draws
    if draws:
        if draws < 2:
            raise UsageError(f"--prior-draws: at least 2, got {draws}")
        if args.replications is not None or args.events or args.step_every_session:
            raise UsageError("--prior-draws: each draw is one replication; it cannot be "
                             "combined with --replications, --events or --step-every-session")
    out = args.out or Path("runs") / sc.name
    if not args.overwrite:
        try:
            check_run_dir(out, args.scenario)
        except RunDirTaken as exc:
            raise UsageError(str(exc)) from None
    total = chunk_count(sc) * (draws or sc.replications)
    bar = tqdm(total=total, unit="chunk", desc=sc.name, disable=args.no_progress,
               file=sys.stderr)
    t0 = time.perf_counter()
    with bar:
        try:
            if draws:
                from sim.analysis.sensitivity import run_sensitivity, write_draws

                result, drawn = run_sensitivity(sc, draws, jobs=args.jobs,
                                                on_task_done=lambda: bar.update(1),
                                                scheduler=args.scheduler, weights=True)
            else:
                result = run(sc, jobs=args.jobs, skip_idle=not args.step_every_session,
                             log=args.events, on_task_done=lambda: bar.update(1),
                             scheduler=args.scheduler)
        except SchedulerError as exc:
            raise UsageError(str(exc)) from None
    seconds = time.perf_counter() - t0
    write_run(result, out, seconds=seconds, jobs=args.jobs, events=args.events,
              source=args.scenario)
    if draws:
        write_draws(drawn, out / "priors.csv")
    reps = f"{draws} prior draws" if draws else f"{sc.replications} replications"
    print(f"{sc.name}: {sc.devices:,} devices x {len(sc.strategies)} strategies x "
          f"{reps}, {sc.days} days: {result.events:,} events in {seconds:.1f} s -> {out}")
    rows = summary_rows(result)
    print(format_table(rows))
    print(platform_picks(lambda name: platform_sum(result.series(name), result.scenario),
                         result.scenario, pick_strategy(result.scenario, None).name,
                         draws=bool(draws)).line())
    print(result.scenario.objective.describe())
    if args.report:
        from sim.cli.report import report_after_simulate

        report_after_simulate(out)
    return 0


def validate(args: argparse.Namespace) -> int:
    """Validate the scenario; print the resolved JSON unless ``--quiet``."""
    from sim.model.scenario import dump_scenario

    sc = _load(args)
    if not args.quiet:
        sys.stdout.write(dump_scenario(sc).decode() + "\n")
    return 0


def scenario_docs(args: argparse.Namespace) -> int:
    """Write (or ``--check``) the scenario reference and JSON Schema."""
    from sim.model.scenario_docs import FILES

    stale = []
    for name, make in FILES.items():
        path = args.out / name
        text = make()
        if args.check:
            try:
                same = path.read_text() == text
            except OSError:
                same = False
            if not same:
                stale.append(str(path))
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(path)
    if stale:
        print(f"out of date (run promptsim scenario-docs): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


def rules_native(args: argparse.Namespace) -> int:
    """Write (or ``--check``) ``sim/rules/native.py`` from the configuration Structs."""
    from sim.rules.config.native_source import source

    text = source()
    if args.check:
        try:
            same = NATIVE.read_text() == text
        except OSError:
            same = False
        if not same:
            print(f"out of date (run promptsim rules-native): {NATIVE}", file=sys.stderr)
            return 1
        return 0
    NATIVE.write_text(text)
    print(NATIVE)
    return 0
