"""The local pool lets go of each result once the caller has taken it: a run of many chunks
does not hold every chunk's counts in the main process (``bench/bench_sim.py``'s peak)."""

from __future__ import annotations

import weakref

import numpy as np

from sim.engine.executor import run_tasks


def test_the_local_pool_keeps_no_result_the_caller_has_taken() -> None:
    refs: list[weakref.ref[np.ndarray]] = []
    seen = []
    for i, arr in run_tasks(np.full, 1000, list(range(6)), jobs=2):
        assert arr.shape == (1000,) and arr[0] == i
        seen.append(i)
        refs.append(weakref.ref(arr))
        del arr
        # The one just taken may still be referenced by the pool's loop; none before it.
        assert [r() is None for r in refs[:-1]] == [True] * (len(refs) - 1)
    assert sorted(seen) == list(range(6))
