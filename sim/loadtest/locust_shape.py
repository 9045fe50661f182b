"""The Locust ``LoadTestShape`` that plays a named shape of ``sim.loadtest.shapes``.

Importing this module imports Locust: only ``scenarios/locust/shapes.py`` does.
"""

from __future__ import annotations

import time
from typing import Any

from locust import LoadTestShape

from sim.loadtest.locust_options import shape_seconds
from sim.loadtest.shapes import get_shape


class StagesShape(LoadTestShape):
    """Reads ``--shape``, ``--users`` (the peak) and ``--shape-seconds`` / ``--run-time``."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        """The current stage's ``(users, spawn_rate)``; ``None`` ends the run."""
        assert self.runner is not None
        o: Any = self.runner.environment.parsed_options
        elapsed = time.perf_counter() - self.start_time  # LoadTestShape.get_run_time()
        return get_shape(o.shape).tick(elapsed, int(o.num_users or 1), shape_seconds(vars(o)))
