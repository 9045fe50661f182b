"""The optimizer's pick as files: a scenario to ``simulate`` and ``report``, and the policy
as the eligibility service takes it (``PUT /v1/settings`` and ``PUT /v1/campaigns/{id}``).

The scenario is the source file's own table (comments aside) without ``[search]``,
with two strategies: ``optimized`` (one campaign per platform, each with an
audience of its platform) and the source's baseline, so ``simulate`` compares
them. Its replications are the finalists', so simulating it with the same seed
gives the optimizer's values on each platform.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sim.analysis.optimize import OptimizeResult
from sim.model.scenario import Scenario, Strategy
from sim.rules.config.campaigns import policy_settings


def _drop_defaults(obj: msgspec.Struct) -> dict[str, Any]:
    """``obj`` as builtins, without the fields left at their defaults nor ``None``s (TOML
    has no null)."""
    out = {}
    for f in msgspec.structs.fields(obj):
        value = getattr(obj, f.name)
        if f.default is not msgspec.NODEFAULT and value == f.default:
            continue
        if value is None:
            continue
        out[f.encode_name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    built = msgspec.to_builtins(value)
    if isinstance(built, dict):
        return {k: _plain(v) for k, v in built.items() if v is not None}
    if isinstance(built, list):
        return [_plain(v) for v in built]
    return built


def strategy_table(s: Strategy) -> dict[str, Any]:
    """A strategy as a scenario's ``[[strategies]]`` entry, defaults left out."""
    out: dict[str, Any] = {"name": s.name}
    out |= {k: v for k, v in _drop_defaults(s).items() if k not in ("name", "campaigns")}
    out["campaigns"] = [_drop_defaults(c) for c in s.campaigns]
    return out


def winner_table(raw: dict[str, Any], sc: Scenario, res: OptimizeResult) -> dict[str, Any]:
    """The winner scenario as a TOML-ready table, from the source file's table ``raw``."""
    out = {k: v for k, v in raw.items() if k not in ("search", "strategies", "baseline")}
    out["name"] = f"{sc.name}_optimized"[:64]
    picks = ", ".join(f"{g}: {r.best}" for g, r in res.groups.items())
    out["description"] = f"promptsim optimize's pick for {sc.name} ({picks})."
    out["replications"] = max(r.replications for r in res.groups.values())
    strategies = [strategy_table(res.winner())]
    base = sc.baseline or (sc.strategies[0].name if sc.strategies else None)
    if base is not None:
        strategies.append(strategy_table(next(s for s in sc.strategies if s.name == base)))
        out["baseline"] = base
    out["strategies"] = strategies
    return out


def service_policy(s: Strategy) -> dict[str, Any]:
    """The policy as the service takes it: ``settings`` for ``PUT /v1/settings`` and
    ``campaigns``, id -> body of ``PUT /v1/campaigns/{id}``."""
    settings = msgspec.to_builtins(policy_settings(s))
    campaigns = {c.id: {k: v for k, v in _plain(c).items() if k != "id"} for c in s.campaigns}
    return {"settings": settings, "campaigns": campaigns}


