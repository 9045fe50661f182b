"""One device life (``sim.model.life``): the steps the engine and the load-test device share."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from sim.engine.chunk import ChunkModel
from sim.model.clock import DAY, EPOCH
from sim.model.life import (
    CLEAR,
    HIBERNATE,
    OPT_OUT,
    PENALTY,
    REENABLE,
    REINSTALL,
    REVOKE,
    SESSION,
    UNINSTALL,
    UPGRADE,
    WAKES,
    Life,
)
from sim.model.population import INF, Chunk, make_chunk
from sim.model.scenario import Scenario
from sim.model.stage import FLOWS, Port, Stage
from sim.rules.config.campaigns import TriggerFired
from sim.rules.config.verdict import Decision
from sim.rules.decision import decide
from sim.rules.native import ProfileRules


class InProcess(Port):
    """An engine-like port: ``decide`` in-process, nothing reported."""

    def decide(self, life: Life, fired: TriggerFired, t: float, now: float) -> Decision:
        """The rules' decision."""
        return decide(life.state, life.profile, life.stage.policy, fired, now)


class Batches(InProcess):
    """A device-like port: the rules' decision, reports queued, batches cut at each flush."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, float]] = []
        self.batches: list[list[tuple[str, float]]] = []

    def report(self, life: Life, kind: str, t: float, campaign_id: str | None,
               detail: str | float | None) -> None:
        """Queue ``(kind, at)``."""
        self.queue.append((kind, EPOCH + t * DAY))

    def flush(self, life: Life) -> None:
        """Cut a batch."""
        self.batches.append(self.queue)
        self.queue = []


def live_every_session(life: Life, horizon: float) -> int:
    """Live the whole history as the load-test device does (no session skipped); the steps."""
    steps = 0
    while True:
        t = life.race(life.next_session())
        if t >= horizon:
            return steps
        life.step(t)
        steps += 1


def stage_for(port: Port, sc: Scenario, chunk: Chunk, profiles: dict[str, ProfileRules],
              s: int, *, device: bool) -> Stage:
    return Stage(port, chunk, sc.strategies[s], sc.behaviour, profiles,
                 [0] * (len(FLOWS) * sc.days), sc.days, epoch=EPOCH if device else 0.0,
                 reports=device)


@pytest.fixture
def world(small: Scenario) -> tuple[Scenario, dict[str, ProfileRules], Chunk]:
    sc = msgspec.structs.replace(small, devices=400, chunk_size=400)
    profiles = sc.profiles()
    rules = {n: ProfileRules(p) for n, p in profiles.items()}
    return sc, rules, make_chunk(sc, profiles, 0, 0)


@pytest.mark.parametrize("s", range(7))
def test_an_engine_like_and_a_device_like_port_count_the_same(
        world: tuple[Scenario, dict[str, ProfileRules], Chunk], s: int) -> None:
    """Every device of the chunk lived step by step through an in-process port (days from
    0, nothing reported) and through a device-like one (the service's clock, every event
    reported and batched) counts the same things on the same days, and both add up to the
    engine's daily counts for that strategy (which skips idle sessions)."""
    sc, profiles, chunk = world
    engine_like = stage_for(InProcess(), sc, chunk, profiles, s, device=False)
    port = Batches()
    device_like = stage_for(port, sc, chunk, profiles, s, device=True)
    for i in range(chunk.n):
        profile = profiles[chunk.profile[i]]
        live_every_session(Life(engine_like, i, profile, 0), sc.days)
        live_every_session(Life(device_like, i, profile, 0), sc.days)
    assert engine_like.counts == device_like.counts
    engine = ChunkModel(sc, profiles, chunk, 0).run()
    mine = np.array(engine_like.counts).reshape(len(FLOWS), sc.days)
    np.testing.assert_array_equal(mine, engine.flows[:, s].sum(axis=1))
    assert mine[FLOWS.index("installs")].sum() == chunk.n
    sent = [kind for batch in port.batches for kind, _ in batch]
    assert sent.count("session_start") > chunk.n


