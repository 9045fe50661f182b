"""What every simulated device of one load-test process shares.

A :class:`World` holds the scenario, the strategy whose campaigns the service
runs, the platform profiles, the population chunks drawn so far and the
mapping between simulated and real time. Devices are drawn from the
simulator's own population (``sim.model.population.make_chunk``): device ``n`` of a
load test is device ``n`` of the scenario's replication.

A scenario file may carry a ``[load]`` table (defaults for ``promptsim load``
and per-endpoint budgets: ``sim.model.load_table``), validated with the rest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from sim.loadtest.experiment import ExperimentPlan
from sim.model import streams
from sim.model.behaviour import Behaviour
from sim.model.load_table import LoadConfig
from sim.model.population import Chunk, make_chunk
from sim.model.scenario import Scenario, ScenarioError, Strategy, parse_scenario
from sim.model.sending import SendingPlan, sending_plan
from sim.model.stage import FLOWS
from sim.rules.config.campaigns import policy_settings
from sim.rules.config.platforms import PlatformProfile
from sim.rules.native import ProfileRules


def read_scenario(path: str | Path) -> tuple[Scenario, LoadConfig]:
    """Read a scenario (TOML, or a run directory's JSON) and its ``[load]`` table.

    Raises ``ScenarioError`` naming the file and field, as ``load_scenario`` does.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = msgspec.json.decode(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") \
            from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a table at the top level")
    sc = parse_scenario(data, str(path))
    return sc, sc.load or LoadConfig()


def settings_doc(sc: Scenario, strategy: Strategy) -> bytes:
    """Body of ``PUT /v1/settings``: the strategy's policy fields and the scenario's profiles."""
    return msgspec.json.encode(policy_settings(strategy) | {"platforms": sc.platforms})


def campaign_docs(strategy: Strategy) -> list[tuple[str, bytes]]:
    """``(campaign_id, body)`` of each ``PUT /v1/campaigns/{campaign_id}`` (the path gives
    the id, the body the rest)."""
    return [(c.id, msgspec.json.encode({k: v for k, v in msgspec.to_builtins(c).items()
                                        if k != "id"})) for c in strategy.campaigns]


@dataclass(frozen=True, slots=True)
class Burst:
    """A moment when a share of the devices alive then act at once (see ``sim.loadtest.shapes``)."""

    start_s: float
    """Seconds after the test started."""
    spread_s: float
    """The devices' moments are spread uniformly over this many seconds."""
    share: float
    kind: str
    """``session`` (the app is opened) or ``upgrade`` (OS upgrade, then the app is opened)."""


BURST_STREAM = 16
"""First stream of the burst draws (the engine's streams are 1-7)."""


def plan_bursts(bursts: tuple[Burst, ...], t_start: float, key: int) -> list[tuple[float, str]]:
    """The real moments (``time.monotonic()``) at which one user slot takes part in bursts.

    Each burst takes the slot with probability ``share``, at a moment uniform over its
    spread, both drawn from the counter-based streams keyed by the slot: a burst reaches
    whichever device the slot runs at that moment.
    """
    out = []
    for b, burst in enumerate(bursts):
        if streams.uniform(key, BURST_STREAM + 2 * b, 0) < burst.share:
            u = streams.uniform(key, BURST_STREAM + 2 * b + 1, 0)
            out.append((t_start + burst.start_s + u * burst.spread_s, burst.kind))
    return sorted(out)


@dataclass(slots=True)
class World:
    """The shared, read-mostly context of the devices of one load-test process."""

    scenario: Scenario
    strategy: Strategy
    day_seconds: float = 1.0
    replication: int = 0
    run_id: str = "lt"
    bursts: tuple[Burst, ...] = ()
    t_start: float = 0.0
    """``time.monotonic()`` when the test started in this process (bursts count from it)."""
    offset: int = 0
    """Population index of this process's first device (processes draw different devices)."""
    experiment: ExperimentPlan | None = None
    """The experiment the service hosts for this run, which the devices follow."""
    max_devices: int | None = None
    """Devices this process runs at most (None: as many as the run's time allows)."""
    profiles: dict[str, PlatformProfile] = field(init=False)
    rules_profiles: dict[str, ProfileRules] = field(init=False)
    """``profiles`` as the rules read them (converted once per process)."""
    behaviour: Behaviour = field(init=False)
    sending: SendingPlan | None = field(init=False)
    """What the app sends under the strategy (``sim.model.sending``), resolved once."""
    horizon: float = field(init=False)
    counts: list[int] = field(init=False)
    """What this process's devices lived, per day, counted as the engine counts it
    (``FLOWS``; ``counts[f * days + day]``)."""
    devices: list[Any] = field(init=False, default_factory=list)
    """Every ``Device`` this process has started, for its log."""
    _chunks: dict[int, Chunk] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.profiles = self.scenario.profiles()
        self.rules_profiles = {n: ProfileRules(p) for n, p in self.profiles.items()}
        self.behaviour = self.scenario.behaviour
        self.sending = sending_plan(self.scenario.sending_of(self.strategy), self.behaviour)
        self.horizon = float(self.scenario.days)
        self.counts = [0] * (len(FLOWS) * self.scenario.days)

    def chunk_of(self, n: int) -> tuple[Chunk, int]:
        """The population chunk holding device ``n`` (drawn once per process) and its index."""
        size = self.scenario.chunk_size
        k, i = divmod(n % self.scenario.devices, size)
        chunk = self._chunks.get(k)
        if chunk is None:
            if len(self._chunks) >= 4:  # devices are drawn in order: old chunks are done
                self._chunks.pop(next(iter(self._chunks)))
            chunk = self._chunks[k] = make_chunk(self.scenario, self.profiles,
                                                 self.replication, k)
        return chunk, i

    def population_index(self, seq: int) -> int:
        """Population index of this process's ``seq``-th device."""
        return (self.offset + seq) % self.scenario.devices
