"""Hold-out calibration: fit the opt-in priors on every benchmark source but one, and see
how close the model lands on the source left out.

The calibration table (``sim.analysis.calibration``) is in-sample: the defaults were set
so that every row falls in its range. Three sources measure opt-in on overlapping cohorts
(``SOURCES``): Batch 2025 (iOS, Android 13+), Airship (iOS, Android <= 12) and Netcore
2024 (Android 13+, Android <= 12), so every cohort keeps a figure when any one of them is
held out. Each opt-in cohort has one parameter that moves it most (``PARAMETERS``): the
opt-out hazard sets Android <= 12 (which starts opted in and never sees the dialog), and
given it, each cold-dialog allow rate sets its cohort. ``hold_out`` fits them in that
order on the remaining sources' figures (each cohort to the mean of its remaining
figures, a range counted at its middle), by regula falsi on the calibration's own
simulation (``calibration.cohort_scenario``, the same seed at every value: common random
numbers keep the curve smooth), over brackets much wider than the priors' ranges (which
were themselves set from these sources), then reads the held-out source's figures off the
fitted cohorts.

With one parameter per cohort the held-out error is how much the source disagrees with
the others once the model links the cohorts through the shared opt-out hazard; it is not
a test of the model's shape. The other sources (Chrome and Firefox grants, retention,
uninstalls) are each the only one for their rows and parameters (``SINGLE_SOURCE``):
leaving one out leaves its parameter unidentified, so they cannot be held out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.analysis.calibration import TARGETS, cohort_scenario, optin_share
from sim.model import priors
from sim.model.behaviour import Behaviour

SOURCES: dict[str, dict[str, tuple[float, float]]] = {
    "Batch 2025": {"optin_ios": (0.56, 0.56), "optin_android13": (0.67, 0.67)},
    "Airship": {"optin_ios": (0.51, 0.51), "optin_android12": (0.81, 0.81)},
    "Netcore 2024": {"optin_android13": (0.60, 0.60), "optin_android12": (0.80, 0.90)},
}
"""Each opt-in source's figures (a single value, or a range), by calibration row; the same
figures as ``calibration.TARGETS``' ``published`` text (docs/benchmarks-published.md)."""
SINGLE_SOURCE: dict[str, tuple[str, ...]] = {
    "Bilogrevic et al. 2021": ("grant_chrome",),
    "Mozilla 2019": ("grant_firefox",),
    "AppsFlyer 2018 / 2020": ("uninstall30_mobile", "uninstall30_ratio"),
    "A. Chen / Quettra": ("retention_d1", "retention_d7", "retention_d30"),
}
"""Sources that alone measure their rows: they cannot be held out."""
PARAMETERS: dict[str, tuple[str, float, float]] = {
    "optin_android12": ("opt_out_per_year", 0.02, 0.8),
    "optin_ios": ("dialog_cold.ios", 0.2, 0.99),
    "optin_android13": ("dialog_cold.android13", 0.2, 0.99),
}
"""Per opt-in row, in fitting order: the prior fitted to it and the bracket searched."""
COHORTS: dict[str, str] = {"optin_ios": "ios", "optin_android13": "android13",
                           "optin_android12": "android12"}
TOLERANCE = 0.002
"""Regula falsi stops when the cohort's share is this close to its target."""
ITERATIONS = 6
"""At most this many steps after the bracket's two ends."""


@dataclass(frozen=True)
class Figure:
    """One held-out figure against the model fitted without its source."""

    source: str
    row: str
    published: tuple[float, float]
    model: float

    @property
    def error(self) -> float:
        """Model minus the published figure, in share points; for a range, minus its nearer
        end (0 inside it)."""
        lo, hi = self.published
        return min(0.0, self.model - lo) + max(0.0, self.model - hi)


@dataclass(frozen=True)
class HoldOut:
    """The fit without ``source`` and how it does on ``source``'s figures."""

    source: str
    fitted: dict[str, float]
    """Prior -> value fitted on the other sources."""
    targets: dict[str, float]
    """Row -> the figure it was fitted to (the mean of the other sources')."""
    shares: dict[str, float]
    """Row -> the model's share at the fitted values."""
    figures: list[Figure]
    at_bracket_end: list[str]
    """Priors whose target lay beyond their bracket (fitted at its end)."""


def _targets(left_out: str | None) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for source, figs in SOURCES.items():
        if source == left_out:
            continue
        for row, (lo, hi) in figs.items():
            out.setdefault(row, []).append((lo + hi) / 2.0)
    return {row: float(np.mean(v)) for row, v in out.items()}


