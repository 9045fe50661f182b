"""The figures of a simulation report, drawn with matplotlib's object API (no pyplot state).

Each figure says what it shows and in which unit; every strategy keeps one
colour in every figure; bands and error bars are 95% t-intervals over
replications.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.compare import Getter
from reports.rundir import Run
from sim.analysis.recommend import Recommendation
from sim.rules.config.platforms import PLATFORMS
from sim.stats import COUNT, PERCENT, Bounds, band, estimate

OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00",
                              "#56B4E9", "#000000", "#999933")
"""Colour-blind-safe palette (Okabe & Ito); more strategies fall back to tab20."""
PLATFORM_LABELS = {"ios": "iOS", "android": "Android", "huawei": "Huawei", "amazon": "Amazon",
                   "web": "Web"}
STYLE: dict[Any, Any] = {
    "font.size": 9.5, "axes.titlesize": 10.5, "axes.labelsize": 9.5, "figure.titlesize": 12,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "legend.fontsize": 8.5, "legend.frameon": False,
    "svg.fonttype": "none", "figure.dpi": 100,
}
PNG_DPI = 110
LONG_LABEL = 28
"""Characters of a legend label beyond which a figure's legend goes under its panels."""


def palette(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, stable for the order given."""
    tab20 = matplotlib.colormaps["tab20"]
    cols = [*OKABE_ITO, *(matplotlib.colors.to_hex(tab20(i)) for i in range(20))]
    return {n: cols[i % len(cols)] for i, n in enumerate(names)}


@dataclass
class FigureSpec:
    """A drawn figure, its file stem and the caption the page prints under it."""

    name: str
    title: str
    caption: str
    figure: Figure


@dataclass
class SavedFigure:
    """A figure written as PNG and SVG; ``png`` is kept for embedding."""

    name: str
    title: str
    caption: str
    png: bytes
    png_path: Path
    svg_path: Path


def save(spec: FigureSpec, outdir: Path) -> SavedFigure:
    """Write ``outdir/NAME.png`` and ``outdir/NAME.svg`` and return the PNG bytes."""
    outdir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        spec.figure.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": None})
        svg_path = outdir / f"{spec.name}.svg"
        spec.figure.savefig(svg_path, format="svg", metadata={"Date": None})
    png_path = outdir / f"{spec.name}.png"
    png_path.write_bytes(buf.getvalue())
    return SavedFigure(spec.name, spec.title, spec.caption, buf.getvalue(), png_path, svg_path)


def new_figure(width: float = 9.0, height: float = 4.6) -> Figure:
    """A blank figure with the report's style."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
    # Room between side-by-side panels, so one's last tick label never meets the next one's.
    fig.get_layout_engine().set(wspace=0.06)  # type: ignore[union-attr, call-arg]
    return fig


def declutter(fig: Figure, texts: Sequence[matplotlib.text.Annotation], step: float = 8.0,
              tries: int = 16) -> None:
    """Move annotations (placed in offset points) up or down, a step at a time, until none
    overlaps an earlier one: labels never overprint each other."""
    if not texts:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # the constrained layout, so extents are final
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    placed: list[Any] = []
    for a in texts:
        dx, dy = a.xyann
        for k in range(tries):
            box = a.get_window_extent(renderer)
            if not any(box.overlaps(p) for p in placed):
                break
            a.xyann = (dx, dy + (1 if k % 2 == 0 else -1) * step * (k // 2 + 1))
        placed.append(a.get_window_extent(renderer))


def figure_legend(fig: Figure, ax: Axes, extra: Sequence[Artist] = (),
                  below: int = 0) -> None:
    """The legend of ``ax`` (and ``extra`` handles) beside the figure's panels, so it never
    covers a curve however the curves run: right of them, or under them in ``below``
    columns (two when a label is longer than ``LONG_LABEL``: the panels keep their width)."""
    handles, labels = ax.get_legend_handles_labels()
    labels += [str(a.get_label()) for a in extra]
    if not below and max(map(len, labels), default=0) > LONG_LABEL:
        below = 2
    fig.legend([*handles, *extra], labels, ncols=max(below, 1),
               loc="outside lower center" if below else "outside right upper")


def time_panel(ax: Axes, x: np.ndarray, series: np.ndarray, names: Sequence[str],
               colours: dict[str, str], labels: dict[str, str] | None = None,
               bounds: Bounds = COUNT) -> None:
    """Mean line and 95% band over replications of ``series[replication, strategy, day]``,
    the band clipped to ``bounds`` (counts: >= 0; shares: ``PERCENT``)."""
    mean, lo, hi = band(series, bounds)
    for s, name in enumerate(names):
        c = colours[name]
        ax.plot(x, mean[s], color=c, lw=1.8, label=(labels or {}).get(name, name))
        if not np.all(np.isnan(lo[s])):
            ax.fill_between(x, lo[s], hi[s], color=c, alpha=0.2, lw=0)


def _legend_labels(names: Sequence[str], baseline: str, rec: Recommendation) -> dict[str, str]:
    out = {}
    for n in names:
        tags = [t for t, on in (("baseline", n == baseline), ("recommended", n == rec.strategy))
                if on]
        out[n] = f"{n} ({', '.join(tags)})" if tags else n
    return out


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), np.nan)


def _bars(ax: Axes, groups: Sequence[str], values: np.ndarray, names: Sequence[str],
          colours: dict[str, str], decimals: int = 0, label_bars: bool = True,
          bounds: Bounds = COUNT) -> None:
    """Grouped bars of ``values[replication, strategy, group]`` with 95% CI error bars.

    Interval ends are clipped to ``bounds`` (a share cannot pass 100%).
    """
    width = 0.8 / len(names)
    x = np.arange(len(groups))
    for s, name in enumerate(names):
        est = [estimate(values[:, s, g], bounds) for g in range(len(groups))]
        mean = np.array([e.mean for e in est])
        lo = np.array([e.lo for e in est])
        hi = np.array([e.hi for e in est])
        err = np.clip(np.array([mean - lo, hi - mean]), 0.0, None)
        pos = x - 0.4 + width * (s + 0.5)
        ax.bar(pos, mean, width, color=colours[name], label=name,
               yerr=None if np.isnan(err).all() else err, capsize=2,
               error_kw={"lw": 0.8, "ecolor": "#333333"})
        if label_bars and len(names) * len(groups) <= 40:
            tops = np.fmax(mean, hi)
            for xi, m, top in zip(pos, mean, tops, strict=True):
                if not np.isnan(m):  # upright only while the bars are wide enough for it
                    ax.annotate(f"{m:,.{decimals}f}", (xi, top), xytext=(0, 2),
                                textcoords="offset points", ha="center", va="bottom",
                                fontsize=6.5, color="#333333",
                                rotation=90 if len(names) > 3 else 0)
    ax.set_xticks(x, list(groups))
    ax.margins(y=0.18)  # room above the tallest bar for its label


def simulation_figures(run: Run, values: dict[str, np.ndarray], baseline: str,
                       rec: Recommendation) -> list[FigureSpec]:
    """Every figure of the simulation report, in page order."""
    names = run.strategies
    colours = palette(names)
    labels = _legend_labels(names, baseline, rec)
    x = np.arange(1, run.days + 1)
    t = run.total
    installs = t("installs").sum(axis=-1)  # [r, s]
    specs = [_optin(x, t, names, colours, labels), _funnel(t, installs, names, colours),
             _platforms(run, names, colours), _dialogs(x, t, names, colours, labels),
             _annoyance(x, t, installs, names, colours, labels),
             _reach(x, t, names, colours, labels)]
    if len(names) > 1:
        specs.append(_differences(values, names, baseline, colours))
    return specs


def _optin(x: np.ndarray, t: Getter, names: Sequence[str], colours: dict[str, str],
           labels: dict[str, str]) -> FigureSpec:
    fig = new_figure()
    ax = fig.add_subplot()
    share = _ratio(t("opted_in_devices"), t("active_devices"), 100.0)
    time_panel(ax, x, share, names, colours, labels, PERCENT)
    ax.set_title("Opt-in share of installed devices, all platforms")
    ax.set_xlabel("day since the first install (end of day)")
    ax.set_ylabel("opted-in devices, % of installed devices")
    ax.set_xlim(1, x[-1])
    ax.set_ylim(bottom=0)
    figure_legend(fig, ax)
    return FigureSpec("optin_share", "Opt-in share over time", (
        "Devices with notifications allowed, as a share of devices with the app installed at "
        "the end of each day. Lines: mean over replications; bands: 95% t-intervals. Android 12 "
        "and Fire OS 8 devices are opted in by default (no dialog)."), fig)


FUNNEL = (("soft_prompts_shown", "soft prompts\nshown"),
          ("soft_prompts_accepted", "soft prompts\naccepted"),
          ("os_dialogs_shown", "OS dialogs\nshown"), ("os_dialogs_allowed", "OS dialogs\nallowed"))
SETTINGS = (("settings_opened", "settings\nopened"), ("settings_enabled", "notifications\nenabled"))


def _funnel(t: Getter, installs: np.ndarray, names: Sequence[str],
            colours: dict[str, str]) -> FigureSpec:
    fig = new_figure(10.0, 4.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    for ax, stages, title in ((left, FUNNEL, "Soft prompt -> OS dialog"),
                              (right, SETTINGS, "Settings path")):
        vals = np.stack([_ratio(t(f).sum(axis=-1), installs, 1000.0) for f, _ in stages], -1)
        _bars(ax, [lab for _, lab in stages], vals, names, colours)
        ax.set_title(title)
        ax.set_ylabel("per 1,000 installs, whole horizon")
        ax.grid(axis="x", visible=False)
    figure_legend(fig, left)  # off the bars and their labels
    fig.suptitle("The prompt funnel per strategy")
    return FigureSpec("funnel", "Funnel", (
        "Counts over the whole horizon per 1,000 installs (bars: mean over replications; "
        "whiskers: 95% t-intervals). OS dialogs include the ones the OS shows by itself at first "
        "launch (Android 13 apps targeting API 32 or lower). Notifications enabled in settings "
        "include users who re-enable by themselves after a denial."), fig)


def _platforms(run: Run, names: Sequence[str], colours: dict[str, str]) -> FigureSpec:
    opted = run.platform_cube("opted_in_devices")[..., -1]
    active = run.platform_cube("active_devices")[..., -1]
    installs = run.platform_cube("installs").sum(axis=-1)  # [r, s, p]
    keep = [p for p in range(len(PLATFORMS)) if installs[:, 0, p].sum() > 0]
    share = _ratio(opted, active, 100.0)[:, :, keep]
    groups = [f"{PLATFORM_LABELS[PLATFORMS[p]]}\n{installs[:, 0, p].mean():,.0f} installs"
              for p in keep]
    fig = new_figure()
    ax = fig.add_subplot()
    _bars(ax, groups, share, names, colours, decimals=1, bounds=PERCENT)
    ax.set_title(f"Opt-in share of installed devices by platform, day {run.days}")
    ax.set_ylabel("opted-in devices, % of installed devices")
    ax.set_ylim(0, min(130.0, float(np.nanmax(share, initial=1.0)) * 1.25 + 6))
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= 100])
    ax.grid(axis="x", visible=False)
    figure_legend(fig, ax)
    return FigureSpec("platforms", "By platform", (
        f"Opt-in share at the horizon (day {run.days}) per platform; installs per platform are "
        "the mean per replication. Whiskers: 95% t-intervals over replications, cut at 0 and "
        "100%. Platforms with few devices have wide intervals."), fig)


