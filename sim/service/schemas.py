"""Request and response bodies of the API, as msgspec Structs.

Requests forbid unknown fields; campaigns reuse ``sim.rules.campaigns.Campaign``
unchanged, so a campaign reads the same in a scenario file and over HTTP.
Times (``at``) are Unix seconds; the rules work in days (``at / 86400``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from sim.rules.campaigns import Campaign, Identifier, PolicySettings, TriggerFired
from sim.rules.permission import DeviceState, DialogOutcome, Permission
from sim.rules.platforms import Family, Platform

Ident = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
"""Device, user and event ids: 1-128 letters, digits or ``_ . : @ -``."""
CampaignId = Identifier
"""Campaign ids and custom event names: the rules' identifiers."""
UnixTime = Annotated[float, msgspec.Meta(ge=0, le=1e11)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Browser = Literal["chrome", "firefox", "safari"]
Clock = Literal["server", "client"]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are an error."""


# --- apps and settings ---------------------------------------------------------

class AppIn(_In):
    """``POST /v1/apps`` (admin key): a new tenant."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    clock: Clock = "server"


class AppCreated(msgspec.Struct, frozen=True):
    """A new app and its API key (shown once; only a hash is stored)."""

    app_id: str
    name: str
    clock: Clock
    api_key: str


class AppInfo(msgspec.Struct, frozen=True):
    """``GET /v1/app``: the app the key belongs to."""

    app_id: str
    name: str
    clock: Clock


class AppSettings(PolicySettings, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``PUT /v1/settings``: the rules' ``PolicySettings`` (every ``Policy`` field but the
    campaigns), plus ``platforms``.

    ``platforms`` overrides fields of the built-in platform profiles, as a
    scenario file's ``[platforms.NAME]`` tables do.
    """

    platforms: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class CampaignList(msgspec.Struct, frozen=True):
    """``GET /v1/campaigns``: every campaign, in the order ``decide`` considers them."""

    campaigns: list[Campaign]


CampaignIn = msgspec.defstruct(
    "CampaignIn",
    [(f.name, f.type, f.default) for f in msgspec.structs.fields(Campaign) if f.name != "id"],
    kw_only=True, frozen=True, forbid_unknown_fields=True)
"""``PUT /v1/campaigns/{campaign_id}``: a ``Campaign`` without its ``id`` (the path gives
it). Built from ``Campaign``'s own fields, so the two cannot drift."""
CampaignIn.__doc__ = "A campaign; the path gives its id."


def campaign_from(campaign_id: str, body: Any) -> Campaign:
    """The ``Campaign`` a ``PUT`` body describes."""
    return Campaign(id=campaign_id, **msgspec.structs.asdict(body))


# --- devices ---------------------------------------------------------------------

class DeviceIn(_In):
    """``POST /v1/devices``: an install of the app."""

    device_id: Ident
    user_id: Ident
    platform: Platform
    os_version: NonNegative | None = None
    """Major OS version (Android: 13 for API 33; Fire OS and HarmonyOS: their own)."""
    app_target_sdk: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    browser: Browser | None = None
    permission: Permission | None = None
    """The permission at install; absent means the platform's default."""
    sdk_reports_permission: bool = True
    at: UnixTime | None = None


class DeviceView(msgspec.Struct, frozen=True):
    """``GET /v1/devices/{device_id}``: the install, its rule state and dialogs left."""

    device_id: str
    user_id: str
    platform: Platform
    os_version: float | None
    app_target_sdk: int | None
    browser: str | None
    profile: str
    permission: Permission
    installed: bool
    receives_push: bool
    dialogs_left: int | None
    """OS dialogs this install may still see; null = no fixed limit (web)."""
    state: DeviceState
    """The rules' ``DeviceState``; its times are in days since the Unix epoch."""


class Offer(msgspec.Struct, frozen=True, gc=False):
    """A soft prompt shown (or clicked) and what its button did."""

    campaign_id: str
    action: str | None


class DeviceRecord(msgspec.Struct, kw_only=True, gc=False):
    """What the store keeps per (app, device): one JSON document (plain data, untracked by
    the garbage collector like ``DeviceState``)."""

    user_id: str
    platform: Platform
    os_version: float | None = None
    app_target_sdk: int | None = None
    browser: str | None = None
    installed_at: float = 0.0
    state: DeviceState
    last_offer: Offer | None = None
    """The last impression reserved by eligibility (the action its button had)."""
    last_click: Offer | None = None
    """The last soft-prompt click: OS dialog answers and opt-ins are credited to it."""


# --- events -----------------------------------------------------------------------

class _Event(_In, tag_field="type"):
    event_id: Ident
    """Client id; a retried event with the same id is stored once."""
    at: UnixTime


class SessionStart(_Event, tag="session_start"):
    """A new app session (runs ``start_session``)."""


class SessionTimeEvent(_Event, tag="session_time"):
    """The session has lasted ``seconds`` (recorded only)."""

    seconds: NonNegative


class CustomEvent(_Event, tag="custom_event"):
    """A named app event such as ``order_placed`` (recorded only)."""

    name: CampaignId


class SoftPromptShown(_Event, tag="soft_prompt_shown"):
    """The app displayed the soft prompt (stored; the impression was counted by eligibility)."""

    campaign_id: CampaignId


class SoftPromptClicked(_Event, tag="soft_prompt_clicked"):
    """The user tapped the soft prompt's button."""

    campaign_id: CampaignId


class SoftPromptDismissed(_Event, tag="soft_prompt_dismissed"):
    """The user closed the soft prompt."""

    campaign_id: CampaignId


class OsDialogResult(_Event, tag="os_dialog_result"):
    """The OS permission dialog's answer."""

    outcome: DialogOutcome
    campaign_id: CampaignId | None = None
    """Credit to this campaign; default: the device's last clicked campaign."""


class PermissionChanged(_Event, tag="permission_changed"):
    """The user turned notifications on or off in the system or site settings."""

    permission: Literal["granted", "denied"]
    campaign_id: CampaignId | None = None


class OsUpgraded(_Event, tag="os_upgraded"):
    """The OS moved to a new major version."""

    os_version: NonNegative


class AppUpdated(_Event, tag="app_updated"):
    """An app update changed its target SDK (Android family)."""

    app_target_sdk: Annotated[int, msgspec.Meta(ge=1, le=1000)]


class Reinstalled(_Event, tag="reinstalled"):
    """The app came back on the device."""


class DataCleared(_Event, tag="data_cleared"):
    """The user cleared the app's or site's data."""


class Uninstalled(_Event, tag="uninstalled"):
    """The app was removed."""


Event = (SessionStart | SessionTimeEvent | CustomEvent | SoftPromptShown | SoftPromptClicked
         | SoftPromptDismissed | OsDialogResult | PermissionChanged | OsUpgraded | AppUpdated
         | Reinstalled | DataCleared | Uninstalled)
EVENT_TYPES: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in Event.__args__)