def _solve(f: Callable[[float], float], target: float, lo: float, hi: float
           ) -> tuple[float, float, bool]:
    """``x`` in ``[lo, hi]`` with ``f(x)`` near ``target`` (``f`` monotone): regula falsi
    (Illinois). Returns ``(x, f(x), at_end)``; ``at_end`` when the target lies outside
    ``f``'s values at the ends."""
    a, b = lo, hi
    fa, fb = f(a) - target, f(b) - target
    if fa * fb > 0:
        x, fx = (a, fa) if abs(fa) < abs(fb) else (b, fb)
        return x, fx + target, True
    x, fx = (a, fa) if abs(fa) < abs(fb) else (b, fb)
    side = 0
    for _ in range(ITERATIONS):
        if abs(fx) < TOLERANCE:
            break
        x = (fa * b - fb * a) / (fa - fb)
        fx = f(x) - target
        if fx * fb > 0:  # x replaces b; a stayed twice: halve its weight
            b, fb = x, fx
            fa = fa / 2.0 if side == -1 else fa
            side = -1
        else:
            a, fa = x, fx
            fb = fb / 2.0 if side == 1 else fb
            side = 1
    return x, fx + target, False


def hold_out(source: str | None, *, devices: int = 20_000, seed: int = 1, jobs: int = 1,
             behaviour: Behaviour | None = None,
             progress: Callable[[str], None] | None = None,
             memo: dict[tuple[str, tuple[tuple[str, float], ...]], float] | None = None
             ) -> HoldOut:
    """Fit ``PARAMETERS`` on every source of ``SOURCES`` but ``source`` (``None``: on all, the
    in-sample fit) and read ``source``'s figures off the fitted model. ``memo`` keeps the
    simulated shares across calls with the same devices, seed and behaviour."""
    if source is not None and source not in SOURCES:
        known = ", ".join(SOURCES)
        raise ValueError(f"hold-out source {source!r}: not one of {known}"
                         + (" (it alone measures its rows, so it cannot be held out)"
                            if source in SINGLE_SOURCE else ""))
    values: dict[str, float] = {}
    shares: dict[str, float] = {}
    ends: list[str] = []
    base = behaviour or Behaviour()
    targets = _targets(source)
    for row, (prior, lo, hi) in PARAMETERS.items():
        if progress:
            progress(f"fitting {prior} to {row} = {100 * targets[row]:.1f}%")

        def share(x: float, row: str = row, prior: str = prior) -> float:
            at = {**values, prior: x}
            key = (row, tuple(sorted(at.items())))
            if memo is not None and key in memo:
                return memo[key]
            b = priors.apply(base, at)
            out = optin_share(cohort_scenario(COHORTS[row], b, devices, seed), jobs)
            if memo is not None:
                memo[key] = out
            return out

        x, at, end = _solve(share, targets[row], lo, hi)
        values[prior] = x
        shares[row] = at
        if end:
            ends.append(prior)
    figures = [] if source is None else [
        Figure(source, row, fig, shares[row]) for row, fig in SOURCES[source].items()]
    return HoldOut(source or "none", values, targets, shares, figures, ends)


def hold_outs(*, devices: int = 20_000, seed: int = 1, jobs: int = 1,
              progress: Callable[[str], None] | None = None) -> list[HoldOut]:
    """``hold_out`` of every source of ``SOURCES`` in turn, sharing the simulations."""
    memo: dict[tuple[str, tuple[tuple[str, float], ...]], float] = {}
    return [hold_out(s, devices=devices, seed=seed, jobs=jobs, progress=progress, memo=memo)
            for s in SOURCES]


def format_hold_outs(results: list[HoldOut], devices: int, seed: int) -> str:
    """The hold-out table as Markdown: per held-out source and figure, the model fitted on
    the others, its error, and the values fitted."""
    what = {t.key: t.what.removeprefix("Opt-in share of active devices, ") for t in TARGETS}
    out = ["| held out | cohort | its figure | model fitted on the others | error (points) "
           "| fitted on the others |", "|---|---|---|---|---|---|"]
    for r in results:
        fitted = ", ".join(f"{p} {v:.3g}" for p, v in r.fitted.items())
        for f in r.figures:
            lo, hi = f.published
            fig = f"{100 * lo:.0f}%" if lo == hi else f"{100 * lo:.0f}-{100 * hi:.0f}%"
            out.append(f"| {f.source} | {what[f.row]} | {fig} | {100 * f.model:.1f}% "
                       f"| {100 * f.error:+.1f} | {fitted} |")
    out.append("")
    ends = sorted({p for r in results for p in r.at_bracket_end})
    out.append(f"{devices:,} devices per cohort, seed {seed}; error: model minus the figure "
               f"(for a range, its nearer end); not held out (each alone measures its rows): "
               f"{', '.join(SINGLE_SOURCE)}."
               + (f" At the end of its bracket: {', '.join(ends)}." if ends else ""))
    return "\n".join(out)
