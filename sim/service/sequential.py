"""Always-valid intervals for the difference between two arms: asymptotic confidence sequences.

Waudby-Smith, Arnold, Wu, Wang, Ramdas, "Time-uniform central limit theory and asymptotic
confidence sequences", Annals of Statistics (2024), arXiv:2103.06476, Theorem 2.2 (Robbins'
normal mixture, two-sided). GrowthBook and Eppo compute their sequential intervals with it.
For i.i.d. observations with mean ``mu``, after ``t`` of them, with sample mean ``m_t`` and
sample standard deviation ``s_t``::

    m_t +- s_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )

covers ``mu`` at every ``t`` at once with probability tending to at least ``1 - alpha``: a
team may read the stats as often as it likes and stop whenever it likes.

Here the observations are units of two arms and the estimand is the difference of their
rates, ``p_a - p_b``. As GrowthBook does, the centre is the difference of the sample rates,
``t = n_a + n_b`` and ``s_t^2 = t (p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b)``, so that
``s_t^2 / t`` is the usual variance of the difference; with a fixed allocation this is the
paper's average-treatment-effect sequence (its section 3) written with the sample shares.
The rates in ``s_t`` are shrunk by half a unit, ``(x + 0.5) / (n + 1)`` (an assumption that
keeps an arm with no event, or only events, from claiming a variance of 0).

``rho`` sets the time at which the interval is narrowest: :func:`rho_for` picks it for a
planned number of units (the paper's approximate optimum, ``rho^2 = (-2 log alpha +
log(-2 log alpha + 1)) / t_opt``). :data:`PLANNED_UNITS` is an assumption (GrowthBook's
default tuning parameter, 5,000 units).
"""

from __future__ import annotations

import math

PLANNED_UNITS = 5_000
"""Units (two arms together) at which the default ``rho`` makes the interval narrowest: an
assumption, GrowthBook's default; any value keeps the guarantee, it only moves the width."""


def rho_for(planned: float, alpha: float) -> float:
    """The ``rho`` whose sequence is (nearly) narrowest after ``planned`` observations."""
    la = -2.0 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1.0)) / planned)


def margin(t: float, sd: float, alpha: float, rho: float) -> float:
    """Half-width of the asymptotic confidence sequence after ``t`` observations whose
    standard deviation is ``sd``."""
    r2 = rho * rho
    return sd * math.sqrt(2.0 * (t * r2 + 1.0) / (t * t * r2)
                          * math.log(math.sqrt(t * r2 + 1.0) / alpha))


def difference_interval(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float,
                        rho: float | None = None) -> tuple[float, tuple[float, float]]:
    """``p_a - p_b`` (``x`` successes of ``n`` units in each arm) and its always-valid interval
    at level ``1 - alpha``; ``(0, (-1, 1))`` while an arm has no units (nothing is known)."""
    if n_a == 0 or n_b == 0:
        return 0.0, (-1.0, 1.0)
    d = x_a / n_a - x_b / n_b
    t = n_a + n_b
    # The variance from rates shrunk by half a unit: at 0 of n (or n of n) the plain
    # estimate is 0, and an interval of width 0 would claim certainty.
    pa, pb = (x_a + 0.5) / (n_a + 1), (x_b + 0.5) / (n_b + 1)
    sd = math.sqrt(t * (pa * (1 - pa) / n_a + pb * (1 - pb) / n_b))
    m = margin(t, sd, alpha, rho if rho is not None else rho_for(PLANNED_UNITS, alpha))
    return d, (max(-1.0, d - m), min(1.0, d + m))
