"""Platform profiles: what each OS or browser allows, as plain data.

Every rule here comes from ``docs/platform-rules.md`` section 1; fields where the
sources disagree are settings with a documented default, never hidden
constants. A scenario file may override any field of any profile.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Platform = Literal["ios", "android", "huawei", "amazon", "web"]
"""The platform a device reports to the eligibility service."""

Family = Literal["ios", "android", "web"]
"""The reachability family (MoEngage reports per iOS, Android and Web)."""

PLATFORMS: tuple[Platform, ...] = ("ios", "android", "huawei", "amazon", "web")
FAMILY_OF: dict[str, Family] = {
    "ios": "ios", "android": "android", "huawei": "android", "amazon": "android", "web": "web",
}

MAX_DAYS = 3650.0
"""Longest span in days any rule field may hold (gaps, delays, embargoes, hibernation): ten
years, longer than an install lives in these models. An assumption that bounds input (and
the backoff gap), not a platform rule."""
MAX_THRESHOLD = 100
"""Largest denial or embargo threshold a profile may set: the platforms' own are 1 to 4
(iOS 1 denial, Android 2, Chrome 3 dismissals / 4 ignores); 100 bounds input."""

NonNegative = Annotated[float, msgspec.Meta(ge=0, le=MAX_DAYS)]
"""Days, 0 to :data:`MAX_DAYS`."""
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_THRESHOLD)]


class PlatformProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The permission rules of one platform, OS level or browser."""

    name: str
    """Key of the profile, e.g. ``ios`` or ``android13``."""
    platform: Platform
    """Platform reported to the service."""
    default_permission: Literal["not_determined", "granted"]
    """State of a fresh install: opt-in platforms start ``not_determined``."""
    os_dialog: bool = True
    """Whether the OS has a permission dialog at all (Android <= 12L has none)."""
    app_can_request: bool = True
    """Whether the app can open the dialog on demand (apps targeting <= 32 cannot)."""
    dialog_on_first_launch: bool = False
    """The OS shows the dialog by itself at first launch (Android 13, target <= 32)."""
    max_denials: Count = 1
    """Denials after which the dialog is gone for this install (Android 11+: 2)."""
    dismiss_counts_as_denial: bool = False
    """Whether swiping the dialog away counts as a denial (sources disagree)."""
    supports_provisional: bool = False
    """iOS 12+: quiet delivery without a dialog; the full dialog stays possible once."""
    requires_user_gesture: bool = False
    """Firefox 72+ and Safari: the dialog opens only from a user gesture."""
    embargo_dismissals: Count | None = None
    """Chrome: this many dismissals put the origin under embargo."""
    embargo_ignores: Count | None = None
    """Chrome: this many ignored dialogs put the origin under embargo."""
    embargo_days: NonNegative = 0.0
    """Length of the embargo (Chrome: 7 days)."""
    reinstall_resets: bool = True
    """A reinstall resets the permission and the denial counter."""
    reinstall_reset_delay_days: NonNegative = 0.0
    """iOS: Apple's TN2265 says the reset needs the app gone for a day; default 0 (MoEngage)."""
    clear_data_resets: bool = False
    """Clearing app or site data resets the permission (Android, web)."""
    upgrade_to: str | None = None
    """Profile the device moves to on its next major OS upgrade, if the rules change."""
    upgrade_pregrant: bool = False
    """On the move *to* this profile, an app with notifications on is pre-granted."""
    hibernation_days: NonNegative | None = None
    """Unused this many days, runtime permissions are revoked (Android 13+)."""
    settings_path: str = ""
    """Where the user turns notifications back on."""


def _p(**kw: object) -> PlatformProfile:
    return msgspec.convert(kw, PlatformProfile)


