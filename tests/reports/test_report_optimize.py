"""``optimize.html``: the optimizer's picks, its front and every candidate, on one
self-contained page (``reports.optimize_page``)."""

from __future__ import annotations

import re
from pathlib import Path

from report_helpers import raced_toy

from reports.optimize_page import write_optimize_page


def test_the_page_holds_each_pick_the_front_and_every_candidate(tmp_path: Path) -> None:
    res = raced_toy()
    ios = res.groups["ios"]
    assert len(ios.finalists) == 2 and ios.dropped  # what the page must show both of
    page = write_optimize_page(res, tmp_path, Path("toy.toml"), 1.5)
    text = page.read_text()
    assert (tmp_path / "front.png").stat().st_size > 10_000
    assert (tmp_path / "front.svg").is_file()
    assert text.count("data:image/png;base64,") == 1
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched from outside
    picks = text.split("<h2>The pick per platform</h2>")[1].split("<h2>")[0]
    for label, g in (("iOS", ios), ("Web", res.groups["web"])):
        row = picks.split(f"<td>{label}</td>")[1].split("</tr>")[0]
        assert f"<td>{g.best}</td>" in row
        fresh = g.confirmed
        assert fresh is not None
        assert f"{fresh.mean:.1f} ({fresh.lo:.1f} to {fresh.hi:.1f})" in row  # not the race's
        assert f'<td class="num">{g.value.mean:.1f}</td>' in row
        assert f"{100 * g.means[g.best]['blocked_share']:.1f}%" in row
        assert f"{100 * g.p_best[g.best]:.0f}%" in row
    every = text.split("<h2>Every candidate</h2>")[1]
    ios_rows = every.split("<h3>iOS</h3>")[1].split("<h3>")[0]
    assert ios_rows.count("<tr>") == 1 + len(res.candidates)  # the header and each candidate
    for name, reps in ios.dropped.items():
        assert re.search(rf"<td>{re.escape(name)}</td>(<td>[^<]*</td>){{2}}<td>dropped "
                         rf"after {reps} replications</td>", ios_rows)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in ios_rows.split("<tr>")[2:]]
    assert {r[0] for r in rows} == {c.name for c in res.candidates}
    assert [r[0] for r in rows if r[3] == "the pick"] == [ios.best]
    values = [float(r[6]) for r in rows]
    assert values == sorted(values, reverse=True)  # best first
    assert values[0] == round(ios.means[rows[0][0]]["value"], 1)
    assert "P(best), given the scenario&#39;s priors" in picks
    edge = text.split('id="grid-edge"')[1].split("</section>")[0]
    for label, g in (("iOS", ios), ("Web", res.groups["web"])):
        assert g.edge == ["limit = 9 (the largest tried)"]  # the largest limit wins here
        assert f"{label}: {g.best} is on the edge of the search grid ({g.edge[0]})" in edge
    weights = res.scenario.objective.describe().replace("'", "&#39;")
    assert f"<dt>objective</dt><dd>{weights}</dd>" in text  # what the picks rest on
