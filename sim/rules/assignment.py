"""Which arm of an experiment a unit (a device or a user) is in: sticky and stateless.

The arm is a function of the experiment id and the unit id alone, as Firebase A/B Testing
assigns: no table to look up, the same answer on every worker and host, and a new experiment
id reshuffles every unit. The analysis (``promptsim pilot``) uses the same function.

Example::

    >>> arm_index("pilot-1", "device-42", (0.5, 0.5))
    1
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def unit_draw(experiment_id: str, unit_id: str) -> float:
    """``u`` in [0, 1): the first 8 bytes of ``sha256(f"{experiment_id}:{unit_id}")``, read
    big endian, over 2**64."""
    digest = hashlib.sha256(f"{experiment_id}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_index(experiment_id: str, unit_id: str, weights: Sequence[float]) -> int:
    """The index of the first arm whose cumulative weight exceeds the unit's draw
    (:func:`unit_draw`); the last arm with a positive weight if rounding leaves the sum of
    ``weights`` just below the draw."""
    u = unit_draw(experiment_id, unit_id)
    total = 0.0
    last = 0
    for i, w in enumerate(weights):
        total += w
        if w > 0:
            last = i
            if u < total:
                return i
    return last
