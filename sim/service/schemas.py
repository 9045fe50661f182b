"""Request and response bodies of the API, as msgspec Structs.

Requests forbid unknown fields; campaigns reuse ``sim.rules.config.campaigns.Campaign``
unchanged, so a campaign reads the same in a scenario file and over HTTP.
Times (``at``) are Unix seconds or RFC 3339 strings, as SDKs send them
(:func:`unix_seconds` reads both); the rules work in days (``at / 86400``). OS versions
are numbers or version strings (``"17.4.1"``; :func:`major_version`). Answers give times as
RFC 3339 strings and the OS version as the device reported it (:mod:`sim.wire`).
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from sim.rules.config.campaigns import (
    Campaign,
    Identifier,
    PolicySettings,
    SessionSeconds,
    TriggerFired,
    id_pattern,
)
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    PLATFORMS,
    Browser,
    Family,
    OsKind,
    Platform,
    PlatformProfile,
    resolve_profile,
)
from sim.rules.config.verdict import Decision, PromptUi
from sim.rules.permission import DeviceState, DialogOutcome, Permission, ReviewAnswer
from sim.rules.state import CampaignCounters
from sim.service.errors import InvalidInput
from sim.wire import CAMPAIGN_TIMES, STATE_TIMES, version_text, wire_state

Ident = Annotated[str, msgspec.Meta(pattern=id_pattern(128, at=True))]
"""Device, user and event ids: 1-128 letters, digits or ``_ . : @ -``, not starting with
``.`` (so never ``.`` or ``..``, which URLs resolve away)."""
CampaignId = Identifier
"""Campaign ids and custom event names: the rules' identifiers."""
UnixTime = Annotated[float, msgspec.Meta(ge=0, le=1e11)]
"""Unix seconds, up to 1e11 (the year 5138)."""
RFC3339 = Annotated[str, msgspec.Meta(
    pattern=r"^(197[1-9]|19[89][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
            r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
            r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    extra_json_schema={"format": "date-time"})]
"""An RFC 3339 date-time with its offset (``2026-01-05T09:00:00Z``, ``...+01:00``), years
1971 to 9999 (so that no offset makes it negative), up to nanoseconds; no leap second."""
Time = UnixTime | RFC3339
"""A time as SDKs send it: Unix seconds or RFC 3339."""
OsVersion = Annotated[float, msgspec.Meta(ge=0, le=1000)]
"""A major OS version; 1000 bounds input (Android is at 16, API level 36)."""
OsVersionText = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,3}(\.[0-9]{1,6}){0,3}$")]
"""An OS version as SDKs report it (``"17.4.1"``, ``"14"``): the rules read its major part."""

_datetime = msgspec.json.Decoder(datetime)


def unix_seconds(at: float | str | None, field: str = "at") -> float | None:
    """``at`` in Unix seconds: a number as it is, an RFC 3339 string converted (422 naming
    ``field`` for a date the calendar lacks, such as February 30)."""
    if not isinstance(at, str):
        return at
    try:
        return _datetime.decode(b'"' + at.encode() + b'"').timestamp()
    except msgspec.ValidationError:
        raise InvalidInput("invalid_value", f"{at!r} is not a date of the calendar; allowed: "
                           "Unix seconds or an RFC 3339 date-time such as "
                           "2026-01-05T09:00:00Z", field) from None


def major_version(version: float | str | None) -> float | None:
    """The OS version the rules compare: a number as it is, the major part of a string
    (``"17.4.1"`` -> 17.0)."""
    if isinstance(version, str):
        return float(version.partition(".")[0])
    return version
TargetSdk = Annotated[int, msgspec.Meta(ge=1, le=1000)]
"""An Android target SDK (API level); 1000 bounds input."""
ApiLevel = Annotated[int, msgspec.Meta(ge=1, le=1000)]
"""The Android API level a Huawei EMUI / HarmonyOS device runs on (33 = Android 13)."""
UtcOffset = Annotated[int, msgspec.Meta(ge=-720, le=840)]
"""A time zone's offset from UTC in minutes, -720 (-12:00) to 840 (+14:00)."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200,
                                   pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A display name: 1-200 characters, no control characters."""
