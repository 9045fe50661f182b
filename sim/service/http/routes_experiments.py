"""Handlers for experiments: define one, read them, read an experiment's stats; and the
update of an adaptive allocation that an enrolment makes due (:func:`allocation_at`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from sim.service import allocation as alloc
from sim.service import experiment_stats as xstats
from sim.service.errors import NotFound, not_found
from sim.service.experiments import (
    Experiment,
    ExperimentIn,
    ExperimentList,
    Running,
    validate,
    window,
)
from sim.service.http.asgi import Request, Response, json_response
from sim.service.storage.store import encode
from sim.service.tenant import App, Tenant

_experiment = msgspec.json.Decoder(Experiment)


def _found(tenant: Tenant, experiment_id: str) -> Running:
    exp = tenant.experiment(experiment_id)
    if exp is None:
        raise not_found("experiment", experiment_id, "experiment_id")
    return exp


async def put_experiment(req: Request) -> Response:
    """``PUT /v1/experiments/{experiment_id}``: create (201), or change an experiment that
    has neither started nor any unit, or the ``end`` of any (200); 409 naming the field for
    another change of a started one, or for an overlap with another experiment."""
    eid = req.params["experiment_id"]
    body: ExperimentIn = req.data
    tenant = await req.service.store.tenant(req.tenant)
    out: list[Experiment] = []

    def make(docs: dict[str, bytes], has_units: bool) -> bytes:
        stored = {k: _experiment.decode(v) for k, v in docs.items()}
        mine = stored.pop(eid, None)
        locked = mine if mine is not None and (
            has_units or window(mine)[0] <= time.time()) else None
        exp = validate(eid, body, tenant.policy, stored.values(), locked)
        out.append(exp)
        return encode(exp)

    created = await req.service.store.put_experiment(tenant.app_id, eid, make)
    return json_response(201 if created else 200, out[0])


async def get_experiment(req: Request) -> Response:
    """``GET /v1/experiments/{experiment_id}``."""
    tenant = await req.service.store.tenant(req.tenant)
    return json_response(200, _found(tenant, req.params["experiment_id"]).experiment)


async def list_experiments(req: Request) -> Response:
    """``GET /v1/experiments``, by id."""
    tenant = await req.service.store.tenant(req.tenant)
    return json_response(200, ExperimentList([e.experiment for e in tenant.experiments]))


async def _stats(req: Request) -> xstats.ExperimentStats:
    eid = req.params["experiment_id"]
    tenant = await req.service.store.tenant(req.tenant)
    exp = _found(tenant, eid)
    events, states = await _aggregates(req, tenant, exp)
    return xstats.experiment_stats(exp, tenant, events, states)


async def _aggregates(req: Request, tenant: Tenant, exp: Running) -> tuple[list[Any], list[Any]]:
    end = window(exp.experiment)[1]
    return await req.service.store.experiment_cells(
        tenant.app_id, exp.experiment_id, sorted(exp.cold), min(end, 1e300),
        exp.experiment.unit == "user", tenant.clock == "server")


async def allocation_at(req: Request, app: App, tenant: Tenant, exp: Running,
                        when: float) -> Running:
    """``exp`` with every step due before a unit enrols at ``when`` (Unix seconds) stored:
    an adaptive allocation's update, from the stats now, appended in the store's serialized
    experiment write unless a step at or after its boundary is there already (another
    worker's); then the experiment as the store holds it. Fixed weights, or a step not due:
    ``exp`` as it is. A copy of the history older than the store's may find a step due that
    is stored already (``allocation.due``): the store's copy, read first, says so, and no
    update is computed. The enrolments of one worker that find the same step due at once
    wait on one computation (:attr:`Service.updates`)."""
    kind = alloc.allocation_of(exp.experiment.allocation)
    if not isinstance(kind, alloc.Thompson):
        return exp
    since = alloc.due(exp.history, kind, window(exp.experiment)[1], when)
    if since is None:
        return exp
    stored = (await req.service.store.tenant(app)).experiment(exp.experiment_id)
    if stored is not None and stored.history and stored.history[-1].since >= since:
        return stored  # another worker stored it: this copy was stale
    key = (tenant.app_id, exp.experiment_id, since)
    updates = req.service.updates
    update = updates.get(key)
    if update is None:  # the first enrolment past the boundary in this worker computes it
        update = asyncio.ensure_future(_update(req, app, tenant, exp, kind, since))
        updates[key] = update
        update.add_done_callback(lambda f: _settled(updates, key, f))
    # shared by the enrolments that wait on it: one cut short by its deadline leaves it
    return await asyncio.shield(update)


def _settled(updates: dict[tuple[str, str, float], asyncio.Future[Running]],
             key: tuple[str, str, float], done: asyncio.Future[Running]) -> None:
    """An update finished: the next enrolment past a boundary starts a new one (after a
    failure, a retry); its error, if every enrolment waiting on it was cut short, is read
    here so that it is not reported as never retrieved (each waiter got its own 503)."""
    updates.pop(key, None)
    if not done.cancelled():
        done.exception()


async def _update(req: Request, app: App, tenant: Tenant, exp: Running, kind: alloc.Thompson,
                  since: float) -> Running:
    """Compute the step due at ``since`` and store it (unless another worker did); the
    experiment as the store holds it then. The posterior draws (8 ms for 3 arms on 3
    platforms: ``bench/bench_update_gap.py``) run in a thread, so the worker answers other
    requests meanwhile."""
    events, states = await _aggregates(req, tenant, exp)
    cells = xstats.cells_of(events, states, tenant)
    step = await asyncio.to_thread(
        alloc.thompson, kind, xstats.arm_counts(exp, cells), exp.history[-1], since,
        alloc.seed_of(exp.experiment_id, since),
        alloc.burn_in_of(kind, len(exp.experiment.arms)))
    eid = exp.experiment_id

    def make(docs: dict[str, bytes], _: bool) -> bytes:
        stored = _experiment.decode(docs[eid])
        history = () if isinstance(stored.history, msgspec.UnsetType) else stored.history
        if not history or history[-1].since >= since:
            return docs[eid]
        return encode(msgspec.structs.replace(stored, history=(*history, step)))

    await req.service.store.put_experiment(tenant.app_id, eid, make)
    fresh = (await req.service.store.tenant(app)).experiment(eid)
    return exp if fresh is None else fresh


async def experiment_stats(req: Request) -> Response:
    """``GET /v1/experiments/{experiment_id}/stats``: aggregated by the store."""
    return json_response(200, await _stats(req))


async def experiment_page(req: Request) -> Response:
    """``GET /v1/experiments/{experiment_id}/page``: the pilot's page on the stats now,
    self-contained HTML, rendered by ``Service.page`` (the reports' function, which
    ``promptsim serve`` plugs in: the service itself stands on the rules alone)."""
    stats = await _stats(req)
    render = req.service.page
    if render is None:
        raise NotFound("no_pages", "this service was started without the reports; start it "
                       "with promptsim serve to serve experiment pages", None)
    source = f"GET /v1/experiments/{stats.experiment_id}/stats, read at " + time.strftime(
        "%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return 200, render(msgspec.json.encode(stats), source).encode(), \
        b"text/html; charset=utf-8"
