"""The report of a simulation run: ``RUN_DIR/report.html`` plus ``RUN_DIR/figures/*.png|svg``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pyarrow.parquet as pq

from reports import html as h
from reports.assumptions import behaviour_assumptions, dialog_rows, platform_rules
from reports.compare import METRICS, Row, metric_values, paired_rows, raw_outcomes
from reports.decision import (
    Decision,
    decide_run,
    platforms_view,
    recommendation_view,
    sensitivity_view,
    write_policy,
)
from reports.decision_figures import sensitivity, tradeoff
from reports.executive import summary_view
from reports.figures import SavedFigure, palette, save, simulation_figures
from reports.rundir import Run, RunDirError, read_run
from sim.analysis.recommend import Recommendation
from sim.model.scenario import Strategy, dump_scenario
from sim.rules.config.campaigns import Campaign
from sim.stats import Estimate
from sim.version import __version__


@dataclass
class Report:
    """What ``write_report`` wrote and how long each stage took."""

    html: Path
    figures: list[Path]
    recommendation: Recommendation
    decision: Decision
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: read, compare, draw, save, html."""


def write_report(run_dir: str | Path, baseline: str | None = None) -> Report:
    """Read a run directory and write its report; ``baseline`` defaults to the scenario's."""
    t0 = time.perf_counter()
    run = read_run(run_dir)
    return report_of(run, baseline, {"read": time.perf_counter() - t0})


