"""The Python API, for notebooks and scripts: ``run(scenario) -> Result``.

    >>> from sim import run
    >>> result = run("scenarios/quickstart.toml", devices=2_000)
    >>> result.summary                  # pandas DataFrame, as summary.csv
    >>> result.panel                    # pandas DataFrame, as panel.parquet
    >>> result.recommend().strategy     # what the report recommends
    >>> result.report("out/report.html")

Nothing is written until ``report()``: the run lives in memory (no run
directory). The scenario is a path to a TOML file, a TOML string, a dict (the
TOML's tables as Python values) or a :class:`~sim.model.scenario.Scenario`;
it is validated like a file, with the same errors (``ScenarioError``). This
module composes the engine and the reports as the CLI does.
"""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from sim.engine.runner import RunResult, simulate
from sim.model.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sim.version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from reports.decision import Decision
    from reports.rundir import Run
    from sim.analysis.recommend import Recommendation
    from sim.analysis.sensitivity import PriorDraws

ScenarioLike = Scenario | str | os.PathLike[str] | dict[str, Any]
"""What :func:`run` takes as a scenario."""

OVERRIDES = ("devices", "days", "replications", "seed")


def scenario_of(scenario: ScenarioLike, **overrides: Any) -> Scenario:
    """The validated scenario: from a Scenario, a path, a TOML string or a dict;
    ``overrides`` (``devices``, ``days``, ``replications``, ``seed``) replace its fields."""
    over = {k: v for k, v in overrides.items() if v is not None}
    bad = sorted(set(over) - set(OVERRIDES))
    if bad:
        raise TypeError(f"run(): unknown override {bad[0]!r}; allowed: {', '.join(OVERRIDES)}")
    if isinstance(scenario, Scenario):
        return parse_scenario(msgspec.to_builtins(scenario) | over, scenario.name) \
            if over else scenario
    if isinstance(scenario, dict):
        return parse_scenario({**scenario, **over}, "<dict>")
    if isinstance(scenario, str) and "\n" in scenario:
        try:
            data = tomllib.loads(scenario)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"<string>: not valid TOML: {exc}") from None
        return parse_scenario({**data, **over}, "<string>")
    if isinstance(scenario, (str, os.PathLike)):
        return load_scenario(Path(scenario), **over)
    raise TypeError("run(): scenario must be a path, a TOML string, a dict or a Scenario, "
                    f"not {type(scenario).__name__}")


