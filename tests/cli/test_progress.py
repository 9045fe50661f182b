"""Issue 13 item 13: progress on long work. ``promptsim load`` shows requests per second,
failures and the time left on a terminal (not in a pipe, not under CI), ``forecast`` a bar
over its simulations, and the simulate bar moves as each chunk finishes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from tty_helpers import run_on_tty

from sim.engine import runner
from sim.engine.executor import run_tasks
from sim.model.scenario import load_scenario

pytestmark = pytest.mark.slow  # a browser, Locust, a cluster or long runs

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
PROMPTSIM = [sys.executable, "-m", "sim"]
LIVE = re.compile(r"(?P<users>\d+) users, (?P<rps>[\d,]+) req/s, (?P<requests>[\d,]+) requests, "
                  r"(?P<failures>[\d,]+) failures \(")


@pytest.mark.slow
def test_load_shows_live_progress_on_a_terminal_only(tmp_path: Path) -> None:
    # Latency limits of a minute: a stall of a shared machine is not what this test checks.
    lenient = [a for e in ("eligibility", "events", "register") for m in ("p95_ms", "p99_ms")
               for a in ("--budget", f"{e}:{m}<60000")]
    cmd = [*PROMPTSIM, "load", str(QUICKSTART), "--start-local", "--users", "5",
           "--duration", "6s", "--day-seconds", "0.2", *lenient]
    code, out, shown = run_on_tty([*cmd, "--out", str(tmp_path / "tty")], tmp_path)
    assert code == 0, out + shown
    lines = [ln for ln in shown.splitlines() if ln.startswith("load ")]
    assert "6/6 s, 00:00 left" in shown, shown
    live = [m for ln in lines if (m := LIVE.search(ln))]
    # It follows the run: requests counted while it goes, none failed.
    assert any(int(m["requests"].replace(",", "")) > 0 for m in live), shown
    assert all(m["failures"] == "0" for m in live), shown
    # The same run under CI (or in a pipe) draws nothing.
    env = {**os.environ, "CI": "true"}
    r = subprocess.run([*cmd, "--out", str(tmp_path / "ci")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "req/s, " not in r.stderr and " left" not in r.stderr
    # The run records when it started and which version ran it (the load report shows them).
    meta = json.loads((tmp_path / "ci" / "load_meta.json").read_text())
    assert meta["started_at"].endswith(" UTC") and meta["promptsim_version"]


def test_forecast_draws_a_bar_over_its_simulations(tmp_path: Path) -> None:
    r = subprocess.run([*PROMPTSIM, "forecast", str(QUICKSTART), "--installs-per-day", "20",
                        "--horizon", "20", "--trajectories", "4", "--strategy", "once",
                        "--max-devices", "300", "--jobs", "1", "--out", str(tmp_path)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stderr
    bars = r.stderr.replace("\r", "\n")
    assert "quickstart forecast: 100%" in bars and "4/4" in bars, bars
    assert "simulating 4 trajectories of 300 devices" in bars


def test_the_simulate_bar_counts_each_chunk_as_it_finishes() -> None:
    """A large chunk and a tiny one on two workers: the tiny one is counted first, as soon
    as it is done, not after the large one (the order of the tasks); the sums, and so the
    results, are the same as on one worker."""
    sc = load_scenario(QUICKSTART)
    sc = msgspec.structs.replace(sc, devices=20_010, chunk_size=20_000, replications=1,
                                 days=60)
    order: list[int] = []
    tasks = [(0, 0), (0, 1)]
    for k, _ in run_tasks(runner._task, (sc, True, False), tasks, jobs=2):
        order.append(k)
    assert order == [1, 0]
    ticks: list[int] = []
    two = runner.simulate(sc, jobs=2, on_task_done=lambda: ticks.append(1))
    one = runner.simulate(sc, jobs=1)
    assert len(ticks) == 2
    assert (two.flows == one.flows).all() and (two.stocks == one.stocks).all()