Clock = Literal["server", "client"]
LaunchSource = Literal["launcher", "other"]
"""How an Android app's task was started: from the launcher, or by any other intent."""
PushDisplay = Literal["shown", "silent", "declarative"]
"""What a push did on arrival (``push_received``)."""


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are an error."""


# --- apps and settings ---------------------------------------------------------

class AppIn(_In):
    """``POST /v1/apps`` (admin key): a new tenant."""

    name: Name
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


ProfileOverride: Any = msgspec.defstruct(
    "ProfileOverride",
    [(f.name, (Literal[tuple(DEFAULT_PROFILES)] | None
               if f.name == "upgrade_to" else f.type) | msgspec.UnsetType, msgspec.UNSET)
     for f in msgspec.structs.fields(PlatformProfile) if f.name not in ("name", "platform")],
    kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True)
"""The rule fields of a ``PlatformProfile``, each optional; ``name`` and ``platform``
identify the profile and cannot be overridden. Built from the profile's own fields."""
ProfileOverride.__doc__ = "Fields of a platform profile to replace (its rules' names)."

PlatformOverrides: Any = msgspec.defstruct(
    "PlatformOverrides",
    [(name, ProfileOverride | msgspec.UnsetType, msgspec.UNSET) for name in DEFAULT_PROFILES],
    kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True)
"""Overrides by profile name: only built-in profiles can be overridden."""
PlatformOverrides.__doc__ = "Overrides of the built-in platform profiles, by profile name."


class AppSettings(PolicySettings, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``PUT /v1/settings``: the rules' ``PolicySettings`` (every ``Policy`` field but the
    campaigns), plus ``platforms``.

    ``platforms`` overrides fields of the built-in platform profiles, as a
    scenario file's ``[platforms.NAME]`` tables do.
    """

    platforms: PlatformOverrides = msgspec.field(default_factory=PlatformOverrides)

    def overrides(self) -> dict[str, dict[str, Any]]:
        """``platforms`` as plain data, as ``override_profiles`` takes it."""
        out: dict[str, dict[str, Any]] = msgspec.to_builtins(self.platforms)
        return out


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
    os_version: OsVersion | OsVersionText | None = None
    """Major OS version (Android: 13 for API 33; Fire OS and HarmonyOS: their own), or the
    version string the SDK reports (``"14"``, ``"17.4.1"``: its major part counts); required
    for the platforms in :data:`NEEDS_OS_VERSION`."""
    os_kind: OsKind | None = None
    """Huawei only, required there: ``emui`` or ``harmonyos`` (Android underneath: give
    ``api_level``) or ``harmonyos_next``."""
    api_level: ApiLevel | None = None
    """Huawei EMUI / HarmonyOS: the Android API level underneath (33+ asks like Android 13)."""
    app_target_sdk: TargetSdk | None = None
    browser: Browser | None = None
    quiet_ui: bool = False
    """Chrome shows its quieter prompt (1 dismissal or 2 ignores embargo the site)."""
    webapk: bool = False
    """Chrome on Android: the site is installed as a WebAPK (or a Trusted Web Activity);
    with ``os_version`` (required then) 13+ Android's own dialog asks (``chrome_webapk``)."""
    browser_id: Ident | None = None
    """Chrome only: an opaque id of the browser (profile) this install runs in, the same
    for the app's origins opened in it. The app's answers to Chrome's prompt in one browser
    count together toward Chrome's adaptive quiet UI (``ops.browser_quiet``)."""
    permission: Permission | None = None
    """The permission at install; absent means the platform's default."""
    sdk_reports_permission: bool = True
    utc_offset_minutes: UtcOffset = 0
    """The device's time zone in minutes from UTC (default UTC): ``per_day`` caps count its
    local day."""
    at: Time | None = None


def _needs_os_version(platform: str) -> bool:
    try:
        resolve_profile(platform)
    except ValueError:
        return True
    return False


NEEDS_OS_VERSION: tuple[str, ...] = tuple(p for p in PLATFORMS if _needs_os_version(p)
                                          and p != "huawei")
"""Platforms whose profile depends on the OS version (the rules' ``resolve_profile`` says);
Huawei devices say their ``os_kind`` instead."""
OS_VERSION_RULE: dict[str, Any] = {
    "if": {"properties": {"platform": {"enum": list(NEEDS_OS_VERSION)}}, "required": ["platform"]},
    "then": {"required": ["os_version"],
             "properties": {"os_version": {"type": ["number", "string"]}}}}
