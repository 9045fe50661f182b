"""Scenario files: bad input stops with one message naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.model.scenario import Scenario, ScenarioError, load_scenario, pick_strategy

GOOD = """
name = "t"
devices = 100
days = 10
[population.mix]
ios = 1.0
[[strategies]]
name = "once"
campaigns = [{ id = "soft" }]
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", ["quickstart", "frequency_showdown", "android13_migration",
                                  "bench_1m", "per_platform", "sending"])
def test_shipped_scenarios_are_valid(name: str) -> None:
    """Every scenario we ship loads and validates."""
    sc = load_scenario(Path("scenarios") / f"{name}.toml")
    assert sc.name == name


@pytest.mark.parametrize(("change", "match"), [
    ('devices = 100\ncolour = "red"', r"s\.toml: .*colour"),
    ('devices = "many"', r"s\.toml: devices: Expected `int`, got `str`"),
    ("devices = 0", r"s\.toml: devices: Expected `int` >= 1"),
    ('devices = 100\n[behaviour]\nsettings_completion = 1.5',
     r"s\.toml: behaviour\.settings_completion: Expected `float` <= 1\.0"),
    ('devices = 100\n[behaviour]\nreinstall = -0.1',
     r"behaviour\.reinstall: Expected `float` >= 0\.0"),
])
def test_bad_fields_are_named(tmp_path: Path, change: str, match: str) -> None:
    """Unknown keys, wrong types and values out of range name the field and what is allowed."""
    with pytest.raises(ScenarioError, match=match):
        load_scenario(_write(tmp_path, GOOD.replace("devices = 100", change)))


@pytest.mark.parametrize(("section", "match"), [
    ("[objective]\nprompt_uninstall = -1",
     r"objective\.prompt_uninstall: Expected `float` >= 0\.0"),
    ("[objective]\nopted = 1", r"objective: unknown field 'opted'; allowed fields: opted_in, "),
    ('[sensitivity]\npriors = ["happiness"]',
     r"sensitivity\.priors: unknown prior 'happiness'; allowed: lifetime_scale, "),
    ("[sensitivity.ranges]\nreceptiveness_mean = [0.7, 0.2]",
     r"sensitivity\.ranges\.receptiveness_mean: low must not exceed high, got \[0\.7, 0\.2\]"),
    ("[sensitivity]\ndraws = -1", r"sensitivity\.draws: Expected `int` >= 0"),
    ('[[strategies]]\nname = "x"\ncampaigns = [{ id = "s", audience = { platforms = ["nokia"] '
     "} }]", r"audience\.platforms\[0\]: 'nokia' is not one of "
             r"ios, android, huawei, amazon, web$"),
    ('[[strategies]]\nname = "x"\ncampaigns = [{ id = "s", audience = { profiles = ["ios9"] } '
     "}]", r"audience\.profiles\[0\]: 'ios9' is not one of ios, android13, "),
])
def test_bad_objective_sensitivity_and_audience_are_named(tmp_path: Path, section: str,
                                                          match: str) -> None:
    """The objective's weights, the sensitivity settings and a campaign's audience are
    checked like every other field."""
    with pytest.raises(ScenarioError, match=match):
        load_scenario(_write(tmp_path, GOOD + section + "\n"))


def test_unknown_platform_lists_the_allowed_ones(tmp_path: Path) -> None:
    """An unknown platform in the mix is refused with the list of known profiles."""
    bad = GOOD.replace("ios = 1.0", "blackberry = 1.0")
    with pytest.raises(ScenarioError, match=r"population\.mix: unknown platform 'blackberry'; "
                                            r"allowed: .*android13.*ios"):
        load_scenario(_write(tmp_path, bad))


def test_mix_must_sum_to_one(tmp_path: Path) -> None:
    """Platform shares are shares: they must add up to 1."""
    with pytest.raises(ScenarioError, match=r"population\.mix: shares must sum to 1, got 0\.5"):
        load_scenario(_write(tmp_path, GOOD.replace("ios = 1.0", "ios = 0.5")))


