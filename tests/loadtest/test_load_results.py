"""Locust's files into the summary: its exact shape, the CSV fallback and the knee."""

from __future__ import annotations

import json
from pathlib import Path

from sim.loadtest.budgets import AGGREGATED, BudgetResult, EndpointStats
from sim.loadtest.device import ELIGIBILITY, REGISTER
from sim.loadtest.results import Step, endpoint_stats, find_knee, read_steps, summary_doc

CSV_HEAD = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
            "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
            "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n")


def write_csv(out: Path) -> None:
    (out / "locust_stats.csv").write_text(
        CSV_HEAD
        + "POST,/v1/devices/{id}/eligibility,900,3,1.2,2.0,0.3,40,60,90.5,0.3,1,1,2,2,3,4,6,9,"
          "20,40,40\n"
        + ",Aggregated,1000,3,1.3,2.1,0.3,40,80,100.5,0.3,1,2,2,2,3,5,7,10,20,40,40\n")


def test_the_csv_is_the_fallback(tmp_path: Path) -> None:
    """Without the Locust process's own file, counts and whole-ms percentiles from the CSV."""
    write_csv(tmp_path)
    stats, source = endpoint_stats(tmp_path)
    assert source == "locust_stats.csv"
    assert stats[ELIGIBILITY] == EndpointStats(ELIGIBILITY, 900, 3, 90.5, 1.0, 4.0, 9.0)
    assert stats[AGGREGATED].fail_ratio == 0.003


def test_the_histograms_win_when_locust_wrote_them(tmp_path: Path) -> None:
    """Its exact counts (the CSV may miss the last second) and two-digit percentiles."""
    write_csv(tmp_path)
    (tmp_path / "locust_histograms.json").write_text(json.dumps({
        "endpoints": {AGGREGATED: {"requests": 1020, "failures": 3, "rps": 101.0}},
        "histograms": {AGGREGATED: {"0.47": 900, "1.3": 100, "12.0": 20}}}))
    stats, source = endpoint_stats(tmp_path)
    assert source == "locust_histograms.json"
    assert stats[AGGREGATED] == EndpointStats(AGGREGATED, 1020, 3, 101.0, 0.47, 1.3, 12.0)


def test_the_summary_has_exactly_the_agreed_shape() -> None:
    stats = {REGISTER: EndpointStats(REGISTER, 10, 1, 1.0, 2.0, 3.0, 4.0),
             AGGREGATED: EndpointStats(AGGREGATED, 10, 1, 1.5, 2.0, 3.0, 4.0)}
    budgets = [BudgetResult(REGISTER, "p99_ms", 5.0, 4.0, True)]
    consistency = {"passed": False, "checks": [{"name": "x", "passed": False, "detail": "y"}]}
    doc = summary_doc(stats, budgets, consistency)
    assert doc == {
        "requests_per_s": 1.5,
        "endpoints": {REGISTER: {"requests": 10, "failures": 1, "rps": 1.0, "p50_ms": 2.0,
                                 "p95_ms": 3.0, "p99_ms": 4.0, "fail_ratio": 0.1}},
        "budgets": [{"endpoint": REGISTER, "metric": "p99_ms", "limit": 5.0, "value": 4.0,
                     "passed": True}],
        "budgets_passed": True,
        "consistency": {"passed": False, "checks": [{"name": "x", "passed": False,
                                                     "detail": "y"}]},
    }


def test_history_steps_and_the_knee(tmp_path: Path) -> None:
    """Throughput follows the users up to 30 users, then stalls while p95 climbs."""
    head = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%\n"
    rows = []
    for k, (users, rps, p95) in enumerate([(10, 100, 2), (20, 200, 2), (30, 290, 3),
                                           (40, 300, 9)]):
        for s in range(5):
            rows.append(f"{k * 5 + s},{users},,Aggregated,{rps if s >= 2 else 0},0,1,{p95}\n")
    (tmp_path / "h.csv").write_text(head + "".join(rows))
    steps = read_steps(tmp_path / "h.csv")
    assert steps == [Step(10, 5, 100.0, 2.0), Step(20, 5, 200.0, 2.0), Step(30, 5, 290.0, 3.0),
                     Step(40, 5, 300.0, 9.0)]
    assert find_knee(steps) == steps[2]
    assert find_knee(steps[:3]) is None
