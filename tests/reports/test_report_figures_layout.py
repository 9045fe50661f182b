"""Issue 13 item 14: the report's figures with six strategies (the most any shipped
scenario compares): no two labels overprint each other, and each strategy keeps one
colour across every figure. Issue 23 item 7: in every figure of every page (the report
with six strategies and with eight long names, with prior draws, the optimizer's front,
the forecast, the load test), no legend covers a curve and no label is cut off at the
figure's edge."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import page_samples
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path as LinePath
from matplotlib.text import Text
from report_helpers import WIDE, raced_toy, small_scenario

from reports.compare import metric_values, raw_outcomes
from reports.decision import decide_run
from reports.decision_figures import sensitivity, tradeoff
from reports.figures import FigureSpec, palette, simulation_figures
from reports.forecast_page import forecast_figures
from reports.load import load_figures, read_load
from reports.optimize_figures import front
from reports.rundir import read_run
from sim.engine.output import write_run
from sim.engine.runner import simulate
from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def report_figures(run_dir: Path) -> list[FigureSpec]:
    """Every figure of the report of ``run_dir``, as ``reports.simulation`` draws them."""
    run = read_run(run_dir)
    names = run.strategies
    base = run.scenario.baseline or names[0]
    values = metric_values(run.total, run.scenario.objective)
    d = decide_run(run, raw_outcomes(values), base)
    colours = palette(names)
    specs = [tradeoff(raw_outcomes(values), names, colours, d.overall)]
    if d.contests:
        specs.append(sensitivity(d.overall, names, colours, d.contests[0], d.draws))
    return specs + simulation_figures(run, values, base, d.overall)


@pytest.fixture(scope="module")
def every_figure(specs: tuple[list[FigureSpec], dict[str, str]], psa_run: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, FigureSpec]]:
    """(where, figure) for every figure of every page: the six-strategy report, a report of
    eight long names, a report with prior draws, the front, the forecasts, the load test."""
    tmp = tmp_path_factory.mktemp("figures")
    wide = small_scenario(strategies=WIDE, baseline="once_on_app_open", devices=1500, days=20)
    write_run(simulate(wide), tmp / "wide", seconds=0.0, jobs=1)
    out = [("showdown", s) for s in specs[0]]
    out += [("wide", s) for s in report_figures(tmp / "wide")]
    out += [("prior draws", s) for s in report_figures(psa_run)]
    out += [("optimize", front(raced_toy()))]
    for fitted in (False, True):
        fc = page_samples.forecast(tmp / f"forecast-{fitted}", fitted)
        out += [(f"forecast{' fitted' * fitted}", s) for s in forecast_figures(fc)]
    out += [("load", s) for s in load_figures(read_load(page_samples.LOAD))]
    assert {s.name for _, s in out} >= {"sensitivity", "front", "forecast_fit", "load_latency"}
    return out


def drawn(fig: Figure) -> object:
    """The renderer after the figure's layout is done (extents are final)."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def covers(box: matplotlib.transforms.Bbox, line: Line2D) -> bool:
    """Whether ``box`` (display units) covers part of ``line``: a segment crossing it or a
    marker inside it."""
    xy = line.get_transform().transform(np.column_stack(line.get_data()).astype(float))
    ok = np.isfinite(xy).all(axis=1)
    if line.get_linestyle() not in ("None", "none", "", " "):
        for i in range(len(xy) - 1):
            if ok[i] and ok[i + 1] and LinePath(xy[i:i + 2]).intersects_bbox(box, filled=False):
                return True
    if line.get_marker() not in (None, "None", "none", "", " "):
        return any(box.contains(x, y) for x, y in xy[ok])
    return False


def test_no_legend_covers_a_curve(every_figure: list[tuple[str, FigureSpec]]) -> None:
    """Every legend's box (in an axes or the figure's) against every line of every panel:
    mean curves, interval whiskers, reference lines, observed points."""
    found = []
    for where, spec in every_figure:
        fig = spec.figure
        r = drawn(fig)
        legends = [*(ax.get_legend() for ax in fig.axes if ax.get_legend()), *fig.legends]
        for leg in legends:
            box = leg.get_window_extent(r)
            found += [f"{where} {spec.name}: the legend covers {line.get_label()!r} in "
                      f"{ax.get_title()!r}" for ax in fig.axes for line in ax.get_lines()
                      if line.get_visible() and covers(box, line)]
    assert found == []


