"""The per-strategy summary of a run, per platform and OS profile, with 95% intervals.

Opt-in is one quantity everywhere: the share of installed (active) devices with
notifications allowed, provisional (quiet) delivery in its own column. The
objective's value (``sim.model.objective``) is per 1,000 installs; with prior
draws (a sensitivity run) each strategy also gets the probability that it is best
and its expected loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from sim.engine.runner import RunResult
from sim.model.objective import expected_loss, outcomes, p_best, ratio
from sim.rules.config.platforms import PLATFORMS, PROFILES
from sim.stats import COUNT, SHARE, UNBOUNDED, Bounds, mean_ci

CHECK_DAYS: tuple[int, ...] = (7, 30, 90)
"""Days at which the opt-in share is reported, besides the horizon."""

COLUMNS: dict[str, str] = {
    "strategy": "strategy name, in scenario order",
    "platform": "platform (ios, android, huawei, amazon, web) or all",
    "profile": "OS profile the devices installed on (their cohort: android13, android12, ...), "
               "or all (every profile of the platform)",
    "installs": "first installs per replication (mean)",
    "optin_dN": "opt-in share of installed devices at the end of day N (7, 30, 90), a fraction",
    "optin_horizon": "opt-in share of installed devices at the end of the last day",
    "provisional_horizon": "share of installed devices on provisional (quiet) delivery at the "
                           "end of the last day (not counted as opted in)",
    "blocked_share": "share of installed devices whose OS dialog is gone for good, at the "
                     "horizon",
    "reachable_horizon": "share of installed devices opted in and receiving push at the end of "
                         "the last day: not revoked by Chrome, their subscription not removed "
                         "by WebKit, not hibernating (below opt-in with the app's [sending] "
                         "or Android's hibernation)",
    "os_dialogs_per_optin": "OS dialogs shown per opt-in (allowed or enabled in settings)",
    "annoyance_uninstalls": "uninstalls caused by a declined soft prompt per replication (mean)",
    "annoyance_per_1k": "those uninstalls per 1,000 installs",
    "soft_prompts_per_install": "soft prompts shown per install",
    "value": "the scenario's objective per 1,000 installs (sim.model.objective)",
    "p_best": "with prior draws: share of draws in which the strategy has the highest value",
    "p_best_se": "with prior draws: the Monte Carlo standard error of p_best, "
                 "sqrt(p_best (1 - p_best) / draws)",
    "expected_loss": "with prior draws: value per 1,000 installs lost against the best "
                     "strategy of each draw, on average",
    "*_lo, *_hi": "95% Student-t interval over replications (scipy.stats), clipped to the "
                  "quantity's range: shares to [0, 1], counts and rates to >= 0; empty with "
                  "one replication",
}
"""The columns of ``summary.csv`` (values are means over replications)."""


def views(result: RunResult) -> Iterator[tuple[str, str, list[int]]]:
    """``(platform, profile, cohort indices)`` of every row group with installs: each
    profile in the mix, each platform, then all devices."""
    sc = result.scenario
    profiles = sc.profiles()
    cohorts = [PROFILES.index(n) for n in sc.install_profiles()]
    for plat in PLATFORMS:
        mine = [c for c in cohorts if profiles[PROFILES[c]].platform == plat]
        for c in mine:
            yield plat, PROFILES[c], [c]
        if mine:
            yield plat, "all", mine
    yield "all", "all", cohorts


def summary_rows(result: RunResult) -> list[dict[str, object]]:
    """One row per strategy and view (profile, platform, all), in strategy order."""
    sc = result.scenario
    days = [d for d in CHECK_DAYS if d < sc.days] + [sc.days]
    draws = sc.sensitivity.draws > 0
    groups = []
    for plat, prof, sel in views(result):

        def total(metric: str, _sel: list[int] = sel) -> np.ndarray:
            out: np.ndarray = result.series(metric)[:, :, _sel].sum(axis=2)
            return out

        groups.append((plat, prof, total, outcomes(total, sc.objective)))
    rows: list[dict[str, object]] = []
    for s, name in enumerate(sc.strategy_names()):
        for plat, prof, total, out in groups:
            installs = total("installs")[:, s].sum(axis=1)
            if installs.sum() == 0:
                continue
            row: dict[str, object] = {"strategy": name, "platform": plat, "profile": prof,
                                      "installs": float(installs.mean())}

            def put(key: str, values: np.ndarray, bounds: Bounds, _row: dict[str, object] = row
                    ) -> None:
                _row[key], _row[f"{key}_lo"], _row[f"{key}_hi"] = mean_ci(values, bounds)

            active, opted = total("active_devices")[:, s], total("opted_in_devices")[:, s]
            for d in days:
                put("optin_horizon" if d == sc.days else f"optin_d{d}",
                    ratio(opted[:, d - 1], active[:, d - 1]), SHARE)
            put("provisional_horizon", out["provisional_share"][:, s], SHARE)
            put("blocked_share", out["blocked_share"][:, s], SHARE)
            put("reachable_horizon", out["reachable_share"][:, s], SHARE)
            optins = (total("os_dialogs_allowed")[:, s].sum(axis=1)
                      + total("settings_enabled")[:, s].sum(axis=1))
            row["os_dialogs_per_optin"] = mean_ci(
                ratio(total("os_dialogs_shown")[:, s].sum(axis=1), optins))[0]
            row["annoyance_uninstalls"] = float(total("annoyance_uninstalls")[:, s].sum(
                axis=1).mean())
            put("annoyance_per_1k", out["prompt_uninstalls_per_1k"][:, s], COUNT)
            row["soft_prompts_per_install"] = mean_ci(
                ratio(total("soft_prompts_shown")[:, s].sum(axis=1), installs))[0]
            put("value", out["value"][:, s], UNBOUNDED)
            if draws:
                row["p_best"] = pb = float(p_best(out["value"])[s])
                row["p_best_se"] = math.sqrt(pb * (1.0 - pb) / out["value"].shape[0])
                row["expected_loss"] = float(expected_loss(out["value"])[s])
            rows.append(row)
    return rows


def _pct(x: object) -> str:
    v = float(x)  # type: ignore[arg-type]
    return "n/a" if math.isnan(v) else f"{100 * v:.1f}%"


def format_table(rows: list[dict[str, object]], platform: str = "all",
                 profile: str = "all") -> str:
    """A plain-text table of the headline figures for one view (default: all devices)."""
    head = ["strategy", "opt-in d30", "opt-in horizon (95% CI)", "provisional", "blocked",
            "annoy/1k", "value/1k"]
    draws = any("p_best" in r for r in rows)
    if draws:
        head += ["P(best) (MC SE)", "exp. loss"]
    lines = []
    for r in rows:
        if r["platform"] != platform or r["profile"] != profile:
            continue
        lo, hi = r["optin_horizon_lo"], r["optin_horizon_hi"]
        ci = "" if math.isnan(float(lo)) else f" ({_pct(lo)}-{_pct(hi)})"  # type: ignore[arg-type]
        line = [str(r["strategy"]), _pct(r.get("optin_d30", math.nan)),
                _pct(r["optin_horizon"]) + ci, _pct(r["provisional_horizon"]),
                _pct(r["blocked_share"]), f"{float(r['annoyance_per_1k']):.2f}",  # type: ignore[arg-type]
                f"{float(r['value']):.1f}"]  # type: ignore[arg-type]
        if draws:
            line += [f"{100 * float(r['p_best']):.0f}% "  # type: ignore[arg-type]
                     f"(\u00b1{100 * float(r['p_best_se']):.0f})",  # type: ignore[arg-type]
                     f"{float(r['expected_loss']):.1f}"]  # type: ignore[arg-type]
        lines.append(line)
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in lines]
    return "\n".join(out)
