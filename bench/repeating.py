"""A step repeated in a background thread while a ``with`` block runs: the light clients that
probe a server under load (``bench_overload.py``'s probes, and the normal requests of
``tests/service/test_hardening_load.py``, which imports this file from the repository root).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Self


class Repeating:
    """Calls :meth:`step` every ``every`` seconds, counted from the start of one step to the
    start of the next (at once when a step took longer), in a thread that runs from the
    block's start to its end; the end waits for the step under way. ``cpus``: the CPUs the
    thread may run on (``None``: any)."""

    def __init__(self, every: float, cpus: set[int] | None = None) -> None:
        self.every, self.cpus = every, cpus
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def step(self) -> None:
        """One round of the repeated work (a subclass's)."""
        raise NotImplementedError

    def _run(self) -> None:
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)  # this thread only
        while not self._stop.is_set():
            t = time.monotonic()
            self.step()
            self._stop.wait(max(0.0, self.every - (time.monotonic() - t)))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