"""The same as JSON Schema, for the OpenAPI document of ``DeviceIn``."""
OS_KIND_RULES: list[dict[str, Any]] = [
    {"if": {"properties": {"platform": {"const": "huawei"}}, "required": ["platform"]},
     "then": {"required": ["os_kind"], "properties": {"os_kind": {"type": "string"}}}},
    {"if": {"properties": {"os_kind": {"type": "string"}}, "required": ["os_kind"]},
     "then": {"properties": {"platform": {"const": "huawei"}}}},
    {"if": {"properties": {"os_kind": {"enum": ["emui", "harmonyos"]}}, "required": ["os_kind"]},
     "then": {"required": ["api_level"], "properties": {"api_level": {"type": "integer"}}}},
    {"if": {"properties": {"quiet_ui": {"const": True}}, "required": ["quiet_ui"]},
     "then": {"properties": {"platform": {"const": "web"},
                             "browser": {"enum": ["chrome", None]}}}},
    {"if": {"properties": {"webapk": {"const": True}}, "required": ["webapk"]},
     "then": {"required": ["os_version"],
              "properties": {"platform": {"const": "web"}, "browser": {"enum": ["chrome", None]},
                             "os_version": {"type": ["number", "string"]}}}},
]
"""A Huawei device says which OS it runs (EMUI and HarmonyOS 2-4 with their Android API
level), ``os_kind`` is Huawei's only, ``quiet_ui`` and ``webapk`` Chrome's only, ``webapk``
with its Android ``os_version`` (JSON Schema for
``DeviceIn``; the rules' ``resolve_profile`` says the same)."""


def _answer_view(cls: type, doc: str, times: tuple[str, ...], **types: Any) -> Any:
    """A frozen Struct with the fields of the rules' dataclass ``cls``, in its order, each of
    its declared type but the ``times`` (RFC 3339 text, as :func:`sim.wire.wire_state`
    writes them) and those ``types`` names; every field is required (an answer has them
    all). Made when this module is imported, so a field added to the rules is answered at
    once, with no copy of the class to keep in step."""
    hints = typing.get_type_hints(cls)
    fields = [(f.name, str | None if f.name in times else types.get(f.name, hints[f.name]))
              for f in dataclasses.fields(cls)]
    return msgspec.defstruct(f"{cls.__name__}View", fields, frozen=True, module=__name__,
                             namespace={"__doc__": doc})


if TYPE_CHECKING:  # the type checker knows them as Structs; their fields are made below
    CampaignCountersView = msgspec.Struct
    DeviceStateView = msgspec.Struct
else:
    CampaignCountersView = _answer_view(
        CampaignCounters, "The rules' ``CampaignCounters`` of one campaign on one install, its "
        "times in RFC 3339 (UTC).", CAMPAIGN_TIMES)
    DeviceStateView = _answer_view(
        DeviceState, "The rules' ``DeviceState`` of an install, its times in RFC 3339 (UTC).",
        STATE_TIMES, campaigns=dict[str, CampaignCountersView])


def state_view(st: DeviceState) -> DeviceStateView:
    """The answer's form of the rules' state (:func:`sim.wire.wire_state`)."""
    return msgspec.convert(wire_state(msgspec.to_builtins(st)), DeviceStateView)


class DeviceView(msgspec.Struct, frozen=True):
    """``GET /v1/devices/{device_id}``: the install, its rule state and dialogs left."""

    device_id: str
    user_id: str
    platform: Platform
    os_version: str | None
    """As the device reported it (``"17.4.1"``; a number sent as its shortest text)."""
    app_target_sdk: int | None
    browser: str | None
    profile: str
    permission: Permission
    installed: bool
    receives_push: bool
    """A push sent now would be delivered: installed, allowed (or provisional), not an
    Android app in hibernation (judged on the server's clock only), and its subscription not
    removed by WebKit after silent pushes."""
    dialogs_left: int | None
    """OS dialogs this install may still see; null = no fixed limit (web)."""
    state: DeviceStateView
    """The rules' ``DeviceState``, its times as RFC 3339 strings."""
    os_kind: OsKind | None = None
    api_level: int | None = None
    quiet_ui: bool = False
    webapk: bool = False
    browser_id: str | None = None
    scheduled_summary: bool = False
    """iOS: notifications are allowed into the Scheduled Summary (granted; delivery waits
    for the summary)."""
    review_notice_due: bool = False
    """Android 12 -> 13: the "review notification permissions" notice is up (judged on the
    server's clock only)."""
    should_show_rationale: bool = False
    """Android's ``shouldShowRequestPermissionRationale`` with AOSP's meaning: false when
    granted or fixed (the dialog is gone), else whether the user denied it once (USER_SET)
    and the app may ask once more; false off Android."""


class Offer(msgspec.Struct, frozen=True, gc=False):
    """A soft prompt shown (or clicked) and what its button did."""

    campaign_id: str
    action: str | None


