"""What the lives of one strategy share, and the port a driver lives them through.

A :class:`Stage` holds what every ``sim.model.life.Life`` of one strategy reads
(the population chunk, the policy and the triggers a session fires, the
behaviour model, the platform profiles) and where they count (``FLOWS`` per
day). Its :class:`Port` is what the two drivers do their own way: the SimPy
engine decides in-process and logs, the load-test device asks the service,
queues the events it reports and sends them in batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mypy_extensions import mypyc_attr

from sim.model.behaviour import Behaviour
from sim.model.population import Chunk
from sim.model.sending import SendingPlan
from sim.rules.config.campaigns import (
    OnEvent,
    Policy,
    Programmatic,
    SessionTime,
    TriggerFired,
)
from sim.rules.config.verdict import Decision
from sim.rules.native import CampaignRules, PolicyRules, ProfileRules

if TYPE_CHECKING:
    from sim.model.life import Life

FLOWS: tuple[str, ...] = (
    "installs", "reinstalls", "uninstalls", "annoyance_uninstalls", "soft_prompts_shown",
    "soft_prompts_accepted", "soft_prompts_dismissed", "os_dialogs_shown", "os_dialogs_allowed",
    "os_dialogs_denied", "settings_opened", "settings_enabled", "opt_outs", "subscribed",
    "unsubscribed", "os_dialogs_allowed_in_summary", "disruptive_revocations",
    "subscriptions_removed",
)
"""Counts of things that happened on a day."""
F_INSTALL: Final = 0
F_REINSTALL: Final = 1
F_UNINSTALL: Final = 2
F_ANNOY: Final = 3
F_SHOWN: Final = 4
F_ACCEPT: Final = 5
F_DISMISS: Final = 6
F_DIALOG: Final = 7
F_ALLOW: Final = 8
F_DENY: Final = 9
F_SETTINGS_OPEN: Final = 10
F_SETTINGS_ON: Final = 11
F_OPT_OUT: Final = 12
F_SUB: Final = 13
F_UNSUB: Final = 14
F_SUMMARY: Final = 15
"""iOS allows given as "Allow in Scheduled Summary" (counted in ``os_dialogs_allowed`` too:
authorized, but delivery waits for the summary; ``Behaviour.scheduled_summary``)."""
F_REVOKED: Final = 16
"""Permissions Chrome's Safety Hub revoked as disruptive (with the app's sending)."""
F_REMOVED: Final = 17
"""Push subscriptions WebKit removed after silent pushes (with the app's sending)."""

DETAIL: Final = {"os_dialog_result": "outcome", "permission_changed": "permission",
                 "os_upgraded": "os_version", "custom_event": "name", "session_time": "seconds",
                 "app_launched": "source", "review_notice": "answer",
                 "push_received": "display"}
"""The field holding a reported event's detail, by kind (the service's event vocabulary)."""


SessionTrigger = tuple[str, float, int, TriggerFired]
"""(kind, offset seconds, bit, question): a trigger a session can fire. ``bit`` is 0 for
triggers every session fires (at ``offset``), else the bit of an app event or of the
programmatic trigger in the session's event mask (``Chunk.session_event``): it fires
mid-session, in the sessions that have it."""


def session_triggers(policy: Policy, behaviour: Behaviour) -> list[SessionTrigger]:
    """The triggers a session can fire for this policy, in the order they fire."""
    out: list[SessionTrigger] = []
    if any(c.trigger.__struct_config__.tag == "app_open" for c in policy.campaigns):
        out.append(("app_open", 0.0, 0, TriggerFired(trigger="app_open")))
    for sec in sorted({c.trigger.seconds for c in policy.campaigns
                       if isinstance(c.trigger, SessionTime)}):
        out.append(("session_time", sec, 0, TriggerFired(trigger="session_time",
                                                         session_seconds=sec)))
    wanted = {c.trigger.name for c in policy.campaigns if isinstance(c.trigger, OnEvent)}
    for name, bit in behaviour.event_bits().items():
        if name in wanted:
            out.append(("event", -1.0, bit, TriggerFired(trigger="event", event_name=name)))
    if behaviour.programmatic_per_session and any(
            isinstance(c.trigger, Programmatic) for c in policy.campaigns):
        out.append(("programmatic", -1.0, behaviour.programmatic_bit(),
                    TriggerFired(trigger="programmatic")))
    return out


@mypyc_attr(allow_interpreted_subclasses=True)  # the load-test device is not compiled
class Port:
    """What a driver does its own way; the engine and the load-test device each are one."""

    __slots__ = ()

    def decide(self, life: Life, fired: TriggerFired, t: float, now: float) -> Decision | None:
        """The decision for ``fired`` at ``t`` (rule time ``now``); ``None``: nothing shows."""
        raise NotImplementedError

    def report(self, life: Life, kind: str, t: float, campaign_id: str | None,
               detail: str | float | None) -> None:
        """Something happened at ``t`` (only called when the stage ``reports``).

        ``kind`` is an event kind of the service's API (``session_start``,
        ``soft_prompt_shown``, ``os_dialog_result``, ...; its ``detail`` goes in the
        field ``DETAIL`` names), or ``install`` (the first session of the first
        install) or ``dialog_refused`` (a decision offered an OS dialog the
        platform no longer shows: the decision broke the rules).
        """

    def flush(self, life: Life) -> None:
        """A moment at which a device sends what it has to report (only when ``reports``)."""


class Stage:
    """What every life of one strategy shares: history, policy, behaviour, counts and port."""

    __slots__ = ("behaviour", "browsers", "campaigns", "chunk", "counts", "epoch",
                 "opt_out_rate", "other_sites", "policy", "port", "profiles", "reports",
                 "sending", "stride", "triggers", "uniforms")

    def __init__(self, port: Port, chunk: Chunk, policy: Policy, behaviour: Behaviour,
                 profiles: dict[str, ProfileRules], counts: list[int], stride: int,
                 epoch: float = 0.0, reports: bool = False,
                 sending: SendingPlan | None = None) -> None:
        self.port, self.chunk, self.behaviour = port, chunk, behaviour
        self.policy = PolicyRules(policy)
        """The policy as the rules read it (``sim.rules.native``): converted once, here."""
        self.profiles = profiles
        """The profiles as the rules read them, converted once by the driver."""
        self.counts = counts
        """``FLOWS`` per day: ``counts[f * stride + life.row + day]``."""
        self.stride = stride
        self.epoch = epoch
        """Unix seconds of day 0 when the rules run on the service's clock (0: on days)."""
        self.reports = reports
        self.triggers = session_triggers(policy, behaviour)
        self.campaigns: dict[str, CampaignRules] = self.policy.by_id
        self.opt_out_rate = behaviour.opt_out_rate()
        self.uniforms = chunk.uniforms
        """The chunk's first draws of every stream (``Life.u``)."""
        self.browsers: dict[int, list[tuple[float, str]]] = {}
        """Per user, the answers (rule time, outcome) to Chrome's prompt on the app's
        origins: a user's Chrome installs share one browser (``Life.browser_quiet``)."""
        self.other_sites: dict[int, list[float]] = {}
        """Per user, the times (days) of her denials on other sites drawn so far."""
        self.sending = sending
        """What the app sends under this strategy, per segment (``None``: nothing after
        opt-in depends on it)."""
