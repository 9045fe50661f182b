"""Scenario files: TOML in, one validated ``Scenario`` out.

Validation happens once, here, at the edge. Every error names the file, the
field and what is allowed, and is raised as ``ScenarioError``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec

from sim.model import priors
from sim.model.behaviour import Behaviour
from sim.model.load_table import LoadConfig
from sim.model.objective import WEIGHTS, Objective
from sim.model.scenario_errors import explain
from sim.model.search import Search, check_family, family_campaigns
from sim.model.segments import CATEGORIES, PRIOR
from sim.model.sending import Sending, check_sending
from sim.rules.config.campaigns import Identifier, OnEvent, Policy, Programmatic
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    DeviceKind,
    PlatformProfile,
    override_profiles,
)

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
UtcOffset = Annotated[int, msgspec.Meta(ge=-720, le=840)]
"""A time zone's offset from UTC in minutes, -12:00 to +14:00."""


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message says where and why."""


class DeviceShare(DeviceKind, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A share of the devices, described as they register with the service: a platform family
    plus its version (``platform``, ``os_version``, ``os_kind``, ``api_level``,
    ``app_target_sdk``, ``browser``, ``quiet_ui``), resolved to a profile by the rules'
    ``resolve_profile``, as the service resolves a registration."""

    share: Share
    """Share of all devices with these facts."""


class Population(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who installs the app: the platform mix and how installs arrive."""

    mix: dict[str, float] = msgspec.field(default_factory=dict)
    """Share of devices per platform profile (see ``sim.rules.config.platforms``); with ``devices``,
    sums to 1."""
    devices: tuple[DeviceShare, ...] = ()
    """Shares of devices as they register with the service (``[[population.devices]]``
    ``platform = "android"``, ``os_version = 14``, ...): each is resolved to its profile and
    added to ``mix``."""
    install_window_days: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    """Installs arrive uniformly over the first this many days."""
    second_device: Share = 0.15
    """Chance a user has a second device (its platform drawn from the same mix)."""
    category: str | None = None
    """The app's category, where a source gives its opt-in (``sim.model.segments``:
    edtech, gaming): sets the Android 13+ cold OS-dialog answer and its prior range to
    the category's sourced figure. Default: none, the all-apps averages."""
    sdk_reports_permission: Share = 0.97
    """Share of installs on an SDK that reports the permission (MoEngage 200 otherwise)."""
    utc_offset_minutes: UtcOffset = 0
    """The devices' time zone, minutes from UTC (default UTC): ``per_day`` caps count the
    local day. The simulated days start at midnight UTC."""


class Sensitivity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Probabilistic sensitivity analysis: each replication draws its own set of priors."""

    draws: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Prior draws (0: none, every replication uses the scenario's priors); each draw is a
    replication (``promptsim simulate --prior-draws N``)."""
    priors: tuple[str, ...] | None = None
    """The priors to draw (names in ``sim.model.priors.PRIORS``); default every sampled one."""
    ranges: dict[str, tuple[float, float]] = msgspec.field(default_factory=dict)
    """Ranges that replace a prior's own, ``name = [low, high]``."""
    sources: dict[str, str] = msgspec.field(default_factory=dict)
    """Where a replaced range comes from, ``name = "..."`` (``promptsim pilot fit`` names its
    experiment); it replaces the prior's own source in the reports."""


