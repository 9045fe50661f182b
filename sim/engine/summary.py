"""The per-strategy, per-platform summary of a run, with 95% intervals over replications."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.engine.runner import RunResult
from sim.rules.platforms import PLATFORMS
from sim.stats import COUNT, SHARE, mean_ci

CHECK_DAYS: tuple[int, ...] = (7, 30, 90)
"""Days at which the opt-in share is reported, besides the horizon."""

COLUMNS: dict[str, str] = {
    "strategy": "strategy name, in scenario order",
    "platform": "platform (ios, android, huawei, amazon, web) or all",
    "installs": "first installs per replication (mean)",
    "optin_dN": "opt-in share of installed devices at the end of day N (7, 30, 90), a fraction",
    "optin_horizon": "opt-in share of installed devices at the end of the last day",
    "os_dialogs_per_optin": "OS dialogs shown per opt-in (allowed or enabled in settings)",
    "blocked_share": "share of installed devices whose OS dialog is gone for good, at the "
                     "horizon",
    "annoyance_uninstalls": "uninstalls caused by a declined soft prompt per replication (mean)",
    "annoyance_per_1k": "those uninstalls per 1,000 installs",
    "soft_prompts_per_install": "soft prompts shown per install",
    "*_lo, *_hi": "95% Student-t interval over replications (scipy.stats), clipped to the "
                  "quantity's range: shares to [0, 1], counts and rates to >= 0; empty with "
                  "one replication",
}
"""The columns of ``summary.csv`` (values are means over replications)."""


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def summary_rows(result: RunResult) -> list[dict[str, object]]:
    """One row per strategy and platform (plus ``all``), in strategy order."""
    sc = result.scenario
    days = [d for d in CHECK_DAYS if d < sc.days] + [sc.days]
    rows: list[dict[str, object]] = []
    platforms: Sequence[str] = (*PLATFORMS, "all")
    for s, name in enumerate(sc.strategy_names()):
        for p, plat in enumerate(platforms):
            sel = slice(None) if plat == "all" else p

            def col(metric: str, _s: int = s, _sel: slice | int = sel) -> np.ndarray:
                x = result.by_platform(metric)[:, _s]
                return x.sum(axis=1) if isinstance(_sel, slice) else x[:, _sel]

            active, opted = col("active_devices"), col("opted_in_devices")
            installs = col("installs").sum(axis=1)
            if installs.sum() == 0:
                continue
            row: dict[str, object] = {"strategy": name, "platform": plat,
                                      "installs": float(installs.mean())}
            for d in days:
                m, lo, hi = mean_ci(_ratio(opted[:, d - 1], active[:, d - 1]), SHARE)
                label = "horizon" if d == sc.days else f"d{d}"
                row[f"optin_{label}"], row[f"optin_{label}_lo"], row[f"optin_{label}_hi"] = \
                    m, lo, hi
            optins = col("os_dialogs_allowed").sum(axis=1) + col("settings_enabled").sum(axis=1)
            row["os_dialogs_per_optin"] = mean_ci(_ratio(col("os_dialogs_shown").sum(axis=1),
                                                         optins))[0]
            m, lo, hi = mean_ci(_ratio(col("blocked_devices")[:, -1], active[:, -1]), SHARE)
            row["blocked_share"], row["blocked_share_lo"], row["blocked_share_hi"] = m, lo, hi
            annoy = col("annoyance_uninstalls").sum(axis=1)
            row["annoyance_uninstalls"] = float(annoy.mean())
            m, lo, hi = mean_ci(_ratio(annoy * 1000.0, installs), COUNT)
            row["annoyance_per_1k"], row["annoyance_per_1k_lo"], row["annoyance_per_1k_hi"] = \
                m, lo, hi
            row["soft_prompts_per_install"] = mean_ci(
                _ratio(col("soft_prompts_shown").sum(axis=1), installs))[0]
            rows.append(row)
    return rows


def format_table(rows: list[dict[str, object]], platform: str = "all") -> str:
    """A plain-text table of the headline figures for one platform (default: all)."""
    head = ("strategy", "opt-in d30", "opt-in horizon (95% CI)", "dialogs/opt-in",
            "blocked", "annoy/1k")
    lines = []
    for r in rows:
        if r["platform"] != platform:
            continue

        def pct(x: object) -> str:
            return "n/a" if x is None or math.isnan(float(x)) else f"{100 * float(x):.1f}%"  # type: ignore[arg-type]

        lo, hi = r["optin_horizon_lo"], r["optin_horizon_hi"]
        ci = "" if math.isnan(float(lo)) else f" ({pct(lo)}-{pct(hi)})"  # type: ignore[arg-type]
        d30 = pct(r.get("optin_d30", math.nan))
        dpo = float(r["os_dialogs_per_optin"])  # type: ignore[arg-type]
        lines.append((str(r["strategy"]), d30, pct(r["optin_horizon"]) + ci,
                      "n/a" if math.isnan(dpo) else f"{dpo:.2f}", pct(r["blocked_share"]),
                      f"{float(r['annoyance_per_1k']):.2f}"))  # type: ignore[arg-type]
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in lines]
    return "\n".join(out)
