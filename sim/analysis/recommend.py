"""The recommendation: the strategy that maximises the scenario's objective, overall and
per platform, and the one policy that runs the per-platform picks side by side.

``recommend`` reads the outcomes of ``sim.model.objective.outcomes`` (arrays
``[replication, strategy]``). Without prior draws the replications differ only by
simulation noise, so the best strategy displaces the baseline only when its paired
difference is significant. With prior draws (a sensitivity run) each replication is
one draw of the priors: the strategy with the highest expected value is recommended
(the decision-theoretic choice), and the probability that each strategy is best and
its expected loss say how sure that choice is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec
import numpy as np

from sim.model.objective import Objective, expected_loss, p_best, pareto_efficient
from sim.model.scenario import Scenario, Strategy
from sim.rules.config.campaigns import Audience
from sim.stats import Estimate, estimate


@dataclass
class Recommendation:
    """The strategy recommended, the rule that picked it and the numbers behind it."""

    strategy: str
    baseline: str
    rule: str
    value: dict[str, Estimate]
    """Per strategy, the objective's value per 1,000 installs."""
    pareto: list[str]
    """Strategies no other beats on opt-in, prompt-caused uninstalls and blocked at once."""
    reasons: list[str] = field(default_factory=list)
    tied: list[str] = field(default_factory=list)
    provisional: bool = False
    """True when intervals are missing (one replication) and only means decided."""
    p_best: dict[str, float] | None = None
    """With prior draws: per strategy, the probability that it is best."""
    expected_loss: dict[str, float] | None = None
    """With prior draws: per strategy, the value lost against the best, on average."""


def _fmt(e: Estimate, decimals: int = 1, signed: bool = False) -> str:
    f = f"{{:{'+' if signed else ''}.{decimals}f}}"
    if math.isnan(e.lo):
        return f.format(e.mean)
    return f"{f.format(e.mean)} (95% CI {f.format(e.lo)} to {f.format(e.hi)})"


def p_best_error(p: float, draws: int) -> float:
    """The Monte Carlo standard error of a P(best) of ``p`` over ``draws`` draws, as for
    independent draws (the Latin hypercube is no worse for a mean): sqrt(p (1 - p) / n)."""
    return math.sqrt(p * (1.0 - p) / draws) if draws > 0 else math.nan


def replications_to_separate(gain: Estimate, n: int) -> str:
    """How many replications would make ``gain`` (over ``n``) significant if its mean and
    spread stayed as estimated: the interval's half-width shrinks as 1/sqrt(n)."""
    half = (gain.hi - gain.lo) / 2.0
    if math.isnan(half) or gain.mean == 0:
        return "more replications would tell them apart if they differ."
    need = math.ceil(n * (half / abs(gain.mean)) ** 2 * 1.1)
    return (f"about {need} replications would separate them if the difference is as "
            f"estimated (run with --replications {need}).")


def rule_text(objective: Objective, draws: bool) -> str:
    """The decision rule, as the report states it."""
    o = objective
    head = (f"Maximise the value per 1,000 installs: {o.opted_in:g} per device opted in at the "
            f"horizon, {o.provisional:g} per provisional device, minus {o.prompt_uninstall:g} "
            f"per uninstall caused by a declined soft prompt and {o.blocked:g} per device "
            f"blocked for good (the scenario's [objective]; per install, so a strategy gains "
            f"nothing by driving the people who say no to uninstall). ")
    if draws and o.drawn:
        head += (f"Each draw also drew the uncertain weights, uniformly in their ranges "
                 f"({', '.join(f'{k} {lo:g}-{hi:g}' for k, (lo, hi) in o.ranges.items())}), "
                 f"and is valued at its own weights. ")
    if draws:
        return head + ("Each replication drew its own priors: the strategy with the highest "
                       "expected value is recommended; P(best) is the share of draws in which "
                       "a strategy has the highest value, its expected loss the value it "
                       "gives up against the best of each draw, on average.")
    return head + ("The best strategy is recommended only if it beats the baseline "
                   "significantly (paired 95% interval above zero); otherwise keep the "
                   "baseline. Strategies whose paired difference from the recommended one is "
                   "not significant are reported as tied.")


