"""Locust's output files into promptsim's summary.

``promptsim load`` reads Locust's CSV (``locust_stats.csv``, always written) and,
when the Locust process got that far, ``locust_histograms.json`` (written by its
``quitting`` listener): the same statistics with response times kept to two
significant digits, where the CSV rounds percentiles to whole milliseconds.
The summary is therefore written whatever happened to the Locust process.
"""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.loadtest.budgets import AGGREGATED, BudgetResult, EndpointStats, percentile

STATS_CSV = "locust_stats.csv"
HISTORY_CSV = "locust_stats_history.csv"
HISTOGRAMS = "locust_histograms.json"
SUMMARY = "load_summary.json"


def _float(x: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0


def read_stats_csv(path: Path) -> dict[str, EndpointStats]:
    """Per endpoint name (and ``Aggregated``) from Locust's ``*_stats.csv``."""
    out: dict[str, EndpointStats] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            out[name] = EndpointStats(
                name=name, requests=int(row["Request Count"]), failures=int(row["Failure Count"]),
                rps=_float(row["Requests/s"]), p50_ms=_float(row["50%"]),
                p95_ms=_float(row["95%"]), p99_ms=_float(row["99%"]))
    return out


def read_histograms(path: Path) -> dict[str, EndpointStats]:
    """Per endpoint from ``locust_histograms.json``: counts as Locust ended and percentiles
    from its histogram, whose buckets keep two significant digits."""
    doc = json.loads(path.read_text())
    out = {}
    for name, e in doc.get("endpoints", {}).items():
        h = {float(ms): int(n) for ms, n in doc.get("histograms", {}).get(name, {}).items()}
        n = sum(h.values())
        out[name] = EndpointStats(
            name=name, requests=int(e["requests"]), failures=int(e["failures"]),
            rps=float(e["rps"]), p50_ms=percentile(h, n, 0.5), p95_ms=percentile(h, n, 0.95),
            p99_ms=percentile(h, n, 0.99))
    return out


def endpoint_stats(out: Path) -> tuple[dict[str, EndpointStats], str]:
    """The run's statistics and the file they came from.

    ``locust_histograms.json`` when the Locust process wrote it at its end (exact
    counts, fine percentiles); otherwise Locust's CSV, which it rewrites every
    second (so it may miss the last second) with percentiles in whole ms.
    """
    hpath = out / HISTOGRAMS
    if hpath.exists():
        stats = read_histograms(hpath)
        if stats:
            return stats, HISTOGRAMS
    if (out / STATS_CSV).exists():
        return read_stats_csv(out / STATS_CSV), STATS_CSV
    return {}, "none"


def locust_verdict(out: Path) -> dict[str, Any] | None:
    """What the Locust process itself concluded (exit code, budget line), if it wrote it."""
    path = out / HISTOGRAMS
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    return {"exit_code": doc.get("exit_code"), "budget_line": doc.get("budget_line")}


def summary_doc(stats: dict[str, EndpointStats], budgets: list[BudgetResult],
                consistency: dict[str, Any]) -> dict[str, Any]:
    """``load_summary.json``: exactly the shape the reports read."""
    total = stats.get(AGGREGATED)
    return {
        "requests_per_s": float(total.rps) if total else 0.0,
        "endpoints": {
            name: {"requests": s.requests, "failures": s.failures, "rps": float(s.rps),
                   "p50_ms": float(s.p50_ms), "p95_ms": float(s.p95_ms),
                   "p99_ms": float(s.p99_ms), "fail_ratio": float(s.fail_ratio)}
            for name, s in sorted(stats.items()) if name != AGGREGATED},
        "budgets": [{"endpoint": r.endpoint, "metric": r.metric, "limit": float(r.limit),
                     "value": float(r.value), "passed": r.passed} for r in budgets],
        "budgets_passed": all(r.passed for r in budgets),
        "consistency": {"passed": bool(consistency["passed"]),
                        "checks": [{"name": c["name"], "passed": bool(c["passed"]),
                                    "detail": str(c["detail"])} for c in consistency["checks"]]},
    }


@dataclass(frozen=True, slots=True)
class Step:
    """One plateau of a run's user count, from the history CSV."""

    users: int
    seconds: int
    rps: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class Progress:
    """The latest ``Aggregated`` row of Locust's history: what a live progress line shows."""

    users: int
    rps: float
    requests: int
    failures: int


def latest_progress(path: Path) -> Progress | None:
    """The last ``Aggregated`` row of the history Locust is writing (``None``: none yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16_384))
            tail = f.read().decode(errors="replace").splitlines()
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
    except OSError:
        return None
    if not header:
        return None
    for line in reversed(tail):
        row = dict(zip(header, next(csv.reader([line])), strict=False))
        if row.get("Name") == AGGREGATED:
            return Progress(int(_float(row.get("User Count", ""))),
                            _float(row.get("Requests/s", "")),
                            int(_float(row.get("Total Request Count", ""))),
                            int(_float(row.get("Total Failure Count", ""))))
    return None


def read_steps(path: Path, settle: int = 2) -> list[Step]:
    """The ``Aggregated`` history grouped by user count (the first ``settle`` s of each dropped)."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == AGGREGATED and row["95%"] not in ("N/A", ""):
                rows.append((int(row["User Count"]), _float(row["Requests/s"]),
                             _float(row["95%"])))
    steps: list[Step] = []
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j][0] == rows[i][0]:
            j += 1
        body = rows[i + settle:j] or rows[i:j]
        steps.append(Step(users=rows[i][0], seconds=j - i,
                          rps=sum(r[1] for r in body) / len(body),
                          p95_ms=sorted(r[2] for r in body)[len(body) // 2]))
        i = j
    return steps


def find_knee(steps: list[Step], gain: float = 0.5) -> Step | None:
    """The last step before throughput stopped following the users.

    Moving from step ``a`` to a busier step ``b``, throughput "follows" when it
    grows by at least ``gain`` of the users' growth and p95 does not double.
    ``None`` when it followed all the way (no knee within the run).
    """
    ups = [s for s in steps if s.users > 0]
    for a, b in itertools.pairwise(ups):
        if b.users <= a.users:
            continue
        expected = a.rps * (1 + gain * (b.users / a.users - 1))
        if b.rps < expected or (a.p95_ms > 0 and b.p95_ms > 2 * a.p95_ms):
            return a
    return None


def _clip(text: str, width: int = 150) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def format_summary(summary: dict[str, Any], meta: dict[str, Any], out: Path) -> str:
    """The printed summary: the run, req/s, p50 / p95 / p99 per endpoint, budgets, checks."""
    shape = f"shape {meta['shape']}" if meta["shape"] else f"spawn {meta['spawn_rate']:g}/s"
    lines = [f"{meta['scenario']} / {meta['strategy']}: {meta['users']} users, "
             f"{meta['duration_s']} s, {shape}, 1 simulated day = {meta['day_seconds']:g} s, "
             f"{meta['devices']} devices",
             f"  {summary['requests_per_s']:,.1f} req/s",
             f"  {'endpoint':<32} {'requests':>9} {'fail':>6} {'req/s':>8} {'p50 ms':>8} "
             f"{'p95 ms':>8} {'p99 ms':>8}"]
    for name, e in summary["endpoints"].items():
        lines.append(f"  {name:<32} {e['requests']:>9,} {e['failures']:>6,} {e['rps']:>8.1f} "
                     f"{e['p50_ms']:>8.3g} {e['p95_ms']:>8.3g} {e['p99_ms']:>8.3g}")
    if meta.get("knee"):
        k = meta["knee"]
        lines.append(f"  knee: about {k['users']} users, {k['rps']:.0f} req/s "
                     f"(p95 {k['p95_ms']:g} ms); past it throughput stops following the users")
    elif meta["shape"] == "ramp":
        lines.append("  knee: not reached (throughput followed the users to the peak)")
    broken = [b for b in summary["budgets"] if not b["passed"]]
    lines.append(f"  budgets: {len(summary['budgets']) - len(broken)} of "
                 f"{len(summary['budgets'])} passed")
    for b in broken:
        lines.append(f"    BROKEN {b['endpoint']} {b['metric']} {b['value']:g} > {b['limit']:g}")
    c = summary["consistency"]
    lines.append(f"  consistency: {'passed' if c['passed'] else 'FAILED'}")
    for ch in c["checks"]:
        lines.append(_clip(f"    {'ok  ' if ch['passed'] else 'FAIL'} {ch['name']}: "
                           f"{ch['detail']}"))
    lines.append(f"  -> {out / SUMMARY}, {out / 'report.html'}")
    return "\n".join(lines)
