"""The decision part of a simulation report: the recommendation overall and per platform,
the one policy that runs the per-platform picks, and what would change the answer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from reports import html as h
from reports.rundir import Run
from sim.analysis.platform_picks import PlatformPicks, platform_picks
from sim.analysis.recommend import Recommendation, p_best_error, recommend, weight_flips
from sim.analysis.sensitivity import Contest, contest, read_draws, weight_draws
from sim.model.objective import outcomes
from sim.model.scenario import Strategy
from sim.rules.config.platforms import PROFILES

PRIORS_FILE = "priors.csv"
"""The drawn priors of a sensitivity run, one row per draw (= replication)."""
POLICY_FILE = "recommended_policy.json"
"""The per-platform policy, as a scenario strategy and as the service's campaigns."""


@dataclass
class Decision:
    """Everything the report says about what to ship."""

    overall: Recommendation
    platforms: dict[str, Recommendation]
    """Per platform with installs, the recommendation among its devices alone."""
    policy: Strategy | None
    """One strategy running each platform's pick there (None when one pick fits all)."""
    cohorts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per profile in the mix, the outcomes ``[replication, strategy]`` of its cohort."""
    contests: list[Contest] = field(default_factory=list)
    """With prior draws: the recommended strategy against each other, what drives it."""
    draws: int = 0
    weight_flips: list[str] = field(default_factory=list)
    """At which objective weight another strategy would overtake the recommended one."""
    weights: str = ""
    """The objective's weights in one line (``Objective.describe``)."""
    picks: PlatformPicks | None = None
    """The per-platform picks and the composite policy's gain over the best single
    strategy (``sim.analysis.platform_picks``, as the CLI prints them)."""


def decide_run(run: Run, out: dict[str, np.ndarray], baseline: str) -> Decision:
    """The recommendation of ``run`` overall (from ``out``), per platform and per cohort."""
    sc = run.scenario
    names = run.strategies
    draws = sc.sensitivity.draws if sc.sensitivity.draws > 0 else 0
    overall = recommend(out, names, baseline, sc.objective, draws=bool(draws))
    picks = platform_picks(run.platform_cube, sc, baseline, draws=bool(draws))
    cohorts = {}
    for c, prof in enumerate(PROFILES):
        if sc.population.mix.get(prof, 0.0) > 0:

            def ctotal(name: str, _c: int = c) -> np.ndarray:
                x: np.ndarray = run.cube(name)[:, :, _c]
                return x

            cohorts[prof] = outcomes(ctotal, sc.objective)
    best = names[int(np.nanargmax(np.nanmean(out["value"], axis=0)))]
    decision = Decision(overall, picks.platforms, picks.policy, cohorts, draws=draws,
                        weight_flips=weight_flips(out, names, best, sc.objective),
                        weights=sc.objective.describe(), picks=picks)
    if draws and (run.path / PRIORS_FILE).is_file():
        w = weight_draws(sc)
        x = np.hstack([read_draws(run.path / PRIORS_FILE), w.values])
        head = (run.path / PRIORS_FILE).read_text().splitlines()[0].split(",")[1:] + w.names
        r = names.index(overall.strategy)
        lows = [float(np.min(x[:, k])) for k in range(x.shape[1])]
        highs = [float(np.max(x[:, k])) for k in range(x.shape[1])]
        loss = overall.expected_loss or {}
        for s in sorted((s for s in range(len(names)) if s != r),
                        key=lambda s: loss.get(names[s], math.inf)):
            decision.contests.append(contest(out["value"], x, head, lows, highs, r, s, names))
    return decision


def write_policy(decision: Decision, path: Path) -> Path | None:
    """Write the per-platform policy (``POLICY_FILE``), if the picks differ by platform."""
    if decision.policy is None:
        return None
    out = path / POLICY_FILE
    out.write_bytes(msgspec.json.format(msgspec.json.encode(decision.policy), indent=2) + b"\n")
    return out


def _pct(x: np.ndarray) -> str:
    m = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
    return "n/a" if math.isnan(m) else f"{100 * m:.1f}%"


def recommendation_view(d: Decision, colours: dict[str, str], baseline: str) -> dict[str, Any]:
    """For ``report/recommendation.html``: the pick, the reasons, P(best) with prior draws,
    the rule."""
    rec = d.overall
    p_best = None
    if rec.p_best is not None and rec.expected_loss is not None:
        draws = d.draws or 1
        p_best = h.table(["strategy", "value per 1,000 installs (mean over draws)",
                          "P(best) (\u00b1 Monte Carlo SE)",
                          "expected loss per 1,000 installs"], [
            (h.Cell(n, colour=colours[n]), f"{rec.value[n].mean:.1f}",
             f"{100 * rec.p_best[n]:.0f}% (\u00b1{100 * p_best_error(rec.p_best[n], draws):.0f})",
             f"{rec.expected_loss[n]:.1f}")
            for n in rec.value], numeric=(1, 2, 3))
    return {"rec": rec, "warn": rec.strategy == baseline or rec.provisional,
            "weights": d.weights,
            "colour": colours[rec.strategy], "p_best": p_best}


def platforms_view(d: Decision, names: list[str]) -> dict[str, Any]:
    """For ``report/platforms.html``: per platform each strategy's value and the pick, the
    one policy that runs the picks, and per cohort the shares at the horizon."""
    rows = []
    for plat, rec in d.platforms.items():
        cells: list[str | h.Cell] = [plat]
        for n in names:
            v = rec.value[n]
            cells.append(h.Cell(f"{v.mean:,.1f} (pick)", css="pick") if n == rec.strategy
                         else f"{v.mean:,.1f}")
        rows.append(cells)
    crow = []
    for prof, o in d.cohorts.items():
        crow.append([prof] + [" / ".join(_pct(o[k][:, s]) for k in
                                         ("optin_share", "provisional_share", "blocked_share"))
                              for s in range(len(names))])
    numeric = tuple(range(1, len(names) + 1))
    policy = None if d.policy is None else \
        msgspec.json.format(msgspec.json.encode(d.policy), indent=2).decode()
    return {"by_platform": h.table(["platform", *names], rows, numeric=numeric),
            "picks": ", ".join(f"{p}: {r.strategy}" for p, r in d.platforms.items()),
            "policy": policy, "policy_file": POLICY_FILE, "composite": d.picks,
            "cohorts": h.table(["profile", *names], crow, numeric=numeric)}


def sensitivity_view(d: Decision) -> dict[str, Any]:
    """For ``report/sensitivity.html``: what would change the answer, the objective's
    weights and (with prior draws) the priors."""
    sentences = []
    for c in d.contests:
        for dr in c.drivers[:3]:
            s = c.sentence(dr)
            if s is not None:
                sentences.append(s)
    rows = []
    for c in d.contests:
        top = ", ".join(f"{dr.prior} ({dr.effect:+.1f}, R\u00b2 {dr.r2:.2f})"
                        for dr in c.drivers[:3] if dr.significant) or "none significant"
        rows.append((f"{c.a} vs {c.b}", f"{c.mean:+.1f}", f"{100 * c.share_a:.0f}%", top))
    return {"weight_flips": d.weight_flips, "draws": d.draws, "pick": d.overall.strategy,
            "priors": len(d.contests[0].drivers) if d.contests else 0,
            "sentences": sentences, "contests": h.table(
                ["contest", "mean difference per 1,000 installs", "draws the first wins",
                 "largest significant effects per SD"], rows, numeric=(1, 2))
            if d.contests else None}
