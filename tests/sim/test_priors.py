"""Every behaviour prior is a distribution with a source, peaked at the calibrated default."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from sim.model import priors
from sim.model.behaviour import Behaviour


def test_every_behaviour_field_is_a_prior_or_a_setting() -> None:
    """A new field cannot reach a run without a range and a source (or a reason)."""
    fields = {f.name for f in msgspec.structs.fields(Behaviour)}
    assert fields == {p.field for p in priors.PRIORS} | set(priors.SETTINGS)


@pytest.mark.parametrize("prior", priors.PRIORS, ids=lambda p: p.name)
def test_each_prior_has_a_range_around_its_default_and_a_source(prior: priors.Prior) -> None:
    """The default lies in the range (a scale's 1 too); the source is a publication or an
    assumption that says why its range is what it is."""
    v = prior.value(Behaviour())
    assert prior.low <= v <= prior.high
    assert len(prior.source) > 20
    if prior.source.startswith("assumption"):
        assert prior.source.startswith("assumption: ")


def test_the_pert_is_peaked_at_the_default_and_bounded() -> None:
    """Quantiles stay in the range and the median sits near the mode of a symmetric PERT."""
    p = priors.BY_NAME["receptiveness_mean"]
    q = p.quantile(np.linspace(0.0, 1.0, 11), 0.45)
    assert q[0] == pytest.approx(0.20) and q[-1] == pytest.approx(0.70)
    assert np.all(np.diff(q) > 0)
    assert q[5] == pytest.approx(0.45, abs=0.01)


def test_apply_sets_each_kind_of_prior() -> None:
    """Scalars, per-platform dialog answers (the others rescaled to sum to 1), per-family
    uninstall chances and the segment multipliers."""
    b = priors.apply(Behaviour(), {"receptiveness_mean": 0.3, "dialog_cold.android13": 0.6,
                                   "uninstall_after_churn.android": 0.5, "gap_scale": 2.0})
    assert b.receptiveness_mean == 0.3
    for name in priors.ANDROID_13_LIKE:
        odds = b.dialog_cold[name]
        assert odds.allowed == 0.6
        assert odds.allowed + odds.denied + odds.dismissed + odds.ignored == pytest.approx(1.0)
    assert b.dialog_cold["ios"] == Behaviour().dialog_cold["ios"]
    assert b.uninstall_after_churn["android"] == 0.5
    base = Behaviour().segments
    assert [s.gap_median_hours for s in b.segments] == [2 * s.gap_median_hours for s in base]
    assert [s.lifetime_mean_days for s in b.segments] == [s.lifetime_mean_days for s in base]


def test_the_docs_list_every_prior() -> None:
    """docs/behaviour-priors.md carries every prior of the registry with its range."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "behaviour-priors.md").read_text()
    for p in priors.PRIORS:
        rng = f"x {p.low:g} - {p.high:g}" if p.scale else f"{p.low:g} - {p.high:g}"
        assert f"| `{p.name}` |" in doc and rng in doc, p.name
