"""How a user answers a prompt: pure functions of the behaviour priors and a uniform.

A device's life (``sim.model.life``) draws the uniform from its counter-based
streams, so nothing here knows about random streams. The module is compiled with
mypyc (``sim.COMPILED``): a life calls it on every soft prompt shown. Powers are
``math.pow``, which compiled code calls directly (``**`` boxes its operands); both are C's
``pow``, so the answers are the same to the bit.
"""

from __future__ import annotations

import math

from sim.model.behaviour import Behaviour, DialogOdds


def soft_prompt_accepts(u: float, receptiveness: float, fatigue: float, context: bool,
                        behaviour: Behaviour) -> bool:
    """Whether the user taps the soft prompt, given a uniform ``u``."""
    p = receptiveness * math.pow(behaviour.fatigue_factor, fatigue)
    if context:
        p = min(1.0, p * behaviour.context_boost)
    return u < p


def dialog_outcome(u: float, odds: DialogOdds) -> str:
    """The OS dialog's answer for a uniform ``u``."""
    if u < odds.allowed:
        return "allowed"
    u -= odds.allowed
    if u < odds.denied:
        return "denied"
    u -= odds.denied
    return "dismissed" if u < odds.dismissed else "ignored"


def annoyance_uninstall(u: float, shown_before: int, behaviour: Behaviour) -> bool:
    """Whether a declined soft prompt makes the user uninstall the app."""
    return u < behaviour.annoyance_base * (1.0 + behaviour.annoyance_growth * shown_before)


def decayed_fatigue(fatigue: float, since: float, behaviour: Behaviour) -> float:
    """Prompt fatigue after ``since`` days of recovery."""
    return fatigue * math.pow(0.5, since / behaviour.fatigue_half_life_days)
