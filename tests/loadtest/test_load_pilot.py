"""Issue 22's proof, a world whose truth we know: ``promptsim load --experiment`` plays a
hidden truth (a scenario whose behaviour differs from the priors) against a real
``promptsim serve`` hosting a two-arm experiment, through the load tests' Locust device, on
SQLite and on PostgreSQL; then ``promptsim pilot fit`` reads the stats the run wrote.

The runs are deterministic: ``--day-seconds 0`` (no waiting), a fixed ``--run-id`` against
a fresh app and ``--devices N`` (every device's whole life runs before the stop), so the
same truth gives the same stats, and the fit the same interval, every time.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pg_helpers as pg
import pytest
import tomli_w
from loadtest_helpers import ROOT

from sim.analysis.pilot_value import platform_values
from sim.engine.runner import simulate
from sim.loadtest.consistency import read_logs
from sim.loadtest.local import PROMPTSIM
from sim.model import priors
from sim.model.scenario import Scenario, load_scenario
from sim.rules.assignment import arm_index

pytestmark = pytest.mark.slow

EXPERIMENT = ROOT / "scenarios" / "pilot_experiment.json"
PRIOR = ROOT / "scenarios" / "pilot.toml"
"""The scenario the team assumes (iOS, Android 13, Chrome; the cold dialog against a
back-off soft prompt; the shipped priors)."""
CHECKS = ["events_acknowledged", "events_stored", "campaign_stats", "decisions_match_rules",
          "os_dialog_limit", "no_prompt_to_opted_in", "once_only", "device_state",
          "experiment_stats"]
SECONDS = 480
"""Every load run's time limit here, a guard only: each run has ``--devices N`` and ends as
soon as its devices have all run (the known-truth run of 1,200 devices: 60-70 s on a quiet
2-core machine; beside the suite's other process on PostgreSQL it once needed more than
120 s and stopped at 975 of 1,200 devices). So no assertion depends on the machine's pace."""
DEVICES = 1200
"""Devices per known-truth run (about 1,100 iOS and Android units): enough for the fit to
land on the truth's side of the flip."""


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store in turn: a SQLite file, then a fresh PostgreSQL schema (dropped after;
    a skip when PostgreSQL is unreachable, a failure under CI)."""
    if request.param == "sqlite":
        yield str(tmp_path / "service.sqlite3")
        return
    pg.skip_unless(pg.available())
    schema = pg.schema_name()
    yield f"{pg.PG_BASE}?search_path={schema}"  # promptsim serve creates the schema
    pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def truth_file(tmp_path: Path, hidden: dict[str, float]) -> tuple[Path, Scenario]:
    """The prior scenario with ``hidden`` priors in its behaviour, as a file ``promptsim
    load`` reads, and as the simulator reads it."""
    raw = tomllib.loads(PRIOR.read_text())
    b = priors.apply(load_scenario(PRIOR).behaviour, hidden)
    raw["behaviour"] = {"receptiveness_mean": b.receptiveness_mean,
                        "dialog_cold": msgspec.to_builtins(b.dialog_cold)}
    path = tmp_path / "truth.toml"
    path.write_text(tomli_w.dumps(raw))
    return path, load_scenario(path)


def load_run(scenario: Path, out: Path, db: str,
             devices: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROMPTSIM, "load", str(scenario), "--start-local", "--db", db, "--out", str(out),
         "--experiment", str(EXPERIMENT), "--users", "20", "--spawn-rate", "20",
         "--duration", f"{SECONDS}s", "--day-seconds", "0", "--devices", str(devices),
         "--run-id", "truth"],
        capture_output=True, text=True, timeout=SECONDS + 150, check=False)


def test_a_truth_run_against_a_two_arm_experiment_is_consistent(tmp_path: Path,
                                                                db: str) -> None:
    """A cold arm (one campaign with ``primer = false``) against a back-off soft prompt:
    the devices follow their arms, every consistency check passes (the arms' campaigns
    beside the app's, and the experiment's stats against what the devices logged), the
    stats' units per arm are the assignment function's over the devices that ran, and the
    stats' counts are the devices' own."""
    scenario, _ = truth_file(tmp_path, {"receptiveness_mean": 0.62})
    out = tmp_path / "run"
    r = load_run(scenario, out, db, devices=200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "experiment truth-pilot: arms cold_baseline, backoff" in r.stdout
    summary = json.loads((out / "load_summary.json").read_text())
    checks = summary["consistency"]["checks"]
    assert [c["name"] for c in checks] == CHECKS
    assert all(c["passed"] for c in checks), checks

    recs = read_logs(out)
    assert len(recs) == 200 and all(r["registered"] for r in recs)
    exp = json.loads(EXPERIMENT.read_text())
    weights = [a["weight"] for a in exp["arms"]]
    names = [a["name"] for a in exp["arms"]]
    asked = [r for r in recs if r["decisions"] > 0]  # assigned at their first eligibility
    want_units = dict.fromkeys(names, 0)
    for rec in asked:
        want_units[names[arm_index("truth-pilot", rec["device_id"], weights)]] += 1
    assert min(want_units.values()) > 70  # both arms are well represented
    stats = json.loads((out / "experiment_stats.json").read_text())
    assert stats["experiment_id"] == "truth-pilot"
    units = dict.fromkeys(names, 0)
    got: dict[str, dict[str, int]] = {n: {} for n in names}
    for cell in stats["cells"]:
        units[cell["arm"]] += cell["units"]
        for k, v in cell.items():
            if isinstance(v, int):
                got[cell["arm"]][k] = got[cell["arm"]].get(k, 0) + v
    assert units == want_units
    assert stats["srm"]["observed"] == want_units and not stats["srm"]["mismatch"]

    def logged(arm: str, kind: str) -> int:
        return sum(v for rec in recs if rec["arm"] == arm
                   for k, v in rec["exp_kinds"].items() if k.split(":")[0] == kind)
    for arm in names:
        assert got[arm]["os_shown"] == logged(arm, "os_dialog_result") > 0
        assert got[arm]["soft_accepted"] == logged(arm, "soft_prompt_clicked")
        assert got[arm]["opted_in"] == sum(rec["state"]["permission"] == "granted"
                                           for rec in asked if rec["arm"] == arm)
    assert got["cold_baseline"]["soft_shown"] == 0 < got["backoff"]["soft_shown"]
    # the cold arm's campaign is reserved under its namespaced id, and counts apart
    camp = {c["name"]: c["detail"] for c in checks}["campaign_stats"]
    assert "truth-pilot:cold_baseline:native:" in camp and "truth-pilot:backoff:soft:" in camp


def test_devices_leave_their_arm_when_the_experiment_ends(tmp_path: Path) -> None:
    """An experiment of 10 days in a 60-day install window: a device follows its arm while
    the window holds the moment of its call and the app's campaigns after (and before its
    install, if it installs later), as the service decides; every check still passes, and
    the app's campaign and the arms' campaigns each showed prompts."""
    scenario, _ = truth_file(tmp_path, {"receptiveness_mean": 0.62})
    exp = json.loads(EXPERIMENT.read_text()) | {"id": "ten-days",
                                                 "end": "2026-01-11T00:00:00Z"}
    path = tmp_path / "ten_days.json"
    path.write_text(json.dumps(exp))
    out = tmp_path / "run"
    r = subprocess.run(
        [*PROMPTSIM, "load", str(scenario), "--start-local", "--out", str(out),
         "--experiment", str(path), "--users", "20", "--spawn-rate", "20", "--duration",
         f"{SECONDS}s", "--day-seconds", "0", "--devices", "200", "--run-id", "ten"],
        capture_output=True, text=True, timeout=SECONDS + 150, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    checks = json.loads((out / "load_summary.json").read_text())["consistency"]["checks"]
    assert [c["name"] for c in checks] == CHECKS and all(c["passed"] for c in checks), checks
    shown: dict[str, int] = {}
    for rec in read_logs(out):
        for cid, c in rec["per_campaign"].items():
            shown[cid] = shown.get(cid, 0) + c.get("impressions", 0)
    assert shown.keys() == {"native", "ten-days:cold_baseline:native", "ten-days:backoff:soft"}
    assert min(shown.values()) > 0, shown
    units = sum(c["units"] for c in json.loads((out / "experiment_stats.json").read_text())
                ["cells"])
    assert 0 < units < 200  # the devices installed after the end are in no arm


def test_a_second_run_with_the_same_experiment_checks_what_it_added(tmp_path: Path) -> None:
    """Two ``--url`` runs with one app and one experiment (the same PUT again is 200): the
    stats hold both runs' units, and each run's check compares what it added."""
    from sim.loadtest.local import LocalService, create_app

    scenario, _ = truth_file(tmp_path, {"receptiveness_mean": 0.62})
    db = str(tmp_path / "shared.sqlite3")
    service = LocalService(db, tmp_path / "service.log", 1).start()
    try:
        key = create_app(db, "twice")["api_key"]
        units = []
        for n in (1, 2):
            out = tmp_path / f"run{n}"
            r = subprocess.run(
                [*PROMPTSIM, "load", str(scenario), "--url", service.url, "--api-key", key,
                 "--out", str(out), "--experiment", str(EXPERIMENT), "--users", "10",
                 "--spawn-rate", "10", "--duration", f"{SECONDS}s", "--day-seconds", "0",
                 "--devices", "60", "--run-id", f"run{n}"],
                capture_output=True, text=True, timeout=SECONDS + 150, check=False)
            assert r.returncode == 0, r.stdout + r.stderr
            checks = json.loads((out / "load_summary.json").read_text())["consistency"]
            assert checks["passed"], checks
            stats = json.loads((out / "experiment_stats.json").read_text())
            units.append(sum(c["units"] for c in stats["cells"]))
        assert units[0] > 40 and units[1] > units[0]  # cumulative; each run checked its own
    finally:
        service.stop()


def test_a_refused_experiment_is_one_line_naming_the_field(tmp_path: Path) -> None:
    """Weights that do not sum to 1: the service's 409 names ``arms``; the command says so in
    one line and exits 2 before any device runs."""
    bad = tmp_path / "bad.json"
    doc = json.loads(EXPERIMENT.read_text())
    doc["arms"][1]["weight"] = 0.4
    bad.write_text(json.dumps(doc))
    r = subprocess.run([*PROMPTSIM, "load", str(PRIOR), "--start-local", "--out",
                        str(tmp_path / "run"), "--experiment", str(bad), "--duration", "2s"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"promptsim load: error: --experiment: {bad}: the service refused it: PUT "
        "/v1/experiments/truth-pilot: HTTP 409: arms: the weights of the arms sum to 0.9; "
        "allowed: weights >= 0 that sum to 1 (within 1e-09)"]
    assert not list((tmp_path / "run").glob("devices-*.jsonl"))


def truth_pick(hidden: Scenario, platform: str) -> str:
    """The simulator's pick on ``platform`` when the truth is known (no prior draws)."""
    raw = simulate(hidden, jobs=2)
    values = np.nanmean(platform_values(raw, platform), axis=0)
    return hidden.strategy_names()[int(np.argmax(values))]


