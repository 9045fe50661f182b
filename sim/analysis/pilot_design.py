"""Design the experiment the decision needs: its arms, its size and what it costs.

1. A sensitivity run of the scenario ranks, per platform, the priors that move the
   choice between the two best strategies (``sim.analysis.sensitivity.contest``).
2. The arms are the strongest contenders (each platform's best two, the largest
   platforms first, up to ``max_arms``), plus what identifies a deciding prior no arm
   would learn: a cold holdout (no soft prompt) where a cold allow rate decides, since a
   soft-prompt-only rollout never opens a cold dialog; a primer arm where receptiveness
   or a primed allow rate decides. A strategy whose policy-wide settings differ from the
   defaults (iOS provisional at install, say) cannot be an arm: the service's arms carry
   campaigns only.
3. The size: per platform, the preposterior analysis of ``sim.analysis.pilot_value`` on
   the counts per unit each arm shows in the sensitivity run (dialogs and soft prompts over
   the first ``min_days`` days) gives the units that bring the decision's expected loss
   under ``max_loss``; the experiment runs at least ``min_days`` days, and as long as the
   platform that needs the most units needs (a platform no size settles, because what is
   left of its loss lies in priors no arm learns, is reported and does not count).
4. The cost per arm over the experiment: OS dialogs burnt (shown and not allowed: on iOS
   the one dialog is gone) and devices blocked for good at its end, per unit from the
   same run.
5. The prices an adaptive (Thompson) allocation values a unit's end state at, per platform
   (:func:`block_prices`), written into the experiment when asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from sim.analysis import pilot_value as pv
from sim.analysis.pilot_decide import PlatformCall, call, platform_priors, units_needed
from sim.analysis.sensitivity import PriorDraws, run_sensitivity
from sim.engine.runner import RunResult, platform_sum
from sim.model import priors
from sim.model.scenario import Scenario, Strategy
from sim.rules.config.campaigns import Campaign, PolicySettings, policy_settings
from sim.rules.config.platforms import PLATFORMS, PROFILES

COLD_HOLDOUT = Strategy(name="cold_holdout", campaigns=(Campaign(id="native", primer=False),))
"""The arm added where a cold allow rate decides and no strategy opens the dialog cold."""


@dataclass(frozen=True)
class ArmPlan:
    """One arm of the design."""

    name: str
    weight: float
    strategy: Strategy
    identifies: list[str]
    """The priors this arm's counts identify."""
    why: str
    dialogs_burnt: float = 0.0
    """OS dialogs shown and not allowed over the experiment, on this arm."""
    ios_dialogs_burnt: float = 0.0
    blocked: float = 0.0
    """Devices blocked for good at the experiment's end, on this arm."""


@dataclass(frozen=True)
class PlatformPlan:
    """What the experiment must settle on one platform."""

    platform: str
    share: float
    """Its share of the installs."""
    pick: str
    loss_now: float
    deciding: list[str]
    """Its deciding priors, the largest effect first."""
    flips: list[str]
    units: float | None
    """Units in the experiment (all platforms) for its loss to reach ``max_loss``."""
    curve: list[tuple[float, float]]
    explained: float
    """Share of the variance of the strategies' value differences over the draws that the
    metamodel explains (the rest: simulation noise and the priors it leaves out)."""


@dataclass(frozen=True)
class BlockPrice:
    """What one platform's unit is worth at the experiment's end, for a Thompson allocation:
    in the objective's unit (one opted-in device), relative to a unit neither opted in nor
    blocked, which can still be asked and opts in later with probability ``later``."""

    platform: str
    pick: str
    """The strategy with the highest mean value on the platform (what runs after)."""
    later: float
    """The pick's opted-in devices at the horizon over its installs (mean over the draws):
    the chance of opting in that a device still able to be asked has."""
    opt_in: float
    """``w(opted_in) * (1 - later)``: an opt-in now, less the one it would have had later."""
    blocked: float
    """``w(opted_in) * later + w(blocked)``: the later opt-in lost for good, and the
    objective's own weight of a blocked device."""


