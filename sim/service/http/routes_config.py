"""Handlers for an app's configuration: apps, settings and campaigns."""

from __future__ import annotations

from sim.service.errors import not_found
from sim.service.http.asgi import Request, Response, json_response
from sim.service.schemas import AppIn, AppInfo, AppSettings, CampaignList, campaign_from
from sim.service.storage.store import encode
from sim.service.tenant import profiles_for


async def create_app(req: Request) -> Response:
    """``POST /v1/apps`` (admin key): a new app and its API key."""
    body: AppIn = req.data
    created = await req.service.store.create_app(body.name, body.clock)
    return json_response(201, created)


async def get_app(req: Request) -> Response:
    """``GET /v1/app``: the app this key belongs to, with its clock."""
    a = req.tenant
    return json_response(200, AppInfo(app_id=a.app_id, name=a.name, clock=a.clock))


async def app_stats(req: Request) -> Response:
    """``GET /v1/app/stats``: devices and stored events by type (reads every event row of the
    app: for checks after a load test, not for a hot path)."""
    return json_response(200, await req.service.store.app_stats(req.tenant.app_id))


async def get_settings(req: Request) -> Response:
    """``GET /v1/settings``."""
    tenant = await req.service.store.tenant(req.tenant)
    return json_response(200, tenant.settings)


async def put_settings(req: Request) -> Response:
    """``PUT /v1/settings``: replace the policy settings (absent fields take defaults)."""
    body: AppSettings = req.data
    profiles_for(body)  # 422 naming the profile field if an override is bad
    await req.service.store.put_settings(req.tenant.app_id, encode(body))
    return json_response(200, body)


async def list_campaigns(req: Request) -> Response:
    """``GET /v1/campaigns``, in the order ``decide`` considers them."""
    tenant = await req.service.store.tenant(req.tenant)
    return json_response(200, CampaignList(campaigns=list(tenant.policy.campaigns)))


async def get_campaign(req: Request) -> Response:
    """``GET /v1/campaigns/{campaign_id}``."""
    cid = req.params["campaign_id"]
    tenant = await req.service.store.tenant(req.tenant)
    camp = tenant.policy.campaign(cid)
    if camp is None:
        raise not_found("campaign", cid, "campaign_id")
    return json_response(200, camp)


async def put_campaign(req: Request) -> Response:
    """``PUT /v1/campaigns/{campaign_id}``: create (201) or replace (200)."""
    camp = campaign_from(req.params["campaign_id"], req.data)
    created = await req.service.store.put_campaign(req.tenant.app_id, camp.id, encode(camp))
    return json_response(201 if created else 200, camp)
