"""``promptsim load`` options and the scenario's ``[load]`` table, checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from loadtest_helpers import QUICKSTART

from sim.cli import main
from sim.cli.load import parse_duration
from sim.loadtest.budgets import resolve
from sim.loadtest.device import ELIGIBILITY
from sim.loadtest.world import read_scenario
from sim.model.scenario import ScenarioError


def with_load_table(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "launch.toml"
    text = QUICKSTART.read_text()
    text = text[:text.index("\n[load")]  # the quickstart's own [load] table is replaced
    path.write_text(text + "\n" + table)
    return path


def test_a_load_table_sets_defaults_and_budgets(tmp_path: Path) -> None:
    """The ``[load]`` table sets the load run's defaults and budgets."""
    path = with_load_table(tmp_path, '[load]\nstrategy = "every_time"\nday_seconds = 0.5\n'
                                     "[load.budgets.eligibility]\np99_ms = 20\n")
    sc, cfg = read_scenario(path)
    assert sc.name == "quickstart"
    assert (cfg.strategy, cfg.day_seconds) == ("every_time", 0.5)
    assert resolve(cfg.budgets, specs=["eligibility:p95_ms<9"])[ELIGIBILITY] == {
        "p95_ms": 9.0, "p99_ms": 20.0, "fail_ratio": 0.001}


def test_the_quickstarts_load_budgets_apply() -> None:
    """The README's load runs keep the budgets the quickstart states (no relaxed CI run)."""
    _, cfg = read_scenario(QUICKSTART)
    assert resolve(cfg.budgets)[ELIGIBILITY] == {"p95_ms": 500.0, "p99_ms": 2000.0,
                                                 "fail_ratio": 0.001}


def test_an_unknown_load_field_is_named(tmp_path: Path) -> None:
    path = with_load_table(tmp_path, "[load]\nuser = 3\n")
    with pytest.raises(ScenarioError, match=r"launch.toml: load: unknown field 'user'; "
                                            r"allowed fields: strategy, day_seconds, users, "):
        read_scenario(path)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120),
                                               ("1h30m", 5400), ("1h", 3600)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1.5m", "m", "10 s", "-3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="--duration"):
        parse_duration(text)


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "eligibility:p90_ms<5"], "unknown metric 'p90_ms'"),
    (["--duration", "soon"], "--duration: 'soon' is not like 60s"),
    (["--strategy", "never"], "strategy: 'never' is not in the scenario; allowed: once, "
                              "every_time, multiple_3x3d"),
    (["--users", "0"], "--users: must be at least 1"),
    (["--spawn-rate", "0"], "--spawn-rate: must be more than 0"),
    (["--day-seconds", "-1"], "--day-seconds: must be 0 or more"),
])
def test_bad_options_stop_before_anything_starts(args: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 with one line naming the option; no service started, nothing written."""
    code = main(["load", str(QUICKSTART), "--start-local", "--out", str(tmp_path / "o"), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_url_needs_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTSIM_API_KEY", raising=False)
    code = main(["load", str(QUICKSTART), "--url", "http://127.0.0.1:9", "--out",
                 str(tmp_path / "o")])
    assert code == 2
    assert "--url needs --api-key" in capsys.readouterr().err