class Strategy(Policy, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A named soft-prompt policy to compare against the others."""

    name: Identifier
    """The strategy's name, in the tables, figures and ``baseline``."""
    sending: Sending | None = None
    """What the app sends under this strategy, in place of the scenario's ``[sending]``
    (``scenarios/sending.toml`` runs one prompt schedule with 1 and with 5 pushes a day)."""


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything one simulation run needs."""

    name: Identifier
    """The scenario's name; the run directory defaults to ``runs/<name>``."""
    description: str = ""
    """One line for the report."""
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Root seed: the same scenario and seed give the same results, for any ``--jobs``."""
    devices: PositiveInt
    """Devices installing the app (``--devices`` overrides it)."""
    days: PositiveInt
    """Simulated days from the first install (``--days`` overrides it)."""
    replications: PositiveInt = 1
    """Independent runs over fresh populations; intervals are taken over them."""
    chunk_size: PositiveInt = 25_000
    """Devices simulated together; results do not depend on it only through the seed
    layout, so keep it fixed between runs you compare."""
    baseline: Identifier | None = None
    """Strategy the reports compare the others against (default: the first)."""
    population: Population
    """Who installs the app."""
    behaviour: Behaviour = msgspec.field(default_factory=Behaviour)
    """Overrides of the behaviour priors (``docs/behaviour-priors.md``)."""
    platforms: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Overrides of platform profile fields, e.g. ``[platforms.android13]``."""
    strategies: tuple[Strategy, ...]
    """The strategies to compare, each a policy of campaigns; every one sees the same
    devices (common random numbers)."""
    objective: Objective = msgspec.field(default_factory=Objective)
    """What the recommendation maximises (see ``sim.model.objective``)."""
    sending: Sending | None = None
    """What the app sends to opted-in devices (``sim.model.sending``): with it, Chrome's
    Safety Hub revocation, WebKit's silent-push penalty and the users' opt-outs for the
    volume act after opt-in. Default: none of them (the model before issue 24's sending)."""
    sensitivity: Sensitivity = msgspec.field(default_factory=Sensitivity)
    """Probabilistic sensitivity analysis over the priors."""
    search: Search | None = None
    """What ``promptsim optimize`` searches (``sim.model.search``); ``simulate`` ignores it."""
    load: LoadConfig | None = None
    """Defaults and budgets for ``promptsim load`` (``sim.model.load_table``); ``simulate``
    ignores it."""

    def profiles(self) -> dict[str, PlatformProfile]:
        """The platform profiles with this scenario's overrides applied."""
        return override_profiles(DEFAULT_PROFILES, self.platforms)

    def sending_of(self, strategy: Strategy) -> Sending | None:
        """What the app sends under ``strategy``: its own ``sending``, else the scenario's."""
        return strategy.sending if strategy.sending is not None else self.sending

    def strategy_names(self) -> list[str]:
        """Strategy names in file order."""
        return [s.name for s in self.strategies]

    def install_profiles(self) -> list[str]:
        """The profiles devices install on: the mix's, and Chrome's quiet prompt when a share of
        Chrome devices has it (``behaviour.chrome_adaptive_quiet``)."""
        out = [n for n, share in self.population.mix.items() if share > 0]
        if self.behaviour.chrome_adaptive_quiet > 0 and "chrome" in out \
                and "chrome_quiet" not in out:
            out.append("chrome_quiet")
        return out


def _check_objective(sc: Scenario) -> None:
    """``objective.ranges`` names uncertain weights (not the unit) with low <= high;
    ``objective.drawn`` holds one value per prior draw."""
    uncertain = WEIGHTS[1:]
    for name, (lo, hi) in sc.objective.ranges.items():
        if name not in uncertain:
            raise ValueError(f"objective.ranges: unknown weight {name!r}; allowed: "
                             f"{', '.join(uncertain)} (opted_in is the unit)")
        if not lo <= hi:
            raise ValueError(f"objective.ranges.{name}: low must not exceed high, got "
                             f"[{lo:g}, {hi:g}]")
    for name, drawn in sc.objective.drawn.items():
        if name not in sc.objective.ranges or len(drawn) != sc.sensitivity.draws:
            raise ValueError(f"objective.drawn.{name}: written by --prior-draws, one value "
                             f"per draw of a weight in objective.ranges; remove it")


def pick_strategy(sc: Scenario, name: str | None, option: str = "strategy") -> Strategy:
    """The strategy called ``name``; by default the baseline (the first unless ``baseline``
    names another). ``ScenarioError`` naming ``option`` if there is no such strategy."""
    chosen = name or sc.baseline
    if chosen is None:
        return sc.strategies[0]
    for s in sc.strategies:
        if s.name == chosen:
            return s
    raise ScenarioError(f"{option}: {chosen!r} is not in the scenario; allowed: "
                        f"{', '.join(sc.strategy_names())}")


def _resolve_category(sc: Scenario) -> Scenario:
    """``population.category`` applied: its Android 13+ cold answer in the behaviour, its
    range in ``sensitivity.ranges`` (unless the scenario gives one)."""
    name = sc.population.category
    if name is None:
        return sc
    cat = CATEGORIES.get(name)
    if cat is None:
        raise ValueError(f"population.category: unknown category {name!r}; known (with a "
                         f"source): {', '.join(CATEGORIES)}")
    ranges = {PRIOR: cat.range} | dict(sc.sensitivity.ranges)
    return msgspec.structs.replace(
        sc, behaviour=priors.apply(sc.behaviour, {PRIOR: cat.cold}),
        sensitivity=msgspec.structs.replace(sc.sensitivity, ranges=ranges))


def _resolve_devices(sc: Scenario) -> Scenario:
    """``population.devices`` folded into ``population.mix`` by the profile each resolves to."""
    if not sc.population.devices:
        return sc
    mix = dict(sc.population.mix)
    for i, d in enumerate(sc.population.devices):
        try:
            name = d.profile()
        except ValueError as exc:
            raise ValueError(f"population.devices[{i}].{exc}") from None
        mix[name] = mix.get(name, 0.0) + d.share
    pop = msgspec.structs.replace(sc.population, mix=mix, devices=())
    return msgspec.structs.replace(sc, population=pop)


def _check(sc: Scenario) -> None:
    profiles = sc.profiles()  # raises on bad overrides
    allowed = ", ".join(sorted(profiles))
    for name, share in sc.population.mix.items():
        if name not in profiles:
            raise ValueError(f"population.mix: unknown platform {name!r}; allowed: {allowed}")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"population.mix.{name}: a share between 0 and 1, got {share:g}")
    total = sum(sc.population.mix.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"population.mix: shares must sum to 1, got {total:g}")
    for field in ("dialog_cold", "dialog_primed"):
        for name in getattr(sc.behaviour, field):
            if name not in profiles:
                raise ValueError(f"behaviour.{field}: unknown platform {name!r}; "
                                 f"allowed: {allowed}")
    reachable = set(sc.install_profiles())
    for name in list(reachable):
        while (nxt := profiles[name].upgrade_to) is not None and nxt not in reachable:
            reachable.add(nxt)
            name = nxt
    for name in sorted(reachable):
        p = profiles[name]
        asks = p.os_dialog and p.web_push and (p.app_can_request or p.dialog_on_first_launch)
        for field in ("dialog_cold", "dialog_primed"):
            if asks and name not in getattr(sc.behaviour, field):
                raise ValueError(f"behaviour.{field}: no answers given for platform {name!r}, "
                                 "which can show the OS dialog")
    for family in sc.behaviour.uninstall_after_churn:
        if family not in ("ios", "android", "web"):
            raise ValueError(f"behaviour.uninstall_after_churn: unknown family {family!r}; "
                             "allowed: android, ios, web")
    if not sc.strategies:
        raise ValueError("strategies: at least one strategy is required")
    priors.sampled(sc.sensitivity.priors)  # raises on an unknown name
    for name, (lo, hi) in sc.sensitivity.ranges.items():
        if name not in priors.BY_NAME:
            raise ValueError(f"sensitivity.ranges: unknown prior {name!r}; allowed: "
                             f"{', '.join(priors.BY_NAME)}")
        if not lo <= hi:
            raise ValueError(f"sensitivity.ranges.{name}: low must not exceed high, got "
                             f"[{lo:g}, {hi:g}]")
    _check_objective(sc)
    if sc.sending is not None:
        check_sending(sc.sending, sc.behaviour, "sending")
    for k, s in enumerate(sc.strategies):
        if s.sending is not None:
            check_sending(s.sending, sc.behaviour, f"strategies[{k}].sending")
    for name in sc.sensitivity.sources:
        if name not in sc.sensitivity.ranges:
            raise ValueError(f"sensitivity.sources.{name}: a source needs a range in "
                             f"sensitivity.ranges; allowed: {', '.join(sc.sensitivity.ranges)}")
    names = sc.strategy_names()
    for n in names:
        if names.count(n) > 1:
            raise ValueError(f"strategies: duplicate name {n!r}")
    if sc.search is not None:
        _check_search(sc.search, names, sc.behaviour)
    if sc.baseline is not None and sc.baseline not in names:
        raise ValueError(f"baseline: {sc.baseline!r} is not a strategy; allowed: "
                         f"{', '.join(names)}")
    for s in sc.strategies:
        for c in s.campaigns:
            if c.is_permission:
                break
        else:
            if s.campaigns:
                raise ValueError(f"strategies.{s.name}: no push-permission campaign")
    _check_triggers_fire(sc)


