"""The optimizer's page: ``optimize.html`` beside ``winner.toml``, self-contained.

What ``promptsim optimize`` prints, as a page to share: the pick per platform with its
interval and probability of being best, the front figure, and every candidate with the
replications it got and why it left the race.
"""

from __future__ import annotations

import math
from pathlib import Path

from reports import html as h
from reports.figures import PLATFORM_LABELS, save
from reports.optimize_figures import front
from sim.analysis.candidate_words import describe
from sim.analysis.optimize import (
    FIXED_PRIORS,
    PRIOR_CONTENDERS,
    Candidate,
    GroupResult,
    OptimizeResult,
)
from sim.analysis.racing import not_estimated, p_best_text
from sim.version import __version__


def _label(group: str) -> str:
    return PLATFORM_LABELS.get(group, "All devices")


def _picks(res: OptimizeResult, words: dict[str, str]) -> h.Table:
    rows = []
    for g, r in res.groups.items():
        rivals = sorted(((p, f) for f, p in r.p_best.items() if f != r.best and p == p),
                        reverse=True)[:3]
        v = r.confirmed or r.value
        m = r.means[r.best]
        u = r.under_draws
        drawn = [] if u is None else [
            f"{100 * u.p_best[r.best]:.0f}% (\u00b1{100 * u.se[r.best]:.0f})",
            ", ".join(f"{f} {100 * p:.0f}%" for p, f in sorted(
                ((p, f) for f, p in u.p_best.items() if f != r.best), reverse=True)[:3])]
        rows.append([
            _label(g), r.best, words[r.best],
            f"{v.mean:.1f} ({v.lo:.1f} to {v.hi:.1f})",
            f"{r.value.mean:.1f}",
            p_best_text(r.p_best[r.best]), *drawn, f"{100 * m['optin_share']:.1f}%",
            f"{m['prompt_uninstalls_per_1k']:.2f}", f"{100 * m['blocked_share']:.1f}%",
            str(len(r.finalists)), str(r.replications),
            ", ".join(f"{f} {100 * p:.0f}%" for p, f in rivals) or "none"])
    heads = [] if not res.prior_draws else [
        f"P(best) under {res.prior_draws} prior draws (\u00b1 Monte Carlo SE)",
        "closest contenders under the draws, P(best)"]
    numeric = tuple(range(3, 11 + len(heads)))
    if heads:
        numeric = tuple(i for i in numeric if i != 7)
    return h.table(["platform", "pick", "in words",
                    "value / 1k installs on fresh replications (95% CI)",
                    "value in the race (biased up by the pick)",
                    "P(best), given the scenario's priors", *heads, "opted in",
                    "prompt uninstalls / 1k", "blocked for good", "finalists",
                    "replications", "closest finalists, P(best)"],
                   rows, numeric=numeric)


def _candidates(r: GroupResult, family: dict[str, str], by_name: dict[str, Candidate]
                ) -> h.Table:
    order = sorted(r.means, key=lambda n: (-r.means[n]["value"], n))
    rows = []
    for name in order:
        m = r.means[name]
        words = describe(by_name[name].strategy.campaigns)
        if name == r.best:
            fate = "the pick"
        elif name in r.finalists:
            fate = "finalist"
        else:
            fate = f"dropped after {r.dropped[name]} replications"
        rows.append([
            name, words, family[name], fate, str(int(m["replications"])),
            p_best_text(r.p_best[name]) if name in r.p_best else "",
            f"{m['value']:.1f}", f"{100 * m['optin_share']:.1f}%",
            f"{m['prompt_uninstalls_per_1k']:.2f}", f"{100 * m['blocked_share']:.1f}%"])
    return h.table(["candidate", "in words", "family", "outcome", "reps", "P(best)",
                    "value / 1k", "opted in", "prompt uninstalls / 1k", "blocked for good"],
                   rows, numeric=(4, 5, 6, 7, 8, 9))


def write_optimize_page(res: OptimizeResult, out: Path, source: Path, seconds: float) -> Path:
    """Draw the front (``out/front.png`` and ``.svg``) and write ``out/optimize.html``."""
    sc = res.scenario
    fig = save(front(res), out)
    n = len(res.candidates)
    saving = 1.0 - res.device_years / res.full_device_years if res.full_device_years else 0.0
    family = {c.name: c.family for c in res.candidates}
    by_name = {c.name: c for c in res.candidates}
    words = {c.name: describe(c.strategy.campaigns) for c in res.candidates}
    warnings = [f"{_label(g)}: {r.best} is on the edge of the search grid "
                f"({', '.join(r.edge)}); the best may lie beyond it: extend the family's list."
                for g, r in res.groups.items() if r.edge]
    warnings += [f"{_label(g)}: {not_estimated(r.replications, len(r.finalists))}."
                 for g, r in res.groups.items() if math.isnan(r.p_best[r.best])]
    facts = [
        ("scenario", source),
        ("objective", sc.objective.describe()),
        ("population", f"{sc.devices:,} devices x {sc.days} days"),
        ("rounds", f"{'/'.join(map(str, res.schedule))} replications"),
        ("each test", f"one-sided at {res.alpha:.2g} (Bonferroni over {n - 1} rivals x "
                      f"{max(1, len(res.schedule) - 1)} round(s))"),
        ("simulated", f"{res.device_years:,.0f} device-years, against "
                      f"{res.full_device_years:,.0f} to run every candidate to full "
                      f"precision ({100 * saving:.0f}% saved)"),
        ("engine events", f"{res.events:,} in {seconds:.1f} s"),
        ("results reused from disk", f"{res.tasks_reused} tasks"),
        *([("against one for all", res.composite.line())] if res.composite else []),
        ("P(best)", res.p_best_label() if res.prior_draws else FIXED_PRIORS
         + "; for the priors too, rerun with --prior-draws N"),
    ]
    if res.prior_draws:
        facts.append(("P(best) of the race", FIXED_PRIORS))
    path = out / "optimize.html"
    path.write_text(h.render(
        "optimize.html", title=f"Optimizer: {sc.name}", scenario=sc, candidates=n,
        facts=facts, picks=_picks(res, words), front=fig, version=__version__, source=source,
        warnings=warnings, prior_draws=res.prior_draws, drawn_weights=res.drawn_weights,
        contenders=PRIOR_CONTENDERS,
        groups=[(_label(g), _candidates(r, family, by_name)) for g, r in res.groups.items()]))
    return path
