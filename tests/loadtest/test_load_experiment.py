"""The experiment file of ``promptsim load --experiment``: read, resolved, each device's arm."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from loadtest_helpers import ROOT

from sim.loadtest.experiment import ExperimentError, read_experiment
from sim.loadtest.local import PROMPTSIM
from sim.loadtest.world import read_scenario
from sim.model.scenario import Strategy
from sim.rules.assignment import arm_index

EXPERIMENT = ROOT / "scenarios" / "pilot_experiment.json"
SCENARIO = ROOT / "scenarios" / "pilot.toml"


def strategy() -> Strategy:
    """The app's strategy of the pilot's scenario (the cold dialog, ``native``)."""
    sc, _ = read_scenario(SCENARIO)
    return sc.strategies[0]


def test_the_arms_run_their_campaigns_under_the_services_ids() -> None:
    plan = read_experiment(EXPERIMENT, strategy())
    assert plan.experiment_id == "truth-pilot" and plan.arms == ("cold_baseline", "backoff")
    assert [[c.id for c in p.campaigns] for p in plan.policies] == [
        ["truth-pilot:cold_baseline:native"], ["truth-pilot:backoff:soft"]]
    assert [c.primer for p in plan.policies for c in p.campaigns] == [False, True]
    assert plan.body == {k: v for k, v in json.loads(EXPERIMENT.read_text()).items()
                         if k != "id"}
    assert plan.running(1767225600.0) and plan.end == float("inf")
    for n in range(50):
        assert plan.arm_of(f"d{n}", "u1") == arm_index("truth-pilot", f"d{n}", (0.5, 0.5))


def test_the_id_and_a_user_unit(tmp_path: Path) -> None:
    doc = json.loads(EXPERIMENT.read_text())
    del doc["id"]
    doc |= {"unit": "user", "audience": {"platforms": ["ios"]},
            "end": "2026-02-01T00:00:00Z"}
    doc["arms"][1] = {"name": "app", "weight": 0.5, "campaign_ids": ["native"]}
    path = tmp_path / "my-pilot.json"
    path.write_text(json.dumps(doc))
    plan = read_experiment(path, strategy())
    assert plan.experiment_id == "my-pilot"  # the file's name
    assert read_experiment(path, strategy(), "other").experiment_id == "other"
    assert plan.arm_of("d1", "u7") == arm_index("my-pilot", "u7", (0.5, 0.5))
    assert plan.takes("ios", "ios") and not plan.takes("android", "android13")
    assert not plan.running(1769904000.0)  # the end is outside the window
    assert [c.id for c in plan.policies[1].campaigns] == ["my-pilot:app:native"]


@pytest.mark.parametrize(("change", "message"), [
    ({"id": "a:b"}, r"^--experiment-id: 'a:b' is not an experiment id"),
    ({"start": "2026-01-01T00:00:00"}, r"^start: .* has no time zone"),
    ({"start": "soon"}, r"^start: 'soon' is not an RFC 3339 date-time"),
    ({"arms": [{"name": "a", "weight": 1.0, "campaign_ids": ["nope"]}]},
     r"arms\[0\]\.campaign_ids\[0\]: 'nope' is not a campaign of strategy 'cold_baseline'"),
    ({"unit": "team"}, r"--experiment: .*unit"),
    ({"allocation": {"kind": "thompson"}}, r"^--experiment: allocation\.kind: 'thompson'"),
])
def test_a_file_it_cannot_use_names_the_field(tmp_path: Path, change: dict[str, object],
                                              message: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(json.loads(EXPERIMENT.read_text()) | change))
    with pytest.raises(ExperimentError, match=message):
        read_experiment(path, strategy())


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text("{arms")
    with pytest.raises(ExperimentError, match=r"^--experiment: .*e.json is not valid JSON"):
        read_experiment(path, strategy())
    with pytest.raises(ExperimentError, match=r"cannot read"):
        read_experiment(tmp_path / "missing.json", strategy())


@pytest.mark.slow
def test_the_shipped_experiment_has_the_arms_pilot_design_chooses(tmp_path: Path) -> None:
    """The README's example loads ``scenarios/pilot_experiment.json``: it holds the arms
    ``promptsim pilot design scenarios/pilot.toml`` writes (as the README runs it), with no
    end date (every simulated install enters) and an id."""
    out = tmp_path / "design.json"
    r = subprocess.run([*PROMPTSIM, "pilot", "design", str(SCENARIO), "--start", "2026-01-01",
                        "--prior-draws", "8", "--devices", "1000", "--jobs", "2",
                        "--no-progress", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    designed = read_experiment(out, strategy(), "truth-pilot")
    shipped = read_experiment(EXPERIMENT, strategy())
    assert (designed.arms, designed.weights, designed.policies, designed.start) == (
        shipped.arms, shipped.weights, shipped.policies, shipped.start)
    assert designed.end < shipped.end == float("inf")
