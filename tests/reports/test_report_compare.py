"""Paired differences on a synthetic panel whose answer is known by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from reports.compare import metric_values, paired_rows
from reports.rundir import read_run
from sim.engine.chunk import FLOWS, STOCKS
from sim.engine.output import write_run
from sim.engine.runner import RunResult
from sim.model.objective import Objective
from sim.model.scenario import parse_scenario
from sim.rules.config.platforms import PROFILES
from sim.stats import t_quantile

R, DAYS = 4, 3
NOISE = np.array([0.0, 2.0, -2.0, 4.0])
"""Replication-specific part of strategy B's gain: the paired differences are 30 + NOISE."""


def synthetic_run(tmp_path: Path) -> Path:
    """A run directory written through ``sim.engine.output`` from hand-made counts.

    1,000 iOS installs on day 0 in every replication; at the horizon A has
    200 + 10 r opted-in devices and B has 230 + 10 r + NOISE[r]. The 10 r term is
    shared (common random numbers): it must cancel in the paired difference.
    """
    sc = parse_scenario({
        "name": "synthetic", "devices": 1000, "days": DAYS, "replications": R,
        "population": {"mix": {"ios": 1.0}},
        "strategies": [{"name": "A"}, {"name": "B"}],
    })
    shape = (R, 2, len(PROFILES), DAYS)
    flows = np.zeros((R, len(FLOWS), *shape[1:]), dtype=np.int64)
    stocks = np.zeros((R, len(STOCKS), *shape[1:]), dtype=np.int64)
    ios = PROFILES.index("ios")
    r = np.arange(R)
    flows[:, FLOWS.index("installs"), :, ios, 0] = 1000
    flows[:, FLOWS.index("annoyance_uninstalls"), 1, ios, 1] = 3
    stocks[:, STOCKS.index("active_devices"), :, ios, :] = 1000
    stocks[:, STOCKS.index("opted_in_devices"), 0, ios, -1] = 200 + 10 * r
    stocks[:, STOCKS.index("opted_in_devices"), 1, ios, -1] = 230 + 10 * r + NOISE
    out = tmp_path / "synthetic"
    write_run(RunResult(sc, flows, stocks, events=0, simpy_events=0), out, seconds=0.0, jobs=1)
    return out


def test_paired_difference_matches_the_hand_computation(tmp_path: Path) -> None:
    """Mean 31 and half-width t(3) * sd(NOISE) / 2: the shared 10 r term cancels."""
    run = read_run(synthetic_run(tmp_path))
    values = metric_values(run.total, Objective(provisional=0, prompt_uninstall=0, blocked=0))
    np.testing.assert_allclose(values["value"][:, 0], 200 + 10 * np.arange(R))
    rows = {(x.metric.key, x.strategy): x for x in paired_rows(values, ["A", "B"], "A")}
    b = rows[("value", "B")]
    half = t_quantile(R - 1) * float(np.std(NOISE, ddof=1)) / math.sqrt(R)
    assert b.diff.mean == pytest.approx(31.0)
    assert (b.diff.lo, b.diff.hi) == pytest.approx((31.0 - half, 31.0 + half))
    assert b.diff.significant
    a = rows[("value", "A")]
    assert a.value.mean == pytest.approx(215.0)
    assert a.diff.mean == 0.0
    # Unpaired, the intervals of A and B overlap although every paired difference is >= 28.
    assert b.value.lo < a.value.hi
    assert rows[("prompt_uninstalls_per_1k", "B")].diff.mean == pytest.approx(3.0)
    assert rows[("optin_share", "B")].value.mean == pytest.approx(24.6)
    assert rows[("optin_share", "B")].value.hi <= 100.0