@dataclass
class Design:
    """The experiment and the numbers behind it."""

    experiment_id: str
    scenario: str
    arms: list[ArmPlan]
    platforms: list[PlatformPlan]
    max_loss: float
    installs_per_day: float
    units: float
    """Units the experiment enrols: ``days`` days of installs."""
    days: int
    """Days it runs: at least ``min_days``, and as many as the platform that needs the most
    units (of those an experiment with these arms can settle) needs."""
    start: dt.date
    skipped: list[str] = field(default_factory=list)
    """Strategies left out, with the reason."""
    thin: dict[str, float] = field(default_factory=dict)
    """Platforms not judged (``pilot_value.judged``), with their installs per draw."""
    prices: list[BlockPrice] = field(default_factory=list)
    """Per platform of the population, what a Thompson allocation values its end states at."""


def _kind(s: Strategy) -> str:
    if s.campaigns and not any(c.primer for c in s.campaigns):
        return "cold"
    return "primer" if any(c.primer for c in s.campaigns) else "none"


def _can_be_arm(s: Strategy) -> bool:
    return policy_settings(s) == policy_settings(PolicySettings())


def identifies(sc: Scenario, s: Strategy, names: list[str]) -> list[str]:
    """Of the drawn priors ``names``, those an arm running ``s`` identifies."""
    kind = _kind(s)
    installed = set(sc.install_profiles())
    out = []
    for n in names:
        p = priors.BY_NAME[n]
        if p.keys and not installed & set(p.keys):
            continue  # no device of the population would show it
        seen = (kind == "cold" and p.field == "dialog_cold") or (
            kind == "primer" and (p.field == "dialog_primed" or n == "receptiveness_mean"))
        if seen and p.applies(sc.behaviour):
            out.append(n)
    return out


def choose_arms(sc: Scenario, calls: list[PlatformCall], shares: dict[str, float],
                deciding: set[str], names: list[str], max_arms: int,
                ) -> tuple[list[Strategy], list[str], list[str]]:
    """(arms, why each, strategies skipped and why)."""
    by = {s.name: s for s in sc.strategies}
    chosen: list[Strategy] = []
    why: list[str] = []
    skipped: list[str] = []
    for c in sorted(calls, key=lambda c: -shares[c.platform]):
        ranked = sorted(c.values, key=lambda n: -c.values[n])[:2]
        for rank, n in enumerate(ranked):
            s = by[n]
            if s in chosen or len(chosen) >= max_arms:
                continue
            if not _can_be_arm(s):
                msg = f"{n}: policy-wide settings differ from the defaults (arms carry " \
                      "campaigns only)"
                if msg not in skipped:
                    skipped.append(msg)
                continue
            chosen.append(s)
            why.append(f"{'pick' if rank == 0 else 'runner-up'} on {c.platform}")
    learned = {p for s in chosen for p in identifies(sc, s, names)}
    missing_cold = any(priors.BY_NAME[p].field == "dialog_cold" for p in deciding - learned)
    if missing_cold:
        cold = next((s for s in sc.strategies if _kind(s) == "cold" and _can_be_arm(s)),
                    COLD_HOLDOUT)
        _make_room(chosen, why, max_arms)
        chosen.append(cold)
        why.append("cold holdout: a deciding cold allow rate is seen only without a soft prompt")
    learned = {p for s in chosen for p in identifies(sc, s, names)}
    if any(priors.BY_NAME[p].field == "dialog_primed" or p == "receptiveness_mean"
           for p in deciding - learned):
        primer = next((by[n] for c in calls for n in sorted(c.values, key=lambda n: -c.values[n])
                       if _kind(by[n]) == "primer" and _can_be_arm(by[n])), None)
        if primer is not None and primer not in chosen:
            _make_room(chosen, why, max_arms)
            chosen.append(primer)
            why.append("primer arm: a deciding acceptance or primed rate needs a soft prompt")
    return chosen, why, skipped


def _make_room(chosen: list[Strategy], why: list[str], max_arms: int) -> None:
    while len(chosen) >= max_arms and len(chosen) > 1:
        chosen.pop()
        why.pop()


