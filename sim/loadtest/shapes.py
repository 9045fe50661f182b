"""Load shapes as data: stages of users over time, and bursts of simultaneous activity.

A :class:`Shape` scales with the run: stage ends and burst moments are fractions
of the duration, user counts fractions of the peak (``--users``), spawn rates
fractions of the peak per second. :meth:`Shape.tick` is the pure function a
Locust ``LoadTestShape.tick()`` calls (``sim.loadtest.locust_shape``); tests call
it directly. Bursts are read by the devices themselves (``sim.loadtest.device``):
a share of the devices alive at a burst's moment open the app (``session``) or
upgrade their OS and then open it (``upgrade``) within its spread.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.loadtest.world import Burst


@dataclass(frozen=True, slots=True)
class Stage:
    """Hold ``users`` (share of the peak) until ``until`` (share of the duration)."""

    until: float
    users: float
    spawn: float
    """Users started or stopped per second, as a share of the peak (at least 1 user/s)."""


@dataclass(frozen=True, slots=True)
class BurstSpec:
    """At ``at`` (share of the duration), ``share`` of the devices act within ``spread``."""

    at: float
    spread: float
    """Share of the duration over which the devices' moments are spread."""
    share: float
    kind: str
    """``session`` or ``upgrade``."""


@dataclass(frozen=True, slots=True)
class Shape:
    """A named load shape: its stages and bursts."""

    name: str
    description: str
    stages: tuple[Stage, ...]
    bursts: tuple[BurstSpec, ...] = ()

    def tick(self, elapsed: float, peak: int, duration: float) -> tuple[int, float] | None:
        """``(users, spawn_rate)`` at ``elapsed`` seconds, or ``None`` once the run is over."""
        if duration <= 0 or elapsed >= duration:
            return None
        for stage in self.stages:
            if elapsed < stage.until * duration:
                users = max(1, round(stage.users * peak))
                return users, max(1.0, stage.spawn * peak)
        return None

    def bursts_for(self, duration: float) -> tuple[Burst, ...]:
        """The bursts in seconds after the start, for a run of ``duration`` seconds."""
        return tuple(Burst(start_s=b.at * duration, spread_s=b.spread * duration,
                           share=b.share, kind=b.kind) for b in self.bursts)


def _ramp(steps: int) -> tuple[Stage, ...]:
    return tuple(Stage(until=k / steps, users=k / steps, spawn=1.0) for k in range(1, steps + 1))


SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("steady", "all users within about 5 s, then held to the end",
          (Stage(1.0, 1.0, 0.2),)),
    Shape("ramp", "ten equal steps up to the peak, to find the knee where throughput stops "
          "growing with users and latency climbs", _ramp(10)),
    Shape("spike", "campaign launch: 20% of the users, then at 30% of the run the rest arrive "
          "within a second and 80% of the devices open the app within 5% of the run; back to "
          "20% at 70%",
          (Stage(0.3, 0.2, 0.2), Stage(0.7, 1.0, 1.0), Stage(1.0, 0.2, 1.0)),
          (BurstSpec(0.3, 0.05, 0.8, "session"),)),
    Shape("soak", "70% of the peak held for the whole (long) run: look for drift between "
          "its first and last quarter", (Stage(1.0, 0.7, 0.1),)),
    Shape("os_release_day", "upgrade storm: half the users, then from 20% of the run 60% of "
          "the devices upgrade their OS and reopen the app over 40% of the run, while users "
          "grow to the peak",
          (Stage(0.2, 0.5, 0.2), Stage(1.0, 1.0, 0.05)),
          (BurstSpec(0.2, 0.4, 0.6, "upgrade"),)),
)}
"""The shapes ``--shape`` selects by name."""


def get_shape(name: str) -> Shape:
    """The shape called ``name``; ``ValueError`` naming the allowed ones."""
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"shape: {name!r} unknown; allowed: {', '.join(SHAPES)}") from None
