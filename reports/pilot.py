"""The pilot's page for a product manager: ``pilot.html``, self-contained.

The experiment's arms and each arm's funnel with 95% intervals (from the stats), the
fitted priors beside the assumed ones, the long run each arm leads to (simulated on the
calibrated scenario), the pick per platform and what would still change it (from
``pilot fit``). Rendered from ``templates/pilot.html`` (autoescaped), its tables built here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from reports import html as h
from reports.figures import PLATFORM_LABELS
from sim.analysis.pilot_fit import LEVEL, beta_interval
from sim.analysis.pilot_project import Projection
from sim.analysis.pilot_refit import Refit
from sim.analysis.pilot_stats import Stats
from sim.model import priors
from sim.rules.config.platforms import PLATFORMS
from sim.stats import Estimate
from sim.version import __version__

FUNNEL: tuple[tuple[str, str, str], ...] = (
    ("reached a soft prompt", "units_soft_shown", "units"),
    ("tapped it (of prompts shown)", "soft_accepted", "soft_shown"),
    ("reached the OS dialog", "units_os_shown", "units"),
    ("allowed (of dialogs shown)", "os_allowed", "os_shown"),
    ("opted in now", "opted_in", "units"),
    ("blocked for good", "blocked", "units"),
    ("uninstalled", "uninstalls", "units"),
)
"""Each funnel step: its label, the count and what it is a share of."""


def _share(k: int, n: int) -> str:
    if n == 0:
        return "-"
    if k > n:  # events per unit (uninstalls may repeat): no binomial interval
        return f"{k / n:.3f} per unit"
    _, lo, hi = beta_interval(k, n)
    return f"{100 * k / n:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"


def funnel(st: Stats) -> list[tuple[str, h.Table]]:
    """Per arm, all platforms and each platform: every funnel step with its interval."""
    seen = {c.platform for c in st.cells}
    platforms = [p for p in PLATFORMS if p in seen] + sorted(seen - set(PLATFORMS))
    out = []
    for arm in st.arm_names():
        rows = []
        for label, k, n in FUNNEL:
            row = [label]
            for p in (None, *platforms):
                row.append(_share(st.total(k, arm=arm, platform=p),
                                  st.total(n, arm=arm, platform=p)))
            rows.append(row)
        units = [f"{st.total('units', arm=arm, platform=p):,}" for p in (None, *platforms)]
        rows.insert(0, ["units", *units])
        out.append((arm, h.table(
            ["step", "all platforms", *(PLATFORM_LABELS.get(p, p) for p in platforms)], rows,
            numeric=tuple(range(1, 2 + len(platforms))))))
    return out


def comparisons(st: Stats) -> h.Table | None:
    """The service's always-valid intervals of each arm against the first (None: none)."""
    if not st.comparisons:
        return None
    rows = [[c.metric.replace("_", " "), f"{c.arm} - {c.baseline}",
             PLATFORM_LABELS.get(c.platform, c.platform) if c.platform else "all platforms",
             f"{100 * c.difference:+.2f} pts",
             f"{100 * c.interval[0]:+.2f} to {100 * c.interval[1]:+.2f}",
             f"{100 * (1 - c.alpha):g}%, {c.method}"] for c in st.comparisons]
    return h.table(["metric", "arms", "platforms", "difference", "interval", "level, method"],
                   rows, numeric=(3, 4))


def fitted(res: Refit) -> h.Table:
    """The fitted priors beside the assumed ones, with both sources."""
    rows: list[list[str | h.Cell]] = []
    for f in res.fits:
        p = priors.BY_NAME[f.prior]
        rows.append([f.prior, p.what, f"{f.assumed:.3g}",
                     f"{f.assumed_range[0]:.3g}-{f.assumed_range[1]:.3g}", p.source,
                     h.Cell(f"{f.mean:.3f}", under=f"{f.low:.3f}-{f.high:.3f}", strong=True),
                     f"{f.successes:,} of {f.trials:,}", f"{f.method}; arms {', '.join(f.arms)}"])
    return h.table(["prior", "what", "assumed", "assumed range", "source of the assumption",
                    f"fitted ({100 * LEVEL:g}% interval)", "counts", "method"], rows,
                   numeric=(2, 5, 6))


