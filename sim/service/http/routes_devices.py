"""Handlers for devices: installs, event batches, eligibility, reachability, stats."""

from __future__ import annotations

import time

from sim.rules.config.verdict import Decision, PromptUi
from sim.rules.permission import dialogs_left
from sim.service import ops
from sim.service.errors import Conflict, not_found
from sim.service.http.asgi import Request, Response, json_response
from sim.service.http.errors import HttpError
from sim.service.http.routes_experiments import allocation_at
from sim.service.ops import EventRow
from sim.service.schemas import (
    DeviceIn,
    DeviceRecord,
    EligibilityIn,
    EventBatch,
    EventsResult,
    OsDialogResult,
    unix_seconds,
)
from sim.service.tenant import Tenant


def server_now(tenant: Tenant) -> float | None:
    """The time a view or reachability judges hibernation at: the server's, or none on a
    client clock (a GET carries no client time)."""
    return None if tenant.clock == "client" else tenant.now(None)


async def create_device(req: Request) -> Response:
    """``POST /v1/devices``: register an install (201; 409 if the id exists).

    The same registration sent again (after a 503 ``outcome_unknown``, when the first
    may have been stored) answers 200 with the device it made."""
    body: DeviceIn = req.data
    store = req.service.store
    tenant = await store.tenant(req.tenant)
    rec = ops.new_device(tenant, body)
    if not await store.create_device(tenant.app_id, body.device_id, rec):
        found = await store.read_device(req.tenant, body.device_id)
        if found is not None and found[1].registration == rec.registration:
            return json_response(200, ops.view(found[0], body.device_id, found[1],
                                               server_now(found[0])))
        raise Conflict("device_exists", f"device {body.device_id!r} is already registered; "
                       "report a reinstall as a 'reinstalled' event", "device_id")
    return json_response(201, ops.view(tenant, body.device_id, rec, server_now(tenant)))


async def get_device(req: Request) -> Response:
    """``GET /v1/devices/{device_id}``: state and ``dialogs_left``."""
    device_id = req.params["device_id"]
    found = await req.service.store.read_device(req.tenant, device_id)
    if found is None:
        raise not_found("device", device_id, "device_id")
    tenant, rec = found
    return json_response(200, ops.view(tenant, device_id, rec, server_now(tenant)))


async def post_events(req: Request) -> Response:
    """``POST /v1/devices/{device_id}/events``: a batch, all or nothing."""
    batch: EventBatch = req.data
    limit = req.service.settings.max_batch_events
    if len(batch.events) > limit:
        raise HttpError(413, "batch_too_large", f"{len(batch.events)} events in one batch; "
                        f"send at most {limit}", "events")
    events = batch.events
    device_id = req.params["device_id"]
    store = req.service.store
    browser_id = await _browser_id(req, device_id)
    browser = await _browser(req, browser_id)
    answers: list[tuple[str, str, float, str]] = []

    def apply(t: Tenant, rec: DeviceRecord, existing: set[str]
              ) -> tuple[EventsResult, list[EventRow]]:
        mine = None if browser is None else list(browser)
        uis: list[PromptUi | None] = []
        rows, dup = ops.apply_events(t, rec, events, existing, mine, uis)
        st = rec.state
        profile = t.profile(st.profile)
        answers.clear()
        if browser_id is not None:
            # Every answer of the batch, those applied before too (a retried batch whose
            # first try stopped between the two commits stores them now).
            answers.extend((device_id, e.event_id, t.now(unix_seconds(e.at)), e.outcome)
                           for e in events if isinstance(e, OsDialogResult)
                           and ops.browser_answer(profile, e.outcome))
        return EventsResult(new=len(rows), duplicate=dup, permission=st.permission,
                            dialogs_left=dialogs_left(st, profile),
                            os_dialog_due=ops.os_dialog_due(rows),
                            prompt_ui=uis[-1] if uis else None), rows

    result = await store.device_tx(req.tenant, device_id, [e.event_id for e in events], apply)
    if answers and browser_id is not None:  # after the device's commit: counted once each
        await store.add_browser_answers(req.tenant.app_id, browser_id, answers)
    req.service.metrics.events_seen(result.new, result.duplicate)
    return json_response(200, result)


async def _browser_id(req: Request, device_id: str) -> str | None:
    """The device's ``browser_id`` (fixed at registration: a record this worker holds will
    do), or None; 404 if there is no such device."""
    store = req.service.store
    found = store.peek_device(req.tenant, device_id) or await store.read_device(req.tenant,
                                                                                 device_id)
    if found is None:
        raise not_found("device", device_id, "device_id")
    return found[1].browser_id


async def _browser(req: Request, browser_id: str | None) -> ops.Browser | None:
    """The answers stored for the browser (``ops.browser_quiet``), or None without one."""
    if browser_id is None:
        return None
    return await req.service.store.browser_answers(req.tenant.app_id, browser_id)


