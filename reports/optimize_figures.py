"""The optimizer's front: every candidate's opt-in against the uninstalls its prompts caused
and the devices it blocked for good, per platform, one colour per candidate family."""

from __future__ import annotations

import math

from reports.figures import PLATFORM_LABELS, FigureSpec, new_figure, palette
from sim.analysis.optimize import OptimizeResult


def front(res: OptimizeResult) -> FigureSpec:
    """One panel per platform (or one for all devices): x uninstalls caused by prompts per
    1,000 installs, y opted in (% of installed devices), marker area by % blocked; finalists
    edged in black, the pick a star."""
    families = list(dict.fromkeys(c.family for c in res.candidates))
    colours = palette(families)
    family = {c.name: c.family for c in res.candidates}
    n = len(res.groups)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = new_figure(4.2 * cols + 1.6, 3.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (g, gr) in zip(axes, res.groups.items(), strict=False):
        for name, m in gr.means.items():
            fin = name in gr.finalists
            c = colours[family[name]]
            x, y = m["prompt_uninstalls_per_1k"], 100.0 * m["optin_share"]
            size = 14 + 6 * 100.0 * m["blocked_share"]
            if name == gr.best:
                ax.scatter([x], [y], s=220, marker="*", color=c, edgecolors="#000000",
                           linewidths=1.0, zorder=4)
                ax.annotate(name, (x, y), xytext=(6, 4), textcoords="offset points",
                            fontsize=7.5)
            else:
                ax.scatter([x], [y], s=size, color=c, alpha=0.9 if fin else 0.45,
                           edgecolors="#000000" if fin else "none", linewidths=0.8, zorder=3)
        ax.set_title(f"{PLATFORM_LABELS.get(g, 'All devices')}: {len(gr.finalists)} finalist(s) "
                     f"of {len(gr.means)}")
        ax.set_xlabel("uninstalls caused by prompts / 1,000 installs")
        ax.set_ylabel("opted in, % of installed")
    for ax in axes[n:]:
        ax.set_axis_off()
    for fam in families:
        axes[0].scatter([], [], color=colours[fam], label=fam, s=30)
    axes[0].scatter([], [], s=120, marker="*", color="#ffffff", edgecolors="#000000",
                    label="the pick")
    axes[0].scatter([], [], s=30, color="#ffffff", edgecolors="#000000", label="finalist")
    fig.legend(loc="outside right upper", title="family (area: % blocked)")
    return FigureSpec("front", "The optimizer's front, per platform", (
        "Each candidate schedule's opt-in share of installed devices at the horizon against "
        "the uninstalls its declined soft prompts caused, per 1,000 installs; the marker's "
        "area grows with the share of devices blocked for good. Colours are candidate "
        "families; black edges mark the finalists (never beaten clearly, run to full "
        "precision), the star the pick on the objective. Dropped candidates are shown at "
        "the replications they had when dropped."), fig)
