"""Issue 13 item 14: the report's figures with six strategies (the most any shipped
scenario compares): no two labels overprint each other, and each strategy keeps one
colour across every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D
from matplotlib.text import Text

from reports.compare import metric_values, raw_outcomes
from reports.decision import decide_run
from reports.decision_figures import tradeoff
from reports.figures import FigureSpec, palette, simulation_figures
from reports.rundir import read_run
from sim.engine.output import write_run
from sim.engine.runner import simulate
from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


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


def test_no_two_labels_overlap(specs: tuple[list[FigureSpec], dict[str, str]]) -> None:
    for spec in specs[0]:
        fig = spec.figure
        FigureCanvasAgg(fig)
        fig.draw_without_rendering()
        r = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip()]
        for i, (ta, a) in enumerate(boxes):
            for tb, b in boxes[i + 1:]:
                w = min(a.x1, b.x1) - max(a.x0, b.x0)
                h = min(a.y1, b.y1) - max(a.y0, b.y0)
                assert w <= 1 or h <= 1, \
                    f"{spec.name}: {ta!r} overlaps {tb!r} ({w:.0f} x {h:.0f} px)"


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
