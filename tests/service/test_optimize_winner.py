"""The optimizer's winner, end to end: ``promptsim optimize`` writes a scenario that
``validate`` accepts, that ``simulate`` runs to the optimizer's own values on every
platform, whose policy a real server takes (``PUT``) and decides as the simulator does
(``parity``: 0 mismatches). Also: an interrupted ``optimize`` process resumes, and a
different scenario in the same directory is refused."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from service_helpers import ADMIN, ROOT

from sim.model.objective import outcomes
from sim.model.scenario import load_scenario
from sim.rules.config.platforms import PLATFORMS

pytestmark = pytest.mark.slow  # a browser, Locust, a cluster or long runs

SMALL = ["--devices", "900", "--days", "40", "--budget", "4", "--jobs", "2",
         "--no-progress"]


def promptsim(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_the_winner_round_trips_through_validate_simulate_and_the_service(
        tmp_path: Path, server_factory: Any) -> None:
    out = tmp_path / "opt"
    run = promptsim("optimize", "scenarios/optimize.toml", *SMALL, "--out", str(out))
    assert "device-years against" in run.stdout
    for f in ("winner.toml", "service.json", "candidates.csv", "front.png", "front.svg",
              "optimize.html"):
        assert (out / f).stat().st_size > 0
    winner = out / "winner.toml"
    assert "\n# Picked on the objective weights, in opted-in devices" in winner.read_text()
    assert promptsim("validate", str(winner), "--quiet").stdout == ""

    promptsim("simulate", str(winner), "--out", str(tmp_path / "run"), "--jobs", "2",
              "--no-progress")
    sc = load_scenario(tmp_path / "run" / "scenario.json")
    assert [s.name for s in sc.strategies] == ["optimized", "current"]
    import pyarrow.parquet as pq

    panel = pq.read_table(tmp_path / "run" / "panel.parquet").to_pandas()
    picks = {r["platform"]: (r["candidate"], float(r["value"]))
             for r in csv.DictReader((out / "candidates.csv").read_text().splitlines())
             if r["best"] == "True"}
    assert set(picks) == {"ios", "android", "huawei", "amazon", "web"}
    opt = panel[panel["strategy"] == "optimized"]
    for platform, (_, value) in picks.items():
        rows = opt[opt["platform"] == platform]

        def total(name: str, rows: Any = rows) -> np.ndarray:
            per = rows.groupby(["replication", "day"])[name].sum().unstack("day")
            return per.to_numpy()[:, None, :]

        got = outcomes(total, sc.objective)["value"][:, 0].mean()
        assert abs(got - value) < 1e-3, (platform, got, value)

    server = server_factory(f"sqlite:///{tmp_path / 'svc.sqlite3'}")
    key = server.new_app(clock="client")
    policy = json.loads((out / "service.json").read_text())
    auth = {"Authorization": f"Bearer {key}"}
    r = httpx.put(server.url + "/v1/settings", json=policy["settings"], headers=auth)
    assert r.status_code == 200, r.text
    for cid, body in policy["campaigns"].items():
        r = httpx.put(f"{server.url}/v1/campaigns/{cid}", json=body, headers=auth)
        assert r.status_code in (200, 201), r.text
    listed = httpx.get(server.url + "/v1/campaigns", headers=auth).json()
    ids = {c["id"] for c in (listed["campaigns"] if isinstance(listed, dict) else listed)}
    assert ids == set(policy["campaigns"]) == {f"{p}.soft" for p in PLATFORMS}

    parity = promptsim("parity", str(winner), "--url", server.url, "--admin-key", ADMIN,
                       "--devices", "150")
    lines = [json.loads(x) for x in parity.stdout.splitlines()]
    assert [x["strategy"] for x in lines] == ["optimized", "current"]
    assert all(x["mismatches"] == 0 and x["errors"] == 0 and x["decisions"] > 0 for x in lines)
    assert "parity: OK" in parity.stderr


def test_a_killed_optimize_resumes_to_the_same_winner(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    promptsim("optimize", "scenarios/optimize.toml", *SMALL, "--out", str(clean))
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "optimize", "scenarios/optimize.toml",
                             *SMALL, "--out", str(cut)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 300
    while time.monotonic() < end and len(list((cut / "tasks").glob("*.npz"))) < 10:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    kept = len(list((cut / "tasks").glob("*.npz")))
    assert kept >= 10 and not (cut / "winner.toml").exists()
    again = promptsim("optimize", "scenarios/optimize.toml", *SMALL, "--out", str(cut))
    reused = int(again.stdout.split(" finished (replication")[0].rsplit("; ", 1)[1])
    assert reused > 0
    assert (cut / "winner.toml").read_text() == (clean / "winner.toml").read_text()
    assert (cut / "candidates.csv").read_text() == (clean / "candidates.csv").read_text()
    other = promptsim("optimize", "scenarios/optimize.toml", *SMALL, "--seed", "5", "--out",
                      str(cut), check=False)
    assert other.returncode == 2
    assert other.stderr.startswith(f"promptsim optimize: error: --out {cut}: it holds an "
                                   "optimize of another scenario")