def _dialogs(x: np.ndarray, t: Getter, names: Sequence[str], colours: dict[str, str],
             labels: dict[str, str]) -> FigureSpec:
    fig = new_figure(10.0, 4.4)
    left, right = fig.subplots(1, 2)
    cum_inst = np.cumsum(t("installs"), axis=-1)
    time_panel(left, x, _ratio(np.cumsum(t("os_dialogs_shown"), axis=-1), cum_inst, 1000.0),
               names, colours, labels)
    left.set_title("OS dialogs used up (cumulative)")
    left.set_ylabel("OS dialogs shown per 1,000 installs to date")
    time_panel(right, x, _ratio(t("blocked_devices"), t("active_devices"), 100.0), names,
               colours, labels, PERCENT)
    right.set_title("Devices blocked for good")
    right.set_ylabel("% of installed devices")
    for ax in (left, right):
        ax.set_xlabel("day since the first install")
        ax.set_xlim(1, x[-1])
        ax.set_ylim(bottom=0)
    figure_legend(fig, left)
    return FigureSpec("dialogs_blocked", "OS dialogs used up and devices blocked", (
        "Left: OS permission dialogs shown so far per 1,000 installs so far; each platform "
        "allows only a few (iOS one per install, Android 13 two denials). Right: installed "
        "devices whose OS dialog can no longer be shown and that are not opted in (only "
        "Settings can turn notifications on). Bands: 95% t-intervals."), fig)