def window_signals(sc: Scenario, raw: RunResult, draws: PriorDraws, arms: list[Strategy],
                   weights: list[float], window: int) -> list[pv.Signal]:
    """Counts per unit of the experiment each arm would show in its first ``window`` days,
    from the sensitivity run (mean over the draws)."""
    names = raw.scenario.strategy_names()
    d = min(window, sc.days)
    installs = raw.series("installs")[..., :d].sum(axis=(2, 3))  # [draw, strategy]
    self_asking = _self_asking(sc)
    out = []
    for arm, w in zip(arms, weights, strict=True):
        if arm.name not in names:
            continue
        s = names.index(arm.name)
        per_unit = installs[:, s]
        for p in identifies(sc, arm, draws.names):
            prior = priors.BY_NAME[p]
            if p == "receptiveness_mean":
                shown = raw.series("soft_prompts_shown")[:, s, :, :d].sum(axis=(1, 2))
                acc = raw.series("soft_prompts_accepted")[:, s, :, :d].sum(axis=(1, 2))
                rate = acc / np.maximum(shown, 1)
                x = draws.values[:, draws.names.index(p)]
                slope, base = np.polyfit(x, rate, 1)
                trials = float(np.mean(shown / np.maximum(per_unit, 1)))
                out.append(pv.Signal(p, arm.name, w * trials, float(base), float(slope)))
                continue
            keys = set(prior.keys) - (self_asking if prior.field == "dialog_primed" else set())
            cohorts = [PROFILES.index(k) for k in keys]
            dialogs = raw.series("os_dialogs_shown")[:, s, cohorts, :d].sum(axis=(1, 2))
            trials = float(np.mean(dialogs / np.maximum(per_unit, 1)))
            out.append(pv.Signal(p, arm.name, w * trials, 0.0, 1.0))
    return out


def _self_asking(sc: Scenario) -> set[str]:
    from sim.rules.native import ProfileRules

    return {n for n, p in sc.profiles().items()
            if ProfileRules(p).dialog_on_first_launch and not ProfileRules(p).app_can_request}


def costs(sc: Scenario, raw: RunResult, arm: ArmPlan, units: float, days: int) -> ArmPlan:
    """``arm`` with its dialogs burnt and devices blocked over ``days`` days of ``units``
    units on it (per unit from the run, over its first ``days`` days)."""
    names = raw.scenario.strategy_names()
    if arm.name not in names or units <= 0:
        return arm
    s = names.index(arm.name)
    d = max(1, min(days, sc.days))
    inst = raw.series("installs")[:, s, :, :d].sum(axis=(1, 2))
    shown = raw.series("os_dialogs_shown")[:, s, :, :d].sum(axis=-1)
    allowed = raw.series("os_dialogs_allowed")[:, s, :, :d].sum(axis=-1)
    burnt = shown - allowed  # [draw, cohort]
    ios = PROFILES.index("ios")
    blocked = raw.series("blocked_devices")[:, s, :, d - 1].sum(axis=1)
    per = 1.0 / np.maximum(inst, 1)
    return dataclasses.replace(
        arm, dialogs_burnt=float(np.mean(burnt.sum(axis=1) * per)) * units,
        ios_dialogs_burnt=float(np.mean(burnt[:, ios] * per)) * units,
        blocked=float(np.mean(blocked * per)) * units)


def block_prices(sc: Scenario, raw: RunResult) -> list[BlockPrice]:
    """Per platform of the population: its pick (the highest mean value over the draws, of
    the scenario's strategies), the pick's opted-in share of installs at the horizon
    (``later``, pooled over the draws), and the prices it implies (:class:`BlockPrice`).
    The chance of a later opt-in is a fresh install's: a unit that dismissed a prompt in
    the experiment may have less (an assumption, in the price's source)."""
    names = sc.strategy_names()
    every = raw.scenario.strategy_names()
    cols = [every.index(n) for n in names]
    opted = platform_sum(raw.series("opted_in_devices")[..., -1:], sc)[..., 0][:, cols].sum(0)
    installs = platform_sum(raw.series("installs"), sc).sum(axis=-1)[:, cols].sum(axis=0)
    w_opt, w_blk = sc.objective.opted_in, sc.objective.blocked
    out = []
    for p in pv.platforms_of(sc):
        k = PLATFORMS.index(p)
        v = pv.values_of(raw, p, names)
        ok = ~np.isnan(v).any(axis=1)
        s = int(np.argmax(v[ok].mean(axis=0))) if ok.any() else 0
        # pooled over the draws; a platform the run never installed on: no later opt-in
        later = float(opted[s, k] / installs[s, k]) if installs[s, k] > 0 else 0.0
        out.append(BlockPrice(p, names[s], later, w_opt * (1.0 - later),
                              w_opt * later + w_blk))
    return out


