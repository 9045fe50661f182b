"""Counter-based random streams: the k-th draw of stream s for one device.

A strategy-dependent draw (does this user tap the soft prompt? how does she
answer the OS dialog?) is taken as the k-th uniform of a named stream keyed by
the device, not from a shared generator. So the k-th answer of a device is the
same number under every strategy (common random numbers), and nothing depends
on the order in which devices are simulated or on the number of processes.
The mixer is SplitMix64 (Steele, Lea & Flood 2014).
"""

from __future__ import annotations

SOFT_PROMPT = 1
DIALOG = 2
ANNOYANCE = 3
SETTINGS = 4
OPT_OUT = 5
REENABLE = 6
REENABLE_DELAY = 7

_MASK = (1 << 64) - 1


def uniform(key: int, stream: int, k: int) -> float:
    """The ``k``-th uniform in [0, 1) of ``stream`` for the device ``key``."""
    z = (key + (stream << 40) + k + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) * 1.1102230246251565e-16