def _check_triggers_fire(sc: Scenario) -> None:
    """No silent zeros: every campaign's trigger is one the behaviour model fires."""
    b = sc.behaviour
    if b.event_name in b.events:
        raise ValueError(f"behaviour.events.{b.event_name}: already the app's main event "
                         "(behaviour.event_name); set its rate with behaviour.event_per_session")
    rates = {b.event_name: b.event_per_session, **b.events}
    for s in sc.strategies:
        for c in s.campaigns:
            where = f"strategies.{s.name}: campaign {c.id!r}"
            if isinstance(c.trigger, OnEvent) and not rates.get(c.trigger.name):
                sent = ", ".join(f"{n} ({r:g}/session)" for n, r in rates.items() if r) or "none"
                raise ValueError(
                    f"{where}: its trigger, event {c.trigger.name!r}, never fires: no "
                    f"simulated session sends it (events sent: {sent}); declare its rate per "
                    f"session, e.g. [behaviour.events] {c.trigger.name} = 0.3")
            if isinstance(c.trigger, Programmatic) and not b.programmatic_per_session:
                raise ValueError(
                    f"{where}: its trigger, programmatic, never fires: "
                    "behaviour.programmatic_per_session is 0; declare how often a session "
                    "fires it, e.g. programmatic_per_session = 0.05 under [behaviour]")