class DeviceRecord(msgspec.Struct, kw_only=True, gc=False):
    """What the store keeps per (app, device): one JSON document (plain data; the record is
    untracked by the garbage collector, its ``DeviceState``, a compiled native object, is
    tracked)."""

    user_id: str
    platform: Platform
    os_version: float | None = None
    """The major version the rules compare."""
    os_version_reported: str | None = None
    """The version as the device reported it, for answers (None in records older than it:
    :func:`reported_version` falls back on ``os_version``)."""
    os_kind: OsKind | None = None
    api_level: int | None = None
    app_target_sdk: int | None = None
    browser: str | None = None
    quiet_ui: bool = False
    webapk: bool = False
    browser_id: str | None = None
    scheduled_summary: bool = False
    """iOS: the last allow was "Allow in Scheduled Summary"."""
    installed_at: float = 0.0
    state: DeviceState
    last_offer: Offer | None = None
    """The last impression reserved by eligibility (the action its button had)."""
    last_click: Offer | None = None
    """The last soft-prompt click: OS dialog answers and opt-ins are credited to it."""
    sessions_from: Literal["events", "app_open"] | None = None
    """What starts this install's sessions: its ``session_start`` events (from the first one
    on), or, until then, its ``app_open`` eligibility calls. None: no session yet (records
    older than this field with sessions counted them from events)."""
    experiments: tuple[str, ...] = ()
    """The experiments whose assignment of this device the store holds (``assignments``)."""
    arms: dict[str, int] | msgspec.UnsetType = msgspec.UNSET
    """The arm index of each adaptive experiment (``allocation`` ``thompson``) this device
    is in, as its assignment stored it: its weights move, so the hash alone no longer says
    (absent for fixed weights, whose hash does)."""
    registration: str | None = None
    """A digest of the registration request that made it: that request sent again (after a
    503 ``outcome_unknown``) answers 200 with this device, another one 409."""
    reserved_for: str | None = None
    """The ``request_id`` of the eligibility question that reserved the last impression."""
    reserved: Decision | None = None
    """That question's decision, answered again to the same ``request_id``."""
    launched_from: LaunchSource | None = None
    """How the app's current task was started (its last ``app_launched`` event)."""


# --- events -----------------------------------------------------------------------

class _Event(_In, tag_field="type"):
    event_id: Ident
    """Client id; a retried event with the same id is stored once."""
    at: Time


class SessionStart(_Event, tag="session_start"):
    """A new app session (runs ``start_session``)."""


class SessionTimeEvent(_Event, tag="session_time"):
    """The session has lasted ``seconds`` (recorded only)."""

    seconds: SessionSeconds


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
    prompt_ui: PromptUi | None = None
    """Chrome: the prompt the user answered, when the client knows it (a page cannot see
    Chrome's draw on a crowd-deny site; a test harness or the simulator can). Absent: the
    prompt eligibility announced (``prompt_ui``). A quiet prompt's dismissal or ignore counts
    toward Chrome's quiet embargo thresholds too. Only a prompt Chrome may open for this app
    is accepted (409 ``unsupported_prompt_ui`` otherwise)."""
    summary: bool = False
    """iOS, outcome ``allowed``: the user chose "Allow in Scheduled Summary" (authorized, the
    app's notifications wait for the summary); the device view says
    ``scheduled_summary``. With another outcome a 422, off iOS a 409, naming the field."""


class PermissionChanged(_Event, tag="permission_changed"):
    """The user turned notifications on or off in the system or site settings."""

    permission: Literal["granted", "denied"]
    campaign_id: CampaignId | None = None


class OsUpgraded(_Event, tag="os_upgraded"):
    """The OS moved to a new major version."""

    os_version: OsVersion | OsVersionText
    api_level: ApiLevel | None = None
    """Huawei EMUI / HarmonyOS: the new Android API level underneath (default: unchanged)."""


class AppUpdated(_Event, tag="app_updated"):
    """An app update changed its target SDK (Android family)."""

    app_target_sdk: TargetSdk


class Reinstalled(_Event, tag="reinstalled"):
    """The app came back on the device."""


class DataCleared(_Event, tag="data_cleared"):
    """The user cleared the app's or site's data."""


class Uninstalled(_Event, tag="uninstalled"):
    """The app was removed."""


class NotificationChannelCreated(_Event, tag="notification_channel_created"):
    """Android: the app created a notification channel. An app targeting <= 32 gets the OS's
    own dialog once it has one and its task came from the launcher (detail
    ``os_dialog_due`` when this event makes it due)."""


