"""Load shapes are data: their ``tick()`` sequences, checked without Locust."""

from __future__ import annotations

import pytest

from sim.loadtest.shapes import SHAPES, get_shape
from sim.loadtest.world import Burst


def ticks(name: str, peak: int = 100, duration: float = 100.0) -> list[tuple[int, float] | None]:
    """``tick()`` at every whole second of the run, and once past its end."""
    shape = get_shape(name)
    return [shape.tick(float(t), peak, duration) for t in range(int(duration) + 1)]


def test_steady_holds_the_peak_then_stops() -> None:
    """All users within about 5 s (20% of the peak per second), held, then ``None``."""
    seq = ticks("steady")
    assert set(seq[:-1]) == {(100, 20.0)}
    assert seq[-1] is None


def test_ramp_climbs_ten_equal_steps_to_the_peak() -> None:
    """10, 20, ... 100 users, each for a tenth of the run, each reached at once."""
    seq = ticks("ramp")
    assert [seq[t] for t in range(0, 100, 10)] == [(10 * k, 100.0) for k in range(1, 11)]
    assert all(seq[t] == seq[t - t % 10] for t in range(100))
    assert seq[100] is None


def test_spike_is_a_campaign_launch() -> None:
    """20% of the users, everyone within a second at 30% of the run, back to 20% at 70%,
    and a burst: 80% of the devices open the app within 5% of the run from 30%."""
    seq = ticks("spike")
    assert seq[29] == (20, 20.0)
    assert seq[30] == seq[69] == (100, 100.0)
    assert seq[70] == seq[99] == (20, 100.0)
    assert get_shape("spike").bursts_for(200.0) == (
        Burst(start_s=60.0, spread_s=10.0, share=0.8, kind="session"),)


def test_soak_holds_seventy_percent() -> None:
    seq = ticks("soak", peak=10, duration=1000)
    assert set(seq[:-1]) == {(7, 1.0)} and seq[-1] is None


def test_os_release_day_is_an_upgrade_storm() -> None:
    """Half the users, growing to the peak from 20% of the run, while 60% of the devices
    upgrade their OS over 40% of the run."""
    seq = ticks("os_release_day")
    assert seq[0] == seq[19] == (50, 20.0)
    assert seq[20] == seq[99] == (100, 5.0)
    (burst,) = get_shape("os_release_day").bursts_for(100.0)
    assert (burst.start_s, burst.spread_s, burst.share, burst.kind) == (20.0, 40.0, 0.6,
                                                                       "upgrade")


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_shape_ends_and_never_asks_for_zero_users(name: str) -> None:
    """At least one user and one user per second while running; ``None`` from the end."""
    seq = ticks(name, peak=3, duration=50)
    assert all(t is not None and t[0] >= 1 and t[1] >= 1.0 for t in seq[:-1])
    assert get_shape(name).tick(50.0, 3, 50) is None
    assert get_shape(name).tick(0.0, 3, 0) is None


def test_an_unknown_shape_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"shape: 'flat' unknown; allowed: steady, ramp, spike"):
        get_shape("flat")
