"""Per-endpoint budgets: p95 / p99 latency and failure ratio, as data.

Defaults are in :data:`DEFAULT_BUDGETS`; a scenario's ``[load.budgets]`` table and
then ``--budget`` options override them, limit by limit. A limit is the largest
value that passes (``p99_ms = 50`` passes at 50 ms). ``Aggregated`` is all
requests together, as in Locust's statistics. Both the Locust process (its
``quitting`` listener sets the exit code) and ``promptsim load`` (from the files
Locust wrote) evaluate budgets with :func:`evaluate`, so they agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.loadtest.device import ELIGIBILITY, EVENTS, REGISTER

AGGREGATED = "Aggregated"
BUDGET_EXIT = 99
"""Exit code of a Locust run whose budgets broke (k6 uses 99 for failed thresholds)."""
METRICS: tuple[str, ...] = ("p95_ms", "p99_ms", "fail_ratio")
ALIASES: dict[str, str] = {
    "register": REGISTER, "devices": REGISTER, "events": EVENTS, "eligibility": ELIGIBILITY,
    "all": AGGREGATED, "*": AGGREGATED, "aggregated": AGGREGATED,
}
"""Short names accepted for endpoints in ``--budget`` and ``[load.budgets]``."""

DEFAULT_BUDGETS: dict[str, dict[str, float]] = {
    ELIGIBILITY: {"p95_ms": 50.0, "p99_ms": 100.0, "fail_ratio": 0.001},
    EVENTS: {"p95_ms": 100.0, "p99_ms": 250.0, "fail_ratio": 0.001},
    REGISTER: {"p95_ms": 100.0, "p99_ms": 250.0, "fail_ratio": 0.001},
    AGGREGATED: {"fail_ratio": 0.001},
}
"""The defaults: eligibility sits on the app-open path, so it gets the tightest latency."""

_SPEC = re.compile(r"^\s*(?P<endpoint>[^:]+?)\s*:\s*(?P<metric>\w+)\s*(?:<=|<|=)\s*"
                   r"(?P<limit>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """What a run measured for one endpoint (or ``Aggregated``)."""

    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def fail_ratio(self) -> float:
        """Failures per request (0 without requests)."""
        return self.failures / self.requests if self.requests else 0.0

    def value(self, metric: str) -> float:
        """The measured value of a budget metric."""
        return float(getattr(self, metric))


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """One limit checked: ``passed`` when ``value <= limit``."""

    endpoint: str
    metric: str
    limit: float
    value: float
    passed: bool

    def describe(self) -> str:
        """``/v1/... p99_ms 12.0 > 10`` (or ``<=`` when it passed)."""
        op = "<=" if self.passed else ">"
        return f"{self.endpoint} {self.metric} {self.value:g} {op} {self.limit:g}"


ENDPOINTS: tuple[str, ...] = (REGISTER, EVENTS, ELIGIBILITY, AGGREGATED)
"""The endpoints a load run calls (and all of them together): the only ones a budget can
name, so that a mistyped one is an error instead of a limit that passes with 0."""


def endpoint_name(name: str) -> str:
    """The endpoint a budget names, aliases resolved; ``ValueError`` for an unknown one."""
    text = name.strip()
    found = ALIASES.get(text.lower(), text)
    if found not in ENDPOINTS:
        raise ValueError(f"budget endpoint {text!r} is not one a load run calls; known: "
                         f"{', '.join(sorted(ALIASES))} or {', '.join(ENDPOINTS)}")
    return found


def parse_budget(spec: str) -> tuple[str, str, float]:
    """``eligibility:p99_ms<50`` -> ``("/v1/devices/{id}/eligibility", "p99_ms", 50.0)``."""
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"--budget {spec!r}: expected ENDPOINT:METRIC<LIMIT, e.g. "
                         f"eligibility:p99_ms<50 (metrics: {', '.join(METRICS)})")
    metric = m["metric"]
    if metric not in METRICS:
        raise ValueError(f"--budget {spec!r}: unknown metric {metric!r}; allowed: "
                         f"{', '.join(METRICS)}")
    try:
        limit = float(m["limit"])
    except ValueError:
        raise ValueError(f"--budget {spec!r}: {m['limit']!r} is not a number") from None
    return endpoint_name(m["endpoint"]), metric, limit


def resolve(*layers: Mapping[str, Mapping[str, float]],
            specs: tuple[str, ...] | list[str] = ()) -> dict[str, dict[str, float]]:
    """Defaults, then each layer (e.g. a scenario's table), then ``--budget`` specs."""
    out = {k: dict(v) for k, v in DEFAULT_BUDGETS.items()}
    for layer in layers:
        for endpoint, limits in layer.items():
            for metric, limit in limits.items():
                if metric not in METRICS:
                    raise ValueError(f"budgets.{endpoint}: unknown metric {metric!r}; "
                                     f"allowed: {', '.join(METRICS)}")
                out.setdefault(endpoint_name(endpoint), {})[metric] = float(limit)
    for spec in specs:
        endpoint, metric, limit = parse_budget(spec)
        out.setdefault(endpoint, {})[metric] = limit
    return out


def evaluate(budgets: Mapping[str, Mapping[str, float]],
             stats: Mapping[str, EndpointStats]) -> list[BudgetResult]:
    """Check every limit against ``stats`` (keyed by endpoint name, ``Aggregated`` included).

    An endpoint the run never called (every name is checked against :data:`ENDPOINTS`, so
    this is a run too short to reach it) passes with value 0: there was nothing to break.
    """
    out = []
    for endpoint, limits in budgets.items():
        s = stats.get(endpoint)
        for metric in METRICS:
            if metric not in limits:
                continue
            limit = limits[metric]
            value = s.value(metric) if s is not None else 0.0
            out.append(BudgetResult(endpoint, metric, limit, value, value <= limit))
    return out


def summary_line(results: list[BudgetResult]) -> str:
    """The one line a run ends with about its budgets."""
    broken = [r for r in results if not r.passed]
    if not broken:
        return f"budgets: all {len(results)} passed"
    return (f"budgets: {len(broken)} of {len(results)} BROKEN: "
            + "; ".join(r.describe() for r in broken))


def percentile(hist: Mapping[Any, int], total: int, q: float) -> float:
    """Locust's percentile (``calculate_response_time_percentile``) of ``{bucket_ms: count}``."""
    target = int(total * q)
    seen = 0
    for bucket in sorted(hist, reverse=True):
        seen += hist[bucket]
        if total - seen <= target:
            return float(bucket)
    return 0.0


def fine_bucket(ms: float) -> float:
    """Round a response time to two significant digits at every scale (Locust rounds below
    100 ms to whole milliseconds, which makes sub-millisecond budgets meaningless)."""
    if ms <= 0:
        return 0.0
    if ms >= 100:
        return float(round(ms, 2 - len(str(int(ms)))))
    digits = 1
    x = ms
    while x < 10:
        x *= 10
        digits += 1
    return round(ms, digits - 1)