def recommend(out: dict[str, np.ndarray], strategies: list[str], baseline: str,
              objective: Objective, *, draws: bool = False) -> Recommendation:
    """Pick a strategy by ``rule_text`` from ``out`` (``sim.model.objective.outcomes``)."""
    v = out["value"]
    b = strategies.index(baseline)
    values = {n: estimate(v[:, s]) for s, n in enumerate(strategies)}
    eff = pareto_efficient(np.nanmean(out["optin_share"], axis=0),
                           np.nanmean(out["prompt_uninstalls_per_1k"], axis=0),
                           np.nanmean(out["blocked_share"], axis=0))
    rec = Recommendation(strategy=baseline, baseline=baseline,
                         rule=rule_text(objective, draws), value=values,
                         pareto=[n for n, e in zip(strategies, eff, strict=True) if e])
    rec.provisional = v.shape[0] < 2
    means = np.nanmean(v, axis=0)
    best = int(np.nanargmax(means))
    gain = estimate(v[:, best] - v[:, b])
    if draws:
        rec.p_best = dict(zip(strategies, p_best(v).tolist(), strict=True))
        rec.expected_loss = dict(zip(strategies, expected_loss(v).tolist(), strict=True))
        rec.strategy = strategies[best]
        col = v[:, best][~np.isnan(v[:, best])]
        lo, hi = (np.percentile(col, [5, 95]) if len(col) else (math.nan, math.nan))
        p = rec.p_best[rec.strategy]
        rec.reasons.append(
            f"{strategies[best]} has the highest expected value, {_fmt(values[rec.strategy])} "
            f"per 1,000 installs over {v.shape[0]} prior draws (that interval is of the mean; "
            f"across the draws its value spans {lo:.1f} to {hi:.1f}, 5th to 95th "
            f"percentile); it is best in {100 * p:.0f}% of the draws "
            f"(\u00b1{100 * p_best_error(p, v.shape[0]):.0f} points, Monte Carlo standard "
            f"error) and loses {rec.expected_loss[rec.strategy]:.1f} per 1,000 installs on "
            f"average against the best of each draw.")
    elif best == b:
        rec.reasons.append(f"No strategy has a higher value than the baseline {baseline} "
                           f"({_fmt(values[baseline])} per 1,000 installs).")
    elif gain.significant or (rec.provisional and gain.mean > 0):
        rec.strategy = strategies[best]
        rec.reasons.append(
            f"{rec.strategy}: value {_fmt(values[rec.strategy])} per 1,000 installs against "
            f"{_fmt(values[baseline])} for {baseline}; paired difference "
            f"{_fmt(gain, signed=True)}.")
    else:
        rec.reasons.append(
            f"Not enough replications to separate {strategies[best]} and {baseline}: the "
            f"best strategy, {strategies[best]}, does not beat {baseline} significantly "
            f"(paired difference {_fmt(gain, signed=True)} per 1,000 installs), so the "
            f"baseline is kept; {replications_to_separate(gain, v.shape[0])}")
    r = strategies.index(rec.strategy)
    rec.reasons.append(
        f"{rec.strategy}: {100 * np.nanmean(out['optin_share'][:, r]):.1f}% of installed "
        f"devices opted in, {100 * np.nanmean(out['provisional_share'][:, r]):.1f}% "
        f"provisional, {100 * np.nanmean(out['blocked_share'][:, r]):.1f}% blocked for good, "
        f"{np.nanmean(out['prompt_uninstalls_per_1k'][:, r]):.2f} uninstalls caused by "
        f"prompts per 1,000 installs.")
    if not draws:
        for s, name in enumerate(strategies):
            if s != r and estimate(v[:, s] - v[:, r]).significant is False:
                rec.tied.append(name)
    if rec.strategy not in rec.pareto:
        rec.reasons.append(f"{rec.strategy} is not Pareto-efficient: another strategy is at "
                           f"least as good on opt-in, prompt-caused uninstalls and blocked "
                           f"devices; the objective's weights still rank it first.")
    if rec.provisional:
        rec.reasons.append("Only one replication: no intervals, so this is decided on means "
                           "alone and is provisional. Run more replications.")
    return rec


def platform_policy(sc: Scenario, picks: dict[str, str], name: str = "per_platform") -> Strategy:
    """One strategy that runs each platform's pick on that platform only.

    Each picked strategy's campaigns get an audience of its platform and an id prefixed
    with the platform (``ios.soft``). Policy-wide settings come from the pick of the
    platform listed first (iOS provisional authorization from the iOS pick); the
    eligibility service runs the result as it is.
    """
    by_name = {s.name: s for s in sc.strategies}
    campaigns = []
    for platform, pick in picks.items():
        for c in by_name[pick].campaigns:
            audience = Audience(platforms=(platform,))
            campaigns.append(msgspec.structs.replace(c, id=f"{platform}.{c.id}",
                                                     audience=audience))
    first = by_name[next(iter(picks.values()))]
    ios = by_name.get(picks.get("ios", ""), first)
    return Strategy(name=name, campaigns=tuple(campaigns),
                    min_spacing_seconds=first.min_spacing_seconds,
                    permission_first=first.permission_first,
                    provisional_on_install=ios.provisional_on_install,
                    reset_on_reinstall=first.reset_on_reinstall)


WEIGHTS: dict[str, tuple[str, str, float]] = {
    "provisional": ("provisional_per_1k", "a provisional device were worth", 1.0),
    "prompt_uninstall": ("prompt_uninstalls_per_1k", "a prompt-caused uninstall cost", -1.0),
    "blocked": ("blocked_per_1k", "a device blocked for good cost", -1.0),
    "reachable": ("reachable_per_1k", "a reachable device were worth", 1.0),
}
"""Each objective weight: the outcome it multiplies, how to say it, and its sign."""


def weight_flips(out: dict[str, np.ndarray], strategies: list[str], chosen: str,
                 objective: Objective) -> list[str]:
    """Sentences saying at which objective weight another strategy would overtake
    ``chosen`` on mean value (the value is linear in each weight, so this is exact). The
    mean value is taken at the point weights, also when a sensitivity run drew them."""
    means = {k: np.nanmean(v, axis=0) for k, v in out.items()}
    means["value"] = (objective.opted_in * means["optin_per_1k"]
                      + objective.provisional * means["provisional_per_1k"]
                      - objective.prompt_uninstall * means["prompt_uninstalls_per_1k"]
                      - objective.blocked * means["blocked_per_1k"]
                      + objective.reachable * means.get("reachable_per_1k", 0.0))
    r = strategies.index(chosen)
    found = []
    for s, other in enumerate(strategies):
        if s == r:
            continue
        gap = float(means["value"][r] - means["value"][s])
        for weight, (key, words, sign) in WEIGHTS.items():
            if key not in means or (weight == "reachable" and not objective.reachable):
                continue  # unset: no sentence (its outcomes differ even without sending)
            slope = sign * float(means[key][r] - means[key][s])
            if slope == 0 or math.isnan(slope):
                continue
            at = getattr(objective, weight) - gap / slope
            if at < 0:
                continue
            side = "less" if slope > 0 else "more"
            found.append(f"`{other}` would beat `{chosen}` if {words} {side} than {at:.2f} "
                         f"opted-in devices (now {getattr(objective, weight):g}).")
    return found
