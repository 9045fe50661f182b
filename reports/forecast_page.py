"""The forecast's figures and its self-contained page (``OUT/forecast.html``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from reports import html as h
from reports.assumptions import behaviour_assumptions
from reports.figures import FigureSpec, SavedFigure, figure_legend, new_figure, save
from sim.analysis.fit import COUNTS, PARAMS, RATIOS
from sim.analysis.forecast import LABELS, SERIES, Forecast, cell, check_days, coverage
from sim.version import __version__

BLUE = "#0072B2"


def _fan(ax: matplotlib.axes.Axes, x: np.ndarray, traj: np.ndarray, colour: str) -> None:
    q = np.nanquantile(traj, (0.025, 0.10, 0.50, 0.90, 0.975), axis=0)
    ax.fill_between(x, q[0], q[4], color=colour, alpha=0.18, lw=0, label="95% interval")
    ax.fill_between(x, q[1], q[3], color=colour, alpha=0.35, lw=0, label="80% interval")
    ax.plot(x, q[2], color=colour, lw=1.8, label="median")


def forecast_figures(fc: Forecast) -> list[FigureSpec]:
    """The user forecast, and (when fitted) the fit against the observed days."""
    x = np.arange(1, fc.rollout.horizon + 1)
    fig = new_figure(10.5, 7.0)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    days_obs = 0 if fc.observed is None else fc.observed.shape[-1]
    for ax, (name, traj) in zip(axes, fc.series.items(), strict=True):
        _fan(ax, x, traj, BLUE)
        if days_obs:
            ax.axvline(days_obs, color="#555555", ls="--", lw=0.9, label="end of observed days")
        ax.set_title(LABELS[name].capitalize())
        ax.set_xlabel("day of the rollout (end of day)")
        ax.set_xlim(1, x[-1])
        ax.set_ylim(bottom=0)
        share = SERIES[name][1] is not None
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter(
            "{x:.0f}%" if share else "{x:,.0f}"))
    figure_legend(fig, axes[0])
    fig.suptitle(f"Forecast: {fc.rollout.installs_per_day:,g} installs/day, strategy "
                 f"{fc.rollout.strategy}")
    specs = [FigureSpec("forecast_users", "Opt-in share, devices and reachable users", (
        f"Median and 80% / 95% intervals over {fc.trajectories} simulated trajectories. The "
        "opt-in share is of installed devices (provisional devices are not opted in and have "
        "their own panel). Reachable users are counted per user and platform (MoEngage): 201 "
        "= receiving push (opted in or provisional), 200 = valid token with unknown state. "
        + " ".join(fc.notes)), fig)]
    if fc.predicted is None or fc.observed is None:
        return specs
    xo = np.arange(1, days_obs + 1)
    pred = fc.predicted.sum(axis=2)  # [trajectory, count, day]
    obs = fc.observed.sum(axis=1)  # [count, day]
    fig = new_figure(11.0, 4.0)
    axes = fig.subplots(1, 3, sharex=True)
    c = {n: i for i, n in enumerate(COUNTS)}
    panels: list[tuple[str, str | None, int, str]] = [
        ("soft prompts shown per day", None, c["soft_prompts_shown"], "count per day")]
    titles = {"acceptance": "soft prompts accepted, % of shown",
              "allow": "OS dialogs allowed, % of shown"}
    for ratio, k, n in RATIOS:
        panels.append((titles[ratio], n, c[k], "% per day"))
    for ax, (title, den, num, unit) in zip(axes, panels, strict=True):
        if den is None:
            traj, seen = pred[:, num], obs[num]
        else:
            d = c[den]
            with np.errstate(divide="ignore", invalid="ignore"):
                traj = 100 * pred[:, num] / pred[:, d]
                seen = np.where(obs[d] > 0, 100 * obs[num] / np.maximum(obs[d], 1), np.nan)
        _fan(ax, xo, np.nan_to_num(traj, nan=np.nanmean(traj)), "#009E73")
        ax.plot(xo, seen, "o", color="#D55E00", ms=4, label="observed")
        ax.set_title(title)
        ax.set_xlabel("observed day")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
    figure_legend(fig, axes[0])
    fig.suptitle("Fit: the observed days against the fitted model (all platforms)")
    specs.append(FigureSpec("forecast_fit", "Goodness of fit on the observed days", (
        "Orange points: the observed daily counts and ratios. Green: median and 80% / 95% "
        "predictive intervals of the same days from the forecast trajectories (fitted "
        "parameters drawn from the posterior)."), fig))
    return specs


def render_forecast(fc: Forecast, figures: list[SavedFigure], scenario_path: str) -> str:
    """The forecast page."""
    r, sc = fc.rollout, fc.scenario
    facts = [
        ("scenario file", scenario_path),
        ("strategy", r.strategy + (f" ({r.why})" if r.why else "")),
        ("installs", f"{r.installs_per_day:,g} per day over {min(r.install_days, r.horizon):g} "
                     "days"),
        ("horizon", f"{r.horizon} days"),
        ("simulated devices", f"{sc.devices:,} per trajectory (counts x {fc.scale:.2f})"),
        ("trajectories", fc.trajectories), ("seed", sc.seed),
        ("promptsim", __version__)]
    rows = []
    for d in check_days(r.horizon):
        rows.append([str(d)] + [cell(name, traj[:, d - 1]) for name, traj in fc.series.items()])
    heads = ["day"] + [f"{LABELS[name]}: median [95%]" for name in fc.series]
    fitted = fc.fit is not None

    def is_fitted(name: str) -> bool:
        return fitted and (name == "receptiveness_mean" or name.startswith("dialog_primed"))

    priors = h.table(["prior", "value", "range, shape", "promptsim default", "source"], [
        (a.what, "fitted, see above (dialog_primed: allow scaled by primed_allow_scale)"
         if is_fitted(a.name) else a.value, a.prior,
         f"differs: {a.default}" if a.overridden else "same", a.source)
        for a in behaviour_assumptions(sc)])
    return h.render("forecast.html", title=f"promptsim forecast: {sc.name}", scenario=sc,
                    rollout=r, facts=facts, notes=fc.notes, figures=figures,
                    days=h.table(heads, rows, numeric=range(1, len(heads))),
                    fit=_fit_view(fc) if fc.fit is not None else None, priors=priors,
                    version=__version__)


def _fit_view(fc: Forecast) -> dict[str, Any]:
    f = fc.fit
    assert f is not None
    rows = []
    for name in PARAMS:
        s = f.summary[name]
        lo, hi = f.prior[name]
        rows.append((name, f"uniform {lo:.3g} - {hi:.3g}", f"{s['q50']:.3f}",
                     f"{s['q10']:.3f} - {s['q90']:.3f}", f"{s['q2.5']:.3f} - {s['q97.5']:.3f}"))
    cov = coverage(fc)
    return {
        "method": f.method,
        "params": h.table(["parameter", "prior", "posterior median", "80% interval",
                           "95% interval"], rows, numeric=(2, 3, 4)),
        "phi": ", ".join(f"{k} {v:.2f}" for k, v in f.phi.items()),
        "simulations": f.simulations,
        "ratios": h.table(["statistic", "platform", "shown", "observed", "fitted", "z"], [
            (x["statistic"], x["platform"], f"{x['trials']:,}", f"{100 * x['observed']:.2f}%",
             f"{100 * x['fitted']:.2f}%",
             h.Cell(f"{x['z']:+.2f}", css="worse" if abs(x["z"]) > 2.5 else ""))
            for x in f.ratios], numeric=(2, 3, 4, 5)),
        "coverage": ", ".join(f"{k.replace('_', ' ')} {100 * v:.0f}%" for k, v in cov.items())}


def write_forecast_page(fc: Forecast, out: Path, scenario_path: str) -> tuple[Path, list[Path]]:
    """Draw and save the figures, then write ``forecast.html``."""
    saved = [save(s, out / "figures") for s in forecast_figures(fc)]
    page = out / "forecast.html"
    page.write_text(render_forecast(fc, saved, scenario_path))
    return page, [p for f in saved for p in (f.png_path, f.svg_path)]
