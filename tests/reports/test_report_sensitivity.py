"""A sensitivity run end to end: ``simulate --prior-draws`` writes the draws and P(best); the
report says what would change the answer and gives the per-platform policy."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from report_helpers import TINY_TOML

from sim.cli import main


@pytest.mark.slow
def test_the_run_records_the_draws_and_p_best(psa_run: Path) -> None:
    """priors.csv has one row per draw; summary.csv gives P(best) summing to 1 over the
    strategies of each view, and an expected loss of 0 only for a strategy always best."""
    draws = pd.read_csv(psa_run / "priors.csv")
    assert len(draws) == 12 and "receptiveness_mean" in draws.columns
    assert draws["receptiveness_mean"].between(0.2, 0.7).all()
    summary = pd.read_csv(psa_run / "summary.csv")
    for _, view in summary.groupby(["platform", "profile"]):
        assert view["p_best"].sum() == pytest.approx(1.0)
        assert ((view["expected_loss"] == 0) == (view["p_best"] == 1)).all()
    assert json.loads((psa_run / "scenario.json").read_text())["sensitivity"]["draws"] == 12


def test_the_report_says_what_would_change_the_answer(psa_run: Path) -> None:
    """P(best) and expected loss per strategy, the drivers' table, the sensitivity figure."""
    page = (psa_run / "report.html").read_text()
    for text in ("P(best)", "expected loss", "What would change the answer",
                 "largest significant effects per SD", "Per platform",
                 "Per OS profile (cohort", "Pareto-efficient"):
        assert text in page, text
    assert "12 prior draws)." in page and "12 replications" not in page  # draws, as named
    assert "Bonferroni correction over the" in page
    assert "Monte Carlo SE" in page
    assert (psa_run / "figures" / "sensitivity.png").is_file()
    assert (psa_run / "figures" / "tradeoff.png").is_file()


def test_prior_draws_refuse_replications(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Each draw is one replication: asking for both is one clear error, nothing written."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    assert main(["simulate", str(toml), "--prior-draws", "5", "--replications", "3",
                 "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--prior-draws: each draw is one replication" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
