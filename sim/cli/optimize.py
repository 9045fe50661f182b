"""``promptsim optimize``: race the scenario's ``[search]`` candidates, per platform."""

from __future__ import annotations

import argparse
import math
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from sim.cli import non_negative_int, positive_int, scheduler_address


def register(sub: Any) -> None:
    """Add ``promptsim optimize`` to the ``promptsim`` parser."""
    p = sub.add_parser("optimize", help="find the best soft-prompt schedule per platform among "
                                        "the scenario's [search] candidates (racing)")
    p.add_argument("scenario", type=Path, help="scenario TOML file with a [search] table")
    p.add_argument("--budget", type=positive_int, metavar="N",
                   help="replications at full precision, what every finalist gets (default: "
                        "the scenario's search.replications)")
    p.add_argument("--devices", type=positive_int, help="override the number of devices")
    p.add_argument("--days", type=positive_int, help="override the horizon in days")
    p.add_argument("--seed", type=int, help="override the root seed")
    p.add_argument("--jobs", type=non_negative_int, default=0,
                   help="worker processes (default 0: one per core); results do not depend on it")
    p.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                   help="run the tasks on the Dask cluster whose scheduler is at ADDRESS "
                        "(tcp://HOST:8786); same results (docs/distributed.md)")
    p.add_argument("--out", type=Path, help="output directory (default runs/<name>.optimize); "
                   "finished tasks are kept there, so rerunning an interrupted optimize "
                   "resumes it")
    p.add_argument("--prior-draws", type=positive_int, metavar="N", default=0,
                   help="also compute P(best) under N draws of the priors and of the "
                        "objective's weight ranges, as the sensitivity analysis draws them, "
                        "among each platform's finalists and best dropped candidates "
                        "(default: P(best) given the scenario's priors only)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=optimize)


def _load(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from sim.cli import UsageError
    from sim.model.scenario import ScenarioError, load_scenario

    over = {k: getattr(args, k) for k in ("devices", "days", "seed")}
    try:
        sc = load_scenario(args.scenario, **over)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if sc.search is None:
        raise UsageError(f"{args.scenario}: search: the scenario has no [search] table; "
                         "see scenarios/optimize.toml and docs/optimize.md")
    raw = tomllib.loads(args.scenario.read_text())
    raw.update({k: v for k, v in over.items() if v is not None})
    return sc, raw


def optimize(args: argparse.Namespace) -> int:
    """Race the candidates, print the picks; write the winner, the candidates and the page
    with the front."""
    import msgspec
    import tomli_w
    from tqdm import tqdm

    from sim.analysis.optimize import Progress, optimize
    from sim.analysis.optimize_store import StoreMismatch, TaskStore
    from sim.analysis.winner import service_policy, winner_table
    from sim.cli import UsageError
    from sim.engine.executor import SchedulerError

    sc, raw = _load(args)
    if args.jobs < 0:
        raise UsageError(f"--jobs: must be 0 (one per core) or more, got {args.jobs}")
    if args.budget is not None and not 2 <= args.budget <= 1000:
        raise UsageError(f"--budget: replications from 2 to 1000, got {args.budget}")
    if args.prior_draws and not 2 <= args.prior_draws <= 10_000:
        raise UsageError(f"--prior-draws: draws from 2 to 10000, got {args.prior_draws}")
    out = args.out or Path("runs") / f"{sc.name}.optimize"
    try:
        store = TaskStore(out, sc)
    except StoreMismatch as exc:
        raise UsageError(str(exc)) from None
    bar = tqdm(total=1.0, desc=f"optimize {sc.name}",
               disable=args.no_progress, file=sys.stderr, smoothing=0.1,
               bar_format="{l_bar}{bar}| {n:,.0f}/{total:,.0f} device-years "
                          "[{elapsed}<{remaining}{postfix}]")

    def progress(p: Progress) -> None:
        bar.total = max(p.total, 1e-9)
        bar.set_postfix_str(f"alive {p.alive}/{p.candidates}, replications "
                            f"{p.replications}/{p.full}", refresh=False)
        bar.update(p.done - bar.n)  # redraws at most every mininterval

    t0 = time.perf_counter()
    with bar:
        try:
            res = optimize(sc, budget=args.budget, jobs=args.jobs, scheduler=args.scheduler,
                           store=store, on_progress=progress, prior_draws=args.prior_draws)
        except SchedulerError as exc:
            raise UsageError(str(exc)) from None
    seconds = time.perf_counter() - t0
    _print(res, sc, seconds, out)
    _write(res, sc, raw, out, args.scenario, tomli_w.dumps, msgspec, winner_table,
           service_policy)
    from reports.optimize_page import write_optimize_page

    page = write_optimize_page(res, out, args.scenario, seconds)
    print(f"-> {out}/winner.toml (simulate, report, parity), {out}/service.json (PUT into the "
          f"service), {out}/candidates.csv, {page} (the picks, the front and every "
          "candidate; figure: front.png)")
    return 0


def _print(res: Any, sc: Any, seconds: float, out: Path) -> None:
    from sim.analysis.candidate_words import describe
    from sim.analysis.optimize import FIXED_PRIORS
    from sim.analysis.racing import not_estimated, p_best_text

    n = len(res.candidates)
    print(f"{sc.name}: {n} candidates, {sc.devices:,} devices x {sc.days} days, rounds at "
          f"{'/'.join(map(str, res.schedule))} replications (each test at one-sided "
          f"{res.alpha:.2g}, Bonferroni over {n - 1} rivals x {max(1, len(res.schedule) - 1)} "
          f"round(s)): {res.events:,} events in {seconds:.1f} s")
    print(sc.objective.describe())
    drawn = f"{'P(best)**':>12}" if res.prior_draws else ""
    print(f"{'platform':9}{'best schedule':24}{'value/1k on fresh reps (95% CI)':34}"
          f"{'P(best)*':>8}{drawn}{'finalists':>10}{'reps':>6}")
    words = {c.name: describe(c.strategy.campaigns) for c in res.candidates}
    for g, r in res.groups.items():
        v = r.confirmed or r.value
        ci = f"{v.mean:.1f} ({v.lo:.1f} to {v.hi:.1f})"
        u = r.under_draws
        drawn = "" if u is None else \
            f"{100 * u.p_best[r.best]:6.0f}% \u00b1{100 * u.se[r.best]:>3.0f}"
        print(f"{g:9}{r.best:24}{ci:34}{p_best_text(r.p_best[r.best]):>8}{drawn}"
              f"{len(r.finalists):>10}{r.replications:>6}")
        print(" " * 9 + words[r.best])
        m = r.means[r.best]
        print(" " * 9 + f"opted in {100 * m['optin_share']:.1f}% of installed devices, "
              f"{m['prompt_uninstalls_per_1k']:.2f} uninstalls caused by prompts / 1,000 "
              f"installs, {100 * m['blocked_share']:.1f}% blocked for good (means over its "
              f"{int(m['replications'])} race replications)")
        if r.edge:
            print(" " * 9 + f"warning: on the edge of the search grid ({', '.join(r.edge)}); "
                  "the best may lie beyond it: extend the family's list")
        rivals = sorted(((p, f) for f, p in r.p_best.items() if f != r.best and p == p),
                        reverse=True)[:3]
        if rivals:
            print(" " * 9 + "closest: " + ", ".join(f"{f} {100 * p:.0f}%" for p, f in rivals))
        if math.isnan(r.p_best[r.best]):
            print(" " * 9 + not_estimated(r.replications, len(r.finalists)))
        if u is not None:
            rivals = sorted(((p, f) for f, p in u.p_best.items() if f != r.best),
                            reverse=True)[:3]
            print(" " * 9 + "under prior draws: " + ", ".join(
                f"{f} {100 * p:.0f}%" for p, f in rivals))
    if res.composite is not None:
        print(res.composite.line()[0].upper() + res.composite.line()[1:] + ".")
    print("value: the pick's mean on as many fresh replications as the race gave it (the "
          "race's own mean is biased up by picking the best); *" + FIXED_PRIORS
          + (f"; **{res.p_best_label()}" if res.prior_draws else ""))
    saving = 1.0 - res.device_years / res.full_device_years if res.full_device_years else 0.0
    print(f"simulated {res.device_years:,.0f} device-years against {res.full_device_years:,.0f} "
          f"to run every candidate to full precision ({100 * saving:.0f}% saved); "
          f"{res.tasks_reused} finished (replication, chunk, platform, candidate) results "
          f"reused from {out}")


def p_best_lines(res: Any) -> list[str]:
    """P(best) of each pick, with what it rests on: for ``winner.toml``'s header."""
    from sim.analysis.optimize import FIXED_PRIORS
    from sim.analysis.racing import p_best_text

    lines = [FIXED_PRIORS + ": " + ", ".join(
        f"{g} {r.best} {p_best_text(r.p_best[r.best])}" for g, r in res.groups.items())]
    if res.prior_draws:
        lines.append(res.p_best_label() + ": " + ", ".join(
            f"{g} {r.best} {100 * r.under_draws.p_best[r.best]:.0f}% "
            f"(\u00b1{100 * r.under_draws.se[r.best]:.0f})" for g, r in res.groups.items()))
    return lines


def _write(res: Any, sc: Any, raw: dict[str, Any], out: Path, source: Path, dumps: Any,
           msgspec: Any, winner_table: Any, service_policy: Any) -> None:
    import csv

    table = winner_table(raw, sc, res)
    (out / "winner.toml").write_text(
        f"# Written by promptsim optimize from {source}; see docs/optimize.md.\n"
        f"# Picked on the {sc.objective.describe()}.\n"
        + "".join(f"# {line}.\n" for line in p_best_lines(res))
        + (f"# Against one candidate for all: {res.composite.line()}.\n"
           if res.composite is not None else "")
        + dumps(table))
    (out / "service.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(service_policy(res.winner())), indent=2))
    family = {c.name: c.family for c in res.candidates}
    with (out / "candidates.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        keys = ["value", "optin_share", "prompt_uninstalls_per_1k", "blocked_share"]
        w.writerow(["platform", "candidate", "family", "replications", "dropped_after",
                    "finalist", "p_best", "best", *keys, "p_best_under_draws",
                    "p_best_under_draws_se"])
        for g, r in res.groups.items():
            u = r.under_draws
            for name, m in r.means.items():
                drawn = ([f"{u.p_best[name]:.4f}", f"{u.se[name]:.4f}"]
                         if u is not None and name in u.p_best else ["", ""])
                w.writerow([g, name, family[name], int(m["replications"]),
                            r.dropped.get(name, ""), name in r.finalists,
                            f"{r.p_best[name]:.4f}" if r.p_best.get(name, math.nan) ==
                            r.p_best.get(name, math.nan) else "",
                            name == r.best, *(f"{m[k]:.6g}" for k in keys), *drawn])
