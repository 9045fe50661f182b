"""Issue 23 item 4 / issue 26 item 6: the per-platform picks are decided by one function
(``sim.analysis.platform_picks``), so the CLI's line, the report's per-platform table and
``Result.decision()`` name the same strategy for every platform, even where the highest
mean is not the pick (the rule keeps the baseline when the best does not beat it
significantly)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim import run
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
SMALL = {"devices": 2000, "days": 40, "replications": 3}


def _cli_picks(line: str) -> dict[str, str]:
    head = line.split(";")[0].split(": ", 1)[1]
    return {m[0]: m[1] for m in re.findall(r"(\w+) (\w+) \([\d.]+\)", head)}


def _report_picks(html: str) -> dict[str, str]:
    section = html[html.index("<h2>Per platform</h2>"):]
    table = section[:section.index("</table>")]
    names = re.findall(r"<th>(\w+)</th>", table)[1:]
    picks = {}
    for row in re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", table):
        cells = re.findall(r"<td class=\"([^\"]*)\">", row[1])
        picks[row[0]] = next(n for n, c in zip(names, cells, strict=True) if "pick" in c)
    return picks


def test_cli_report_and_api_name_the_same_picks(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    argv = ["simulate", str(QUICKSTART), "--devices", "2000", "--days", "40",
            "--replications", "3", "--jobs", "1", "--no-progress", "--out", str(out),
            "--report"]
    assert main(argv) == 0
    line = next(x for x in capsys.readouterr().out.splitlines()
                if x.startswith("picks per platform"))
    cli = _cli_picks(line)
    report = _report_picks((out / "report.html").read_text())
    monkeypatch.chdir(tmp_path)
    decision = run(QUICKSTART, **SMALL, jobs=1).decision()
    assert decision.picks is not None
    api = decision.picks.picks
    assert set(cli) == {"ios", "android", "huawei", "amazon", "web"}
    assert cli == report == api
    # The case the old CLI line got wrong: a platform whose highest mean is not its pick.
    by_mean = {p: max(r.value, key=lambda n: r.value[n].mean)
               for p, r in decision.platforms.items()}
    assert any(by_mean[p] != api[p] for p in api)
    # The composite policy's gain over the best single strategy is stated with its interval.
    assert re.search(r"composite policy [\d.]+ vs best single \w+ [\d.]+: [+-][\d.]+ "
                     r"\(95% CI [+-][\d.]+ to [+-][\d.]+\) per 1,000 installs", line)
    assert 'id="composite"' in (out / "report.html").read_text()
