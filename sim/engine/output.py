"""Writing a run directory: the resolved scenario, the daily panel, the summary, the event log.

This is the edge where arrays become files; readers live in ``reports/``. PyArrow is
imported when a file is written, not with this module: ``promptsim simulate`` imports it
before the run, and its worker processes, forked then, would each carry it (see
``sim.stats`` for SciPy).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from sim.engine.chunk import FLOWS, STOCKS
from sim.engine.runner import RunResult
from sim.engine.summary import summary_rows
from sim.model.scenario import dump_scenario
from sim.rules.config.platforms import PLATFORMS, PROFILES
from sim.version import __version__

if TYPE_CHECKING:
    import pyarrow as pa


def panel_table(result: RunResult) -> pa.Table:
    """One row per replication x strategy x profile x day (the profiles in the population
    mix): every flow and stock a column, ``profile`` the cohort a device installed on and
    ``platform`` its platform."""
    import pyarrow as pa

    sc = result.scenario
    profiles = sc.profiles()
    installs = set(sc.install_profiles())
    cohorts = [c for c, n in enumerate(PROFILES) if n in installs]
    r, s, d = sc.replications, len(sc.strategies), sc.days
    grid = np.indices((r, s, len(cohorts), d)).reshape(4, -1)
    cohort = np.asarray(cohorts, dtype=np.int32)[grid[2]]
    plat = np.asarray([PLATFORMS.index(profiles[n].platform) for n in PROFILES], np.int32)
    cols: dict[str, pa.Array] = {
        "replication": pa.array(grid[0].astype(np.int32)),
        "strategy": pa.DictionaryArray.from_arrays(grid[1].astype(np.int32),
                                                   sc.strategy_names()),
        "platform": pa.DictionaryArray.from_arrays(plat[cohort], list(PLATFORMS)),
        "profile": pa.DictionaryArray.from_arrays(cohort, list(PROFILES)),
        "day": pa.array(grid[3].astype(np.int32)),
    }
    for name in (*STOCKS, *FLOWS):
        cols[name] = pa.array(result.series(name)[:, :, cohorts].reshape(-1))
    return pa.table(cols)


class RunDirTaken(ValueError):
    """The run directory holds something else than an earlier run of the same scenario file."""


def check_run_dir(out: Path, source: Path | None) -> None:
    """Refuse to write a run of ``source`` over ``out`` unless ``out`` is empty, missing or
    holds an earlier run of the same scenario file (a rerun replaces it).

    A copied scenario that kept its ``name`` would otherwise replace the original's run
    without a word. :class:`RunDirTaken` says what to do instead.
    """
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    meta = out / "run.json"
    held = None
    if meta.is_file():
        try:
            held = json.loads(meta.read_text()).get("scenario_file")
        except (ValueError, AttributeError):
            held = None
    if source is not None and held == str(source.resolve()):
        return
    what = f"a run of {held}" if held else "files that are not a run of this scenario file"
    raise RunDirTaken(f"{out} already holds {what}; pass --out DIR for a new run directory, "
                      "give the scenario its own `name`, or --overwrite to replace it")


def write_run(result: RunResult, out: Path, *, seconds: float, jobs: int,
              events: bool = False, source: Path | None = None) -> None:
    """Write ``out/`` with scenario.json, panel.parquet, summary.csv, run.json (and events).

    ``source`` (the scenario file) is recorded in run.json for :func:`check_run_dir`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.json").write_bytes(dump_scenario(result.scenario))
    pq.write_table(panel_table(result), out / "panel.parquet")
    rows = summary_rows(result)
    with (out / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["strategy"])
        writer.writeheader()
        writer.writerows(rows)
    meta = {"promptsim_version": __version__, "seed": result.scenario.seed,
            "scenario": result.scenario.name, "engine_events": result.events,
            "simpy_events": result.simpy_events,
            "wall_seconds": round(seconds, 3), "jobs": jobs,
            "scenario_file": str(source.resolve()) if source is not None else None}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    if events:
        pq.write_table(pa.Table.from_pylist(msgspec.to_builtins(result.log)),
                       out / "events.parquet")
