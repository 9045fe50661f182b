"""``promptsim pilot``: design an experiment, learn the priors from it, re-recommend, export."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tomllib
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``promptsim pilot`` and its subcommands to the ``promptsim`` parser."""
    p = sub.add_parser("pilot", help="design an experiment that settles the pick, fit the "
                                     "priors to its stats, report it (docs/pilot.md)")
    psub = p.add_subparsers(dest="pilot_command", required=True, metavar="STEP")
    d = psub.add_parser("design", help="the arms, installs and days that settle the pick, and "
                                       "what the experiment costs; writes the experiment")
    d.add_argument("scenario", type=Path, help="scenario TOML file")
    d.add_argument("--out", type=Path, help="the experiment file, the service's PUT body "
                   "(default runs/<name>.pilot/experiment.json; the numbers go beside it, "
                   "<stem>.design.json)")
    d.add_argument("--experiment-id", help="the experiment's id (default <name>-pilot)")
    d.add_argument("--installs-per-day", type=float, metavar="N",
                   help="new installs a day entering the experiment (default: the scenario's "
                        "devices over its install window)")
    d.add_argument("--max-loss", type=float, default=2.0,
                   help="expected loss per 1,000 installs the experiment must bring the "
                        "decision under (default 2.0)")
    d.add_argument("--devices", type=int, default=4000,
                   help="devices per prior draw of the sensitivity run (default 4,000)")
    d.add_argument("--prior-draws", type=int, default=48,
                   help="prior draws of the sensitivity run (default 48)")
    d.add_argument("--max-arms", type=int, default=3, help="at most this many arms (default 3)")
    d.add_argument("--min-days", type=int, default=14,
                   help="the experiment runs at least this many days (default 14)")
    d.add_argument("--start", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the first day (default: tomorrow, UTC)")
    d.add_argument("--allocation", choices=("fixed", "thompson"), default="fixed",
                   help="fixed weights (default), or Thompson sampling priced per platform "
                        "by this run (docs/pilot.md, Adaptive allocation)")
    d.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=design)
    f = psub.add_parser("fit", help="fit the behaviour priors to an experiment's stats, write "
                                    "calibrated.toml and re-recommend")
    f.add_argument("scenario", type=Path, help="the scenario the experiment was designed from")
    _stats_args(f)
    f.add_argument("--out", type=Path, help="output directory (default runs/<name>.pilot)")
    _settings_args(f)
    f.set_defaults(func=fit)
    r = psub.add_parser("report", help="one page a PM reads: arms, funnels, fitted priors, "
                                       "the long run per arm, the pick")
    r.add_argument("scenario", type=Path, help="the scenario the experiment was designed from")
    _stats_args(r)
    r.add_argument("--fit", type=Path, metavar="FIT.json",
                   help="what pilot fit wrote (default runs/<name>.pilot/fit.json)")
    r.add_argument("--out", type=Path, help="the page (default runs/<name>.pilot/pilot.html)")
    r.add_argument("--devices", type=int, default=3000,
                   help="devices of the long-run projection (default 3,000)")
    r.add_argument("--replications", type=int, default=3,
                   help="replications of the long-run projection (default 3)")
    r.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    r.set_defaults(func=report)
    e = psub.add_parser("export", help="write one arm's daily counts as the --observed CSV "
                                       "that promptsim forecast fits",
                        description="Write one arm of an experiment's stats as the daily "
                        "counts CSV that `promptsim forecast --observed` reads: a row per "
                        "cohort day (the units' assignment day) and platform. Example: "
                        "docs/examples/observed.csv.")
    _stats_args(e)
    e.add_argument("--arm", help="the arm to export (required when the experiment has more "
                   "than one; each arm is its own strategy)")
    e.add_argument("--out", type=Path, metavar="OBSERVED.csv",
                   help="the CSV file (default: standard output)")
    e.set_defaults(func=export)