def test_no_label_is_cut_off(every_figure: list[tuple[str, FigureSpec]]) -> None:
    """Every axis label and title lies inside the figure, and so does everything drawn
    (the figure's tight box: tick labels, annotations, legends)."""
    found = []
    for where, spec in every_figure:
        fig = spec.figure
        r = drawn(fig)
        edge = fig.bbox.padded(0.5)
        for ax in fig.axes:
            for t in (ax.xaxis.label, ax.yaxis.label, ax.title):
                b = t.get_window_extent(r)
                if t.get_visible() and t.get_text() and not (
                        edge.containsx(b.x0) and edge.containsx(b.x1)
                        and edge.containsy(b.y0) and edge.containsy(b.y1)):
                    found.append(f"{where} {spec.name}: {t.get_text()!r} at {b.bounds}")
        tight = fig.get_tightbbox(r).padded(-0.005)
        if not fig.bbox_inches.padded(0.005).contains(tight.x0, tight.y0) or \
                not fig.bbox_inches.padded(0.005).contains(tight.x1, tight.y1):
            found.append(f"{where} {spec.name}: drawn over {tight.bounds} of "
                         f"{fig.bbox_inches.bounds} inches")
    assert found == []


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FigureSpec], dict[str, str]]:
    sc = load_scenario(ROOT / "scenarios" / "frequency_showdown.toml", devices=2000, days=45,
                       replications=2)
    out = tmp_path_factory.mktemp("six") / "run"
    write_run(simulate(sc), out, seconds=0.0, jobs=1)
    run = read_run(out)
    names = run.strategies
    assert len(names) == 6
    values = metric_values(run.total, sc.objective)
    d = decide_run(run, raw_outcomes(values), names[0])
    colours = palette(names)
    return ([tradeoff(raw_outcomes(values), names, colours, d.overall),
             *simulation_figures(run, values, names[0], d.overall)], colours)


def off_view_tick_labels(fig: Figure) -> set[int]:
    """The ids of tick labels whose tick lies outside its axis's view: matplotlib keeps them
    (visible) but does not draw them."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not lo - slack <= tick.get_loc() <= hi + slack:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


def test_no_two_labels_overlap(every_figure: list[tuple[str, FigureSpec]]) -> None:
    for where, spec in every_figure:
        fig = spec.figure
        r = drawn(fig)
        hidden = off_view_tick_labels(fig)
        boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
        for i, (ta, a) in enumerate(boxes):
            for tb, b in boxes[i + 1:]:
                w = min(a.x1, b.x1) - max(a.x0, b.x0)
                h = min(a.y1, b.y1) - max(a.y0, b.y0)
                assert w <= 1 or h <= 1, \
                    f"{where} {spec.name}: {ta!r} overlaps {tb!r} ({w:.0f} x {h:.0f} px)"


def test_one_colour_per_strategy_in_every_figure(
        specs: tuple[list[FigureSpec], dict[str, str]]) -> None:
    figs, colours = specs
    seen: dict[str, set[str]] = {n: set() for n in colours}
    for spec in figs:
        for ax in spec.figure.axes:
            for line in ax.get_lines():
                assert isinstance(line, Line2D)
                label = str(line.get_label()).split(" (")[0]
                if label in colours:
                    assert to_hex(line.get_color()) == colours[label].lower(), (spec.name, label)
                    seen[label].add(spec.name)
            for c in ax.containers:
                if isinstance(c, BarContainer) and c.get_label() in colours:
                    name = str(c.get_label())
                    for patch in c.patches:
                        got = to_hex(patch.get_facecolor())
                        assert got == colours[name].lower(), (spec.name, name)
                    seen[name].add(spec.name)
    for name, where in seen.items():
        assert len(where) >= 4, (name, where)
    assert len(set(colours.values())) == len(colours)
    assert matplotlib.get_backend()  # figures are drawn off-screen (Agg)
