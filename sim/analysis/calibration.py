"""Calibration: the model's default priors against the published benchmarks, row by row.

Each ``Target`` is one published figure (``docs/benchmarks-published.md``) with
the range it allows and how the model measures it. The published opt-in rates
are shares of active (installed) devices with notifications allowed, in apps
that mostly opened the OS dialog at first launch; so each OS cohort is
simulated alone under the cold baseline (the OS dialog at the first session,
no soft prompt), for a year with installs arriving evenly over that year (an
app a year after launch), and measured at the end of the year. The Chrome and
Firefox rows are grants per OS dialog shown. Retention and uninstalls within
30 days are read from the drawn population (they do not depend on prompts
under the cold baseline).

Firefox's figure is from 2019, before Firefox 72 required a user gesture to
open the dialog, so its cohort runs with ``requires_user_gesture = false``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from sim.engine.runner import simulate
from sim.model.behaviour import Behaviour
from sim.model.population import chunk_count, make_chunk
from sim.model.scenario import Scenario, parse_scenario


@dataclass(frozen=True)
class Target:
    """One published figure the defaults must reproduce."""

    key: str
    what: str
    low: float
    high: float
    published: str
    """The figure as published, with its source."""


TARGETS: tuple[Target, ...] = (
    Target("optin_ios", "Opt-in share of active devices, iOS", 0.41, 0.58,
           "56% (Batch 2025); 51% (Airship, before Android 13)"),
    Target("optin_android13", "Opt-in share of active devices, Android 13+", 0.60, 0.67,
           "60% (Netcore 2024); 67% (Batch 2025)"),
    Target("optin_android12", "Opt-in share of active devices, Android <= 12", 0.81, 0.91,
           "median 81% (Airship); 80-90% before Android 13 (Netcore 2024)"),
    Target("grant_chrome", "Chrome: share of OS dialogs granted", 0.10, 0.23,
           "10% desktop, 21% Android (Bilogrevic et al., USENIX Security 2021, tables); "
           "12% / 23% (its usenix.org abstract)"),
    Target("grant_firefox", "Firefox: share of OS dialogs granted", 0.010, 0.025,
           "about 1.6% (Mozilla 2019); range: assumption, +-0.6 points"),
    Target("uninstall30_mobile", "Installs uninstalled within 30 days, iOS and Android", 0.28,
           0.50, "28% to about 50% (AppsFlyer 2018 / 2020)"),
    Target("uninstall30_ratio", "Android / iOS ratio of 30-day uninstalls", 1.6, 2.4,
           "Android about 2x iOS (AppsFlyer); range: assumption, 2 +- 0.4"),
    Target("retention_d1", "Day-1 retention (a session on the day after install)", 0.25, 0.30,
           "25-30% (A. Chen / Quettra; aggregated blogs)"),
    Target("retention_d7", "Day-7 retention", 0.10, 0.15,
           "10-15% (A. Chen / Quettra; aggregated blogs)"),
    Target("retention_d30", "Day-30 retention", 0.05, 0.08,
           "5-8% (A. Chen / Quettra; aggregated blogs)"),
)
"""The calibration table's rows, in order."""

COHORTS: dict[str, str] = {
    "optin_ios": "ios", "optin_android13": "android13", "optin_android12": "android12",
    "grant_chrome": "chrome", "grant_firefox": "firefox",
}
"""The opt-in and grant rows: the OS profile each one simulates alone."""
DAYS = 365
"""The calibration horizon: a year, installs arriving evenly over it."""
UNINSTALL_MIX = {"ios": 0.5, "android13": 0.5}
"""Population the uninstall and retention rows are read from."""


def cohort_scenario(profile: str, behaviour: Behaviour, devices: int, seed: int) -> Scenario:
    """One OS profile alone under the cold baseline, a year of installs and a year simulated."""
    data: dict[str, Any] = {
        "name": f"calibration_{profile}", "seed": seed, "devices": devices, "days": DAYS,
        "population": {"mix": {profile: 1.0}, "install_window_days": DAYS,
                       "second_device": 0.0, "sdk_reports_permission": 1.0},
        "strategies": [{"name": "cold_baseline",
                        "campaigns": [{"id": "native", "primer": False}]}],
    }
    if profile == "firefox":  # Mozilla's 2019 figure predates Firefox 72's gesture rule
        data["platforms"] = {"firefox": {"requires_user_gesture": False}}
    return msgspec.structs.replace(parse_scenario(data, "calibration"), behaviour=behaviour)


