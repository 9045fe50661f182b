"""Issue 23 item 5: ``[population] category`` selects the sourced Android 13+ opt-in of
that kind of app (Netcore 2024: 43% EdTech, 76% Gaming); an unknown category is an error
listing the known ones; the calibration cohort lands on the category's figure."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.analysis.calibration import _cohort_value, cohort_scenario
from sim.api import scenario_of
from sim.model.scenario import ScenarioError
from sim.model.segments import CATEGORIES, PRIOR

ROOT = Path(__file__).resolve().parents[2]


def _with(**population: object) -> dict[str, object]:
    data = tomllib.loads((ROOT / "scenarios" / "quickstart.toml").read_text())
    data["population"] = {**data["population"], **population}
    return data


def test_an_unknown_category_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"population\.category: unknown category "
                                            r"'fintech'; known \(with a source\): edtech, "
                                            r"gaming$"):
        scenario_of(_with(category="fintech"))


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_a_category_lands_on_its_sourced_opt_in(name: str) -> None:
    """The calibration's Android 13+ cohort (cold baseline, a year of installs, day 365)
    under the category's prior opts in within 2.5 points of the published figure."""
    cat = CATEGORIES[name]
    sc = scenario_of(_with(category=name))
    assert sc.behaviour.dialog_cold["android13"].allowed == pytest.approx(cat.cold)
    assert sc.sensitivity.ranges[PRIOR] == cat.range
    got = _cohort_value("optin_android13",
                        cohort_scenario("android13", sc.behaviour, 8000, 1), 1)
    assert abs(got - cat.optin_android13) < 0.025, (name, got)


def test_without_a_category_the_defaults_stay() -> None:
    assert scenario_of(_with()).behaviour == scenario_of(ROOT / "scenarios" /
                                                         "quickstart.toml").behaviour