async def eligibility(req: Request) -> Response:
    """``POST /v1/devices/{device_id}/eligibility``: ``decide``, reserving a shown prompt.

    The decision is first made on the committed state without a lock; only a
    ``show`` is re-decided under the device lock and recorded in the same
    transaction, so two simultaneous requests cannot both get a once-only prompt.
    A record the store holds but has not confirmed as the latest (``peek_device``) is
    enough to find a ``show`` (re-decided under the lock anyway); a ``show: false``
    answer is always decided on the latest record. An ``app_open`` call of an install
    that has sent no ``session_start`` event starts its session first, in that
    transaction too. The first call that finds the device in an experiment stores its
    assignment, then marks the record in that transaction (``ops.assign``).
    """
    body: EligibilityIn = req.data
    device_id = req.params["device_id"]
    store = req.service.store
    at = unix_seconds(body.at)
    d: Decision | None = None
    asked = body.request_id
    peeked = store.peek_device(req.tenant, device_id)
    seen = peeked
    browser = None if peeked is None else await _browser(req, peeked[1].browser_id)
    if peeked is not None and not ops.implicit_session(peeked[1], body):
        d = ops.decision(peeked[0], peeked[1], body, peeked[0].now(at), device_id, browser)
    if d is None or not d.show:
        found = await store.read_device(req.tenant, device_id)
        if found is None:
            raise not_found("device", device_id, "device_id")
        tenant, rec = found
        seen = found
        if peeked is None:
            browser = await _browser(req, rec.browser_id)
        if asked is not None and rec.reserved_for == asked and rec.reserved is not None:
            d = rec.reserved  # asked again: the reservation it made is its answer
        elif ops.implicit_session(rec, body):
            d = None  # starting a session is a write
        elif d is None or peeked is None or rec is not peeked[1] or tenant is not peeked[0]:
            d = ops.decision(tenant, rec, body, tenant.now(at), device_id, browser)
    assert seen is not None
    stored = await _store_assignment(req, device_id, *seen, at, d) \
        if seen[0].experiments else None
    if d is None or d.show or stored is not None:
        def decide(t: Tenant, rec: DeviceRecord, _: set[str]) -> tuple[Decision, list[EventRow]]:
            if asked is not None and rec.reserved_for == asked and rec.reserved is not None:
                return rec.reserved, []  # the first try committed meanwhile
            now = t.now(at)
            when = at if at is not None else time.time()
            rows = [ops.open_session(t, rec, now, at)] if ops.implicit_session(rec, body) else []
            if stored is not None:
                ops.enrol(t, rec, *stored)
            d = ops.decision(t, rec, body, now, device_id, browser)
            if d.show:
                rows.append(ops.reserve(rec, d, now, at))
                if asked is not None:
                    rec.reserved_for, rec.reserved = asked, d
            if stored is not None and ops.unassigned(d, rec):
                rows.append(ops.assign(rec, d, when))
            return d, rows

        d = await store.device_tx(req.tenant, device_id, (), decide)
    req.service.metrics.decision(d.reason)
    return json_response(200, d)


async def _store_assignment(req: Request, device_id: str, tenant: Tenant, rec: DeviceRecord,
                            at: float | None, d: Decision | None) -> tuple[str, int] | None:
    """Store the device's assignment if an experiment takes it in now and its record has no
    mark of it yet; the experiment and the unit's arm if so (the decision's transaction then
    marks the record). Stored first, marked second: a crash in between stores it again, as a
    no-op. ``d``, if made on this record, already says which experiment and arm. Under an
    adaptive allocation the step due at the enrolment is stored first, and the arm is the
    one of the weights in force then (``routes_experiments.allocation_at``)."""
    if d is not None and not ops.unassigned(d, rec):
        return None
    found = tenant.arm_of(rec, device_id, tenant.now(at))
    if found is None or found[0].experiment_id in rec.experiments:
        return None
    exp, i = found
    # The app's clock: the client's 'at' (required there), or the server's time.
    when = at if tenant.clock == "client" and at is not None else time.time()
    unit = exp.unit_of(rec, device_id)
    if exp.history:
        exp = await allocation_at(req, req.tenant, tenant, exp, when)
        i = exp.arm_at(unit, when)
    arm = await req.service.store.record_assignment(
        tenant.app_id, exp.experiment_id, device_id, unit, exp.experiment.arms[i].name,
        rec.platform, rec.state.profile, when)
    return exp.experiment_id, [a.name for a in exp.experiment.arms].index(arm)


async def reachability(req: Request) -> Response:
    """``GET /v1/users/{user_id}/reachability``: 200 / 201 / 202 per platform family."""
    user_id = req.params["user_id"]
    store = req.service.store
    devices = await store.user_devices(req.tenant.app_id, user_id)
    if not devices:
        raise not_found("user", user_id, "user_id")
    tenant = await store.tenant(req.tenant)
    return json_response(200, ops.reachability(tenant, user_id, devices, server_now(tenant)))


async def campaign_stats(req: Request) -> Response:
    """``GET /v1/campaigns/{campaign_id}/stats``: the app's campaigns and its experiments'
    arms' (``experiment:arm:campaign``)."""
    cid = req.params["campaign_id"]
    store = req.service.store
    tenant = await store.tenant(req.tenant)
    if not tenant.knows(cid):
        raise not_found("campaign", cid, "campaign_id")
    counts = await store.campaign_counts(tenant.app_id, cid)
    return json_response(200, ops.campaign_stats(cid, counts))
