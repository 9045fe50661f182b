"""Counter-based random streams: the k-th draw of stream s for one device.

A strategy-dependent draw (does this user tap the soft prompt? how does she
answer the OS dialog?) is taken as the k-th uniform of a named stream keyed by
the device, not from a shared generator. So the k-th answer of a device is the
same number under every strategy (common random numbers), and nothing depends
on the order in which devices are simulated or on the number of processes.
The mixer is SplitMix64 (Steele, Lea & Flood 2014).

:func:`table` draws the first :data:`TABLED` uniforms of every stream of a chunk's devices
at once with NumPy (the same bits as :func:`uniform`, which a life takes for the later
draws): most answers a device gives are among its first few of a stream. It holds them as
an ``array('d')``, 8 bytes a draw, where a list of floats takes 32 (a pointer and a float
object): 6 MiB for a chunk of 25,000 devices instead of 24 MiB, in each worker.
"""

from __future__ import annotations

from array import array
from typing import Final

import numpy as np
from mypy_extensions import i64

OS: Final = 0
"""The OS's own moments: where an Android app targeting <= 32 was launched from
(``Behaviour.legacy_launcher_share``), the answer to the 12 -> 13 review notice
(``Behaviour.review_notice_revoke``), an iOS allow given into the Scheduled Summary
(``Behaviour.scheduled_summary``), Chrome's control-group draw of a crowd-deny site's prompt
(``loud_chance``). Drawn only when the share is set (below 1, above 0), so a scenario without
them takes no draw; no device meets two (an app targeting <= 32 is never on Android 12 in
these profiles, and iOS and Chrome have none of the others)."""
SOFT_PROMPT: Final = 1
DIALOG: Final = 2
ANNOYANCE: Final = 3
SETTINGS: Final = 4
OPT_OUT: Final = 5
REENABLE: Final = 6
REENABLE_DELAY: Final = 7

STREAMS: Final = 8
"""Streams per device that :func:`table` holds, numbered from 0 (``OS``) to
``REENABLE_DELAY``."""
SENDING: Final = 8
"""What follows the app's sending (``sim.model.sending``): a volume opt-out and its delay,
the silent pushes before WebKit's penalty. Not tabled (``Life.u_send``): drawn only with
sending, which no scenario had before it."""
TABLED: Final = 4
"""Draws per stream that :func:`table` holds."""
OTHER_SITES: Final = STREAMS
"""The gaps between a Chrome user's denials on other sites
(``Behaviour.chrome_other_site_denials_per_year``), keyed by the user's first device: a
stream past the tabled ones, drawn with :func:`uniform` only when the rate is set."""

_M32: Final = 0xFFFFFFFF
_M16: Final = 0xFFFF
_C1_HI: Final = 0xBF58476D
_C1_LO: Final = 0x1CE4E5B9
_C2_HI: Final = 0x94D049BB
_C2_LO: Final = 0x133111EB
_GAMMA_HI: Final = 0x9E3779B9
_GAMMA_LO: Final = 0x7F4A7C15


def _mul(hi: i64, lo: i64, c_hi: i64, c_lo: i64) -> tuple[i64, i64]:
    """``(hi, lo) * (c_hi, c_lo)`` modulo 2**64, on 32-bit halves.

    Every intermediate stays below 2**50, so compiled code does it in machine words
    (``i64``; a product of two 64-bit words would make a Python big integer, about 15x
    slower).
    """
    a1, a0 = lo >> 16, lo & _M16
    b1, b0 = c_lo >> 16, c_lo & _M16
    mid = a1 * b0 + a0 * b1
    low = a0 * b0 + ((mid & _M16) << 16)
    high = a1 * b1 + (mid >> 16) + (low >> 32)
    # The cross terms hi * c_lo + lo * c_hi, modulo 2**32.
    h1, h0 = hi >> 16, hi & _M16
    l1, l0 = lo >> 16, lo & _M16
    d1, d0 = c_hi >> 16, c_hi & _M16
    cross = h0 * b0 + ((h1 * b0 + h0 * b1) << 16) + l0 * d0 + ((l1 * d0 + l0 * d1) << 16)
    return (high + cross) & _M32, low & _M32


def uniform(key: int, stream: int, k: int) -> float:
    """The ``k``-th uniform in [0, 1) of ``stream`` for the device ``key``: SplitMix64's
    output for ``key + (stream << 40) + k``, as :func:`table` computes it on 64-bit words."""
    x = key + (stream << 40) + k  # keys are below 2**62 (``make_chunk``)
    lo = i64(x & _M32) + _GAMMA_LO
    hi = (i64(x >> 32) + _GAMMA_HI + (lo >> 32)) & _M32
    lo &= _M32
    lo ^= (lo >> 30) | ((hi << 2) & _M32)
    hi ^= hi >> 30
    hi, lo = _mul(hi, lo, _C1_HI, _C1_LO)
    lo ^= (lo >> 27) | ((hi << 5) & _M32)
    hi ^= hi >> 27
    hi, lo = _mul(hi, lo, _C2_HI, _C2_LO)
    lo ^= (lo >> 31) | ((hi << 1) & _M32)
    hi ^= hi >> 31
    return float((hi << 21) | (lo >> 11)) * 1.1102230246251565e-16


def table(keys: list[int]) -> array[float]:
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
    out = array("d")
    out.frombytes(np.ascontiguousarray(u, dtype=np.float64).tobytes())
    return out
