"""The figures of the decision: the trade-off with the Pareto-efficient strategies marked,
and, for a sensitivity run, P(best) and what drives the choice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import to_rgba

from reports.figures import FigureSpec, declutter, new_figure
from sim.analysis.recommend import Recommendation
from sim.analysis.sensitivity import Contest
from sim.stats import COUNT, PERCENT, estimate


def tradeoff(out: dict[str, np.ndarray], names: Sequence[str], colours: dict[str, str],
             rec: Recommendation) -> FigureSpec:
    """Opt-in share against prompt-caused uninstalls, marker area by devices blocked."""
    fig = new_figure(9.0, 5.0)
    ax = fig.add_subplot()
    blocked = 100.0 * np.nanmean(out["blocked_share"], axis=0)
    labels = []
    for s, n in enumerate(names):
        y = estimate(100.0 * out["optin_share"][:, s], PERCENT)
        x = estimate(out["prompt_uninstalls_per_1k"][:, s], COUNT)
        eff = n in rec.pareto
        xerr = None if np.isnan(x.lo) else [[x.mean - x.lo], [x.hi - x.mean]]
        yerr = None if np.isnan(y.lo) else [[y.mean - y.lo], [y.hi - y.mean]]
        ax.errorbar([x.mean], [y.mean], xerr=xerr, yerr=yerr, fmt="none", ecolor=colours[n],
                    lw=0.8, capsize=2)
        ax.scatter([x.mean], [y.mean], s=40 + 12 * blocked[s], color=colours[n],
                   edgecolors="#000000" if eff else colours[n], linewidths=1.6 if eff else 0.5,
                   facecolors=colours[n] if eff else "none", zorder=3)
        tags = [t for t, on in (("Pareto-efficient", eff), ("recommended", n == rec.strategy))
                if on]
        labels.append(ax.annotate(f"{n}" + (f" ({', '.join(tags)})" if tags else "")
                                  + f"\n{blocked[s]:.1f}% blocked", (x.mean, y.mean),
                                  xytext=(7, 4), textcoords="offset points", fontsize=7.5))
    ax.set_xlabel("uninstalls caused by prompts, per 1,000 installs (fewer is better)")
    ax.set_ylabel("opted in, % of installed devices at the horizon (more is better)")
    ax.set_xlim(left=min(0.0, ax.get_xlim()[0]))
    ax.set_title("The trade-off: opt-in against uninstalls and devices blocked for good")
    ax.margins(x=0.25, y=0.15)  # room for the labels right of the points
    declutter(fig, labels)
    return FigureSpec("tradeoff", "The trade-off, Pareto-efficient strategies marked", (
        "Each strategy's opt-in share of installed devices at the horizon against the "
        "uninstalls its prompts caused; the marker's area grows with the share of devices "
        "blocked for good. Filled markers with a black edge are Pareto-efficient: no other "
        "strategy has at least their opt-in with at most their uninstalls and blocked devices. "
        "The objective's weights pick one of them (or say how much a dominated one is worth). "
        "Whiskers: 95% t-intervals."), fig)


def sensitivity(rec: Recommendation, names: Sequence[str], colours: dict[str, str],
                contest: Contest | None, draws: int) -> FigureSpec:
    """P(best) and expected loss per strategy; the priors that drive the main contest."""
    assert rec.p_best is not None and rec.expected_loss is not None
    fig = new_figure(11.0, 4.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    pos = np.arange(len(names))
    pb = [100.0 * rec.p_best[n] for n in names]
    left.barh(pos, pb, color=[colours[n] for n in names])
    for p, v, n in zip(pos, pb, names, strict=True):
        left.annotate(f"{v:.0f}%  (loss {rec.expected_loss[n]:.1f})", (v, p), xytext=(3, 0),
                      textcoords="offset points", va="center", fontsize=7.5)
    left.set_yticks(pos, list(names))
    left.invert_yaxis()
    left.set_xlim(0, 130)
    left.set_xlabel(f"P(best), % of {draws} prior draws (expected loss per 1,000 installs)")
    left.set_title("Which strategy is best")
    left.grid(axis="y", visible=False)
    if contest is not None:
        top = contest.drivers[:8]
        y = np.arange(len(top))
        eff = [d.effect for d in top]
        right.barh(y, eff, color=[to_rgba("#0072B2" if e > 0 else "#D55E00",
                                          1.0 if d.significant else 0.35)
                                  for e, d in zip(eff, top, strict=True)])
        right.set_yticks(y, [d.prior + (f"  (flips at {d.flip:.3g})" if d.flip is not None
                                        else "") for d in top], fontsize=7.5)
        right.invert_yaxis()
        right.axvline(0, color="#333333", lw=0.8)
        right.set_xlabel("change of the value difference per SD of the prior, per 1,000 "
                         "installs")
        right.set_title(f"What drives {contest.a} vs {contest.b}")
        right.grid(axis="y", visible=False)
    else:
        right.set_axis_off()
    return FigureSpec("sensitivity", "Uncertainty: P(best) and what drives the choice", (
        "Left: the share of prior draws in which each strategy has the highest value, and its "
        "expected loss (the value it gives up against the best strategy of each draw, on "
        "average). Right: the paired value difference between the recommended strategy and "
        "its closest rival, regressed on each prior alone; bars are the change per standard "
        "deviation of the prior (blue: favours the recommended one; pale: not significant at "
        "5%), and 'flips at' is the prior's value at which the fitted difference is zero, when "
        "the slope is significant and that value lies within the prior's range."), fig)