def design(sc: Scenario, *, draws: int, installs_per_day: float, max_loss: float,
           experiment_id: str, start: dt.date, max_arms: int = 3, min_days: int = 14,
           jobs: int = 1, on_task_done: Callable[[], None] | None = None) -> Design:
    """The experiment that settles the scenario's pick on every platform. Without a cold
    strategy that can be an arm, the cold holdout is simulated beside the scenario's
    strategies (for its counts and costs; it is not a candidate of the decision)."""
    probe = sc
    if not any(_kind(s) == "cold" and _can_be_arm(s) for s in sc.strategies):
        probe = msgspec.structs.replace(sc, strategies=(*sc.strategies, COLD_HOLDOUT))
    raw, pd_ = run_sensitivity(probe, draws, jobs=jobs, on_task_done=on_task_done)
    platforms, thin = pv.judged(raw)
    if not platforms:
        raise ValueError(f"--devices: {sc.devices:,} devices per draw leave every platform "
                         f"under {pv.MIN_DEVICES} simulated installs; raise it")
    mix = sc.profiles()
    shares = {p: sum(v for k, v in sc.population.mix.items() if mix[k].platform == p)
              for p in platforms}
    learnable_all = [n for n in pd_.names if priors.BY_NAME[n].field in
                     ("dialog_cold", "dialog_primed") or n == "receptiveness_mean"]
    first = [call(sc, raw, pd_, p, learnable_all) for p in platforms]
    deciding: dict[str, list[str]] = {}
    for c in first:
        found = pv.drivers(pv.values_of(raw, c.platform, sc.strategy_names()), pd_,
                           sc.strategy_names())
        deciding[c.platform] = [d.prior for d in found if d.significant
                                and platform_priors(sc, c.platform, [d.prior])][:4]
    every = {p for ps in deciding.values() for p in ps}
    arms, why, skipped = choose_arms(sc, first, shares, every, pd_.names, max_arms)
    weight = 1.0 / len(arms)
    weights = [weight] * len(arms)
    signals = window_signals(sc, raw, pd_, arms, weights, min_days)
    learn = sorted({s.prior for s in signals})
    plans = []
    for c0 in first:
        c = call(sc, raw, pd_, c0.platform, learn)
        n, curve = units_needed(c, signals, max_loss, sc.seed)
        plans.append(PlatformPlan(c.platform, shares[c.platform], c.pick, c.loss_now,
                                  deciding[c.platform], c.flips, n, curve, c.model.r2))
    days = max([min_days] + [math.ceil(p.units / installs_per_day) for p in plans
                             if p.units is not None])
    units = days * installs_per_day
    arm_plans = [costs(sc, raw, ArmPlan(a.name, weight, a, identifies(sc, a, pd_.names), w),
                       units * weight, days) for a, w in zip(arms, why, strict=True)]
    return Design(experiment_id, sc.name, arm_plans, plans, max_loss, installs_per_day, units,
                  days, start, skipped, thin, block_prices(sc, raw))


THOMPSON_MIN_WEIGHT = 0.1
"""The floor of each arm's weight under a Thompson allocation that ``pilot design`` writes
(an assumption): every arm keeps enrolling, so the priors it identifies keep being learnt."""


def experiment_body(d: Design, sc: Scenario, thompson: bool = False) -> dict[str, object]:
    """The experiment as the service's ``PUT /v1/experiments/{id}`` body; with
    ``thompson``, an adaptive allocation priced by :func:`block_prices`."""
    end = d.start + dt.timedelta(days=d.days)
    body: dict[str, object] = {
        "arms": [{"name": a.name, "weight": a.weight,
                  "campaigns": msgspec.to_builtins(a.strategy.campaigns)} for a in d.arms],
        "unit": "device",
        "audience": {"platforms": pv.platforms_of(sc), "profiles": []},
        "start": f"{d.start.isoformat()}T00:00:00Z",
        "end": f"{end.isoformat()}T00:00:00Z",
    }
    if thompson:
        body["allocation"] = {
            "kind": "thompson", "min_weight": THOMPSON_MIN_WEIGHT, "update_every": "1d",
            "prices": [{"platform": p.platform, "opt_in": round(p.opt_in, 4),
                        "blocked": round(p.blocked, 4)} for p in d.prices],
            "prices_source": f"promptsim pilot design {d.scenario} ({sc.days} days): later = "
                             "the pick's opted-in share of installs at the horizon; opt_in = "
                             "w(opted_in) (1 - later), blocked = w(opted_in) later + w(blocked)"}
    return body
