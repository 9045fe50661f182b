"""Budgets: defaults, scenario and command-line overrides, and their verdict."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim.loadtest.budgets import (
    AGGREGATED,
    DEFAULT_BUDGETS,
    EndpointStats,
    evaluate,
    fine_bucket,
    parse_budget,
    percentile,
    resolve,
    summary_line,
)
from sim.loadtest.device import ELIGIBILITY, EVENTS


def stats(name: str, requests: int = 1000, failures: int = 0, p95: float = 5.0,
          p99: float = 9.0) -> EndpointStats:
    return EndpointStats(name, requests, failures, 100.0, 1.0, p95, p99)


def test_specs_accept_aliases_and_comparison_signs() -> None:
    assert parse_budget("eligibility:p99_ms<50") == (ELIGIBILITY, "p99_ms", 50.0)
    assert parse_budget(" events : p95_ms <= 7.5 ") == (EVENTS, "p95_ms", 7.5)
    assert parse_budget("all:fail_ratio=0") == (AGGREGATED, "fail_ratio", 0.0)
    assert parse_budget("/v1/devices:p95_ms<1e-3") == ("/v1/devices", "p95_ms", 0.001)


@pytest.mark.parametrize(("spec", "message"), [
    ("eligibility p99<50", r"expected ENDPOINT:METRIC<LIMIT"),
    # issue 26: a mistyped endpoint passed with 0 ("12 of 12 passed"); now it is named
    ("eligibilty:p99_ms<50", r"budget endpoint 'eligibilty' is not one a load run calls; "
                             r"known: .*eligibility"),
    ("/v1/custom:p95_ms<1", r"'/v1/custom' is not one a load run calls"),
    ("eligibility:p90_ms<50", r"unknown metric 'p90_ms'; allowed: p95_ms, p99_ms, fail_ratio"),
    ("eligibility:p99_ms<5..0", r"'5..0' is not a number"),
])
def test_bad_specs_say_what_is_allowed(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_budget(spec)


def test_layers_override_limit_by_limit() -> None:
    """Defaults, then the scenario's ``[load.budgets]``, then ``--budget``."""
    got = resolve({"eligibility": {"p99_ms": 20}}, specs=["eligibility:p95_ms<8", "all:p99_ms<40"])
    assert got[ELIGIBILITY] == {"p95_ms": 8.0, "p99_ms": 20.0, "fail_ratio": 0.001}
    assert got[AGGREGATED] == {"fail_ratio": 0.001, "p99_ms": 40.0}
    assert got[EVENTS] == DEFAULT_BUDGETS[EVENTS]
    with pytest.raises(ValueError, match=r"budgets.events: unknown metric 'p50_ms'"):
        resolve({"events": {"p50_ms": 1}})


def test_a_limit_is_the_largest_value_that_passes() -> None:
    budgets = {ELIGIBILITY: {"p95_ms": 5.0, "p99_ms": 8.0, "fail_ratio": 0.001}}
    results = evaluate(budgets, {ELIGIBILITY: stats(ELIGIBILITY, failures=1)})
    assert [(r.metric, r.value, r.passed) for r in results] == [
        ("p95_ms", 5.0, True), ("p99_ms", 9.0, False), ("fail_ratio", 0.001, True)]
    assert summary_line(results) == (
        "budgets: 1 of 3 BROKEN: /v1/devices/{id}/eligibility p99_ms 9 > 8")


def test_an_endpoint_never_called_breaks_nothing() -> None:
    results = evaluate({"/v1/other": {"p99_ms": 1.0}}, {})
    assert [(r.value, r.passed) for r in results] == [(0.0, True)]
    assert summary_line(results) == "budgets: all 1 passed"


def test_percentile_is_locusts() -> None:
    """The same answers as ``locust.stats.calculate_response_time_percentile`` (asked in a
    subprocess: importing Locust here would monkey-patch this process)."""
    hist = {1.0: 50, 2.0: 40, 10.0: 9, 100.0: 1, 0.47: 7}
    qs = (0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
    code = ("import json, sys; from locust.stats import calculate_response_time_percentile as p; "
            f"h = {{float(k): v for k, v in json.loads(sys.argv[1]).items()}}; "
            f"print(json.dumps([p(h, 107, q) for q in {qs!r}]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(hist)], capture_output=True,
                         text=True, check=True, timeout=60)
    assert [percentile(hist, 107, q) for q in qs] == json.loads(out.stdout.splitlines()[-1])
    assert percentile({}, 0, 0.5) == 0.0


def test_fine_buckets_keep_two_significant_digits() -> None:
    """Locust rounds below 100 ms to whole ms; a sub-millisecond budget needs better."""
    assert [fine_bucket(x) for x in (0.0, 0.000412, 0.473, 5.67, 56.7, 147.0, 3432.0)] == [
        0.0, 0.00041, 0.47, 5.7, 57.0, 150.0, 3400.0]
