"""The optimizer's page: ``optimize.html`` beside ``winner.toml``, self-contained.

What ``promptsim optimize`` prints, as a page to share: the pick per platform with its
interval and probability of being best, the front figure, and every candidate with the
replications it got and why it left the race.
"""

from __future__ import annotations

from pathlib import Path

from reports import html as h
from reports.figures import PLATFORM_LABELS, save
from reports.optimize_figures import front
from sim import __version__
from sim.analysis.optimize import GroupResult, OptimizeResult


def _label(group: str) -> str:
    return PLATFORM_LABELS.get(group, "All devices")


def _picks(res: OptimizeResult) -> h.Table:
    rows = []
    for g, r in res.groups.items():
        rivals = sorted(((p, f) for f, p in r.p_best.items() if f != r.best), reverse=True)[:3]
        rows.append([
            _label(g), r.best,
            f"{r.value.mean:.1f} ({r.value.lo:.1f} to {r.value.hi:.1f})",
            f"{100 * r.p_best[r.best]:.0f}%", str(len(r.finalists)), str(r.replications),
            ", ".join(f"{f} {100 * p:.0f}%" for p, f in rivals) or "none"])
    return h.table(["platform", "pick", "value / 1k installs (95% CI)", "P(best)",
                    "finalists", "replications", "closest finalists, P(best)"],
                   rows, numeric=(2, 3, 4, 5))


def _candidates(r: GroupResult, family: dict[str, str]) -> h.Table:
    order = sorted(r.means, key=lambda n: (-r.means[n]["value"], n))
    rows = []
    for name in order:
        m = r.means[name]
        if name == r.best:
            fate = "the pick"
        elif name in r.finalists:
            fate = "finalist"
        else:
            fate = f"dropped after {r.dropped[name]} replications"
        rows.append([
            name, family[name], fate, str(int(m["replications"])),
            f"{100 * r.p_best[name]:.0f}%" if name in r.p_best else "",
            f"{m['value']:.1f}", f"{100 * m['optin_share']:.1f}%",
            f"{m['prompt_uninstalls_per_1k']:.2f}", f"{100 * m['blocked_share']:.1f}%"])
    return h.table(["candidate", "family", "outcome", "reps", "P(best)", "value / 1k",
                    "opted in", "prompt uninstalls / 1k", "blocked"],
                   rows, numeric=(3, 4, 5, 6, 7, 8))


def write_optimize_page(res: OptimizeResult, out: Path, source: Path, seconds: float) -> Path:
    """Draw the front (``out/front.png`` and ``.svg``) and write ``out/optimize.html``."""
    sc = res.scenario
    fig = save(front(res), out)
    n = len(res.candidates)
    saving = 1.0 - res.device_years / res.full_device_years if res.full_device_years else 0.0
    family = {c.name: c.family for c in res.candidates}
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
    ]
    path = out / "optimize.html"
    path.write_text(h.render(
        "optimize.html", title=f"Optimizer: {sc.name}", scenario=sc, candidates=n,
        facts=facts, picks=_picks(res), front=fig, version=__version__, source=source,
        groups=[(_label(g), _candidates(r, family)) for g, r in res.groups.items()]))
    return path
