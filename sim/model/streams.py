"""Counter-based random streams: the k-th draw of stream s for one device.

A strategy-dependent draw (does this user tap the soft prompt? how does she
answer the OS dialog?) is taken as the k-th uniform of a named stream keyed by
the device, not from a shared generator. So the k-th answer of a device is the
same number under every strategy (common random numbers), and nothing depends
on the order in which devices are simulated or on the number of processes.
The mixer is SplitMix64 (Steele, Lea & Flood 2014).

:func:`table` draws the first :data:`TABLED` uniforms of every stream of a chunk's devices
at once with NumPy (the same bits as :func:`uniform`, which a life takes for the later
draws): most answers a device gives are among its first few of a stream.
"""

from __future__ import annotations

import numpy as np

SOFT_PROMPT = 1
DIALOG = 2
ANNOYANCE = 3
SETTINGS = 4
OPT_OUT = 5
REENABLE = 6
REENABLE_DELAY = 7

STREAMS = 8
"""Streams per device, numbered from 0 (unused) to ``REENABLE_DELAY``."""
TABLED = 4
"""Draws per stream that :func:`table` holds."""

_MASK = (1 << 64) - 1


def uniform(key: int, stream: int, k: int) -> float:
    """The ``k``-th uniform in [0, 1) of ``stream`` for the device ``key``."""
    z = (key + (stream << 40) + k + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) * 1.1102230246251565e-16


def table(keys: list[int]) -> list[float]:
    """``uniform(keys[i], s, k)`` for ``k < TABLED`` at ``(i * STREAMS + s) * TABLED + k``."""
    n = len(keys)
    key = np.asarray(keys, dtype=np.uint64).reshape(n, 1, 1)
    s = np.arange(STREAMS, dtype=np.uint64).reshape(1, STREAMS, 1) << np.uint64(40)
    k = np.arange(TABLED, dtype=np.uint64).reshape(1, 1, TABLED)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64, as in ``uniform``
        z = key + s + k + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    u = ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64) * 1.1102230246251565e-16
    out: list[float] = u.ravel().tolist()
    return out
