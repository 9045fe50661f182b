"""``promptsim load``: simulated devices against the eligibility API, under Locust.

It starts a local service when asked (or takes ``--url``), creates or checks a
client-clock app and puts the strategy's campaigns on it, runs Locust headless
in a subprocess (``scenarios/locust/devices.py``, plus ``shapes.py`` for
``--shape``), then reads Locust's files, checks the budgets and the
consistency of the service, writes ``OUT/load_summary.json`` and prints a
summary ending in one verdict line. Exit code 0 only when budgets and
consistency both passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.loadtest.experiment import ExperimentPlan
    from sim.model.scenario import Scenario, Strategy

from sim.cli import http_url, positive_int

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = ROOT / "scenarios" / "locust"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def register(sub: Any) -> None:
    """Add ``promptsim load`` to the ``promptsim`` parser."""
    from sim.loadtest.shapes import SHAPES

    p = sub.add_parser(
        "load", help="load-test the eligibility API with simulated devices (Locust)",
        description="Run simulated devices of SCENARIO against the eligibility API with "
                    "Locust, then check budgets and consistency. Budgets: ENDPOINT:METRIC<LIMIT "
                    "with ENDPOINT eligibility, events, register, all or a full name and METRIC "
                    "p95_ms, p99_ms or fail_ratio (repeat --budget).")
    p.add_argument("scenario", type=Path, help="scenario TOML file (may hold a [load] table)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", type=http_url,
                       help="base URL of a running service (a team's deployment)")
    where.add_argument("--start-local", action="store_true",
                       help="start promptsim serve on a free 127.0.0.1 port for the run")
    p.add_argument("--db", help="with --start-local: SQLite file or postgresql:// URL "
                                "(default OUT/service.sqlite3)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="with --start-local: server workers (default 1)")
    p.add_argument("--api-key", help="with --url: key of an app created with --clock client "
                                     "(default $PROMPTSIM_API_KEY)")
    p.add_argument("--admin-key", help="with --url: create a fresh client-clock app with the "
                                       "server's admin key instead")
    p.add_argument("--users", type=int,
                   help="users (devices at once; the peak for a shape); default 50")
    p.add_argument("--spawn-rate", type=float, help="users started per second (default users/5)")
    p.add_argument("--duration", help="run time: 60s, 5m, 1h30m (default 60s)")
    p.add_argument("--shape", choices=sorted(SHAPES), help="load shape (default: none, "
                   "--users held after --spawn-rate)")
    p.add_argument("--processes", type=int, default=1,
                   help="Locust worker processes on this machine (default 1; -1: one per core)")
    p.add_argument("--out", type=Path, help="output directory (default runs/load/NAME-TIME)")
    p.add_argument("--day-seconds", type=float,
                   help="real seconds per simulated day (default 1; 0: no waiting)")
    p.add_argument("--strategy", help="strategy whose campaigns the service runs "
                                      "(default: the scenario's baseline, else its first)")
    p.add_argument("--replication", type=int, help="population replication to draw devices "
                                                   "from (default 0)")
    p.add_argument("--devices", type=positive_int, metavar="N",
                   help="each Locust process runs at most N devices, then its users stop "
                        "(default: as many as --duration allows); with --day-seconds 0 and "
                        "--run-id, a run whose devices all finish is the same every time")
    p.add_argument("--run-id", help="prefix of the device and user ids (default: random); "
                                    "the same id against a fresh app gives the same devices")
    p.add_argument("--experiment", type=Path, metavar="FILE.json",
                   help="an experiment to host (the body of PUT /v1/experiments/{id}, as "
                        "'promptsim pilot design' writes it): put before the run, the devices "
                        "follow their arms, its stats written to OUT/experiment_stats.json")
    p.add_argument("--experiment-id", help="with --experiment: its id (default: the file's "
                                           "'id' field, else the file's name)")
    p.add_argument("--budget", action="append", default=[], metavar="SPEC",
                   help="e.g. eligibility:p99_ms<50 or all:fail_ratio<0.001 (repeatable)")
    p.add_argument("--check-devices", type=positive_int, default=20_000,
                   help="devices read back for the consistency check (default 20000; a sample "
                        "beyond)")
    p.add_argument("--stop-timeout", type=float, default=5.0,
                   help="seconds a stopping user may finish its session (default 5)")
    p.add_argument("--no-progress", action="store_true",
                   help="no live progress line (it is off anyway when stderr is not a "
                        "terminal or CI is set)")
    p.set_defaults(func=load)


def parse_duration(text: str) -> int:
    """``"90"``, ``"90s"``, ``"2m"``, ``"1h30m"`` -> seconds (the formats of Locust's
    ``parse_timespan``, with an error naming the option). Not Locust's own: importing any
    part of ``locust`` runs gevent's ``monkey.patch_all()`` in this process, which starts
    the service and Locust as subprocesses and reads their files."""
    t = text.strip().lower()
    if t.isdigit():
        return int(t)
    m = _DURATION.match(t)
    if not t or m is None or not any(m.groups()):
        raise ValueError(f"--duration: {text!r} is not like 60s, 5m or 1h30m")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


@dataclass(frozen=True, slots=True)
class Options:
    """The run's settings, validated: the command line over the scenario's ``[load]``."""

    scenario: Scenario
    strategy: Strategy
    """The strategy whose campaigns the service runs."""
    budgets: dict[str, dict[str, float]]
    """The latency and error budgets per endpoint (``budgets.resolve``)."""
    seconds: int
    """How long Locust runs."""
    users: int
    shape: str | None
    """A load shape of ``sim.loadtest.shapes`` (``None``: steady)."""
    day_seconds: float
    """Real seconds per simulated day."""
    replication: int
    rate: float
    """Users started per second."""
    experiment: ExperimentPlan | None
    """The experiment the service hosts for the run (``--experiment``), if any."""


@dataclass(frozen=True, slots=True)
class Run:
    """Where this run goes: its output folder, the service and the app, its id."""

    out: Path
    url: str
    key: str
    app_id: str | None
    run_id: str


def _options(args: argparse.Namespace) -> Options:
    """Validated settings of the run (``UsageError`` naming the option)."""
    from sim.cli import UsageError
    from sim.loadtest import budgets
    from sim.loadtest.experiment import ExperimentError, read_experiment
    from sim.loadtest.world import read_scenario
    from sim.model.scenario import ScenarioError, pick_strategy

    try:
        sc, cfg = read_scenario(args.scenario)
        strategy = pick_strategy(sc, args.strategy or cfg.strategy,
                                 "--strategy" if args.strategy else "load.strategy")
        limits = budgets.resolve(cfg.budgets, specs=args.budget)
        seconds = parse_duration(args.duration or cfg.duration or "60s")
        if args.experiment_id and not args.experiment:
            raise ValueError("--experiment-id goes with --experiment FILE.json")
        plan = None if args.experiment is None else \
            read_experiment(args.experiment, strategy, args.experiment_id)
    except (ScenarioError, ExperimentError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    users = args.users if args.users is not None else (cfg.users or 50)
    shape = args.shape or cfg.shape
    rate = args.spawn_rate if args.spawn_rate is not None else max(1.0, users / 5)
    for name, ok in (("--users", users >= 1), ("--duration", seconds >= 1),
                     ("--spawn-rate", rate > 0),
                     ("--processes", args.processes == -1 or args.processes >= 1),
                     ("--check-devices", args.check_devices >= 1)):
        if not ok:
            least = "more than 0" if name == "--spawn-rate" else "at least 1"
            raise UsageError(f"{name}: must be {least}")
    from sim.loadtest.locust_options import RUN_ID
    if args.run_id is not None and not RUN_ID.match(args.run_id):
        raise UsageError(f"--run-id: {args.run_id!r} is not allowed; allowed: 1-64 letters, "
                         "digits or _ . : @ - (not starting with .)")
    if args.url and args.db:
        raise UsageError("--db goes with --start-local; with --url the service has its store")
    day = args.day_seconds if args.day_seconds is not None else cfg.day_seconds
    if day is not None and day < 0:
        raise UsageError("--day-seconds: must be 0 or more")
    from sim.loadtest.shapes import SHAPES
    if shape is not None and shape not in SHAPES:
        raise UsageError(f"shape: {shape!r} unknown; allowed: {', '.join(SHAPES)}")
    return Options(scenario=sc, strategy=strategy, budgets=limits, seconds=seconds, users=users,
                   shape=shape, day_seconds=1.0 if day is None else day,
                   replication=args.replication if args.replication is not None
                   else (cfg.replication or 0), rate=rate, experiment=plan)


def _prepare_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ("devices-*.jsonl", "locust_*", "load_summary.json", "load_meta.json",
                    "report.html", "service_before.json", "experiment_stats.json"):
        for f in out.glob(pattern):
            f.unlink()


def load(args: argparse.Namespace) -> int:
    """Run the load test; see the module docstring."""
    from sim.cli import UsageError
    from sim.loadtest.api import Api, ApiError, set_up_app
    from sim.loadtest.local import LocalService, create_app

    o = _options(args)
    sc, strategy = o.scenario, o.strategy
    run_id = args.run_id or secrets.token_hex(3)
    out = (args.out or Path("runs") / "load" / f"{sc.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    _prepare_out(out)
    service = None
    try:
        if args.start_local:
            db = args.db or str(out / "service.sqlite3")
            service = LocalService(db, out / "service.log", args.workers).start()
            created = create_app(db, f"load-{sc.name}-{run_id}")
            url, key, app_id = service.url, created["api_key"], created["app_id"]
        else:
            url, key, app_id = args.url.rstrip("/"), args.api_key, None
            if args.admin_key:
                with Api(url, args.admin_key) as admin:
                    try:
                        created = admin.json("POST", "/v1/apps", {
                            "name": f"load-{sc.name}-{run_id}", "clock": "client"})
                    except (ApiError, OSError) as exc:
                        raise UsageError(f"cannot create an app on {url}: {exc}") from None
                key, app_id = created["api_key"], created["app_id"]
            key = key or os.environ.get("PROMPTSIM_API_KEY")
            if not key:
                raise UsageError("--url needs --api-key (or PROMPTSIM_API_KEY) or --admin-key")
        with Api(url, key) as api:
            try:
                set_up_app(api, sc, strategy)
                app_id = app_id or api.json("GET", "/v1/app").get("app_id")
                if o.experiment is not None:
                    _put_experiment(api, o.experiment, args.experiment)
                from sim.loadtest.consistency import snapshot

                # the checks count what this run adds
                snapshot(api, strategy, out, o.experiment)
            except (ApiError, OSError) as exc:
                raise UsageError(f"cannot set up the app on {url}: {exc}") from None
            run = Run(out=out, url=url, key=key, app_id=app_id, run_id=run_id)
            code, wall = _run_locust(args, o, run)
            return _finish(args, o, run, api, code, wall)
    finally:
        if service is not None:
            service.stop()


def _put_experiment(api: Any, plan: Any, path: Path) -> None:
    """Put the experiment; a refusal is one line naming the file and the service's field."""
    from sim.cli import UsageError
    from sim.loadtest.api import ApiError, put_experiment

    try:
        put_experiment(api, plan)
    except ApiError as exc:
        raise UsageError(f"--experiment: {path}: the service refused it: {exc}") from None
    print(f"experiment {plan.experiment_id}: arms {', '.join(plan.arms)} "
          f"(from {path}; the devices follow their arms)")