class EventBatch(_In):
    """``POST /v1/devices/{device_id}/events``: applied all or nothing, in order."""

    events: Annotated[list[Event], msgspec.Meta(min_length=1)]


class EventsResult(msgspec.Struct, frozen=True):
    """What a batch did: new events applied, retried ones skipped."""

    new: int
    duplicate: int
    permission: Permission
    dialogs_left: int | None


# --- decisions, reachability, stats ------------------------------------------------

class EligibilityIn(TriggerFired, kw_only=True, frozen=True):
    """``POST /v1/devices/{device_id}/eligibility``: what fired in the app (the rules'
    ``TriggerFired``, handed to ``decide`` as it is) and when."""

    at: UnixTime | None = None


class DeviceReach(msgspec.Struct, frozen=True):
    """One install behind a reachability code."""

    device_id: str
    platform: Platform
    permission: Permission
    installed: bool
    code: int | None
    """200, 201 or 202; null when uninstalled (no valid token)."""


class FamilyReach(msgspec.Struct, frozen=True):
    """The user's code in one platform family and the devices behind it."""

    code: int | None
    reachable: bool
    opted_in: bool
    devices: list[DeviceReach]


class Reachability(msgspec.Struct, frozen=True):
    """``GET /v1/users/{user_id}/reachability`` (MoEngage's 200 / 201 / 202)."""

    user_id: str
    families: dict[Family, FamilyReach]


class CampaignStats(msgspec.Struct, frozen=True):
    """``GET /v1/campaigns/{campaign_id}/stats``."""

    campaign_id: str
    impressions: int
    """Impressions reserved by eligibility (show = true)."""
    clicks: int
    os_dialogs: int
    """OS dialog answers credited to this campaign."""
    allows: int
    denials: int
    settings_opened: int
    """Clicks whose button opened notification settings."""
    opt_ins: int
    """Allows plus settings changes to ``granted`` after a settings click."""
    dismissals: int
    shown_reported: int
    """``soft_prompt_shown`` events sent by clients (not counted as impressions)."""


class AppStats(msgspec.Struct, frozen=True):
    """``GET /v1/app/stats``: what the store holds for this app."""

    devices: int
    """Registered devices (installs)."""
    events: dict[str, int]
    """Stored events by type, plus ``impression`` for the impressions eligibility reserved."""


class Health(msgspec.Struct, frozen=True):
    """``GET /healthz``."""

    status: str
    store: str
