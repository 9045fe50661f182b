"""One device life: what happens to one install, as plain steps over plain data.

The SimPy engine (``sim.engine.chunk``) and the Locust device
(``sim.loadtest.device``) both drive a device through these steps.
"""

from __future__ import annotations

from sim.model.behaviour import Behaviour
from sim.rules.campaigns import OnEvent, Policy, SessionTime, TriggerFired


def session_triggers(policy: Policy, behaviour: Behaviour) -> list[tuple[str, float, TriggerFired]]:
    """The triggers a session can fire for this policy: (kind, offset seconds or -1, question)."""
    out: list[tuple[str, float, TriggerFired]] = []
    if any(c.trigger.__struct_config__.tag == "app_open" for c in policy.campaigns):
        out.append(("app_open", 0.0, TriggerFired(trigger="app_open")))
    for sec in sorted({c.trigger.seconds for c in policy.campaigns
                       if isinstance(c.trigger, SessionTime)}):
        out.append(("session_time", sec, TriggerFired(trigger="session_time",
                                                      session_seconds=sec)))
    if any(isinstance(c.trigger, OnEvent) and c.trigger.name == behaviour.event_name
           for c in policy.campaigns):
        out.append(("event", -1.0, TriggerFired(trigger="event", event_name=behaviour.event_name)))
    return out