def test_bad_campaign_and_platform_override(tmp_path: Path) -> None:
    """Campaign fields and platform overrides are checked like the rest."""
    bad = GOOD.replace('{ id = "soft" }', '{ id = "soft", frequency = '
                       '{ type = "multiple", limit = 0, gap_days = 1 } }')
    with pytest.raises(ScenarioError, match=r"strategies\[0\]\.campaigns\[0\]\.frequency\.limit"):
        load_scenario(_write(tmp_path, bad))
    bad = GOOD + "[platforms.ios]\nmax_denials = \"two\"\n"
    with pytest.raises(ScenarioError, match=r"platforms\.ios: Expected `int`, got `str` - at "
                                            r"`\$\.max_denials`"):
        load_scenario(_write(tmp_path, bad))
    bad = GOOD + "[platforms.symbian]\nmax_denials = 1\n"
    with pytest.raises(ScenarioError, match=r"platforms\.symbian: unknown platform profile"):
        load_scenario(_write(tmp_path, bad))


def test_not_toml(tmp_path: Path) -> None:
    """A file that is not TOML says so, with the file name."""
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid toml"):
        load_scenario(_write(tmp_path, "name = [unclosed"))


def test_cli_bad_scenario_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    """`promptsim simulate` on a bad file prints one error line, exits 2, writes nothing."""
    path = _write(tmp_path, GOOD.replace("ios = 1.0", "ios = 2.0"))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "sim", "simulate", str(path), "--out",
                           str(out), "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "s.toml: population.mix.ios: a share between 0 and 1, got 2" in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_cli_simulate_writes_the_run_directory(tmp_path: Path) -> None:
    """`promptsim simulate` writes the resolved scenario, the panel, the summary and the log."""
    import pandas as pd

    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "sim", "simulate",
                           "scenarios/quickstart.toml", "--devices", "600", "--days", "40",
                           "--replications", "2", "--out", str(out), "--events",
                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "once" in proc.stdout and "opt-in horizon" in proc.stdout
    panel = pd.read_parquet(out / "panel.parquet")
    required = ["replication", "strategy", "platform", "profile", "day", "active_devices",
                "opted_in_devices", "soft_prompts_shown", "soft_prompts_accepted",
                "os_dialogs_shown", "os_dialogs_allowed", "blocked_devices", "settings_opened",
                "settings_enabled", "uninstalls", "annoyance_uninstalls", "reach_200",
                "reach_201", "reach_202"]
    assert set(required) <= set(panel.columns)
    mix = load_scenario("scenarios/quickstart.toml").population.mix
    assert len(panel) == 2 * 3 * len(mix) * 40  # one row per cohort (profile in the mix)
    assert set(panel["profile"].astype(str)) == set(mix)
    pairs = set(zip(panel["profile"].astype(str), panel["platform"].astype(str), strict=True))
    assert ("android12", "android") in pairs and ("fire_os_8", "amazon") in pairs
    summary = pd.read_csv(out / "summary.csv")
    assert {"optin_d7", "optin_d30", "optin_horizon", "optin_horizon_lo", "optin_horizon_hi",
            "os_dialogs_per_optin", "blocked_share", "annoyance_uninstalls"} <= set(summary)
    events = pd.read_parquet(out / "events.parquet")
    assert {"install", "session_start", "decision"} <= set(events["kind"])
    resolved = load_scenario(out / "scenario.json")
    assert (resolved.devices, resolved.days, resolved.replications) == (600, 40, 2)


def test_a_strategy_is_picked_by_name_else_the_baseline_else_the_first(
        scenario: Callable[..., Scenario]) -> None:
    """``pick_strategy`` (load tests; a forecast's ``--strategy``) has one meaning: the named
    strategy, by default the scenario's baseline, else its first; an unknown name is an
    error naming the option and what is allowed."""
    sc = scenario()
    assert pick_strategy(sc, None).name == sc.strategies[0].name
    assert pick_strategy(sc, "backoff").name == "backoff"
    assert pick_strategy(scenario(baseline="every_time"), None).name == "every_time"
    with pytest.raises(ScenarioError, match=r"^--strategy: 'never' is not in the scenario; "
                                            r"allowed: cold, provisional, once"):
        pick_strategy(sc, "never", "--strategy")