def _stats_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stats", type=Path, metavar="FILE.json",
                   help="the stats JSON (GET /v1/experiments/{id}/stats)")
    p.add_argument("--url", help="the service's base URL: read the stats from it")
    p.add_argument("--experiment", metavar="ID", help="the experiment's id (with --url)")
    p.add_argument("--api-key", metavar="KEY", help="the app's API key (with --url)")
    p.add_argument("--experiment-file", type=Path, metavar="FILE.json",
                   help="the experiment (the PUT body pilot design writes): the arms' "
                        "campaigns; default: each arm is the scenario's strategy of its name")


def _settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=int, default=4000,
                   help="devices per prior draw of the re-recommendation (default 4,000)")
    p.add_argument("--prior-draws", type=int, default=32,
                   help="prior draws of the re-recommendation (default 32)")
    p.add_argument("--map-devices", type=int, default=10_000,
                   help="devices per point of the simulated acceptance map (default 10,000)")
    p.add_argument("--max-loss", type=float, default=2.0,
                   help="expected loss per 1,000 installs under which a decision is "
                        "resolved (default 2.0)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")


def read_stats(args: argparse.Namespace) -> tuple[Any, str]:
    """The stats from ``--stats`` or ``--url`` + ``--experiment``, and where they came from."""
    from sim.analysis.pilot_stats import parse_stats
    from sim.cli import UsageError

    if (args.stats is None) == (args.url is None):
        raise UsageError("--stats: give either --stats FILE.json or --url URL --experiment ID")
    if args.stats is not None:
        try:
            data = args.stats.read_bytes()
        except OSError as exc:
            raise UsageError(f"--stats: cannot read {args.stats}: {exc.strerror}") from None
        where = str(args.stats)
    else:
        if not args.experiment:
            raise UsageError("--experiment: the experiment's id is required with --url")
        data, where = _get(args.url, args.experiment, args.api_key)
    try:
        return parse_stats(data, where), where
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _get(url: str, experiment: str, key: str | None) -> tuple[bytes, str]:
    import urllib.error
    import urllib.parse
    import urllib.request

    from sim.cli import UsageError

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"--url: an http:// or https:// URL is required, got {url!r}")
    where = f"{url.rstrip('/')}/v1/experiments/{urllib.parse.quote(experiment, safe='')}/stats"
    req = urllib.request.Request(where, headers={"accept": "application/json"})
    if key:
        req.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return bytes(resp.read()), where
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200].replace("\n", " ")
        raise UsageError(f"--experiment: {where} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"--url: cannot reach {where}: {exc}") from None


def load(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The scenario and its TOML tables."""
    from sim.cli import UsageError
    from sim.model.scenario import ScenarioError, load_scenario

    try:
        sc = load_scenario(args.scenario)
        raw = tomllib.loads(args.scenario.read_text())
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    return sc, raw


def arm_strategies(args: argparse.Namespace, sc: Any, arms: list[str]) -> dict[str, Any]:
    """Each arm's policy: from ``--experiment-file``, else the scenario's strategy of the
    arm's name."""
    import msgspec

    from sim.cli import UsageError
    from sim.model.scenario import Strategy

    out = {s.name: s for s in sc.strategies}
    if args.experiment_file is not None:
        where = f"--experiment-file: {args.experiment_file}"
        try:
            body = msgspec.json.decode(args.experiment_file.read_bytes())
        except (OSError, msgspec.DecodeError) as exc:
            raise UsageError(f"{where}: cannot read it as JSON: {exc}") from None
        arms_in = body.get("arms") if isinstance(body, dict) else None
        if not isinstance(arms_in, list):
            raise UsageError(f"{where}: arms: a list of arms is required")
        for i, arm in enumerate(arms_in):
            try:
                out[arm["name"]] = msgspec.convert(
                    {"name": arm["name"], "campaigns": arm["campaigns"]}, Strategy)
            except (msgspec.ValidationError, KeyError, TypeError) as exc:
                raise UsageError(f"{where}: arms[{i}]: {exc}") from None
    missing = [a for a in arms if a not in out]
    if missing:
        raise UsageError(f"--experiment-file: arm {missing[0]!r} is no strategy of "
                         f"{args.scenario}; give the experiment file that defines it")
    return {a: out[a] for a in arms}


INF = float("inf")
"""No upper bound, in :func:`check_flags`."""


def check_flags(args: argparse.Namespace, **bounds: tuple[int, float]) -> None:
    """A :class:`UsageError` naming the first flag out of bounds: each ``name=(low, high)``
    (both allowed; ``INF``: no upper bound), then ``--max-loss`` (above 0) where the step has
    it, and ``--jobs`` (0: one per core)."""
    from sim.cli import UsageError

    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if not low <= value <= high:
            flag = "--" + name.replace("_", "-")
            allowed = f"at least {low}" if high == INF else f"from {low} to {high:.0f}"
            raise UsageError(f"{flag}: {allowed}, got {value}")
    if "max_loss" in args and not args.max_loss > 0:
        raise UsageError(f"--max-loss: must be above 0, got {args.max_loss}")
    if args.jobs < 0:
        raise UsageError(f"--jobs: must be 0 (one per core) or more, got {args.jobs}")


def settings(args: argparse.Namespace) -> Any:
    """The re-recommendation's settings from the flags (checked)."""
    from sim.analysis.pilot_refit import Settings

    check_flags(args, devices=(100, INF), prior_draws=(4, 1000), map_devices=(100, INF))
    return Settings(devices=args.devices, draws=args.prior_draws, map_devices=args.map_devices,
                    max_loss=args.max_loss, jobs=args.jobs)


def fit(args: argparse.Namespace) -> int:
    """Fit, write calibrated.toml and fit.json, print the fits and the verdicts."""
    import msgspec
    import tomli_w

    from sim.analysis.pilot_refit import refit

    sc, raw = load(args)
    cfg = settings(args)
    st, where = read_stats(args)
    strategies = arm_strategies(args, sc, st.arm_names())
    day = st.last_day() or dt.date.today()
    source = (f"pilot experiment {st.experiment_id} (to {day.isoformat()}, "
              f"n={st.total('units'):,} units)")
    res = refit(sc, raw, st, strategies, source, cfg)
    out = args.out or Path("runs") / f"{sc.name}.pilot"
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibrated.toml").write_text(
        f"# Written by promptsim pilot fit from {args.scenario} and {where}; "
        "see docs/pilot.md.\n" + tomli_w.dumps(res.calibrated))
    (out / "fit.json").write_bytes(msgspec.json.format(msgspec.json.encode(res), indent=2))
    _print(res, st, where)
    print(f"-> {out}/calibrated.toml, {out}/fit.json")
    return 0


def _print(res: Any, st: Any, where: str) -> None:
    print(f"experiment {st.experiment_id}: {st.total('units'):,} units over {st.days()} "
          f"day(s), arms {', '.join(st.arm_names())} ({where})")
    if not res.fits:
        print("no prior is identified by these stats (no OS dialog and no soft prompt shown)")
        return
    print(f"{'prior':26}{'assumed':>9}{'  assumed range':18}{'fitted (95% interval)':28}"
          f"{'k / n':>16}  method")
    for f in res.fits:
        rng = f"{f.assumed_range[0]:.3g}-{f.assumed_range[1]:.3g}"
        fitted = f"{f.mean:.3f} ({f.low:.3f}-{f.high:.3f})"
        print(f"{f.prior:26}{f.assumed:9.3f}  {rng:16}{fitted:28}"
              f"{f'{f.successes:,}/{f.trials:,}':>16}  {f.method}")
    s = res.settings
    print(f"decision per platform (sensitivity runs: {s.draws} prior draws x {s.devices:,} "
          f"devices; resolved: expected loss <= {s.max_loss:g} per 1,000 installs):")
    for v in res.verdicts:
        change = f"{v.before} -> {v.after}" if v.before != v.after else f"{v.after} (unchanged)"
        if v.resolved:
            state = "resolved"
        elif v.more_days is not None:
            state = f"not resolved: about {v.more_days} more day(s) at {res.units_per_day:,.0f} " \
                    "units/day"
        else:
            state = "not resolved: these arms cannot resolve it (what is left is not learnable " \
                    "from them)"
        print(f"  {v.platform:8} {change:40} loss {v.loss_before:.2f} -> {v.loss_after:.2f}; "
              f"{state}")
    _print_thin(res.thin)


def design(args: argparse.Namespace) -> int:
    """Design the experiment; write its PUT body and the numbers behind it."""
    import msgspec
    from tqdm import tqdm

    from sim.analysis.pilot_design import design as make_design
    from sim.analysis.pilot_design import experiment_body
    from sim.cli import UsageError
    from sim.model.population import chunk_count
    from sim.rules.config.campaigns import Identifier

    sc, _ = load(args)
    check_flags(args, devices=(100, INF), prior_draws=(8, 1000), max_arms=(2, 6),
                min_days=(1, 180))
    per_day = args.installs_per_day
    if per_day is None:
        per_day = sc.devices / max(1.0, sc.population.install_window_days)
    if not per_day > 0:
        raise UsageError(f"--installs-per-day: must be above 0, got {per_day:g}")
    eid = args.experiment_id or f"{sc.name}-pilot"
    try:
        msgspec.convert(eid, Identifier)
    except msgspec.ValidationError:
        raise UsageError(f"--experiment-id: 1-64 letters, digits or _ . : - (not starting "
                         f"with a symbol), got {eid!r}") from None
    start = args.start or dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    small = msgspec.structs.replace(sc, devices=args.devices)
    with tqdm(total=args.prior_draws * chunk_count(small), desc=f"pilot design {sc.name}",
              unit="task", disable=args.no_progress, file=sys.stderr) as bar:
        try:
            res = make_design(small, draws=args.prior_draws, installs_per_day=per_day,
                              max_loss=args.max_loss, experiment_id=eid, start=start,
                              max_arms=args.max_arms, min_days=args.min_days,
                              jobs=args.jobs, on_task_done=bar.update)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    out = args.out or Path("runs") / f"{sc.name}.pilot" / "experiment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = experiment_body(res, sc, thompson=args.allocation == "thompson")
    out.write_bytes(msgspec.json.format(msgspec.json.encode(body), indent=2))
    details = out.with_name(f"{out.stem}.design.json")
    details.write_bytes(msgspec.json.format(msgspec.json.encode(res), indent=2))
    _print_design(res, args)
    print(f"-> {out} (PUT /v1/experiments/{eid}), {details}")
    return 0


def _print_design(d: Any, args: argparse.Namespace) -> None:
    print(f"{d.scenario}: sensitivity run of {args.prior_draws} prior draws x "
          f"{args.devices:,} devices; decision resolved at expected loss <= {d.max_loss:g} "
          "per 1,000 installs")
    print(f"{'platform':9}{'share':>6}  {'pick now':18}{'loss now':>9}  {'units needed':>17}"
          f"{'R2':>5}  deciding priors")
    for p in d.platforms:
        need = "not by these arms" if p.units is None else \
            "resolved now" if p.units == 0 else f"{p.units:,.0f}"
        print(f"{p.platform:9}{100 * p.share:5.0f}%  {p.pick:18}{p.loss_now:9.2f}  {need:>17}"
              f"{p.explained:5.2f}  {', '.join(p.deciding) or '-'}")
    print("(loss: per 1,000 installs; R2: share of the value differences the metamodel of "
          "the loss explains)")
    print(f"the experiment: {d.days} days at {d.installs_per_day:,.0f} installs/day = "
          f"{d.units:,.0f} installs: " + ", ".join(
              f"{p.platform} {d.units * p.share:,.0f}" for p in d.platforms))
    print("arms (equal weights):")
    for a in d.arms:
        print(f"  {a.name:18} {a.why}; identifies {', '.join(a.identifies) or 'nothing'}")
        print(f"  {'':18} cost: {a.dialogs_burnt:,.0f} OS dialogs burnt "
              f"({a.ios_dialogs_burnt:,.0f} on iOS, gone for good), {a.blocked:,.0f} devices "
              "blocked for good")
    for s in d.skipped:
        print(f"  not an arm: {s}")
    if args.allocation == "thompson":
        print("Thompson allocation: prices per unit, in opted-in devices (later = the pick's "
              "opt-in share of installs at the horizon):")
        for p in d.prices:
            print(f"  {p.platform:9} pick {p.pick:18} later {p.later:.3f}: opt_in "
                  f"{p.opt_in:.3f}, blocked {p.blocked:.3f}")
    _print_thin(d.thin)


def _print_thin(thin: dict[str, float]) -> None:
    from sim.analysis.pilot_value import MIN_DEVICES

    for p, n in thin.items():
        print(f"  {p}: not judged: {n:,.0f} devices per draw simulated (at least "
              f"{MIN_DEVICES} needed); raise --devices")


def report(args: argparse.Namespace) -> int:
    """Write the pilot's page from the stats, the fit and a projection of each arm."""
    import msgspec

    from reports.pilot import write_pilot_page
    from sim.analysis.pilot_project import project
    from sim.analysis.pilot_refit import Refit
    from sim.cli import UsageError
    from sim.model.scenario import ScenarioError, parse_scenario

    sc, _ = load(args)
    check_flags(args, devices=(100, INF), replications=(2, 100))
    folder = Path("runs") / f"{sc.name}.pilot"
    fit_path = args.fit or folder / "fit.json"
    try:
        res = msgspec.json.decode(fit_path.read_bytes(), type=Refit)
    except OSError as exc:
        raise UsageError(f"--fit: cannot read {fit_path}: {exc.strerror}; run pilot fit "
                         "first") from None
    except msgspec.MsgspecError as exc:
        raise UsageError(f"--fit: {fit_path} is not what pilot fit writes: {exc}") from None
    st, where = read_stats(args)
    if res.experiment_id != st.experiment_id:
        raise UsageError(f"--fit: {fit_path} is the fit of experiment {res.experiment_id!r}, "
                         f"the stats are of {st.experiment_id!r}")
    try:
        cal = parse_scenario(res.calibrated, f"{fit_path} (calibrated)")
    except ScenarioError as exc:
        raise UsageError(f"--fit: {exc}") from None
    arms = list(arm_strategies(args, sc, st.arm_names()).values())
    named = [msgspec.structs.replace(a, name=n) for a, n in zip(arms, st.arm_names(),
                                                                 strict=True)]
    proj = project(cal, named, devices=args.devices, replications=args.replications,
                   jobs=args.jobs)
    page = write_pilot_page(st, res, proj, where, args.out or folder / "pilot.html")
    print(f"-> {page}")
    return 0


def export(args: argparse.Namespace) -> int:
    """Write one arm's daily counts as the ``--observed`` CSV of ``promptsim forecast``."""
    import csv
    import io

    from sim.analysis.pilot_stats import observed_rows
    from sim.cli import UsageError

    st, _ = read_stats(args)
    try:
        rows = observed_rows(st, args.arm)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    if args.out is None:
        sys.stdout.write(buf.getvalue())
        return 0
    try:
        args.out.write_text(buf.getvalue())
    except OSError as exc:
        raise UsageError(f"--out: cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote {args.out}: {len(rows)} rows", file=sys.stderr)
    return 0