def long_run(proj: Sequence[Projection]) -> h.Table:
    """Per arm and day: opted in, blocked for good and uninstalls per 1,000 installs."""
    def est(e: Estimate) -> str:
        return f"{e.mean:.0f}" if math.isnan(e.lo) else f"{e.mean:.0f} ({e.lo:.0f}-{e.hi:.0f})"

    rows = [[p.arm, f"day {p.day}", est(p.opted_in), est(p.blocked), est(p.uninstalls)]
            for p in proj]
    return h.table(["arm", "at", "opted in / 1k installs", "blocked for good / 1k",
                    "uninstalls / 1k"], rows, numeric=(2, 3, 4))


def verdicts(res: Refit) -> h.Table:
    """The pick per platform before and after the fit, how sure, and what would change it."""
    rows: list[list[str | h.Cell]] = []
    for v in res.verdicts:
        if v.resolved:
            state = h.Cell("resolved", css="pass")
        elif v.more_days is not None:
            state = h.Cell(f"about {v.more_days} more day(s)", css="fail")
        else:
            state = h.Cell("not by these arms", css="fail")
        rows.append([PLATFORM_LABELS.get(v.platform, v.platform), v.before,
                     h.Cell(v.after, strong=True),
                     f"{v.loss_before:.2f} -> {v.loss_after:.2f}", state,
                     "; ".join(v.flips_after) or "no prior in range flips it"])
    for p, n in res.thin.items():
        rows.append([PLATFORM_LABELS.get(p, p), "-", "-", "-", h.Cell("not judged", css="fail"),
                     f"too few devices simulated ({n:,.0f} per draw): rerun pilot fit with "
                     "more --devices"])
    return h.table(["platform", "pick assumed", "pick fitted", "expected loss / 1k installs",
                    "decision", "what would still change it"], rows, numeric=(3,))


def render_pilot(st: Stats, res: Refit | None, proj: Sequence[Projection], source: str) -> str:
    """The page: of ``promptsim pilot report`` (with the fit and the projection), or of the
    service (``GET /v1/experiments/{id}/page``: the stats only, ``res`` None; the fit and
    the long run need the scenario and minutes of simulation, which the CLI runs)."""
    srm = "not reported" if st.srm is None else (
        f"chi2 {st.srm.chi2:.2f}, p = {st.srm.p_value:.3g}: "
        + ("MISMATCH, the assignment is broken" if st.srm.mismatch else "no mismatch"))
    facts = [
        ("stats", source),
        ("units", f"{st.total('units'):,} over {st.days()} day(s)"),
        ("arms", ", ".join(f"{a.name} ({100 * a.weight:g}%)" for a in st.arms)),
        ("sample ratio check (the service's)", srm),
    ]
    fit: dict[str, object] = {"fitted_run": False}
    if res is None:
        lead = "Measured so far; not fitted yet."
    else:
        changed = [v for v in res.verdicts if v.before != v.after]
        lead = (f"{len(changed)} platform(s) change their pick once the priors are fitted: "
                + ", ".join(f"{v.platform} {v.before} -> {v.after}" for v in changed) + "."
                if changed else "No platform changes its pick once the priors are fitted.")
        s = res.settings
        facts.append(("decision resolved when", f"expected loss <= {s.max_loss:g} per 1,000 "
                                                "installs (assumption: set with --max-loss)"))
        fit = {"fitted_run": True, "draws": s.draws, "devices": f"{s.devices:,}",
               "verdicts": verdicts(res), "fitted": fitted(res), "long_run": long_run(proj)}
    return h.render("pilot.html", title=f"Pilot: {st.experiment_id}", st=st, lead=lead,
                    facts=facts, level=f"{100 * LEVEL:g}", funnels=funnel(st),
                    comparisons=comparisons(st), version=__version__, **fit)


def service_page(stats: bytes, source: str) -> str:
    """The page the service serves (``GET /v1/experiments/{id}/page``): the stats only."""
    from sim.analysis.pilot_stats import parse_stats

    return render_pilot(parse_stats(stats, source), None, (), source)


def write_pilot_page(st: Stats, res: Refit, proj: Sequence[Projection], source: str,
                     path: Path) -> Path:
    """Write ``path`` (the page) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_pilot(st, res, proj, source))
    return path