def optin_share(sc: Scenario, jobs: int = 1) -> float:
    """The share of installed devices opted in at the horizon (an opt-in row's figure)."""
    res = simulate(sc, jobs=jobs)
    active = float(res.series("active_devices")[..., -1].sum())
    return float(res.series("opted_in_devices")[..., -1].sum()) / active


def _cohort_value(key: str, sc: Scenario, jobs: int) -> float:
    if key.startswith("optin_"):
        return optin_share(sc, jobs)
    res = simulate(sc, jobs=jobs)
    shown = float(res.series("os_dialogs_shown").sum())
    return float(res.series("os_dialogs_allowed").sum()) / shown if shown else math.nan


def population_values(behaviour: Behaviour, devices: int, seed: int) -> dict[str, float]:
    """Retention on days 1, 7, 30 and uninstalls within 30 days, read from the population.

    Day-N retention is the share of first installs with a session on day N after the
    install (classic retention); installs later than ``DAYS - 30`` are left out so
    every install could be seen for 30 days.
    """
    sc = cohort_scenario("ios", behaviour, devices, seed)
    sc = msgspec.structs.replace(sc, population=msgspec.structs.replace(
        sc.population, mix=dict(UNINSTALL_MIX)))
    profiles = sc.profiles()
    seen = {1: 0, 7: 0, 30: 0}
    installs = {"ios": 0, "android13": 0}
    gone = {"ios": 0, "android13": 0}
    for c in range(chunk_count(sc)):
        ch = make_chunk(sc, profiles, 0, c)
        t = np.asarray(ch.session_t)
        for i in range(ch.n):
            t0 = ch.install_t[i]
            if t0 > DAYS - 31:
                continue
            p = ch.profile[i]
            installs[p] += 1
            gone[p] += ch.uninstall_t[i] - t0 <= 30.0
            days = np.floor(t[ch.start[i]:ch.reinstall_start[i]] - t0)
            for d in seen:
                seen[d] += bool(np.any(days == d))
    n = sum(installs.values())
    out = {f"retention_d{d}": k / n for d, k in seen.items()}
    ios, android = gone["ios"] / installs["ios"], gone["android13"] / installs["android13"]
    out["uninstall30_mobile"] = sum(gone.values()) / n
    out["uninstall30_ratio"] = android / ios if ios else math.nan
    return out


@dataclass(frozen=True)
class Row:
    """A calibration row: the target and what the model gives."""

    target: Target
    model: float

    @property
    def within(self) -> bool:
        """Whether the model's figure lies in the published range."""
        return self.target.low <= self.model <= self.target.high


def calibrate(behaviour: Behaviour | None = None, *, devices: int = 20_000, seed: int = 1,
              jobs: int = 1, progress: Callable[[str], None] | None = None) -> list[Row]:
    """Every row of ``TARGETS`` with the model's figure under ``behaviour`` (the defaults)."""
    b = behaviour or Behaviour()
    values = population_values(b, devices, seed)
    for key, profile in COHORTS.items():
        if progress:
            progress(f"simulating the {profile} cohort")
        values[key] = _cohort_value(key, cohort_scenario(profile, b, devices, seed), jobs)
    return [Row(t, values[t.key]) for t in TARGETS]


def format_rows(rows: list[Row]) -> str:
    """The calibration table as Markdown (the form ``docs/behaviour-priors.md`` carries)."""

    def fmt(x: float, key: str) -> str:
        return f"{x:.2f}" if key.endswith("ratio") else f"{100 * x:.1f}%"

    out = ["| benchmark | published | range | model | within |", "|---|---|---|---|---|"]
    for r in rows:
        t = r.target
        out.append(f"| {t.what} | {t.published} | {fmt(t.low, t.key)} - {fmt(t.high, t.key)} "
                   f"| {fmt(r.model, t.key)} | {'yes' if r.within else 'NO'} |")
    return "\n".join(out)
