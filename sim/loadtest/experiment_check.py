"""After a run with an experiment: its stats written, and checked against the devices.

``GET /v1/experiments/{id}/stats`` goes to ``OUT/experiment_stats.json`` as the service
answered (``promptsim pilot fit --stats`` reads it). :func:`check_stats` then adds up, per
arm, what the devices logged from their first answer inside the experiment until its end
(``sim.loadtest.device``: ``assigned``, ``exp_kinds``, their impressions, their final
state) and compares it with the service's cells summed over platforms, profiles and cohort
days: each figure of the contract but ``opt_outs`` (which needs the order of every grant),
exactly, except that a device whose eligibility call was in flight at the stop may have
been assigned (and shown a prompt) without knowing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.loadtest.api import Api
from sim.loadtest.experiment import ExperimentPlan

STATS = "experiment_stats.json"
"""The stats' file in the run's directory."""
FIGURES = ("units", "units_soft_shown", "soft_shown", "soft_accepted", "soft_dismissed",
           "os_shown", "os_allowed", "os_denied", "os_dismissed", "units_os_shown", "opted_in",
           "uninstalls", "blocked")
"""The figures of a cell the devices account for."""
LOOSE = frozenset({"units", "units_soft_shown", "soft_shown"})
"""Figures an eligibility call cut off by the stop may raise on the service's side only."""


def write_stats(api: Api, plan: ExperimentPlan, out: Path) -> dict[str, Any]:
    """Read the experiment's stats and write them to ``out/experiment_stats.json``."""
    doc: dict[str, Any] = api.json("GET", f"/v1/experiments/{plan.experiment_id}/stats")
    (out / STATS).write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def device_figures(recs: list[dict[str, Any]], plan: ExperimentPlan) -> dict[str, dict[str, int]]:
    """Per arm, the figures of :data:`FIGURES` as the devices logged them."""
    cold = {c.id for p in plan.policies for c in p.campaigns if not c.primer}
    out = {arm: dict.fromkeys(FIGURES, 0) for arm in plan.arms}
    for r in recs:
        if not r["assigned"]:
            continue
        f, k = out[r["arm"]], r["exp_kinds"]
        soft = sum(c.get("impressions", 0) for cid, c in r["per_campaign"].items()
                   if cid not in cold and cid.startswith(f"{plan.experiment_id}:"))
        answers = {a: k.get(f"os_dialog_result:{a}", 0)
                   for a in ("allowed", "denied", "dismissed", "ignored")}
        os_shown = sum(answers.values())
        f["units"] += 1
        f["soft_shown"] += soft
        f["units_soft_shown"] += soft > 0
        f["soft_accepted"] += k.get("soft_prompt_clicked", 0)
        f["soft_dismissed"] += k.get("soft_prompt_dismissed", 0)
        f["os_shown"] += os_shown
        f["os_allowed"] += answers["allowed"]
        f["os_denied"] += answers["denied"]
        f["os_dismissed"] += answers["dismissed"]
        f["units_os_shown"] += os_shown > 0
        f["opted_in"] += r["state"]["permission"] == "granted"
        f["uninstalls"] += k.get("uninstalled", 0) > 0
        f["blocked"] += bool(r["blocked"])
    return out


def service_figures(doc: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per arm, the stats' cells summed over platforms, profiles and cohort days."""
    out = {a["name"]: dict.fromkeys(FIGURES, 0) for a in doc["arms"]}
    for cell in doc["cells"]:
        for f in FIGURES:
            out[cell["arm"]][f] += cell[f]
    return out


def check_stats(doc: dict[str, Any], recs: list[dict[str, Any]], plan: ExperimentPlan,
                before: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """The check ``experiment_stats``: the service's figures per arm, less what they were
    ``before`` the run (an earlier run's units), are the devices'."""
    want, got = device_figures(recs, plan), service_figures(doc)
    for arm, old in (before or {}).items():
        if arm in got:
            got[arm] = {f: v - old.get(f, 0) for f, v in got[arm].items()}
    uncertain: dict[str, int] = {}
    for r in recs:
        if r["uncertain"] and r["arm"] is not None and not r["assigned"]:
            uncertain[r["arm"]] = uncertain.get(r["arm"], 0) + 1
    problems, parts = [], []
    for arm in plan.arms:
        w, g, slack = want[arm], got.get(arm, dict.fromkeys(FIGURES, 0)), uncertain.get(arm, 0)
        for f in FIGURES:
            ok = w[f] <= g[f] <= w[f] + slack if f in LOOSE else w[f] == g[f]
            if not ok:
                problems.append(f"{arm}.{f}: service {g[f]}, devices {w[f]}")
        parts.append(f"{arm}: {g['units']} units, {g['soft_shown']} soft prompts, "
                     f"{g['os_shown']} OS dialogs ({g['os_allowed']} allowed), "
                     f"{g['opted_in']} opted in")
    detail = (f"experiment {plan.experiment_id} (GET .../stats, written to {STATS}; what "
              "this run added): "
              + "; ".join(parts)
              + (" equal what the devices logged" if not problems
                 else f"; differ: {'; '.join(problems[:4])}"))
    return {"name": "experiment_stats", "passed": not problems, "detail": detail}
