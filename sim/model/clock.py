"""Simulated time on the service's clock.

The simulator counts time in days from 0. Whatever talks to the service (the
load-test devices, ``promptsim parity``) sends Unix seconds, ``at = EPOCH + t *
DAY``, and the service's rules read ``at / DAY`` days. EPOCH is a whole number
of days, so a simulated day is a calendar day of the service (its day index
``int(at / DAY)`` changes when the simulator's ``int(t)`` does).
"""

from __future__ import annotations

from typing import Final

DAY: Final = 86400.0
"""Seconds in a day."""
EPOCH: Final = 1_767_225_600.0
"""Unix time of simulated day 0: 2026-01-01 00:00 UTC (20,454 days after 1970-01-01)."""


def unix(t: float) -> float:
    """Unix seconds of simulated time ``t`` (days)."""
    return EPOCH + t * DAY