def report_of(run: Run, baseline: str | None = None,
              timings: dict[str, float] | None = None, html_name: str = "report.html") -> Report:
    """Write the report of ``run`` into ``run.path`` (the HTML as ``html_name``, beside it
    ``figures/``, ``comparison.csv`` and, when the picks differ per platform, the policy)."""
    timings = {} if timings is None else timings
    names = run.strategies
    base = baseline or run.scenario.baseline or names[0]
    if base not in names:
        raise RunDirError(f"--baseline: {base!r} is not a strategy of this run; allowed: "
                          f"{', '.join(names)}")
    t0 = time.perf_counter()
    values = metric_values(run.total, run.scenario.objective)
    rows = paired_rows(values, names, base)
    decision = decide_run(run, raw_outcomes(values), base)
    rec = decision.overall
    timings["compare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    colours = palette(names)
    specs = [tradeoff(raw_outcomes(values), names, colours, rec)]
    if decision.contests:
        specs.append(sensitivity(rec, names, colours, decision.contests[0], decision.draws))
    specs += simulation_figures(run, values, base, rec)
    timings["draw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    saved = [save(s, run.path / "figures") for s in specs]
    timings["save"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comparison_frame(rows, base).to_csv(run.path / "comparison.csv", index=False)
    write_policy(decision, run.path)
    out = run.path / html_name
    out.write_text(render(run, rows, decision, saved, base))
    timings["html"] = time.perf_counter() - t0
    figs = [p for f in saved for p in (f.png_path, f.svg_path)]
    return Report(out, figs, rec, decision, timings)


def comparison_frame(rows: list[Row], baseline: str) -> pd.DataFrame:
    """The comparison table as a DataFrame (written as ``comparison.csv``)."""
    return pd.DataFrame([{
        "metric": r.metric.key, "unit": r.metric.unit, "strategy": r.strategy,
        "baseline": baseline, "mean": r.value.mean, "lo95": r.value.lo, "hi95": r.value.hi,
        "diff": r.diff.mean, "diff_lo95": r.diff.lo, "diff_hi95": r.diff.hi,
    } for r in rows])


def _num(x: float, d: int, signed: bool = False) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:{'+' if signed else ''},.{d}f}"


def _ci(e: Estimate, d: int, signed: bool = False) -> str:
    if math.isnan(e.lo):
        return _num(e.mean, d, signed)
    return f"{_num(e.mean, d, signed)} [{_num(e.lo, d, signed)}, {_num(e.hi, d, signed)}]"


def _diff_class(r: Row) -> str:
    if not r.diff.significant or r.metric.better is None:
        return "same"
    return "better" if (r.diff.mean > 0) == (r.metric.better == "higher") else "worse"


def _comparison(rows: list[Row], baseline: str, colours: dict[str, str],
                recommended: str | None = None) -> h.Table:
    """The comparison table: the baseline's column first, then the recommended strategy's
    (so both are in view at 1280 px however many strategies follow), then the others."""
    names = list(dict.fromkeys([baseline, *([recommended] if recommended else []),
                                *(r.strategy for r in rows)]))
    out = []
    for m in METRICS:
        line = [h.Cell(m.label, under=m.unit, strong=True)]
        by_name = {x.strategy: x for x in rows if x.metric is m}
        for r in (by_name[n] for n in names):
            value = _ci(r.value, m.decimals)
            if r.strategy == baseline:
                line.append(h.Cell(value, under="baseline", under_css="same"))
            else:
                note = " (n.s.)" if r.diff.significant is False else ""
                line.append(h.Cell(value, under=_ci(r.diff, m.decimals, signed=True) + note,
                                   under_css=_diff_class(r)))
        out.append(line)

    def head(n: str) -> h.Cell:
        return h.Cell(f"{n} (baseline)" if n == baseline else
                      f"{n} (recommended)" if n == recommended else n, colour=colours[n])

    return h.table(["metric", *map(head, names)], out,
                   numeric=range(1, len(names) + 1), id="comparison")


def _campaign(c: Campaign) -> str:
    freq = c.frequency
    parts = [type(freq).__name__.lower()] + [f"{k}={v}" for k, v in _items(freq)]
    trig = type(c.trigger).__name__
    extra = [] if c.primer else ["no soft prompt: opens the OS dialog directly"]
    if c.min_sessions > 1:
        extra.append(f"from session {c.min_sessions}")
    if c.min_delay_days:
        extra.append(f"min delay {c.min_delay_days:g} d")
    return (f"{c.id}: {c.action.replace('_', ' ')} on {trig} ({', '.join(parts)})"
            + (f"; {'; '.join(extra)}" if extra else ""))


def _items(obj: msgspec.Struct) -> list[tuple[str, object]]:
    return [(k, v) for k, v in msgspec.structs.asdict(obj).items() if v is not None]


def _strategy(s: Strategy) -> str:
    text = " | ".join(_campaign(c) for c in s.campaigns) or "no campaign (no soft prompt)"
    if s.provisional_on_install:
        text += " | iOS provisional at install"
    return text


def render(run: Run, rows: list[Row], decision: Decision, figures: list[SavedFigure],
           baseline: str) -> str:
    """The report page as one HTML string."""
    sc = run.scenario
    colours = palette(run.strategies)
    version = run.meta.get("promptsim_version", "unknown")
    facts = [
        ("scenario", sc.name), ("devices", f"{sc.devices:,}"), ("horizon", f"{sc.days} days"),
        ("prior draws" if decision.draws else "replications", sc.replications),
        ("seed", sc.seed),
        ("strategies", ", ".join(run.strategies)), ("baseline", baseline),
        ("simulated by", f"promptsim {version}"
         + (f", {run.meta['wall_seconds']:.1f} s" if "wall_seconds" in run.meta else "")),
        ("report by", f"promptsim {__version__}"),
        ("event log", f"events.parquet, {pq.read_metadata(run.path / 'events.parquet').num_rows:,}"
                      " events" if run.has_events else "not written (simulate --events)"),
    ]
    reps = (f"{sc.replications} prior draws (one replication each)" if decision.draws
            else f"{sc.replications} replications")
    return h.render(
        "report.html", title=f"promptsim report: {sc.name}", scenario=sc, facts=facts,
        summary=summary_view(run, decision, baseline, colours),
        recommendation=recommendation_view(decision, colours, baseline),
        platforms=platforms_view(decision, run.strategies),
        sensitivity=sensitivity_view(decision), reps=reps,
        comparison=_comparison(rows, baseline, colours, decision.overall.strategy),
        figures=figures, setup=_scenario_view(run, colours),
        assumptions=_assumptions_view(run), version=__version__, run_name=run.path.name)


def _scenario_view(run: Run, colours: dict[str, str]) -> dict[str, Any]:
    sc = run.scenario
    pop = sc.population
    return {"facts": [
        ("installs arrive", f"uniformly over the first {pop.install_window_days:g} days"),
        ("second device", f"{100 * pop.second_device:g}% of users"),
        ("SDK reports permission", f"{100 * pop.sdk_reports_permission:g}% of installs"),
        ("chunk size", f"{sc.chunk_size:,} devices"),
    ], "strategies": h.table(["strategy", "campaigns"], [
        [h.Cell(s.name, colour=colours[s.name]), _strategy(s)] for s in sc.strategies]),
        "resolved": dump_scenario(sc).decode()}


def _assumptions_view(run: Run) -> dict[str, h.Table]:
    sc = run.scenario
    return {
        "priors": h.table(["prior", "value", "range, shape", "promptsim default", "source"], [
            (a.what, a.value, a.prior, f"differs: {a.default}" if a.overridden else "same",
             a.source) for a in behaviour_assumptions(sc)]),
        "dialogs": h.table(["profile", "share of devices", "cold (no soft prompt)",
                            "primed (after tapping the soft prompt)"],
                           [(n, f"{100 * s:g}%", c, p) for n, s, c, p in dialog_rows(sc)],
                           numeric=(1,)),
        "rules": h.table(["profile", "platform", "share", "rules", "source"],
                         [tuple(r.values()) for r in platform_rules(sc)], numeric=(2,))}