@pytest.mark.parametrize(("hidden", "ios_pick"), [
    ({"receptiveness_mean": 0.62, "dialog_cold.ios": 0.46}, "backoff"),
    ({"receptiveness_mean": 0.30, "dialog_cold.ios": 0.62}, "cold_baseline"),
], ids=["primer-side", "cold-side"])
def test_pilot_fit_recovers_the_truth_a_load_run_played(tmp_path: Path, db: str,
                                                        hidden: dict[str, float],
                                                        ios_pick: str) -> None:
    """The team assumes receptiveness 0.45 and a cold iOS allow rate of 0.58 (and so picks
    the cold dialog on iOS); the pick flips near receptiveness 0.55. The devices of a load
    run live a truth on either side of the flip (the simulator's iOS pick under each is
    ``ios_pick``); ``pilot fit`` on the prior scenario and the run's
    ``experiment_stats.json`` finds both hidden priors inside their 95% intervals, and its
    re-recommendation on iOS and Android is the simulator's own pick under the truth."""
    scenario, world = truth_file(tmp_path, hidden)
    out = tmp_path / "run"
    r = load_run(scenario, out, db, devices=DEVICES)
    assert r.returncode == 0, r.stdout + r.stderr
    meta = json.loads((out / "load_meta.json").read_text())
    assert meta["devices"] == DEVICES
    fit_dir = tmp_path / "fit"
    f = subprocess.run([*PROMPTSIM, "pilot", "fit", str(PRIOR), "--stats",
                        str(out / "experiment_stats.json"), "--out", str(fit_dir),
                        "--devices", "1500", "--prior-draws", "16", "--map-devices", "3000",
                        "--jobs", "2"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert f.returncode == 0, f.stdout + f.stderr
    doc: dict[str, Any] = json.loads((fit_dir / "fit.json").read_text())
    fits = {x["prior"]: x for x in doc["fits"]}
    for name, true in hidden.items():
        x = fits[name]
        assert x["low"] <= true <= x["high"], (name, true, x)
    verdicts = {v["platform"]: v for v in doc["verdicts"]}
    assert verdicts["ios"]["before"] == "cold_baseline"
    assert truth_pick(world, "ios") == ios_pick  # the truths lie on both sides of the flip
    for platform in ("ios", "android"):
        assert verdicts[platform]["after"] == truth_pick(world, platform), (platform, f.stdout)