def test_a_device_sends_what_happened_at_the_moments_an_sdk_does(
        world: tuple[Scenario, dict[str, ProfileRules], Chunk]) -> None:
    """A session's start is sent at once (before any decision); a soft prompt's answer,
    with the OS dialog's or the settings screen's, goes in one batch right after it; times
    are on the service's clock."""
    sc, profiles, chunk = world
    port = Batches()
    stage = stage_for(port, sc, chunk, profiles, 2, device=True)  # "once"
    for i in range(chunk.n):
        live_every_session(Life(stage, i, profiles[chunk.profile[i]], 0), sc.days)
    starts = [b for b in port.batches if any(k == "session_start" for k, _ in b)]
    assert all(b[-1][0] == "session_start" for b in starts)
    answers = [b for b in port.batches if b and b[0][0] == "soft_prompt_shown"]
    assert len(starts) > chunk.n and len(answers) > 50
    for b in answers:
        kinds = [k for k, _ in b]
        assert kinds[1] in ("soft_prompt_clicked", "soft_prompt_dismissed"), kinds
        assert set(kinds[2:]) <= {"os_dialog_result", "permission_changed", "uninstalled"}
    assert all(EPOCH <= at < EPOCH + (sc.days + 1) * DAY for b in port.batches for _, at in b)


def test_ties_go_in_one_order(world: tuple[Scenario, dict[str, ProfileRules], Chunk]) -> None:
    """When a session and the timers fall on the same moment, the session comes first,
    then uninstall, reinstall, cleared data, OS upgrade, opt-out, re-enabling,
    hibernation, and the app's sending's: Chrome's revocation, WebKit's penalty."""
    sc, profiles, chunk = world
    life = Life(stage_for(InProcess(), sc, chunk, profiles, 0, device=False), 0,
                profiles[chunk.profile[0]], 0)
    timers = ["t_un", "t_re", "t_clear", "t_up", "t_optout", "t_reenable", "t_hib",
              "t_revoke", "t_penalty"]
    for name in timers:
        setattr(life, name, 5.0)
    order = []
    session = 5.0
    for _ in WAKES:
        assert life.race(session) == 5.0
        order.append(life.wake_kind)
        if life.wake_kind == SESSION:
            session = INF
        else:
            setattr(life, timers[life.wake_kind - 1], INF)
    assert order == [SESSION, UNINSTALL, REINSTALL, CLEAR, UPGRADE, OPT_OUT, REENABLE, HIBERNATE,
                     REVOKE, PENALTY]
    assert [WAKES[k] for k in order[:2]] == ["session", "uninstall"]
    life.t_reenable = 4.0
    assert life.race(5.0) == 4.0 and life.wake_kind == REENABLE


def test_opting_in_starts_the_opt_out_timer_and_a_denial_may_start_re_enabling(
        world: tuple[Scenario, dict[str, ProfileRules], Chunk]) -> None:
    """The state-driven timers are drawn when the permission changes, from the device's
    own streams: the same device draws the same timers on every stage."""
    sc, profiles, chunk = world
    b = msgspec.structs.replace(sc.behaviour, spontaneous_reenable=1.0, opt_out_per_year=50.0)
    sc = msgspec.structs.replace(sc, behaviour=b)
    i = next(k for k in range(chunk.n) if chunk.profile[k] == "android13")
    lives = [Life(stage_for(InProcess(), sc, chunk, profiles, s, device=False), i,
                  profiles["android13"], 0) for s in (0, 1)]
    for life in lives:
        assert life.account(1.0) is not None  # installed: counted for the first time
        assert life.t_optout == life.t_reenable == INF
        life.state.permission = "granted"
        life.account(2.0)
        assert 2.0 < life.t_optout < INF
        life.state.permission = "denied"
        life.account(3.0)
        assert life.t_optout == INF and 3.0 < life.t_reenable < INF
        assert life.account(3.5) is None  # nothing changed: nothing drawn
    assert lives[0].t_reenable == lives[1].t_reenable
    assert lives[0].k == lives[1].k
