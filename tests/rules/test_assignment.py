"""Assignment to arms: the contract's hash, deterministic, and shares that match the weights."""

from __future__ import annotations

import hashlib

from scipy import stats

from sim.rules.assignment import arm_index, unit_draw


def test_draw_is_the_first_eight_bytes_of_sha256_big_endian() -> None:
    """u = sha256("experiment:unit")[:8] read big endian, over 2**64."""
    digest = hashlib.sha256(b"pilot-1:device-42").digest()
    assert unit_draw("pilot-1", "device-42") == int.from_bytes(digest[:8], "big") / 2**64
    assert 0.0 <= unit_draw("pilot-1", "device-42") < 1.0


def test_arm_is_the_first_whose_cumulative_weight_exceeds_the_draw() -> None:
    """The unit of draw 0.766 is in the second arm of (0.5, 0.5), the third of
    (0.25, 0.25, 0.5), and never in an arm of weight 0."""
    assert round(unit_draw("pilot-1", "device-42"), 3) == 0.766
    assert arm_index("pilot-1", "device-42", (0.5, 0.5)) == 1
    assert arm_index("pilot-1", "device-42", (0.25, 0.25, 0.5)) == 2
    assert arm_index("pilot-1", "device-42", (0.8, 0.0, 0.2)) == 0 + 2 * (0.766 >= 0.8)
    assert all(arm_index("x", f"d{i}", (0.5, 0.0, 0.5)) != 1 for i in range(2000))


def test_same_unit_same_arm_and_another_experiment_reshuffles() -> None:
    """Stateless: the same ids give the same arm; a new experiment id draws anew."""
    arms = [arm_index("exp-a", f"d{i}", (0.5, 0.5)) for i in range(1000)]
    assert arms == [arm_index("exp-a", f"d{i}", (0.5, 0.5)) for i in range(1000)]
    other = [arm_index("exp-b", f"d{i}", (0.5, 0.5)) for i in range(1000)]
    assert 400 < sum(a != b for a, b in zip(arms, other, strict=True)) < 600


def test_shares_match_the_weights() -> None:
    """20,000 units over weights (0.2, 0.3, 0.5): Pearson's chi-square does not reject at
    p < 0.001 (a false alarm once in 1,000 sets of ids for a correct hash)."""
    weights = (0.2, 0.3, 0.5)
    counts = [0, 0, 0]
    for i in range(20_000):
        counts[arm_index("shares", f"device-{i}", weights)] += 1
    assert stats.chisquare(counts, [20_000 * w for w in weights]).pvalue > 0.001