def _check_search(search: Search, strategies: list[str], b: Behaviour) -> None:
    sent = {n for n, r in {b.event_name: b.event_per_session, **b.events}.items() if r}
    seen = {n: "strategies" for n in strategies}
    for k, f in enumerate(search.families):
        where = f"search.families[{k}]"
        check_family(f, where)
        for t in f.trigger:
            if isinstance(t, OnEvent) and t.name not in sent:
                names = ", ".join(sorted(sent)) or "none"
                raise ValueError(f"{where}.trigger: event {t.name!r} is never sent by the "
                                 f"simulated users (events sent: {names}); "
                                 "its candidates would never show: declare its rate, e.g. "
                                 f"[behaviour.events] {t.name} = 0.3")
            if isinstance(t, Programmatic) and not b.programmatic_per_session:
                raise ValueError(f"{where}.trigger: programmatic never fires "
                                 "(behaviour.programmatic_per_session is 0)")
        for name, _ in family_campaigns(f):
            if len(name) > 64:
                raise ValueError(f"{where}.name: candidate name {name!r} is longer than 64 "
                                 "characters; shorten the family's name")
            if name in seen:
                raise ValueError(f"{where}: candidate {name!r} is also in {seen[name]}; "
                                 "rename the family")
            seen[name] = where
    if search.first_round > search.replications:
        raise ValueError(f"search.first_round: at most search.replications "
                         f"({search.replications}), got {search.first_round}")


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a decoded scenario mapping; raise ``ScenarioError`` naming ``source``."""
    try:
        sc = _resolve_category(_resolve_devices(msgspec.convert(data, Scenario)))
        _check(sc)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {explain(str(exc), Scenario, data)}") from None
    except ValueError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    return sc


def load_scenario(path: str | Path, **overrides: Any) -> Scenario:
    """Read a scenario from TOML (or the JSON a run directory holds).

    ``overrides`` replace top-level fields (``devices``, ``days``, ``seed``...)
    before validation, so they are checked like the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = msgspec.json.decode(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") \
            from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a table at the top level")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_scenario(data, str(path))


def dump_scenario(sc: Scenario) -> bytes:
    """The resolved scenario as JSON, every default spelled out (loadable again)."""
    return msgspec.json.format(msgspec.json.encode(sc), indent=2)
