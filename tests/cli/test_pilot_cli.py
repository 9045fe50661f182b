"""``promptsim pilot``: the commands on small settings, their files and their one-line errors."""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from sim.cli import main
from sim.model.scenario import parse_scenario
from tests.analysis.pilot_helpers import SCENARIO, stats_under, truth

FAST = ["--devices", "600", "--prior-draws", "4", "--map-devices", "400", "--jobs", "1"]


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of a 50/50 experiment under receptiveness 0.62 and a cold iOS rate of 0.46."""
    body = stats_under(truth({"receptiveness_mean": 0.62, "dialog_cold.ios": 0.46}),
                       devices=3000, days=7)
    path = tmp_path_factory.mktemp("stats") / "stats.json"
    path.write_text(json.dumps(body))
    return path


def test_fit_writes_the_calibrated_scenario_and_says_what_changed(
        stats_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """calibrated.toml is a valid scenario whose fitted priors carry the fitted range and
    the experiment as their source; the output names each fit and each platform's call."""
    code = main(["pilot", "fit", str(SCENARIO), "--stats", str(stats_file), "--out",
                 str(tmp_path), *FAST])
    out = capsys.readouterr().out
    assert code == 0
    data = tomllib.loads((tmp_path / "calibrated.toml").read_text())
    sc = parse_scenario(data, "calibrated.toml")
    lo, hi = sc.sensitivity.ranges["dialog_cold.ios"]
    assert lo <= sc.behaviour.dialog_cold["ios"].allowed <= hi
    assert hi < 0.58  # the assumed 0.58 is ruled out by a truth of 0.46
    assert sc.sensitivity.sources["receptiveness_mean"].startswith(
        "pilot experiment pilot-1 (to 2026-12-07, n=3,000 units)")
    assert "dialog_cold.ios" in out and "simulation" in out
    assert "ios" in out and ("resolved" in out)
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert {f["prior"] for f in fit["fits"]} >= {"dialog_cold.ios", "receptiveness_mean"}
    judged = {v["platform"] for v in fit["verdicts"]}
    assert judged and judged | set(fit["thin"]) == {"ios", "android", "web"}
    assert "web: not judged" in out  # 10% of 600 devices is under the 300 needed
    page = tmp_path / "pilot.html"
    assert main(["pilot", "report", str(SCENARIO), "--stats", str(stats_file), "--fit",
                 str(tmp_path / "fit.json"), "--out", str(page), "--devices", "200",
                 "--replications", "2", "--jobs", "1"]) == 0
    assert "Fitted priors beside the assumed ones" in page.read_text()


