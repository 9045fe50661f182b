"""The report's opening: what shipping the recommendation means, counted in devices.

A PM reads "+580 opted-in devices, 8 more uninstalls" sooner than shares and values per
1,000. For the recommended strategy against the one it is chosen over (the baseline; when
the baseline is the pick, the next best by the objective), per platform and overall: the
devices opted in at the horizon, the uninstalls caused by declined soft prompts and the
devices blocked for good at the horizon, each the strategy's own count and the paired
difference (95% interval over replications; common random numbers make it paired).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reports import html as h
from reports.decision import Decision
from reports.rundir import Run
from sim.rules.config.platforms import PLATFORMS
from sim.stats import Estimate, estimate

ROWS: tuple[tuple[str, str, str], ...] = (
    ("opted_in_devices", "stock", "opted-in devices at the horizon"),
    ("annoyance_uninstalls", "flow", "uninstalls caused by prompts"),
    ("blocked_devices", "stock", "devices blocked for good at the horizon"),
)
"""(panel column, stock or flow, label) of each number the summary gives."""


def compared_with(d: Decision, baseline: str) -> str:
    """The strategy the recommendation is set against: the baseline, or when the baseline
    is the pick, the best of the others by the objective's value."""
    pick = d.overall.strategy
    if pick != baseline:
        return baseline
    others = {n: e.mean for n, e in d.overall.value.items() if n != pick}
    return max(others, key=lambda n: -math.inf if math.isnan(others[n]) else others[n]) \
        if others else pick


def _count(run: Run, col: str, kind: str, p: int | None) -> np.ndarray:
    """``[replication, strategy]``: a stock on the last day or a flow summed over days."""
    x = run.platform_cube(col).sum(axis=2) if p is None else run.platform_cube(col)[:, :, p]
    return x[..., -1] if kind == "stock" else x.sum(axis=-1)


def _signed(e: Estimate) -> str:
    if math.isnan(e.mean):
        return "n/a"
    text = f"{e.mean:+,.0f}"
    if not math.isnan(e.lo):
        text += f" ({e.lo:+,.0f} to {e.hi:+,.0f})"
    return text


def summary_view(run: Run, d: Decision, baseline: str,
                 colours: dict[str, str]) -> dict[str, Any]:
    """For ``report/summary.html`` (first on the page): the lead sentence and the counts per
    platform."""
    names = run.strategies
    pick = d.overall.strategy
    other = compared_with(d, baseline)
    a, b = names.index(pick), names.index(other)
    installs = run.platform_cube("installs").sum(axis=(1, 3)) / len(names)  # [rep, platform]
    plats = [p for p in range(len(PLATFORMS)) if installs[:, p].sum() > 0]
    verb = (f"Shipping {pick} instead of {other}" if pick != other
            else f"Keeping {pick}")
    if pick == baseline and pick != other:
        verb = f"Keeping {pick} (the baseline) rather than {other} (the next best)"
    total_installs = float(installs.sum(axis=1).mean())
    rows = []
    for p in [*plats, None]:
        n = installs[:, p] if p is not None else installs.sum(axis=1)
        cells: list[str | h.Cell] = [PLATFORMS[p] if p is not None else h.Cell("all", strong=True),
                                     f"{float(n.mean()):,.0f}"]
        for col, kind, _ in ROWS:
            x = _count(run, col, kind, p)
            own = estimate(x[:, a]).mean
            cells.append(h.Cell(f"{own:,.0f}", under=_signed(estimate(x[:, a] - x[:, b]))))
        rows.append(cells)
    heads = ["platform", "installs", *(label for _, _, label in ROWS)]
    x_all = {col: _count(run, col, kind, None) for col, kind, _ in ROWS}
    diff = {col: estimate(v[:, a] - v[:, b]).mean for col, v in x_all.items()}
    lead = (f"{verb}: {diff['opted_in_devices']:+,.0f} opted-in devices, "
            f"{diff['annoyance_uninstalls']:+,.0f} uninstalls caused by prompts and "
            f"{diff['blocked_devices']:+,.0f} devices blocked for good, out of "
            f"{total_installs:,.0f} installs over {run.days} days (means over "
            + (f"{d.draws} prior draws)." if d.draws else f"{run.replications} replications).")
            if pick != other else
            f"{verb}: one strategy only.")
    return {"lead": lead, "colour": colours[pick], "pick": pick, "other": other,
            "counts": h.table(heads, rows, numeric=(1, 2, 3, 4))}
