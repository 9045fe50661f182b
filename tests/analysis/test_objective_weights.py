"""Issue 23 item 1: the objective's weights are assumptions, so they are printed wherever a
pick is, and a sensitivity run draws them in their ranges (``[objective] ranges``) as it
draws the priors, valuing each draw at its own weights."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.sensitivity import run_sensitivity, weight_draws
from sim.api import scenario_of
from sim.cli import main
from sim.model.objective import DEFAULT_RANGES, outcomes
from sim.model.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


def _quickstart(**objective: object) -> dict[str, object]:
    data = tomllib.loads(QUICKSTART.read_text())
    data["objective"] = {**data.get("objective", {}), **objective}
    return data


@pytest.mark.parametrize(("ranges", "message"), [
    ({"opted_in": [0.5, 2.0]}, r"objective\.ranges: unknown weight 'opted_in'; allowed: "
                               r"provisional, prompt_uninstall, blocked"),
    ({"blocked": [0.6, 0.1]}, r"objective\.ranges\.blocked: low must not exceed high"),
    ({"blocked": [-0.1, 0.5]}, r"objective\.ranges"),
])
def test_a_bad_weight_range_names_the_field(ranges: dict[str, list[float]], message: str
                                            ) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_of(_quickstart(ranges=ranges))


def test_prior_draws_draw_each_weight_in_its_range_and_value_each_draw_at_it() -> None:
    sc = scenario_of(_quickstart(ranges={"blocked": [0.1, 0.6], "prompt_uninstall": [1, 5]}),
                     devices=300, days=10)
    res, drawn = run_sensitivity(sc, 8, weights=True)
    obj = res.scenario.objective
    assert set(obj.drawn) == {"blocked", "prompt_uninstall"}
    blocked = np.asarray(obj.drawn["blocked"])
    assert len(blocked) == 8 and blocked.min() >= 0.1 and blocked.max() <= 0.6
    assert len(set(blocked.tolist())) == 8  # one value per draw, a Latin hypercube
    assert not any(n.startswith("objective.") for n in drawn.names)  # priors only
    weights = weight_draws(res.scenario)  # what the report's contests add to them
    assert weights.names == ["objective.blocked", "objective.prompt_uninstall"]
    np.testing.assert_array_equal(weights.values[:, 0], blocked)
    out = outcomes(lambda n: res.series(n).sum(axis=2), obj)
    by_hand = (out["optin_per_1k"] + obj.provisional * out["provisional_per_1k"]
               - np.asarray(obj.drawn["prompt_uninstall"])[:, None]
               * out["prompt_uninstalls_per_1k"] - blocked[:, None] * out["blocked_per_1k"])
    np.testing.assert_allclose(out["value"], by_hand)
    assert not np.allclose(out["value"], out["optin_per_1k"] + obj.provisional
                           * out["provisional_per_1k"] - 3.0 * out["prompt_uninstalls_per_1k"]
                           - 0.2 * out["blocked_per_1k"])


def test_the_default_weights_lie_in_their_default_ranges() -> None:
    sc = scenario_of(QUICKSTART)
    for name, (lo, hi) in DEFAULT_RANGES.items():
        assert lo <= getattr(sc.objective, name) <= hi


def test_the_weights_are_printed_beside_the_cli_and_report_pick(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    weights = ("objective weights, in opted-in devices (assumptions, the scenario's "
               "[objective]): opted_in 1, provisional 0.25 (range 0.1-0.5), prompt_uninstall "
               "3 (range 1-5), blocked 0.2 (range 0.1-0.6)")
    out = tmp_path / "run"
    assert main(["simulate", str(QUICKSTART), "--devices", "300", "--days", "10",
                 "--replications", "2", "--jobs", "1", "--no-progress", "--out", str(out),
                 "--report"]) == 0
    assert weights in capsys.readouterr().out.splitlines()
    escaped = weights.replace("'", "&#39;")  # as Jinja2's autoescape writes it
    assert f"Picked on the {escaped}." in (out / "report.html").read_text()
