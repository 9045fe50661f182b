"""Reading a simulation run directory into DataFrames and ``[replication, strategy, cohort,
day]`` arrays (the same layout as ``sim.engine.runner.RunResult.series``).

pandas is imported here, at the edge where files become tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.engine.runner import RunResult, platform_sum
from sim.model.scenario import Scenario, ScenarioError, load_scenario
from sim.rules.config.platforms import PROFILES

RunKind = Literal["simulation", "load"]

SIMULATION_FILES: tuple[str, ...] = ("scenario.json", "panel.parquet")
"""Files that make a directory a simulation run (``promptsim simulate --out``)."""
LOAD_FILES: tuple[str, ...] = ("load_summary.json",)
"""Files that make a directory a load run (``promptsim load``)."""


class RunDirError(ValueError):
    """A directory that cannot be read as a run; the message says which file and why."""


def kind_of(path: Path) -> RunKind:
    """Whether ``path`` holds a simulation run or a load run, judged by its files."""
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory")
    if all((path / f).is_file() for f in SIMULATION_FILES):
        return "simulation"
    if any((path / f).is_file() for f in LOAD_FILES) or any(path.glob("*_stats_history.csv")):
        return "load"
    raise RunDirError(
        f"{path}: neither a simulation run (needs {' and '.join(SIMULATION_FILES)}) "
        f"nor a load run (needs {LOAD_FILES[0]} or PREFIX_stats_history.csv)")


@dataclass
class Run:
    """One simulation run directory, read."""

    path: Path
    scenario: Scenario
    panel: pd.DataFrame
    """One row per replication x strategy x profile x day (``panel.parquet``)."""
    meta: dict[str, Any]
    """``run.json``: promptsim version, seed, wall seconds, engine events."""
    summary: pd.DataFrame | None
    """``summary.csv`` as written by ``sim.engine.summary`` (``None`` when missing)."""
    has_events: bool
    _cubes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _index: np.ndarray | None = field(default=None, repr=False)
    """Per panel row: (replication, strategy, cohort, day) as array indices."""

    @property
    def strategies(self) -> list[str]:
        """Strategy names in scenario order."""
        return self.scenario.strategy_names()

    @property
    def days(self) -> int:
        """Days simulated (the horizon)."""
        return self.scenario.days

    @property
    def replications(self) -> int:
        """Replications simulated."""
        return self.scenario.replications

    def cube(self, name: str) -> np.ndarray:
        """One panel column as a float array ``[replication, strategy, cohort, day]``, the
        cohort axis in ``PROFILES`` order."""
        if name not in self._cubes:
            if name not in self.panel.columns:
                raise RunDirError(f"{self.path / 'panel.parquet'}: no column {name!r}")
            self._cubes[name] = _to_cube(self, self.panel[name].to_numpy())
        return self._cubes[name]

    def platform_cube(self, name: str) -> np.ndarray:
        """A column summed per platform: ``[replication, strategy, platform, day]``."""
        return platform_sum(self.cube(name), self.scenario)

    def total(self, name: str) -> np.ndarray:
        """A column summed over every device: ``[replication, strategy, day]``."""
        out: np.ndarray = self.cube(name).sum(axis=2)
        return out


def _codes(values: pd.Series, order: list[str], what: str, path: Path) -> np.ndarray:
    cat = pd.Categorical(values.astype(str), categories=order)
    codes = np.asarray(cat.codes)
    if (codes < 0).any():
        bad = sorted(set(values.astype(str)) - set(order))
        raise RunDirError(f"{path}: unknown {what} {bad[0]!r} in panel.parquet; "
                          f"expected one of {', '.join(order)}")
    return codes


def _to_cube(run: Run, values: np.ndarray) -> np.ndarray:
    if run._index is None:
        p = run.panel
        run._index = np.stack([
            p["replication"].to_numpy(dtype=np.int64),
            _codes(p["strategy"], run.strategies, "strategy", run.path),
            _codes(p["profile"], list(PROFILES), "profile", run.path),
            p["day"].to_numpy(dtype=np.int64),
        ])
    idx = run._index
    shape = (run.replications, len(run.strategies), len(PROFILES), run.days)
    out = np.zeros(shape, dtype=np.float64)
    out[idx[0], idx[1], idx[2], idx[3]] = values
    return out


def run_of(result: RunResult, path: Path, meta: dict[str, Any] | None = None) -> Run:
    """A simulation held in memory as a :class:`Run`, nothing read from disk; ``path`` is
    where its report goes."""
    from sim.engine.output import panel_table
    from sim.engine.summary import summary_rows

    return Run(path=path, scenario=result.scenario,
               panel=panel_table(result).to_pandas(), meta=meta or {},
               summary=pd.DataFrame(summary_rows(result)), has_events=False)


def read_run(path: str | Path) -> Run:
    """Read a simulation run directory (``scenario.json``, ``panel.parquet``, ...)."""
    path = Path(path)
    if kind_of(path) != "simulation":
        raise RunDirError(f"{path}: not a simulation run directory")
    try:
        sc = load_scenario(path / "scenario.json")
    except ScenarioError as exc:
        raise RunDirError(str(exc)) from None
    panel = pq.read_table(path / "panel.parquet").to_pandas()
    missing = {"replication", "strategy", "platform", "profile", "day"} - set(panel.columns)
    if missing:
        raise RunDirError(f"{path / 'panel.parquet'}: missing columns {sorted(missing)} "
                          "(a run of an older promptsim? simulate it again)")
    if len(panel) and (panel["day"].max() >= sc.days or panel["replication"].max()
                       >= sc.replications):
        raise RunDirError(f"{path}: panel.parquet does not match scenario.json "
                          f"({sc.days} days, {sc.replications} replications)")
    meta: dict[str, Any] = {}
    if (path / "run.json").is_file():
        meta = json.loads((path / "run.json").read_text())
    summary = pd.read_csv(path / "summary.csv") if (path / "summary.csv").is_file() else None
    return Run(path=path, scenario=sc, panel=panel, meta=meta, summary=summary,
               has_events=(path / "events.parquet").is_file())
