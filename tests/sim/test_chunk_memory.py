"""A chunk keeps its per-session and per-device numbers in arrays, not lists of objects:
what each worker of ``bench/bench_sim.py``'s run holds per chunk (``docs/design.md``)."""

from __future__ import annotations

from array import array

import numpy as np

from sim.model.population import make_chunk, masks
from sim.model.scenario import Scenario

FLOAT_COLUMNS = ("install_t", "session_t", "session_seconds", "uninstall_t", "reinstall_t",
                 "uninstall2_t", "clear_t", "upgrade_t", "receptiveness")


def test_a_chunk_holds_its_floats_and_event_masks_in_arrays(small: Scenario) -> None:
    """8 bytes a float and one byte an event mask, where a list takes 32 and 8."""
    c = make_chunk(small, small.profiles(), 0, 0)
    for name in FLOAT_COLUMNS:
        col = getattr(c, name)
        assert isinstance(col, array) and col.typecode == "d", name
    assert len(c.session_t) == len(c.session_seconds) == len(c.session_event) == c.end[-1]
    assert c.session_event.typecode == "B"


def test_event_masks_keep_every_bit() -> None:
    """Masks that fit in a byte are stored in bytes; a wider one makes the array 8 bytes an
    entry, so no bit of a scenario with many app events is lost."""
    narrow = masks(np.array([0, 1, 6, 255], dtype=np.int64))
    assert narrow.typecode == "B" and narrow.tolist() == [0, 1, 6, 255]
    wide = masks(np.array([1, 256, 2**40 + 3], dtype=np.int64))
    assert wide.itemsize == 8 and wide.tolist() == [1, 256, 2**40 + 3]
    assert masks(np.array([True, False])).tolist() == [1, 0]
    assert masks(np.zeros(0, dtype=bool)).tolist() == []
