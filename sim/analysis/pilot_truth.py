"""An experiment's stats made by the simulator under a known truth.

The known-truth check of ``promptsim pilot``: a scenario whose behaviour is the hidden
truth plays the experiment. Each arm is simulated as a strategy, every device under
every arm (common random numbers); the experiment's assignment (``assign``: the unit's
arm index, the contract's hash) keeps each device's life under its own arm only. The
device's logged events (``sim.engine.chunk``: the service's event vocabulary) are then
counted into the cells of ``GET /v1/experiments/{id}/stats``, and its final state is
rebuilt from them by the rules the service applies (``sim.rules.permission``), so that
``opted_in`` and ``blocked`` mean what they mean there.

The unit is the device (``d<index>``). A device stays in the cohort of its first
install; its cohort day is the day of that install from ``start``. As the service counts
them: ``uninstalls`` are units with an uninstall, ``opted_in`` and ``blocked`` read the
device's state at the end (an uninstalled device keeps the state it had), ``os_shown``
counts every answer, ``ignored`` included.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sim.engine.runner import run_task
from sim.model.events import LogEvent
from sim.model.population import chunk_count
from sim.model.scenario import Scenario, Strategy
from sim.rules.native import ProfileRules
from sim.rules.permission import (
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_review_notice,
    apply_settings_change,
    apply_uninstall,
    is_blocked,
    new_install,
)

COUNTS: tuple[str, ...] = (
    "units", "soft_shown", "soft_accepted", "soft_dismissed", "units_soft_shown", "os_shown",
    "os_allowed", "os_denied", "os_dismissed", "units_os_shown", "opted_in", "opt_outs",
    "uninstalls", "blocked",
)
"""The counts of a stats cell, in the contract's order."""


@dataclass(frozen=True)
class Arm:
    """One arm of the experiment: a name, its weight and the policy it runs."""

    name: str
    weight: float
    strategy: Strategy


@dataclass
class _Unit:
    """What one device did under its arm."""

    profile: str
    platform: str
    day: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))


def pilot_scenario(truth: Scenario, arms: Sequence[Arm], *, devices: int, days: int) -> Scenario:
    """The truth scenario cut to the experiment: the arms as its strategies, installs
    arriving over the ``days`` the experiment runs, one replication."""
    strategies = tuple(msgspec.structs.replace(a.strategy, name=a.name) for a in arms)
    population = msgspec.structs.replace(truth.population, install_window_days=float(days))
    return msgspec.structs.replace(truth, strategies=strategies, devices=devices, days=days,
                                   replications=1, baseline=None, population=population)


def _replay(unit: _Unit, events: list[LogEvent], profiles: dict[str, ProfileRules],
            primer: dict[str, bool], policy: Strategy) -> None:
    """Count the unit's events and rebuild its final state by the rules."""
    profile = profiles[unit.profile]
    st = new_install(profile, provisional=policy.provisional_on_install)
    c = unit.counts
    c["units"] = 1
    for ev in events:
        match ev.kind:
            case "decision" if ev.show and primer.get(ev.campaign_id or "", False):
                c["soft_shown"] += 1
            case "soft_prompt_clicked":
                c["soft_accepted"] += 1
            case "soft_prompt_dismissed":
                c["soft_dismissed"] += 1
            case "os_dialog_result":
                c["os_shown"] += 1
                if ev.outcome in ("allowed", "denied", "dismissed"):
                    c[f"os_{ev.outcome}"] += 1
                apply_dialog_result(st, profile, ev.outcome, ev.t)  # type: ignore[arg-type]
            case "permission_changed":
                if ev.permission == "denied" and st.permission == "granted":
                    c["opt_outs"] += 1
                apply_settings_change(st, profile, ev.permission == "granted")
            case "os_upgraded" if profile.upgrade_to is not None:
                new = profiles[profile.upgrade_to]
                apply_os_upgrade(st, profile, new, ev.t)
                profile = new
            case "uninstalled":
                c["uninstalls"] += 1
                apply_uninstall(st, ev.t)
            case "reinstalled":
                apply_reinstall(st, profile, ev.t, reset_campaigns=policy.reset_on_reinstall,
                                provisional=policy.provisional_on_install)
            case "data_cleared":
                apply_clear_data(st, profile, reset_campaigns=policy.reset_on_reinstall,
                                 provisional=policy.provisional_on_install)
            case "review_notice":
                if ev.answer == "turned_off" and st.permission == "granted":
                    c["opt_outs"] += 1
                apply_review_notice(st, profile, "turned_off" if ev.answer == "turned_off"
                                    else "kept", ev.t)
            case _:
                pass
    c["units_soft_shown"] = int(c["soft_shown"] > 0)
    c["units_os_shown"] = int(c["os_shown"] > 0)
    c["uninstalls"] = int(c["uninstalls"] > 0)
    c["opted_in"] = int(st.permission == "granted")
    c["blocked"] = int(is_blocked(st, profile))


def truth_stats(truth: Scenario, experiment_id: str, arms: Sequence[Arm],
                assign: Callable[[str], int], *, devices: int, days: int,
                start: dt.date) -> dict[str, Any]:
    """The stats body (``cells`` and ``arms``) the service would report after ``days`` days
    of the experiment, its devices living under ``truth``; ``assign(unit_id)`` is the arm
    index of a unit (the contract's hash of ``experiment_id`` and the unit id)."""
    sc = pilot_scenario(truth, arms, devices=devices, days=days)
    profiles = {n: ProfileRules(p) for n, p in sc.profiles().items()}  # converted once
    primer = {a.name: {c.id: c.primer for c in a.strategy.campaigns} for a in arms}
    cells: dict[tuple[str, str, str, int], dict[str, int]] = {}
    for chunk in range(chunk_count(sc)):
        _, log = run_task(sc, 0, chunk, log=True)
        per: dict[tuple[str, str], list[LogEvent]] = defaultdict(list)
        for ev in log:
            per[ev.strategy, ev.device].append(ev)
        for (arm_name, device), events in per.items():
            k = assign(device)
            if arms[k].name != arm_name:
                continue
            events.sort(key=lambda e: e.t)  # stable: same-time events keep their order
            first = events[0]
            if first.kind != "install" or first.profile is None or first.platform is None:
                continue
            unit = _Unit(first.profile, first.platform, int(first.t))
            _replay(unit, events, profiles, primer[arm_name], arms[k].strategy)
            key = (arm_name, unit.platform, unit.profile, unit.day)
            cell = cells.setdefault(key, dict.fromkeys(COUNTS, 0))
            for name, v in unit.counts.items():
                cell[name] += v
    rows = []
    for (arm_name, platform, profile, day), counts in sorted(cells.items()):
        rows.append({"arm": arm_name, "platform": platform, "profile": profile,
                     "cohort_day": (start + dt.timedelta(days=day)).isoformat(), **counts})
    return {"experiment_id": experiment_id,
            "arms": [{"name": a.name, "weight": a.weight} for a in arms],
            "cells": rows}
