"""The objective as data: what an opted-in device is worth against what a prompt costs.

A strategy's value is counted per 1,000 installs, in opted-in-device equivalents:

    value = opted_in x (opted-in devices at the horizon)
          + provisional x (provisional devices at the horizon)
          - prompt_uninstall x (uninstalls caused by a declined soft prompt)
          - blocked x (devices whose OS dialog is gone for good, at the horizon)
          + reachable x (devices opted in and receiving, at the horizon)

all per 1,000 installs. Per install, not per installed device, so that a strategy
gains nothing by driving the people who say no to uninstall. The defaults are
assumptions a team should replace with its own numbers (see ``Objective``); the
recommendation maximises this value, and ``pareto_efficient`` marks the strategies
no other beats on every outcome at once.

The weights are assumptions, so each but the unit has a range (``Objective.ranges``):
a sensitivity run (``--prior-draws``) draws every weight in its range, one value per
draw, as it draws the priors, and records them in ``Objective.drawn``; ``value`` then
values each draw at its own weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
import numpy as np

Weight = Annotated[float, msgspec.Meta(ge=0)]

Getter = Callable[[str], np.ndarray]
"""A panel column summed over the devices in view, ``[replication, strategy, day]``."""


class Objective(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Weights of the outcomes, in opted-in-device equivalents (scenario ``[objective]``)."""

    opted_in: Weight = 1.0
    """A device with notifications allowed at the horizon: the unit."""
    provisional: Weight = 0.25
    """An iOS device on provisional (quiet) delivery. Assumption: quiet notifications reach
    the Notification Center only (no lock screen, banner or sound), so it is worth a
    fraction of an opted-in device; a quarter is a placeholder."""
    prompt_uninstall: Weight = 3.0
    """Cost of an uninstall caused by a declined soft prompt. Assumption: it loses the user,
    not just notifications; a team whose users are worth more than three times the value of
    push on a device should raise it."""
    blocked: Weight = 0.2
    """Extra cost of a device whose OS dialog is gone for good (it is already not opted in):
    it can only opt in from Settings, which under 5% do (amply 2025). Assumption: the lost
    chance of a later ask is worth a fifth of an opt-in."""
    reachable: Weight = 0.0
    """Extra worth of an opted-in device that push actually reaches (not revoked by Chrome,
    its subscription not removed by WebKit, not hibernating: ``reachable_devices``), on top
    of ``opted_in``. Default 0 (assumption: it keeps the picks made before the app's
    sending was modelled); a team that values delivery over the permission moves weight
    from ``opted_in`` to it, e.g. ``opted_in = 0.5, reachable = 0.5``. No range by
    default: add ``ranges = { reachable = [0, 1] }`` to draw it."""
    ranges: dict[str, tuple[Weight, Weight]] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_RANGES))
    """The range each uncertain weight is drawn from by ``--prior-draws`` (uniform),
    ``name = [low, high]`` as ``sensitivity.ranges``; without prior draws the weight's own
    value is used. Default ``DEFAULT_RANGES``; ``{}`` draws none."""
    drawn: dict[str, tuple[float, ...]] = msgspec.field(default_factory=dict)
    """Written by ``--prior-draws`` into the run's ``scenario.json``: the weight each draw
    used (do not set it in a scenario)."""

    def weight(self, name: str, rows: int) -> float | np.ndarray:
        """Weight ``name`` for outcomes of ``rows`` rows: per row (a column) when a
        sensitivity run drew it for that many draws, else the point value."""
        drawn = self.drawn.get(name)
        if drawn is not None and len(drawn) == rows:
            return np.asarray(drawn, dtype=float)[:, None]
        point: float = getattr(self, name)
        return point

    def describe(self) -> str:
        """The weights in one line, with their ranges (as the CLI and pages print them)."""
        parts = []
        for name in WEIGHTS:
            rng = self.ranges.get(name)
            if name == "reachable" and not self.reachable and not rng:
                continue  # unset: the line reads as it did before the weight existed
            extra = f" (drawn in {rng[0]:g}-{rng[1]:g})" if rng and self.drawn else \
                f" (range {rng[0]:g}-{rng[1]:g})" if rng else ""
            parts.append(f"{name} {getattr(self, name):g}{extra}")
        return ("objective weights, in opted-in devices (assumptions, the scenario's "
                "[objective]): " + ", ".join(parts))


WEIGHTS: tuple[str, ...] = ("opted_in", "provisional", "prompt_uninstall", "blocked",
                            "reachable")
"""The objective's weights, the unit first."""

DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "provisional": (0.1, 0.5),
    "prompt_uninstall": (1.0, 5.0),
    "blocked": (0.1, 0.6),
}
"""Assumptions, as the weights are (no source prices them): quiet delivery is worth more
than nothing and less than half a lock-screen opt-in; an uninstall caused by a prompt loses
at least the opted-in device it could have been and, for most apps, not more than five;
a device blocked for good loses at least a tenth of an opt-in (a later ask) and at most
about the share of primed asks that are allowed (0.6), since that is all a later ask could
win. The default weights (0.25, 3, 0.2) lie inside them."""


OUTCOMES: dict[str, str] = {
    "optin_share": "opted-in devices, share of installed devices at the horizon",
    "provisional_share": "provisional devices, share of installed devices at the horizon",
    "blocked_share": "devices blocked for good, share of installed devices at the horizon",
    "optin_per_1k": "opted-in devices at the horizon per 1,000 installs",
    "provisional_per_1k": "provisional devices at the horizon per 1,000 installs",
    "blocked_per_1k": "devices blocked for good at the horizon per 1,000 installs",
    "prompt_uninstalls_per_1k": "uninstalls caused by a declined soft prompt per 1,000 installs",
    "reachable_share": "devices opted in and receiving push, share of installed devices at the "
                       "horizon",
    "reachable_per_1k": "devices opted in and receiving push at the horizon per 1,000 installs",
    "value": "the objective, per 1,000 installs (opted-in-device equivalents)",
}
"""Every outcome ``outcomes`` returns, and its unit."""


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den`` is 0 (no devices: no share)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def outcomes(total: Getter, objective: Objective) -> dict[str, np.ndarray]:
    """Every outcome of ``OUTCOMES`` as an array ``[replication, strategy]``."""
    installs = total("installs").sum(axis=-1)
    active = total("active_devices")[..., -1]
    stock = {k: total(f"{k}_devices")[..., -1]
             for k in ("opted_in", "provisional", "blocked", "reachable")}
    annoy = total("annoyance_uninstalls").sum(axis=-1)
    out = {
        "optin_share": ratio(stock["opted_in"], active),
        "provisional_share": ratio(stock["provisional"], active),
        "blocked_share": ratio(stock["blocked"], active),
        "optin_per_1k": 1000.0 * ratio(stock["opted_in"], installs),
        "provisional_per_1k": 1000.0 * ratio(stock["provisional"], installs),
        "blocked_per_1k": 1000.0 * ratio(stock["blocked"], installs),
        "prompt_uninstalls_per_1k": 1000.0 * ratio(annoy, installs),
        "reachable_share": ratio(stock["reachable"], active),
        "reachable_per_1k": 1000.0 * ratio(stock["reachable"], installs),
    }
    out["value"] = value(out, objective)
    return out


def value(o: dict[str, np.ndarray], objective: Objective) -> np.ndarray:
    """The objective from the per-1,000-install outcomes."""
    rows = o["optin_per_1k"].shape[0] if o["optin_per_1k"].ndim == 2 else -1

    def w(name: str) -> float | np.ndarray:
        return objective.weight(name, rows)

    v: np.ndarray = (w("opted_in") * o["optin_per_1k"]
                     + w("provisional") * o["provisional_per_1k"]
                     - w("prompt_uninstall") * o["prompt_uninstalls_per_1k"]
                     - w("blocked") * o["blocked_per_1k"])
    reachable = o.get("reachable_per_1k")  # outcomes made elsewhere may not count it
    if reachable is not None:
        v = v + w("reachable") * reachable
    return v


def p_best(values: np.ndarray) -> np.ndarray:
    """Per strategy, the share of rows (prior draws) in which it has the highest value;
    ties share the row equally. ``values[draw, strategy]``."""
    v = np.where(np.isnan(values), -np.inf, values)
    best = v == v.max(axis=1, keepdims=True)
    out: np.ndarray = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return out


def expected_loss(values: np.ndarray) -> np.ndarray:
    """Per strategy, the mean over rows of (best value in the row - its value): what
    choosing it costs, on average, against knowing the truth."""
    out: np.ndarray = np.nanmean(np.nanmax(values, axis=1, keepdims=True) - values, axis=0)
    return out


def pareto_efficient(opt_in: np.ndarray, uninstalls: np.ndarray,
                     blocked: np.ndarray) -> np.ndarray:
    """Per strategy, whether no other has at least its opt-in and at most its uninstalls
    and blocked devices, and is strictly better on one of them."""
    n = len(opt_in)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            no_worse = (opt_in[j] >= opt_in[i] and uninstalls[j] <= uninstalls[i]
                        and blocked[j] <= blocked[i])
            better = (opt_in[j] > opt_in[i] or uninstalls[j] < uninstalls[i]
                      or blocked[j] < blocked[i])
            if no_worse and better:
                out[i] = False
                break
    return out
