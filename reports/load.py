"""The report of a load run: Locust's CSV history plus promptsim's ``load_summary.json``.

Reads ``PREFIX_stats_history.csv`` (written with ``--csv PREFIX --csv-full-history``;
columns Timestamp, User Count, Type, Name, Requests/s, Failures/s, 50%, 66%, ...,
95%, ..., 99%, ...), ``PREFIX_stats.csv`` and ``PREFIX_failures.csv``. Writes
``LOAD_DIR/load_report.html`` (Locust's own ``report.html`` is left alone) and
``LOAD_DIR/figures/load_*.png|svg``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from reports import html as h
from reports.figures import FigureSpec, SavedFigure, new_figure, palette, save
from reports.rundir import RunDirError
from sim.version import __version__

AGGREGATED = "Aggregated"
"""Locust's name for the row that sums every endpoint."""
PERCENTILES = (("50%", "p50_ms", "median (p50)"), ("95%", "p95_ms", "p95"),
               ("99%", "p99_ms", "p99"))
HISTORY_COLUMNS = ("Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s",
                   "50%", "95%", "99%")
REPORT_NAME = "load_report.html"


@dataclass
class LoadRun:
    """A load run directory, read."""

    path: Path
    summary: dict[str, Any] | None
    """``load_summary.json`` (``None`` when missing)."""
    history: pd.DataFrame | None
    """``*_stats_history.csv`` with ``t`` (seconds from the first row) and numeric percentiles."""
    stats: pd.DataFrame | None
    failures: pd.DataFrame | None
    locust_report: bool
    meta: dict[str, Any] = field(default_factory=dict)
    """``load_meta.json``: scenario, strategy, target URL, shape, start time, version."""


def _one(path: Path, pattern: str) -> Path | None:
    found = sorted(path.glob(pattern))
    return found[0] if found else None


def read_history(csv: Path) -> pd.DataFrame:
    """Locust's stats history: one row per endpoint per write; ``N/A`` percentiles, and those
    of a window without requests (``Requests/s`` 0), as NaN."""
    df = pd.read_csv(csv, keep_default_na=False)
    missing = [c for c in HISTORY_COLUMNS if c not in df.columns]
    if missing:
        raise RunDirError(f"{csv}: not a Locust stats history (missing columns "
                          f"{', '.join(missing)})")
    for c in ("Requests/s", "Failures/s", "User Count", "Timestamp",
              *(p for p, _, _ in PERCENTILES)):
        df[c] = pd.to_numeric(df[c].replace({"N/A": np.nan, "": np.nan}), errors="coerce")
    # Locust writes 0 for the window's percentiles while the window holds no requests (at
    # the start, in pauses): no response took 0 ms, so those are gaps, not zeros.
    idle = ~(df["Requests/s"] > 0)
    for p, _, _ in PERCENTILES:
        df.loc[idle, p] = np.nan
    df["Type"] = df["Type"].astype(str)
    df["Name"] = df["Name"].astype(str)
    df["t"] = df["Timestamp"] - df["Timestamp"].min()
    return df