def _annoyance(x: np.ndarray, t: Getter, installs: np.ndarray, names: Sequence[str],
               colours: dict[str, str], labels: dict[str, str]) -> FigureSpec:
    # The legend goes below (the right panel's names need the width), in as many columns
    # as fit; the figure grows by its rows and by names written upright under the bars.
    columns = 3 if max(len(labels[n]) for n in names) <= 30 else 2
    rotated = 0.065 * max(map(len, names)) if len(names) > 3 else 0.0
    fig = new_figure(10.0, 4.4 + 0.2 * math.ceil((len(names) + 2) / columns) + rotated)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    cum = _ratio(np.cumsum(t("annoyance_uninstalls"), axis=-1),
                 np.cumsum(t("installs"), axis=-1), 1000.0)
    time_panel(left, x, cum, names, colours, labels)
    left.set_title("Uninstalls caused by prompts (cumulative)")
    left.set_ylabel("per 1,000 installs to date")
    left.set_xlabel("day since the first install")
    left.set_xlim(1, x[-1])
    left.set_ylim(bottom=0)
    annoy = _ratio(t("annoyance_uninstalls").sum(axis=-1), installs, 1000.0)
    other = _ratio((t("uninstalls") - t("annoyance_uninstalls")).sum(axis=-1), installs, 1000.0)
    pos = np.arange(len(names))
    a = np.nanmean(annoy, axis=0)
    o = np.nanmean(other, axis=0)
    right.bar(pos, o, color=[colours[n] for n in names], alpha=0.3, label="other uninstalls")
    right.bar(pos, a, bottom=o, color=[colours[n] for n in names], label="caused by prompts")
    for p, ai, oi in zip(pos, a, o, strict=True):
        right.annotate(f"{ai:.1f}", (p, oi + ai), xytext=(0, 2), textcoords="offset points",
                       ha="center", fontsize=7.5)
    right.margins(y=0.12)
    if len(names) > 3:
        right.set_xticks(pos, list(names), rotation=90)
    else:
        right.set_xticks(pos, list(names))
    right.set_title("All uninstalls, whole horizon")
    right.set_ylabel("per 1,000 installs (mean)")
    right.grid(axis="x", visible=False)
    figure_legend(fig, left, [
        matplotlib.patches.Patch(color="#555555", alpha=0.3, label="right: other causes"),
        matplotlib.patches.Patch(color="#555555",
                                 label="right: caused by prompts (number on top)")], below=columns)
    return FigureSpec("annoyance", "Uninstalls caused by prompts", (
        "A declined soft prompt makes some users uninstall; the chance grows with each earlier "
        "impression (an assumption, see below). Left: cumulative per 1,000 installs with 95% "
        "bands. Right: all uninstalls per 1,000 installs, the solid part caused by prompts."),
        fig)


