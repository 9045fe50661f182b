"""Helpers shared by the report tests: a small scenario that simulates in seconds."""

from __future__ import annotations

import msgspec
import pandas as pd

from sim.analysis.fit import COUNTS, apply_params, run_one
from sim.analysis.forecast import Rollout, rollout_scenario
from sim.analysis.optimize import OptimizeResult, optimize
from sim.model.scenario import Scenario, parse_scenario
from sim.rules.config.platforms import PLATFORMS

TINY_TOML = """
name = "tiny"
seed = 1
devices = 600
days = 14
replications = 2
baseline = "once"
[population]
install_window_days = 7
[population.mix]
ios = 0.5
android13 = 0.3
chrome = 0.2
[[strategies]]
name = "once"
campaigns = [{ id = "soft", frequency = { type = "once" } }]
[[strategies]]
name = "twice"
campaigns = [{ id = "soft", frequency = { type = "multiple", limit = 2, gap_days = 1 } }]
"""
"""A scenario file for the command-line tests."""

WIDE = [{"name": "once_on_app_open", "campaigns": [{"id": "soft"}]}] + [
    {"name": f"multiple_{k}x_every_{g}_days_after_open", "campaigns": [
        {"id": "soft", "frequency": {"type": "multiple", "limit": k, "gap_days": g}}]}
    for k, g in ((2, 1), (3, 2), (4, 3), (5, 5), (6, 7))] + [
    {"name": "every_time_on_app_open", "campaigns": [
        {"id": "soft", "frequency": {"type": "every_time"}}]},
    {"name": "backoff_doubling_from_one_day", "campaigns": [
        {"id": "soft", "frequency": {"type": "backoff", "gap_days": 1}}]}]
"""Eight strategies with long names: the widest tables and legends a report draws."""


def small_scenario(**over: object) -> Scenario:
    """2,000 devices, 30 days, 3 replications, three strategies: runs in a few seconds."""
    data: dict[str, object] = {
        "name": "small", "seed": 3, "devices": 2000, "days": 30, "replications": 3,
        "baseline": "once",
        "population": {"install_window_days": 10, "mix": {
            "ios": 0.4, "android13": 0.3, "android12": 0.1, "chrome": 0.1, "fire_os_8": 0.05,
            "huawei_emui13": 0.05}},
        "strategies": [
            {"name": "once", "campaigns": [{"id": "soft", "frequency": {"type": "once"}}]},
            {"name": "every_time",
             "campaigns": [{"id": "soft", "frequency": {"type": "every_time"}}]},
            {"name": "multiple_3x2d", "campaigns": [
                {"id": "soft", "frequency": {"type": "multiple", "limit": 3, "gap_days": 2}}]},
        ],
    }
    data.update(over)
    return parse_scenario(data, "small")


def raced_toy(prior_draws: int = 0) -> OptimizeResult:
    """A small race on iOS and Chrome whose iOS side keeps two finalists and drops two
    candidates after the first round (seed 2; more chances to ask can only add opt-ins);
    with ``prior_draws``, P(best) under that many draws of the priors too."""
    sc = parse_scenario({
        "name": "toy", "seed": 2, "devices": 500, "days": 45,
        "population": {"mix": {"ios": 0.5, "chrome": 0.5}, "install_window_days": 10},
        "behaviour": {"annoyance_base": 0.0},
        "objective": {"opted_in": 1.0, "provisional": 0.0, "prompt_uninstall": 0.0,
                      "blocked": 0.0},
        "strategies": [{"name": "once", "campaigns": [{"id": "soft"}]}],
        "search": {"replications": 6, "first_round": 3, "families": [
            {"name": "more", "frequency": "multiple", "limit": [1, 3, 9], "gap_days": [2]}]},
    })
    return optimize(sc, prior_draws=prior_draws)


def observed_frame(sc: Scenario, r: Rollout, days: int, rho: float, scale: float,
                   seed: int) -> pd.DataFrame:
    """Daily counts per platform of a rollout simulated with known parameters."""
    truth, _ = rollout_scenario(sc, r, days)
    truth = msgspec.structs.replace(truth, seed=seed,
                                    behaviour=apply_params(sc.behaviour, rho, scale))
    out = run_one(truth, COUNTS)
    rows = []
    for p, plat in enumerate(PLATFORMS):
        for d in range(days):
            row = {"day": d, "platform": plat, **{c: int(out[c][0, p, d]) for c in COUNTS}}
            if row["soft_prompts_shown"] or row["os_dialogs_shown"]:
                rows.append(row)
    return pd.DataFrame(rows)