def read_load(path: str | Path) -> LoadRun:
    """Read a load run directory."""
    path = Path(path)
    summary = None
    if (path / "load_summary.json").is_file():
        try:
            summary = json.loads((path / "load_summary.json").read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{path / 'load_summary.json'}: not valid JSON: {exc}") from None
    meta: dict[str, Any] = {}
    if (path / "load_meta.json").is_file():
        try:
            meta = json.loads((path / "load_meta.json").read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{path / 'load_meta.json'}: not valid JSON: {exc}") from None
    hist = _one(path, "*_stats_history.csv")
    stats = _one(path, "*_stats.csv")
    fails = _one(path, "*_failures.csv")
    if summary is None and hist is None:
        raise RunDirError(f"{path}: no load_summary.json and no *_stats_history.csv")
    return LoadRun(
        path=path, summary=summary, history=read_history(hist) if hist else None,
        stats=pd.read_csv(stats) if stats else None,
        failures=pd.read_csv(fails) if fails else None,
        locust_report=(path / "report.html").is_file(), meta=meta)


def endpoints(history: pd.DataFrame) -> list[str]:
    """Endpoint names in the history, in first-seen order, without the aggregate."""
    names = history.loc[history["Name"] != AGGREGATED, "Name"]
    return list(dict.fromkeys(names))


def load_figures(run: LoadRun) -> list[FigureSpec]:
    """Throughput and latency over time, one colour per endpoint."""
    hist = run.history
    if hist is None or hist.empty:
        return []
    names = endpoints(hist)
    colours = palette(names)
    agg = hist[hist["Name"] == AGGREGATED]
    budgets = (run.summary or {}).get("budgets", [])

    fig = new_figure(11.0, 6.6)
    ax_rps, ax_fail, ax_users = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 1.1]})
    for n in names:
        d = hist[hist["Name"] == n]
        ax_rps.plot(d["t"], d["Requests/s"], color=colours[n], lw=1.4, label=n)
        ax_fail.plot(d["t"], d["Failures/s"], color=colours[n], lw=1.2)
    if not agg.empty:
        ax_rps.plot(agg["t"], agg["Requests/s"], color="#333333", lw=1.6, ls="--",
                    label="all endpoints")
        ax_fail.plot(agg["t"], agg["Failures/s"], color="#333333", lw=1.2, ls="--")
        ax_users.step(agg["t"], agg["User Count"], where="post", color="#777777")
    ax_rps.set_title("Throughput per endpoint (Locust, 10 s sliding window)")
    ax_rps.set_ylabel("requests/s")
    ax_rps.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax_fail.set_ylabel("failures/s")
    ax_users.set_ylabel("users")
    ax_users.set_xlabel("seconds since the start of the test")
    for ax in (ax_rps, ax_fail, ax_users):
        ax.set_ylim(bottom=0)
    if not (hist["Failures/s"] > 0).any():
        ax_fail.set_ylim(0, 1)
        ax_fail.text(0.5, 0.5, "no failures", transform=ax_fail.transAxes, ha="center",
                     va="center", color="#555555")
    specs = [FigureSpec("load_throughput", "Requests and failures per second", (
        "Requests/s and failures/s per endpoint as Locust wrote them to its stats history "
        "(current values over a sliding window); dashed: all endpoints together; bottom: the "
        "number of simulated users."), fig)]

    fig = new_figure(11.0, 4.2)
    axes = fig.subplots(1, 3, sharex=True)
    for ax, (col, metric, title) in zip(axes, PERCENTILES, strict=True):
        for n in names:
            d = hist[hist["Name"] == n]
            ax.plot(d["t"], d[col], color=colours[n], lw=1.3, label=n)
        for b in budgets:
            if b.get("metric") == metric and b.get("endpoint") in colours:
                ax.axhline(float(b["limit"]), color=colours[b["endpoint"]], ls="--", lw=0.9)
        ax.set_title(f"{title} response time")
        ax.set_xlabel("seconds since the start")
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("milliseconds")
    handles, _ = axes[0].get_legend_handles_labels()
    if budgets:
        handles.append(Line2D([], [], color="#555555", ls="--", lw=0.9, label="budget limit"))
    fig.legend(handles=handles, loc="outside right upper")  # never over a curve
    fig.suptitle("Response-time percentiles over time per endpoint")
    specs.append(FigureSpec("load_latency", "Response times p50 / p95 / p99", (
        "Percentiles of the response times in Locust's sliding window, per endpoint, in "
        "milliseconds. Dashed lines: the budget limits from load_summary.json, in the "
        "endpoint's colour."), fig))
    return specs


def _num(x: object, d: int = 1) -> str:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)
    return "n/a" if math.isnan(v) else f"{v:,.{d}f}"


def _limit(x: object) -> str:
    """A budget's limit as the user wrote it: ``50``, ``0.001`` (not ``50.000``)."""
    try:
        return f"{float(x):g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)


def _verdict(ok: object) -> h.Cell:
    if ok is None:
        return h.Cell("not recorded", css="same")
    return h.Cell("passed", css="pass") if ok else h.Cell("FAILED", css="fail")


@dataclass
class LoadReport:
    """What ``write_load_report`` wrote and how long each stage took."""

    html: Path
    figures: list[Path]
    passed: bool | None
    timings: dict[str, float] = field(default_factory=dict)