class AppLaunched(_Event, tag="app_launched"):
    """Android: the app's task was started, from the launcher or by another intent (a
    notification, a link, another app), with the keyguard locked or not (detail: the
    source, or ``os_dialog_due`` when the OS now shows its own dialog to an app targeting
    <= 32)."""

    source: LaunchSource = "launcher"
    keyguard_locked: bool = False


class OsDialogRequested(_Event, tag="os_dialog_requested"):
    """The app asked for the OS dialog and it opened (until its ``os_dialog_result``);
    HarmonyOS refuses a second request while it is open: 409 ``dialog_open``."""


class Restored(_Event, tag="restored"):
    """Android: a backup of the app's permission from another device was restored onto this
    install; it applies unless the permission is already user-set here (detail ``applied``
    or ``kept``)."""

    granted: bool
    user_set: bool = True
    user_fixed: bool = False


class ReviewNotice(_Event, tag="review_notice"):
    """Android 12 -> 13: the user's answer to the "review notification permissions" notice
    (``turned_off`` revokes the pre-grant; ``remind_later`` re-posts it after 7 days)."""

    answer: ReviewAnswer


class PushReceived(_Event, tag="push_received"):
    """A push reached the site's service worker (web): ``shown`` (a notification within
    30 s), ``silent`` (none) or ``declarative`` (Declarative Web Push: WebKit showed it).
    On Safari WebKit counts the silent ones for good and removes the subscription at the
    3rd (detail ``unsubscribed``; ``sim.rules.sending.record_push``)."""

    display: PushDisplay = "shown"


class PermissionRevoked(_Event, tag="permission_revoked"):
    """Chrome's Safety Hub revoked the site's permission back to *ask* as disruptive (the
    page sees ``default`` again; ``sim.rules.sending.revoke``): detail ``revoked``, or
    ``ignored`` off Chrome or when the permission was not granted."""


Event = (SessionStart | SessionTimeEvent | CustomEvent | SoftPromptShown | SoftPromptClicked
         | SoftPromptDismissed | OsDialogResult | PermissionChanged | OsUpgraded | AppUpdated
         | Reinstalled | DataCleared | Uninstalled | NotificationChannelCreated | AppLaunched
         | OsDialogRequested | Restored | ReviewNotice | PushReceived | PermissionRevoked)
EVENT_TYPES: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in Event.__args__)


class EventBatch(_In):
    """``POST /v1/devices/{device_id}/events``: applied all or nothing, in order."""

    events: Annotated[list[Event], msgspec.Meta(min_length=1)]


class EventsResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a batch did: new events applied, retried ones skipped."""

    new: int
    duplicate: int
    permission: Permission
    dialogs_left: int | None
    os_dialog_due: bool = False
    """Android, app targeting <= 32: the batch's ``app_launched`` or
    ``notification_channel_created`` made the OS show its own dialog now (and no
    ``os_dialog_result`` after it answered it yet); absent when false."""
    prompt_ui: PromptUi | None = None
    """Chrome: the batch holds an ``os_dialog_result``, answered in this prompt, ``quiet`` or
    ``loud`` (the last one's: as the event said, else as announced, the rules'
    ``prompt_ui``); absent elsewhere."""


# --- decisions, reachability, stats ------------------------------------------------

class EligibilityIn(TriggerFired, kw_only=True, frozen=True):
    """``POST /v1/devices/{device_id}/eligibility``: what fired in the app (the rules'
    ``TriggerFired``, handed to ``decide`` as it is) and when."""

    at: Time | None = None
    request_id: Ident | None = None
    """The client's id of this question: sent again with the same id (after a 503
    ``outcome_unknown``), a question whose first try reserved an impression answers that
    decision instead of deciding again (a once-only prompt would say ``show: false``)."""


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
    """``GET /healthz`` when ready: the store reads, writes and is not known to be damaged
    (otherwise 503 with the cause)."""

    status: Literal["ok"]
    store: Literal["sqlite", "postgres"]
    integrity: str
    """SQLite: ``ok (quick_check at start)`` or ``not checked``; PostgreSQL: ``server``."""
    writes: str
    """``ok``: no write has failed since the last one that worked."""


class Alive(msgspec.Struct, frozen=True):
    """``GET /livez``: the process answers (it says nothing of the store)."""

    status: Literal["alive"]


def reported_version(rec: DeviceRecord) -> str | None:
    """The OS version of ``rec`` as the device reported it (older records: its number)."""
    return rec.os_version_reported or version_text(rec.os_version)
