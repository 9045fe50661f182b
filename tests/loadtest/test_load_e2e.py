"""``promptsim load`` end to end: a real local service (SQLite), Locust in a subprocess.

Each run stays well under 20 s of load. Locust is never imported here: the
command runs it in its own process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from loadtest_helpers import QUICKSTART

from sim.loadtest.device import ELIGIBILITY, ENDPOINTS
from sim.loadtest.local import PROMPTSIM

pytestmark = pytest.mark.slow

CHECKS = ["events_acknowledged", "events_stored", "campaign_stats", "decisions_match_rules",
          "os_dialog_limit", "no_prompt_to_opted_in", "once_only", "device_state"]


def promptsim_load(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PROMPTSIM, "load", str(QUICKSTART), "--start-local", "--out",
                           str(out), *args], capture_output=True, text=True, timeout=180,
                          check=False)


def test_a_short_run_has_no_failures_and_a_consistent_service(tmp_path: Path) -> None:
    """30 devices at a time for 10 s against ``promptsim serve``: every request succeeds,
    the budgets hold, every consistency check passes, and Locust's CSV (with history) and
    HTML sit beside promptsim's summary."""
    r = promptsim_load(tmp_path, "--users", "30", "--spawn-rate", "15", "--duration", "10s")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("promptsim load: PASSED: budgets: all 10 passed")
    summary = json.loads((tmp_path / "load_summary.json").read_text())
    assert list(summary) == ["requests_per_s", "endpoints", "budgets", "budgets_passed",
                             "consistency"]
    assert sorted(summary["endpoints"]) == sorted(ENDPOINTS)
    for name, e in summary["endpoints"].items():
        assert e["requests"] > 0 and e["failures"] == 0, name
        assert 0 < e["p50_ms"] <= e["p95_ms"] <= e["p99_ms"], name
    assert summary["requests_per_s"] > 0 and summary["budgets_passed"]
    assert summary["consistency"]["passed"], summary["consistency"]
    assert [c["name"] for c in summary["consistency"]["checks"]] == CHECKS
    for f in ("locust_stats.csv", "locust_stats_history.csv", "report.html", "load_meta.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    meta = json.loads((tmp_path / "load_meta.json").read_text())
    assert meta["locust_exit_code"] == 0 and meta["devices"] > 30


def test_an_impossible_budget_makes_the_run_fail(tmp_path: Path) -> None:
    """p99 under 0.001 ms cannot hold: Locust's ``quitting`` listener exits 99, the command
    exits 1 with one line naming the broken budget, and the summary is written anyway.
    The run is driven by the ``spike`` LoadTestShape (users stopped mid-run included),
    and the service stays consistent."""
    r = promptsim_load(tmp_path, "--users", "20", "--duration", "8s", "--shape", "spike",
                       "--budget", "eligibility:p99_ms<0.001")
    assert r.returncode == 1, r.stdout + r.stderr
    last = r.stdout.splitlines()[-1]
    assert last.startswith(f"promptsim load: FAILED: budgets: 1 of 10 BROKEN: {ELIGIBILITY} "
                           "p99_ms "), last
    assert last.endswith("> 0.001"), last
    meta = json.loads((tmp_path / "load_meta.json").read_text())
    assert meta["locust_exit_code"] == 99
    assert meta["locust_verdict"]["budget_line"].startswith("budgets: 1 of 10 BROKEN")
    summary = json.loads((tmp_path / "load_summary.json").read_text())
    assert not summary["budgets_passed"]
    broken = [b for b in summary["budgets"] if not b["passed"]]
    assert [(b["endpoint"], b["metric"], b["limit"]) for b in broken] == [
        (ELIGIBILITY, "p99_ms", 0.001)]
    assert summary["consistency"]["passed"], summary["consistency"]


def test_a_second_run_with_the_same_app_checks_only_its_own_traffic(tmp_path: Path) -> None:
    """Issue 26 item 2: the app's counts are cumulative, so a second ``--url ... --api-key``
    run with the same app failed ``events_stored`` and ``campaign_stats`` (66 stored, 33
    sent). Each run records what the app held before it and checks what it added."""
    from sim.loadtest.local import LocalService, create_app

    db = str(tmp_path / "shared.sqlite3")
    service = LocalService(db, tmp_path / "service.log", 1).start()
    try:
        key = create_app(db, "twice")["api_key"]
        for n in (1, 2):
            out = tmp_path / f"run{n}"
            r = subprocess.run([*PROMPTSIM, "load", str(QUICKSTART), "--url", service.url,
                                "--api-key", key, "--out", str(out), "--users", "10",
                                # ends once 2 devices lived their days (not after a fixed
                                # 4 s, in which a loaded machine sent none)
                                "--devices", "2", "--day-seconds", "0",
                                "--duration", "60s"], capture_output=True, text=True,
                               timeout=180, check=False)
            assert r.returncode == 0, r.stdout + r.stderr
            summary = json.loads((out / "load_summary.json").read_text())
            assert summary["consistency"]["passed"], summary["consistency"]
            before = json.loads((out / "service_before.json").read_text())
            assert (sum(before["events"].values()) > 0) == (n == 2)
    finally:
        service.stop()