def write_load_report(path: str | Path) -> LoadReport:
    """Read a load run directory and write ``load_report.html`` and its figures."""
    t0 = time.perf_counter()
    run = read_load(path)
    timings = {"read": time.perf_counter() - t0}
    t0 = time.perf_counter()
    saved = [save(s, run.path / "figures") for s in load_figures(run)]
    timings["figures"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = run.summary or {}
    budgets_ok = s.get("budgets_passed")
    consistency_ok = (s.get("consistency") or {}).get("passed")
    known = [x for x in (budgets_ok, consistency_ok) if x is not None]
    passed = all(known) if known else None
    out = run.path / REPORT_NAME
    out.write_text(render_load(run, saved, budgets_ok, consistency_ok, passed))
    timings["html"] = time.perf_counter() - t0
    return LoadReport(out, [p for f in saved for p in (f.png_path, f.svg_path)], passed, timings)


def render_load(run: LoadRun, figures: list[SavedFigure], budgets_ok: object,
                consistency_ok: object, passed: bool | None) -> str:
    """The load report page."""
    s = run.summary or {}
    m = run.meta
    facts: list[tuple[str, object]] = []
    hist = run.history
    started = m.get("started_at")
    if started is None and hist is not None and not hist.empty:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                time.gmtime(float(hist["Timestamp"].min())))
    shape = m.get("shape") or ("steady" if m else None)
    for label, value in (
            ("scenario", m.get("scenario")), ("strategy", m.get("strategy")),
            ("target", m.get("url")),
            ("shape", None if shape is None else
             f"{shape}, {m.get('users', '?')} users (peak), {m.get('duration_s', '?')} s, "
             f"{m.get('day_seconds', '?')} s per simulated day"),
            ("started", started),
            ("run by", f"promptsim {m['promptsim_version']}" if "promptsim_version" in m
             else None)):
        if value is not None:
            facts.append((label, value))
    if "requests_per_s" in s:
        facts.append(("requests/s (whole run)", _num(s["requests_per_s"])))
    if hist is not None and not hist.empty:
        facts.append(("duration", f"{hist['t'].max():,.0f} s of history"))
        facts.append(("peak users", _num(hist["User Count"].max(), 0)))
    facts.append(("report by", f"promptsim {__version__}"))
    verdict = {True: "All checks passed", False: "Checks FAILED",
               None: "No budgets or consistency checks recorded"}[passed]

    def ms(e: dict[str, Any], key: str) -> str:  # no requests: no response times
        return _num(e.get(key)) if e.get("requests") else "n/a"

    endpoints = h.table(
        ["endpoint", "requests", "failures", "requests/s", "p50 ms", "p95 ms", "p99 ms",
         "failed"],
        [(name, _num(e.get("requests"), 0), _num(e.get("failures"), 0), _num(e.get("rps")),
          ms(e, "p50_ms"), ms(e, "p95_ms"), ms(e, "p99_ms"),
          f"{100 * float(e.get('fail_ratio', 0)):.2f}%")
         for name, e in s["endpoints"].items()], numeric=range(1, 8)) \
        if s.get("endpoints") else None
    budgets = h.table(["endpoint", "metric", "limit", "measured", "result"], [
        (b.get("endpoint", ""), b.get("metric", ""), _limit(b.get("limit")),
         _num(b.get("value"), 3), _verdict(b.get("passed"))) for b in s["budgets"]],
        numeric=(2, 3)) if s.get("budgets") else None
    checks = (s.get("consistency") or {}).get("checks", [])
    consistency = h.table(["check", "result", "detail"], [
        (c.get("name", ""), _verdict(c.get("passed")), c.get("detail", ""))
        for c in checks]) if checks else None
    failures = None
    if run.failures is not None and not run.failures.empty:
        cols = [c for c in ("Method", "Name", "Error", "Occurrences") if c in run.failures]
        failures = h.table(cols, run.failures[cols].astype(str).itertuples(index=False),
                           numeric=(3,) if "Occurrences" in cols else ())
    name = m.get("scenario") or run.path.name
    return h.render(
        "load_report.html", title=f"promptsim load report: {name}", name=name, facts=facts,
        passed=passed, verdict=verdict, budgets_verdict=_verdict(budgets_ok).text,
        consistency_verdict=_verdict(consistency_ok).text, endpoints=endpoints,
        budgets=budgets, consistency=consistency, figures=figures, failures=failures,
        locust_report=run.locust_report, report_name=REPORT_NAME, version=__version__)
