"""Handlers for an app's configuration: apps, settings and campaigns."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from sim.rules.campaigns import Campaign
from sim.service.errors import ApiError, from_validation, not_found
from sim.service.http.asgi import Request, Response, decode, json_response
from sim.service.schemas import AppIn, AppInfo, AppSettings, CampaignList
from sim.service.storage.store import encode
from sim.service.tenant import profiles_for

_app_in = msgspec.json.Decoder(AppIn)
_settings = msgspec.json.Decoder(AppSettings)
_any = msgspec.json.Decoder()
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


async def create_app(req: Request) -> Response:
    """``POST /v1/apps`` (admin key): a new app and its API key."""
    body: AppIn = decode(req.body, _app_in, AppIn)
    created = await req.service.store.create_app(body.name, body.clock)
    return json_response(201, created)


async def get_app(req: Request) -> Response:
    """``GET /v1/app``: the app this key belongs to, with its clock."""
    a = req.tenant_app
    return json_response(200, AppInfo(app_id=a.app_id, name=a.name, clock=a.clock))  # type: ignore[arg-type]


async def get_settings(req: Request) -> Response:
    """``GET /v1/settings``."""
    tenant = await req.service.store.tenant(req.tenant_app)
    return json_response(200, tenant.settings)


async def put_settings(req: Request) -> Response:
    """``PUT /v1/settings``: replace the policy settings (absent fields take defaults)."""
    body: AppSettings = decode(req.body, _settings, AppSettings)
    profiles_for(body)  # 422 naming the profile field if an override is bad
    await req.service.store.put_settings(req.tenant_app.app_id, encode(body))
    return json_response(200, body)


async def list_campaigns(req: Request) -> Response:
    """``GET /v1/campaigns``, in the order ``decide`` considers them."""
    tenant = await req.service.store.tenant(req.tenant_app)
    return json_response(200, CampaignList(campaigns=list(tenant.policy.campaigns)))


async def get_campaign(req: Request) -> Response:
    """``GET /v1/campaigns/{campaign_id}``."""
    cid = req.params["campaign_id"]
    tenant = await req.service.store.tenant(req.tenant_app)
    camp = tenant.policy.campaign(cid)
    if camp is None:
        raise not_found("campaign", cid, "campaign_id")
    return json_response(200, camp)


def parse_campaign(cid: str, body: bytes) -> Campaign:
    """A ``Campaign`` from a PUT body; the path's id fills or must equal ``id``."""
    if not CAMPAIGN_ID.match(cid):
        raise ApiError(422, "invalid_value", "a campaign id is 1-64 letters, digits or _ . : -",
                       "campaign_id")
    if not body:
        raise ApiError(400, "invalid_json", "the body is empty; send a campaign object")
    try:
        raw: Any = _any.decode(body)
    except msgspec.DecodeError as exc:
        raise from_validation(exc, Campaign) from None
    if not isinstance(raw, dict):
        raise ApiError(422, "wrong_type", "a campaign is a JSON object with fields trigger, "
                       "frequency, action, priority, min_delay_days, ...")
    if raw.setdefault("id", cid) != cid:
        raise ApiError(422, "invalid_value", f"id must equal the path's campaign id {cid!r} "
                       "(or be left out)", "id")
    try:
        return msgspec.convert(raw, Campaign)
    except msgspec.ValidationError as exc:
        raise from_validation(exc, Campaign, body) from None


async def put_campaign(req: Request) -> Response:
    """``PUT /v1/campaigns/{campaign_id}``: create (201) or replace (200)."""
    camp = parse_campaign(req.params["campaign_id"], req.body)
    created = await req.service.store.put_campaign(req.tenant_app.app_id, camp.id, encode(camp))
    return json_response(201 if created else 200, camp)