def _run_locust(args: argparse.Namespace, o: Options, run: Run) -> tuple[int, float]:
    out = run.out
    files = [LOCUSTFILES / "devices.py"] + ([LOCUSTFILES / "shapes.py"] if o.shape else [])
    for f in files:
        if not f.exists():
            from sim.cli import UsageError
            raise UsageError(f"locustfile {f} not found (promptsim load runs from a checkout)")
    env = {**os.environ, "PROMPTSIM_API_KEY": run.key,
           "PROMPTSIM_SCENARIO": str(args.scenario.resolve()),
           "PROMPTSIM_STRATEGY": o.strategy.name, "PROMPTSIM_DAY_SECONDS": str(o.day_seconds),
           "PROMPTSIM_REPLICATION": str(o.replication), "PROMPTSIM_RUN_ID": run.run_id,
           "PROMPTSIM_LOAD_OUT": str(out.resolve()), "PROMPTSIM_BUDGETS": json.dumps(o.budgets),
           "PROMPTSIM_SHAPE": o.shape or "steady", "PROMPTSIM_SHAPE_SECONDS": str(o.seconds),
           "PROMPTSIM_SKIP_SETUP": "true"}
    if args.devices is not None:
        env["PROMPTSIM_MAX_DEVICES"] = str(args.devices)
    if o.experiment is not None:
        env |= {"PROMPTSIM_EXPERIMENT": str(args.experiment.resolve()),
                "PROMPTSIM_EXPERIMENT_ID": o.experiment.experiment_id}
    cmd = [sys.executable, "-m", "locust", "-f", ",".join(str(f) for f in files), "--headless",
           "--host", run.url, "-u", str(o.users), "-r", f"{o.rate:g}", "-t", f"{o.seconds}s",
           "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "report.html"),
           "--only-summary", "--stop-timeout", f"{args.stop_timeout:g}"]
    if args.processes != 1:
        cmd += ["--processes", str(args.processes)]
    t0 = time.monotonic()
    with open(out / "locust.log", "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        try:
            code = _wait(proc, o.seconds, o.seconds + args.stop_timeout + 120,
                         out, show=show_progress(args.no_progress))
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                code = proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
    return code, time.monotonic() - t0


def show_progress(off: bool) -> bool:
    """Whether to draw live progress: not when asked not to, when stderr is not a terminal
    (a pipe, a file) or under CI (``CI`` set, as CI services do)."""
    return not off and sys.stderr.isatty() and not os.environ.get("CI")


def _wait(proc: subprocess.Popen[bytes], seconds: int, timeout: float, out: Path,
          show: bool) -> int:
    """Wait for Locust (``TimeoutExpired`` after ``timeout`` s); while it runs, show the
    requests per second, failures and time left from the history it writes every second."""
    if not show:
        return proc.wait(timeout)
    from tqdm import tqdm

    from sim.loadtest.results import HISTORY_CSV, latest_progress

    t0 = time.monotonic()
    fmt = "{desc} {bar} {n:.0f}/{total:.0f} s, {remaining} left{postfix}"
    with tqdm(total=seconds, desc="load", bar_format=fmt, file=sys.stderr) as bar:
        while True:
            try:
                return proc.wait(1.0)
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - t0
                if elapsed > timeout:
                    raise
            p = latest_progress(out / HISTORY_CSV)
            if p is not None:
                share = p.failures / p.requests if p.requests else 0.0
                bar.set_postfix_str(f"{p.users} users, {p.rps:,.0f} req/s, {p.requests:,} "
                                    f"requests, {p.failures:,} failures ({share:.2%})",
                                    refresh=False)
            bar.update(min(seconds, elapsed) - bar.n)


def _finish(args: argparse.Namespace, o: Options, run: Run, api: Any, code: int,
            wall: float) -> int:
    from dataclasses import asdict

    from sim.loadtest import budgets as bud
    from sim.loadtest import consistency as cons
    from sim.loadtest.results import (
        HISTORY_CSV,
        SUMMARY,
        endpoint_stats,
        find_knee,
        format_summary,
        locust_verdict,
        read_steps,
        summary_doc,
    )

    out = run.out
    stats, source = endpoint_stats(out)
    results = bud.evaluate(o.budgets, stats)
    recs: list[dict[str, Any]] = []
    try:
        recs = cons.read_logs(out)
        if not recs:
            raise RuntimeError(f"no device logs in {out} (see {out / 'locust.log'})")
        settled = cons.settle(api, recs)
        stored = cons.stored_counts(api)
        consistency = cons.check(api, recs, o.strategy, o.scenario.profiles(),
                                 settled=settled, stored=stored, max_devices=args.check_devices,
                                 before=cons.before_run(run.out), experiment=o.experiment)
        if o.experiment is not None:
            from sim.loadtest.experiment_check import check_stats, write_stats

            doc = write_stats(api, o.experiment, run.out)
            consistency["checks"].append(check_stats(
                doc, recs, o.experiment, cons.before_run(run.out).get("experiment")))
            consistency["passed"] = all(c["passed"] for c in consistency["checks"])
    except Exception as exc:  # the check itself could not run: that is a failed check
        consistency = {"passed": False, "checks": [
            {"name": "consistency_check_ran", "passed": False, "detail": str(exc)}]}
    summary = summary_doc(stats, results, consistency)
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    verdict = locust_verdict(out)
    steps = read_steps(out / HISTORY_CSV) if (out / HISTORY_CSV).exists() else []
    knee = find_knee(steps) if o.shape == "ramp" else None
    from sim.version import __version__

    meta = {"scenario": o.scenario.name, "strategy": o.strategy.name, "url": run.url,
            "promptsim_version": __version__, "started_at": time.strftime(
                "%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() - wall)),
            "app_id": run.app_id, "run_id": run.run_id, "users": o.users, "spawn_rate": o.rate,
            "duration_s": o.seconds, "shape": o.shape, "day_seconds": o.day_seconds,
            "processes": args.processes, "devices": len(recs), "locust_exit_code": code,
            "locust_verdict": verdict, "percentiles_from": source, "wall_s": round(wall, 2),
            "steps": [asdict(s) for s in steps] if o.shape == "ramp" else [],
            "knee": None if knee is None else asdict(knee)}
    (out / "load_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(format_summary(summary, meta, out))

    line = bud.summary_line(results)
    reasons = [] if summary["budgets_passed"] else [line]
    if code == bud.BUDGET_EXIT and summary["budgets_passed"]:
        reasons.append(f"Locust's own budget check failed: {(verdict or {}).get('budget_line')}")
    elif code not in (0, bud.BUDGET_EXIT):
        reasons.append(f"Locust exited with {code} (see {out / 'locust.log'})")
    total = stats.get(bud.AGGREGATED)
    if total is None or total.requests == 0:
        reasons.append(f"no requests were made (see {out / 'locust.log'})")
    bad = [c["name"] for c in consistency["checks"] if not c["passed"]]
    if bad:
        reasons.append(f"consistency: {', '.join(bad)} failed")
    if reasons:
        print(f"promptsim load: FAILED: {'; '.join(reasons)}")
        return 1
    print(f"promptsim load: PASSED: {line}; consistency: all "
          f"{len(consistency['checks'])} checks passed")
    return 0