DEFAULT_PROFILES: dict[str, PlatformProfile] = {
    p.name: p
    for p in (
        _p(name="ios", platform="ios", default_permission="not_determined", max_denials=1,
           dismiss_counts_as_denial=True, supports_provisional=True,
           settings_path="UIApplication.openNotificationSettingsURLString"),
        _p(name="android13", platform="android", default_permission="not_determined",
           max_denials=2, hibernation_days=90.0, clear_data_resets=True, upgrade_pregrant=True,
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="android13_legacy", platform="android", default_permission="not_determined",
           max_denials=1, app_can_request=False, dialog_on_first_launch=True,
           hibernation_days=90.0, clear_data_resets=True,
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="android12", platform="android", default_permission="granted", os_dialog=False,
           max_denials=0, clear_data_resets=True, upgrade_to="android13",
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="huawei_emui13", platform="huawei", default_permission="not_determined",
           max_denials=2, clear_data_resets=True, hibernation_days=90.0,
           upgrade_pregrant=True, settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="huawei_emui12", platform="huawei", default_permission="granted",
           os_dialog=False, max_denials=0, clear_data_resets=True, upgrade_to="huawei_emui13",
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="harmony_next", platform="huawei", default_permission="not_determined",
           max_denials=1, clear_data_resets=True,
           settings_path="notificationManager.openNotificationSettings"),
        _p(name="fire_os_8", platform="amazon", default_permission="granted", os_dialog=False,
           max_denials=0, clear_data_resets=True, upgrade_to="fire_os_14",
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="fire_os_14", platform="amazon", default_permission="not_determined",
           max_denials=2, clear_data_resets=True, hibernation_days=90.0, upgrade_pregrant=True,
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="chrome", platform="web", default_permission="not_determined", max_denials=1,
           embargo_dismissals=3, embargo_ignores=4, embargo_days=7.0, clear_data_resets=True,
           settings_path="chrome://settings/content/notifications"),
        _p(name="firefox", platform="web", default_permission="not_determined", max_denials=1,
           requires_user_gesture=True, clear_data_resets=True,
           settings_path="about:preferences#privacy"),
        _p(name="safari", platform="web", default_permission="not_determined", max_denials=1,
           requires_user_gesture=True, clear_data_resets=True,
           settings_path="Safari > Settings > Websites > Notifications"),
    )
}
"""The profiles of ``docs/platform-rules.md`` section 1, keyed by name.

Defaults where sources disagree: Android dismissals do not count as denials
(the official rule; OneSignal counts them); the iOS reinstall reset needs no
delay (MoEngage; TN2265 says a day); the Android 12 -> 13 upgrade pre-grants
an app that had notifications on (source.android.com).
"""
PROFILES: tuple[str, ...] = tuple(DEFAULT_PROFILES)
"""Every profile name, in a fixed order (the panel's cohort axis)."""

def override_profiles(
    base: dict[str, PlatformProfile], overrides: dict[str, dict[str, object]]
) -> dict[str, PlatformProfile]:
    """Return ``base`` with the fields in ``overrides`` replaced, validated.

    Raises ``ValueError`` naming the profile and field when an override is unknown
    or of the wrong type.
    """
    out = dict(base)
    for name, fields in overrides.items():
        if name not in out:
            raise ValueError(
                f"platforms.{name}: unknown platform profile; allowed: {', '.join(sorted(out))}"
            )
        merged = msgspec.structs.asdict(out[name]) | dict(fields)
        try:
            out[name] = msgspec.convert(merged, PlatformProfile)
        except msgspec.ValidationError as exc:
            raise ValueError(f"platforms.{name}: {exc}") from None
    for p in out.values():
        if p.upgrade_to is not None and p.upgrade_to not in out:
            raise ValueError(f"platforms.{p.name}.upgrade_to: unknown profile {p.upgrade_to!r}")
    return out


def resolve_profile(
    platform: str,
    os_version: float | None = None,
    app_target_sdk: int | None = None,
    browser: str | None = None,
) -> str:
    """Name of the profile for what a device reports about itself.

    ``os_version`` is the major OS version (Android API level 33 is Android 13;
    Fire OS and HarmonyOS NEXT give their own major version).
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform: {platform!r} not one of {', '.join(PLATFORMS)}")
    if platform == "ios":
        return "ios"
    if platform == "web":
        b = (browser or "chrome").lower()
        if b not in ("chrome", "firefox", "safari"):
            raise ValueError(f"browser: {browser!r} not one of chrome, firefox, safari")
        return b
    if os_version is None:
        raise ValueError(f"os_version: required for platform {platform!r} (the Android, Fire "
                         "OS or HarmonyOS major version)")
    if platform == "amazon":
        return "fire_os_14" if os_version >= 14 else "fire_os_8"
    if platform == "huawei":
        if 5 <= os_version < 10:  # HarmonyOS NEXT is 5.x
            return "harmony_next"
        return "huawei_emui13" if os_version >= 13 else "huawei_emui12"
    if platform == "android":
        if os_version < 13:
            return "android12"
        if app_target_sdk is not None and app_target_sdk <= 32:
            return "android13_legacy"
    return "android13"