@dataclass
class Result:
    """A simulation held in memory: its tables, its recommendation and its report."""

    scenario: Scenario
    raw: RunResult = field(repr=False)
    """The engine's daily counts (``series(name)``: ``[replication, strategy, cohort, day]``)."""
    seconds: float
    """Wall time of the simulation."""
    priors: PriorDraws | None = field(default=None, repr=False)
    """With prior draws: the priors each draw (= replication) used."""

    @cached_property
    def panel(self) -> pd.DataFrame:
        """One row per replication x strategy x cohort x day, as ``panel.parquet``."""
        return self._run(Path(".")).panel

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per strategy and platform: the summary, as ``summary.csv`` (columns described in
        ``sim/engine/summary.py``)."""
        import pandas as pd

        from sim.engine.summary import summary_rows

        return pd.DataFrame(summary_rows(self.raw))

    def _run(self, path: Path) -> Run:
        from reports.rundir import run_of

        meta = {"promptsim_version": __version__, "seed": self.scenario.seed,
                "wall_seconds": self.seconds, "engine_events": self.raw.events,
                "simpy_events": self.raw.simpy_events}
        return run_of(self.raw, path, meta)

    def _write_priors(self, path: Path) -> None:
        if self.priors is not None:
            from reports.decision import PRIORS_FILE
            from sim.analysis.sensitivity import write_draws

            write_draws(self.priors, path / PRIORS_FILE)

    def __repr__(self) -> str:
        sc = self.scenario
        reps = (f"{sc.replications} prior draws" if self.priors is not None
                else f"{sc.replications} replications")
        return (f"<Result {sc.name!r}: {sc.devices:,} devices x {len(sc.strategies)} "
                f"strategies x {reps}, {sc.days} days; {self.raw.events:,} events in "
                f"{self.seconds:.1f} s>")

    def _repr_html_(self) -> str:
        """A notebook's view: every strategy over all devices, and the recommendation."""
        import html

        rows = self.summary[self.summary["platform"] == "all"]
        pick = self.recommend()
        cells = []
        for r in rows.itertuples():
            mark = " <b>(recommended)</b>" if r.strategy == pick.strategy else ""
            cells.append(
                f"<tr><td>{html.escape(str(r.strategy))}{mark}</td>"
                f"<td>{round(float(r.installs)):,}</td>"  # type: ignore[arg-type]
                f"<td>{float(r.optin_horizon):.1%} ({float(r.optin_horizon_lo):.1%}"  # type: ignore[arg-type]
                f"-{float(r.optin_horizon_hi):.1%})</td>"  # type: ignore[arg-type]
                f"<td>{float(r.blocked_share):.1%}</td>"  # type: ignore[arg-type]
                f"<td>{float(r.annoyance_per_1k):.2f}</td>"  # type: ignore[arg-type]
                f"<td>{float(r.value):.1f}</td></tr>")  # type: ignore[arg-type]
        head = ("<tr><th>strategy</th><th>installs per replication</th>"
                f"<th>opted in at day {self.scenario.days} (95% CI of the mean)</th>"
                "<th>blocked for good</th><th>prompt uninstalls per 1k</th>"
                "<th>value per 1k</th></tr>")
        reasons = "".join(f"<li>{html.escape(x)}</li>" for x in pick.reasons)
        return (f"<p>{html.escape(repr(self))}</p><table>{head}{''.join(cells)}</table>"
                f"<p>Recommended: <b>{html.escape(pick.strategy)}</b></p><ul>{reasons}</ul>")

    def decision(self, baseline: str | None = None) -> Decision:
        """All the report says about what to ship: overall, per platform, per cohort (and,
        with prior draws, what drives the choice)."""
        import tempfile

        from reports.compare import metric_values, raw_outcomes
        from reports.decision import decide_run

        base = self._baseline(baseline)
        with tempfile.TemporaryDirectory() as tmp:  # the drawn priors are read from a file
            self._write_priors(Path(tmp))
            run = self._run(Path(tmp))
            values = metric_values(run.total, self.scenario.objective)
            return decide_run(run, raw_outcomes(values), base)

    def recommend(self, baseline: str | None = None) -> Recommendation:
        """The strategy recommended under the scenario's objective (``.strategy``), with the
        rule, the values and the reasons (``.reasons``), as the report says."""
        return self.decision(baseline).overall

    def report(self, path: str | os.PathLike[str], baseline: str | None = None) -> Path:
        """Write the HTML report to ``path``; its figures (``figures/``) and
        ``comparison.csv`` go beside it. Returns the page's path."""
        from reports.simulation import report_of

        html = Path(path)
        html.parent.mkdir(parents=True, exist_ok=True)
        self._write_priors(html.parent)
        return report_of(self._run(html.parent), self._baseline(baseline),
                         html_name=html.name).html

    def _baseline(self, baseline: str | None) -> str:
        from sim.model.scenario import pick_strategy

        return pick_strategy(self.scenario, baseline, "baseline").name


def run(scenario: ScenarioLike, *, devices: int | None = None, days: int | None = None,
        replications: int | None = None, seed: int | None = None,
        prior_draws: int | None = None, jobs: int = 1, progress: bool = False) -> Result:
    """Simulate ``scenario`` (a path, a TOML string, a dict or a Scenario) in memory.

    ``devices``, ``days``, ``replications`` and ``seed`` override the scenario's, as on
    the command line; ``prior_draws`` as ``--prior-draws`` (default: the scenario's
    ``sensitivity.draws``); ``jobs`` worker processes (0: one per core; results do not
    depend on it); ``progress`` shows a bar over the chunks (``tqdm.auto``: a widget in a
    notebook, text elsewhere).
    """
    sc = scenario_of(scenario, devices=devices, days=days, replications=replications,
                     seed=seed)
    draws = sc.sensitivity.draws if prior_draws is None else prior_draws
    from tqdm.auto import tqdm

    from sim.model.population import chunk_count

    t0 = time.perf_counter()
    with tqdm(total=chunk_count(sc) * (draws or sc.replications), unit="chunk", desc=sc.name,
              disable=not progress) as bar:
        if draws:
            from sim.analysis.sensitivity import run_sensitivity

            raw, priors = run_sensitivity(sc, draws, jobs=jobs, weights=True,
                                          on_task_done=lambda: bar.update(1))
            return Result(scenario=raw.scenario, raw=raw, seconds=time.perf_counter() - t0,
                          priors=priors)
        raw = simulate(sc, jobs=jobs, on_task_done=lambda: bar.update(1))
    return Result(scenario=sc, raw=raw, seconds=time.perf_counter() - t0)