REACH = ((201, "reach_201", "201: receiving push\n(opted in or provisional)"),
         (200, "reach_200", "200: token,\nstate unknown"),
         (202, "reach_202", "202: opted out\non every device"))


def _reach(x: np.ndarray, t: Getter, names: Sequence[str], colours: dict[str, str],
           labels: dict[str, str]) -> FigureSpec:
    fig = new_figure(11.0, 4.2)
    axes = fig.subplots(1, 3, sharex=True)
    for ax, (_, col, title) in zip(axes, REACH, strict=True):
        time_panel(ax, x, t(col), names, colours, labels)
        ax.set_title(title)
        ax.set_xlabel("day since the first install")
        ax.set_xlim(1, x[-1])
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    axes[0].set_ylabel("users (user x platform), end of day")
    figure_legend(fig, axes[0])
    fig.suptitle("Reachability codes (MoEngage) over time")
    return FigureSpec("reachability", "Reachability 200 / 201 / 202", (
        "Users counted per user and platform, as MoEngage reports: 201 = receiving push on at "
        "least one device with a valid token (opted in, or on iOS provisional delivery: this "
        "is why 201 can rank a provisional strategy higher than the opt-in share does); "
        "200 = valid token on an SDK too old to report the "
        "permission; 202 = opted out on every device with a valid token. 200 and 201 count as "
        "reachable. Bands: 95% t-intervals."), fig)


def _differences(values: dict[str, np.ndarray], names: Sequence[str], baseline: str,
                 colours: dict[str, str]) -> FigureSpec:
    b = list(names).index(baseline)
    others = [n for n in names if n != baseline]
    fig = new_figure(10.0, 1.6 + 0.45 * len(others))
    axes = fig.subplots(1, 2, sharey=True)
    fig.get_layout_engine().set(wspace=0.15)  # type: ignore[union-attr, call-arg]
    for ax, key, title in ((axes[0], "value", "Value under the objective"),
                           (axes[1], "prompt_uninstalls_per_1k",
                            "Uninstalls caused by prompts")):
        v = values[key]
        for i, n in enumerate(others):
            s = list(names).index(n)
            e = estimate(v[:, s] - v[:, b])
            err = None if np.isnan(e.lo) else [[e.mean - e.lo], [e.hi - e.mean]]
            ax.errorbar([e.mean], [i], xerr=err, fmt="o", color=colours[n], capsize=3, ms=6)
        ax.axvline(0, color="#333333", lw=0.8)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
    # One label under both panels (the same unit): with a long baseline name, one label per
    # panel ran off the figure's edge.
    fig.supxlabel(f"difference from {baseline}, per 1,000 installs",
                  fontsize=STYLE["axes.labelsize"])
    axes[0].set_yticks(range(len(others)), others)
    axes[0].set_ylim(-0.6, len(others) - 0.4)
    axes[0].invert_yaxis()
    fig.suptitle(f"Each strategy minus the baseline ({baseline}), paired by replication")
    return FigureSpec("differences", "Paired differences from the baseline", (
        "Differences taken within each replication (the strategies share common random "
        "numbers), then averaged; whiskers are 95% t-intervals over replications. An interval "
        "that does not cross zero is a significant difference."), fig)