class _Stats(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        _Stats.seen.append((self.path, self.headers.get("authorization")))
        if self.path != "/v1/experiments/pilot-1/stats":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error":"not_found","field":"experiment_id","detail":"no"}')
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(_Stats.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(stats_file: Path) -> Iterator[str]:
    _Stats.body = stats_file.read_bytes()
    _Stats.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stats)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_fit_reads_the_stats_through_the_api(server: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """--url + --experiment GETs /v1/experiments/{id}/stats with the key as a bearer token;
    an unknown experiment is one line naming --experiment and the service's answer."""
    code = main(["pilot", "fit", str(SCENARIO), "--url", server, "--experiment", "pilot-1",
                 "--api-key", "psk_x", "--out", str(tmp_path), *FAST])
    assert code == 0
    assert _Stats.seen == [("/v1/experiments/pilot-1/stats", "Bearer psk_x")]
    assert (tmp_path / "calibrated.toml").exists()
    capsys.readouterr()
    code = main(["pilot", "fit", str(SCENARIO), "--url", server, "--experiment", "nope",
                 "--out", str(tmp_path / "x"), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--experiment:" in err and "answered 404" in err and "not_found" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("argv", "message"), [
    ([], "--stats: give either --stats FILE.json or --url URL --experiment ID"),
    (["--url", "http://127.0.0.1:9"], "--experiment: the experiment's id is required"),
    (["--stats", "missing.json"], "--stats: cannot read missing.json"),
    (["--stats", "{stats}", "--prior-draws", "2"], "--prior-draws: from 4 to 1000, got 2"),
    (["--stats", "{stats}", "--max-loss", "0"], "--max-loss: must be above 0, got 0.0"),
    (["--url", "ftp://x", "--experiment", "e"], "--url: an http:// or https:// URL"),
])
def test_bad_input_is_one_line_naming_the_flag(
        argv: list[str], message: str, stats_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{stats}", str(stats_file)) for a in argv]
    code = main(["pilot", "fit", str(SCENARIO), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"promptsim pilot fit: error: {message}")
    assert not (tmp_path / "o").exists()


def test_stats_with_a_bad_field_name_it(stats_file: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    body = json.loads(stats_file.read_text())
    body["cells"][2]["os_allowed"] = body["cells"][2]["os_shown"] + 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    assert main(["pilot", "fit", str(SCENARIO), "--stats", str(bad), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cells[2].os_allowed: allowed + denied + dismissed" in err


DESIGN_FAST = ["--devices", "700", "--prior-draws", "8", "--jobs", "1", "--no-progress",
               "--start", "2026-12-01"]


def test_design_writes_the_experiment_the_fit_reads(
        tmp_path: Path, stats_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The experiment file is the contract's PUT body, its numbers go beside it, and pilot fit
    takes it as --experiment-file for the arms' campaigns."""
    out = tmp_path / "experiment.json"
    code = main(["pilot", "design", str(SCENARIO), "--out", str(out), "--experiment-id",
                 "pilot-1", "--installs-per-day", "400", "--min-days", "7", *DESIGN_FAST])
    text = capsys.readouterr().out
    assert code == 0
    body = json.loads(out.read_text())
    assert [a["name"] for a in body["arms"]] == ["cold_baseline", "backoff"]
    assert body["unit"] == "device" and body["start"] == "2026-12-01T00:00:00Z"
    assert body["audience"] == {"platforms": ["ios", "android", "web"], "profiles": []}
    details = json.loads((tmp_path / "experiment.design.json").read_text())
    assert details["days"] >= 7 and details["units"] == details["days"] * 400
    assert "PUT /v1/experiments/pilot-1" in text and "OS dialogs burnt" in text
    assert main(["pilot", "fit", str(SCENARIO), "--stats", str(stats_file),
                 "--experiment-file", str(out), "--out", str(tmp_path / "fit"), *FAST]) == 0
    assert (tmp_path / "fit" / "calibrated.toml").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--max-arms", "1"], "--max-arms: from 2 to 6, got 1"),
    (["--experiment-id", "a b"], "--experiment-id: 1-64 letters"),
    (["--installs-per-day", "0"], "--installs-per-day: must be above 0, got 0"),
    (["--min-days", "0"], "--min-days: from 1 to 180, got 0"),
    (["--devices", "99"], "--devices: at least 100, got 99"),
    (["--prior-draws", "1001"], "--prior-draws: from 8 to 1000, got 1001"),
    (["--max-loss", "-1"], "--max-loss: must be above 0, got -1.0"),
    (["--jobs", "-1"], "--jobs: must be 0 (one per core) or more, got -1"),
])
def test_design_bad_input_is_one_line(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.json"
    assert main(["pilot", "design", str(SCENARIO), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--devices", "99"], "--devices: at least 100, got 99"),
    (["--replications", "1"], "--replications: from 2 to 100, got 1"),
    (["--jobs", "-2"], "--jobs: must be 0 (one per core) or more, got -2"),
])
def test_report_bad_input_is_one_line(argv: list[str], message: str, stats_file: Path,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "pilot.html"
    assert main(["pilot", "report", str(SCENARIO), "--stats", str(stats_file), "--out",
                 str(page), *argv]) == 2
    err = capsys.readouterr().err
    assert err == f"promptsim pilot report: error: {message}\n"
    assert not page.exists()


def test_report_needs_the_fit_of_the_same_experiment(
        stats_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a fit: one line naming --fit; with the fit of another experiment: the same."""
    assert main(["pilot", "report", str(SCENARIO), "--stats", str(stats_file), "--fit",
                 str(tmp_path / "none.json")]) == 2
    assert "--fit: cannot read" in capsys.readouterr().err
    other = tmp_path / "fit.json"
    other.write_text(json.dumps({"experiment_id": "other", "fits": [], "calibrated": {}}))
    assert main(["pilot", "report", str(SCENARIO), "--stats", str(stats_file), "--fit",
                 str(other), "--out", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the fit of experiment 'other'" in err
    assert not (tmp_path / "p.html").exists()


def test_export_writes_the_observed_csv_the_forecast_fit_reads(
        stats_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pilot export of one arm is a CSV that the forecast's reader takes as it is: a row per
    cohort day and platform, consecutive days, and per platform the arm's totals of the stats
    (what the fit matches)."""
    from sim.analysis.fit import COUNTS, observed_cube, read_observed
    from sim.rules.config.platforms import PLATFORMS

    out = tmp_path / "observed.csv"
    assert main(["pilot", "export", "--stats", str(stats_file), "--arm", "backoff",
                 "--out", str(out)]) == 0
    df = read_observed(out)
    body = json.loads(stats_file.read_text())
    cells = [c for c in body["cells"] if c["arm"] == "backoff"]
    assert sorted(df["day"].unique()) == list(range(7))
    assert set(df["platform"]) == {c["platform"] for c in cells}
    cube = observed_cube(df)  # [count, platform, day], as forecast --observed fits it
    fields = dict(zip(COUNTS, ("soft_shown", "soft_accepted", "os_shown", "os_allowed"),
                      strict=True))
    for i, name in enumerate(COUNTS):
        for platform in {c["platform"] for c in cells}:
            want = sum(c[fields[name]] for c in cells if c["platform"] == platform)
            assert cube[i, PLATFORMS.index(platform)].sum() == want > 0, (name, platform)
    capsys.readouterr()
    assert main(["pilot", "export", "--stats", str(stats_file), "--arm", "backoff"]) == 0
    assert capsys.readouterr().out == out.read_text()  # standard output: the same bytes


def test_export_through_the_api_and_its_one_line_errors(
        server: str, stats_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--url reads the stats as pilot fit does; without --arm, an experiment of two arms is
    one line naming them (each arm is its own strategy), as is an unknown arm."""
    assert main(["pilot", "export", "--url", server, "--experiment", "pilot-1",
                 "--api-key", "psk_x", "--arm", "cold_baseline"]) == 0
    assert _Stats.seen == [("/v1/experiments/pilot-1/stats", "Bearer psk_x")]
    assert capsys.readouterr().out.startswith(
        "day,date,platform,soft_prompts_shown,soft_prompts_accepted,os_dialogs_shown,"
        "os_dialogs_allowed\n0,2026-12-01,")
    for argv, message in ([[], "--arm: the experiment has 2 arms, each its own strategy; "
                           "name one of cold_baseline, backoff"],
                          [["--arm", "x"], "--arm: unknown arm 'x'; allowed: cold_baseline, "
                           "backoff"]):
        assert main(["pilot", "export", "--stats", str(stats_file), *argv]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"promptsim pilot export: error: {message}\n"


def test_the_example_observed_csv_is_what_the_reader_takes() -> None:
    """docs/examples/observed.csv, the file the README points to, reads as forecast reads it."""
    from sim.analysis.fit import read_observed

    df = read_observed(Path(__file__).parents[2] / "docs" / "examples" / "observed.csv")
    assert len(df) >= 3 and df["soft_prompts_shown"].sum() > 0
