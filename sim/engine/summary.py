"""The per-strategy, per-platform summary of a run, with 95% intervals over replications."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.engine.runner import RunResult
from sim.rules.platforms import PLATFORMS

CHECK_DAYS: tuple[int, ...] = (7, 30, 90)
"""Days at which the opt-in share is reported, besides the horizon."""

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of per-replication values (NaN bounds with one replication)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = t975(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half


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
                x = result.series(metric)[:, _s]
                return x.sum(axis=1) if isinstance(_sel, slice) else x[:, _sel]

            active, opted = col("active_devices"), col("opted_in_devices")
            installs = col("installs").sum(axis=1)
            if installs.sum() == 0:
                continue
            row: dict[str, object] = {"strategy": name, "platform": plat,
                                      "installs": float(installs.mean())}
            for d in days:
                m, lo, hi = mean_ci(_ratio(opted[:, d - 1], active[:, d - 1]))
                label = "horizon" if d == sc.days else f"d{d}"
                row[f"optin_{label}"], row[f"optin_{label}_lo"], row[f"optin_{label}_hi"] = \
                    m, lo, hi
            optins = col("os_dialogs_allowed").sum(axis=1) + col("settings_enabled").sum(axis=1)
            row["os_dialogs_per_optin"] = mean_ci(_ratio(col("os_dialogs_shown").sum(axis=1),
                                                         optins))[0]
            m, lo, hi = mean_ci(_ratio(col("blocked_devices")[:, -1], active[:, -1]))
            row["blocked_share"], row["blocked_share_lo"], row["blocked_share_hi"] = m, lo, hi
            annoy = col("annoyance_uninstalls").sum(axis=1)
            row["annoyance_uninstalls"] = float(annoy.mean())
            m, lo, hi = mean_ci(_ratio(annoy * 1000.0, installs))
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
