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
"""The reachability family (MoEngage reports per iOS, Android and Web): Huawei and Amazon
devices are Android devices (their push tokens are Android app tokens in MoEngage's Android
reachability), so they count in ``android``."""
OsKind = Literal["emui", "harmonyos", "harmonyos_next"]
"""What a Huawei device runs: EMUI or HarmonyOS 2-4 (Android underneath, with its Android
API level), or HarmonyOS NEXT (no Android underneath)."""
OS_KINDS: tuple[str, ...] = ("emui", "harmonyos", "harmonyos_next")
Browser = Literal["chrome", "firefox", "safari", "firefox_android", "safari_ios",
                  "safari_ios_webapp"]
"""The browser a web install runs in. Firefox for Android is a browser of its own (Fenix on
GeckoView: its permission prompts are GeckoView's, not desktop Firefox's). On iOS and iPadOS,
``safari_ios`` is a page in a Safari tab (no web push) and ``safari_ios_webapp`` a web app
added to the Home Screen (web push from iOS/iPadOS 16.4); ``safari`` is Safari on macOS."""
BROWSERS: tuple[str, ...] = ("chrome", "firefox", "safari", "firefox_android", "safari_ios",
                             "safari_ios_webapp")
WEBAPK_ANDROID_VERSION = 13.0
"""The first Android version (13, API 33) on which Chrome asks for an origin installed as a
WebAPK (or a Trusted Web Activity) through Android's POST_NOTIFICATIONS dialog instead of
its own prompt (Chromium ``NotificationPermissionContext::DecidePermission``:
``sdk_int() >= SDK_VERSION_T && contains_installed_webapp``)."""
IOS_WEB_PUSH_VERSION = 16.4
"""The first iOS/iPadOS version with web push for Home Screen web apps (WebKit blog 13878,
"Web Push for Web Apps on iOS and iPadOS"). A ``safari_ios_webapp`` registration with an
older ``os_version`` resolves to ``safari_ios``: no web push."""

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
Chance = Annotated[float, msgspec.Meta(ge=0, le=1)]
"""A probability, 0 to 1."""


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
    quiet_ui: bool = False
    """Chrome's quieter UI on every site (the user's setting, or the adaptive activation):
    the prompts of this profile come quiet, and a quiet dismissal or ignore counts toward
    both the quiet and the normal threshold."""
    quiet_embargo_dismissals: Count | None = None
    """Chrome: this many dismissals of its quiet prompt (on a quiet-UI browser, or on a site
    whose reputation makes it quiet) embargo the origin (Chrome: 1)."""
    quiet_embargo_ignores: Count | None = None
    """Chrome: this many ignores of its quiet prompt embargo the origin (Chrome: 2)."""
    crowd_deny_hold_back: Chance = 0.0
    """Chrome: the chance that a prompt its crowd deny list would make quiet (the app's
    ``site_reputation = "crowd_deny"``) comes loud instead, Chrome's control group (Chromium
    ``GetCrowdDenyHoldBackChance``: 0.3). Drawn per prompt; other reputations have none."""
    settings_link: bool = True
    """The app can open its notification settings; false on the web, where a page can only
    show instructions for unblocking the site (the button's action is ``instructions``)."""
    token_needs_permission: bool = False
    """Without the permission there is no push token (the web: no permission, no push
    subscription), so the device counts in no reachability code."""
    ignored_ends_dialog: bool = False
    """An ignored dialog (the app quit with it up) counts as the answer that ends the OS
    dialog (MoEngage's "denies or ignores"); false: Apple's behaviour, the status stays
    "not determined" and the app may ask again."""
    upgrade_denied_user_set: bool = True
    """On the move *to* this profile, notifications blocked before the upgrade are revoked and
    marked USER_SET (AOSP ``PermissionHelper``): an app that can ask gets one more dialog,
    whose deny is final. False: blocked at once, only settings can undo it."""
    reinstall_resets: bool = True
    """A reinstall resets the permission and the denial counter."""
    reinstall_reset_delay_days: NonNegative = 0.0
    """iOS: Apple's TN2265 says the reset needs the app gone for a day; default 0 (MoEngage)."""
    clear_data_resets: bool = False
    """Clearing app or site data resets the permission (Android, web; iOS as MoEngage says:
    "reset on every reinstall and clear data")."""
    upgrade_to: str | None = None
    """Profile the device moves to on its next major OS upgrade, if the rules change."""
    upgrade_pregrant: bool = False
    """On the move *to* this profile, an app with notifications on is pre-granted, whatever
    its target SDK (AOSP ``PermissionHelper.setNotificationPermission`` on the S -> T upgrade)."""
    hibernation_days: NonNegative | None = None
    """Unused this many days, runtime permissions are revoked (Android 13+)."""
    settings_path: str = ""
    """Where the user turns notifications back on."""
    # --- Android and HarmonyOS dialog rules (issue 24) ---
    dialog_spent_on: Literal["answer", "display"] = "answer"
    """When the one dialog is used up: ``answer``, only when Allow or Deny is tapped (current
    OpenHarmony ``notification_dialog_manager.cpp``: ``SetHasPoppedDialog`` in
    ``OnDialogButtonClicked``), so a dialog closed otherwise can be asked again; ``display``,
    as soon as it appears (older OpenHarmony ``advanced_notification_service.cpp``:
    ``SetHasPoppedDialog`` right after starting the dialog)."""
    dialog_open_error: bool = False
    """A request while the OS dialog is still open is an error (OpenHarmony
    ``ERR_ANS_DIALOG_IS_POPPING``); the service answers 409 ``dialog_open``."""

    # --- web browsers (issue 24, rulesweb) ---
    not_now_button: bool = True
    """The browser's prompt has a button that closes it without an answer ("Not now").
    Firefox hides it by default (``firefox.js``: ``permissions.desktop-notification.notNow.
    enabled`` false): its prompt offers Allow and Always block only, so a user who would have
    dismissed it leaves it unanswered, and a dismissal counts as an ignore."""
    web_push: bool = True
    """The page can ask for notifications at all. False for a page in a Safari tab on iOS and
    iPadOS: web push there is only for web apps added to the Home Screen (iOS/iPadOS 16.4+),
    so there is no prompt, and the eligibility answers ``needs_home_screen``."""
    gesture_per_request: bool = False
    """One click buys one request: the request for the OS dialog consumes the user gesture
    (WebKit ``PushManager.cpp``: ``window->consumeTransientActivation()``), so a second request
    from the same click is refused (409 ``needs_user_gesture`` on ``os_dialog_requested``)
    until the user clicks again. True on Safari."""


def _p(**kw: object) -> PlatformProfile:
    return msgspec.convert(kw, PlatformProfile)


DEFAULT_PROFILES: dict[str, PlatformProfile] = {
    p.name: p
    for p in (
        _p(name="ios", platform="ios", default_permission="not_determined", max_denials=1,
           dismiss_counts_as_denial=True, supports_provisional=True, clear_data_resets=True,
           settings_path="UIApplication.openNotificationSettingsURLString"),
        _p(name="android13", platform="android", default_permission="not_determined",
           max_denials=2, hibernation_days=90.0, clear_data_resets=True, upgrade_pregrant=True,
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="android13_legacy", platform="android", default_permission="not_determined",
           max_denials=1, app_can_request=False, dialog_on_first_launch=True,
           hibernation_days=90.0, clear_data_resets=True, upgrade_pregrant=True,
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
           max_denials=1, clear_data_resets=True, dialog_open_error=True,
           settings_path="notificationManager.openNotificationSettings"),
        _p(name="fire_os_8", platform="amazon", default_permission="granted", os_dialog=False,
           max_denials=0, clear_data_resets=True, upgrade_to="fire_os_14",
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="fire_os_14", platform="amazon", default_permission="not_determined",
           max_denials=2, clear_data_resets=True, hibernation_days=90.0, upgrade_pregrant=True,
           settings_path="Settings.ACTION_APP_NOTIFICATION_SETTINGS"),
        _p(name="chrome", platform="web", default_permission="not_determined", max_denials=1,
           embargo_dismissals=3, embargo_ignores=4, embargo_days=7.0,
           quiet_embargo_dismissals=1, quiet_embargo_ignores=2, crowd_deny_hold_back=0.3,
           clear_data_resets=True, settings_link=False, token_needs_permission=True,
           settings_path="chrome://settings/content/notifications"),
        _p(name="chrome_quiet", platform="web", default_permission="not_determined",
           max_denials=1, embargo_dismissals=3, embargo_ignores=4, embargo_days=7.0,
           quiet_ui=True, quiet_embargo_dismissals=1, quiet_embargo_ignores=2,
           crowd_deny_hold_back=0.3, clear_data_resets=True, settings_link=False,
           token_needs_permission=True, settings_path="chrome://settings/content/notifications"),
        _p(name="firefox", platform="web", default_permission="not_determined", max_denials=1,
           requires_user_gesture=True, clear_data_resets=True, settings_link=False,
           token_needs_permission=True, settings_path="about:preferences#privacy"),
        _p(name="safari", platform="web", default_permission="not_determined", max_denials=1,
           requires_user_gesture=True, gesture_per_request=True, clear_data_resets=True,
           settings_link=False, token_needs_permission=True,
           settings_path="Safari > Settings > Websites > Notifications"),
    )
}
# --- web browsers (issue 24, rulesweb) ---
DEFAULT_PROFILES["firefox"] = msgspec.structs.replace(DEFAULT_PROFILES["firefox"],
                                                      not_now_button=False)
DEFAULT_PROFILES["firefox_android"] = _p(
    name="firefox_android", platform="web", default_permission="not_determined",
    max_denials=1, requires_user_gesture=True, not_now_button=False, clear_data_resets=True,
    settings_link=False, token_needs_permission=True,
    settings_path="Settings > Site permissions > Notifications")
# --- Safari on iOS and iPadOS (issue 24, safari) ---
DEFAULT_PROFILES["safari_ios_webapp"] = msgspec.structs.replace(
    DEFAULT_PROFILES["safari"], name="safari_ios_webapp",
    settings_path="Settings > Notifications > (the web app)")
DEFAULT_PROFILES["safari_ios"] = msgspec.structs.replace(
    DEFAULT_PROFILES["safari"], name="safari_ios", web_push=False,
    settings_path="Share > Add to Home Screen, then Settings > Notifications")
# --- Chrome on Android 13+, an origin installed as a WebAPK (issue 24, chromequiet) ---
# Android's POST_NOTIFICATIONS rules for the WebAPK's package (``android13``'s: the second
# denial is final, a dismissal is no denial) instead of Chrome's prompt and embargo: no
# embargo counter, no quiet or loud prompt.
DEFAULT_PROFILES["chrome_webapk"] = _p(
    name="chrome_webapk", platform="web", default_permission="not_determined",
    max_denials=2, clear_data_resets=True, settings_link=False, token_needs_permission=True,
    settings_path="Settings > Apps > (the WebAPK) > Notifications")
"""The profiles of ``docs/platform-rules.md`` section 1, keyed by name.

Defaults where sources disagree (``docs/platform-settings.md`` lists every setting):
Android dismissals do not count as denials (AOSP; OneSignal counts them); the iOS
reinstall reset needs no delay (MoEngage; TN2265 says a day); iOS clears the
permission with the app's data (MoEngage); an ignored iOS dialog leaves "not
determined" (Apple; MoEngage says it ends the dialog); the Android 12 -> 13 upgrade
pre-grants an app that had notifications on and marks a blocked one USER_SET (AOSP).
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
    *,
    os_kind: str | None = None,
    api_level: int | None = None,
    quiet_ui: bool = False,
    webapk: bool = False,
) -> str:
    """Name of the profile for what a device reports about itself (:class:`DeviceKind`).

    ``os_version`` is the major OS version (Android 13 is API level 33; Fire OS gives its
    own major version). A Huawei device says which OS it runs (``os_kind``): EMUI or
    HarmonyOS 2-4 with the ``api_level`` of the Android underneath, or HarmonyOS NEXT.
    ``quiet_ui``: Chrome shows its quieter prompt (set by the user, or by Chrome's
    adaptive quiet UI). ``webapk``: Chrome on Android, the origin is installed as a WebAPK
    (or a TWA); from Android 13 (``os_version``, required with it) Android's dialog asks.
    Raises ``ValueError("field: ...; allowed: ...")``.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform: {platform!r} not one of {', '.join(PLATFORMS)}")
    if quiet_ui and (platform != "web" or (browser or "chrome").lower() != "chrome"):
        raise ValueError("quiet_ui: only Chrome has a quieter prompt; allowed: platform web "
                         "with browser chrome, or quiet_ui false")
    if webapk and (platform != "web" or (browser or "chrome").lower() != "chrome"):
        raise ValueError("webapk: only Chrome on Android installs a site as a WebAPK; "
                         "allowed: platform web with browser chrome, or webapk false")
    if webapk and os_version is None:
        raise ValueError("os_version: required with webapk (the Android major version: "
                         "from 13 Android's own dialog asks)")
    if os_kind is not None and platform != "huawei":
        raise ValueError(f"os_kind: only for platform huawei, not {platform!r}")
    if platform == "ios":
        return "ios"
    if platform == "web":
        b = (browser or "chrome").lower()
        if b not in BROWSERS:
            raise ValueError(f"browser: {browser!r} not one of {', '.join(BROWSERS)}")
        if b == "safari_ios_webapp" and os_version is not None \
                and os_version < IOS_WEB_PUSH_VERSION:
            return "safari_ios"  # a Home Screen web app before 16.4: no web push
        if webapk and os_version is not None and os_version >= WEBAPK_ANDROID_VERSION:
            return "chrome_webapk"  # Android's dialog, not Chrome's prompt
        return "chrome_quiet" if quiet_ui else b
    if platform == "huawei":
        if os_kind is None:
            raise ValueError("os_kind: required for platform huawei; allowed: "
                             f"{', '.join(OS_KINDS)}")
        if os_kind not in OS_KINDS:
            raise ValueError(f"os_kind: {os_kind!r} not one of {', '.join(OS_KINDS)}")
        if os_kind == "harmonyos_next":
            return "harmony_next"
        if api_level is None:
            raise ValueError(f"api_level: required for os_kind {os_kind!r} (the API level of "
                             "the Android underneath, e.g. 33 for Android 13)")
        return "huawei_emui13" if api_level >= 33 else "huawei_emui12"
    if os_version is None:
        raise ValueError(f"os_version: required for platform {platform!r} (the Android or "
                         "Fire OS major version)")
    if platform == "amazon":
        return "fire_os_14" if os_version >= 14 else "fire_os_8"
    if os_version < 13:
        return "android12"
    if app_target_sdk is not None and app_target_sdk <= 32:
        return "android13_legacy"
    return "android13"


class DeviceKind(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True,
                 kw_only=True):
    """What a device says about itself: a platform family plus its version, as the service's
    registration takes it. :meth:`profile` resolves it to a profile name, the same way for
    scenarios and for the API."""

    platform: Platform
    """The platform family."""
    os_version: float | None = None
    """The major OS version (Android 13 is 13; Fire OS and HarmonyOS give their own)."""
    os_kind: OsKind | None = None
    """Huawei only: the OS it runs (EMUI, HarmonyOS 2-4, or HarmonyOS NEXT)."""
    api_level: int | None = None
    """Huawei EMUI and HarmonyOS 2-4: the API level of the Android underneath."""
    app_target_sdk: int | None = None
    """The app's target SDK on Android-based platforms (below 33: the OS asks by itself)."""
    browser: Browser | None = None
    """Web only: the browser (default Chrome)."""
    quiet_ui: bool = False
    """Chrome only: it shows its quieter prompt (set by the user or adaptively)."""
    webapk: bool = False
    """Chrome on Android only: the origin is installed as a WebAPK (or a Trusted Web
    Activity); with ``os_version`` 13+ Android's own dialog asks (``chrome_webapk``)."""

    def profile(self) -> str:
        """The profile these facts resolve to (``resolve_profile``)."""
        return resolve_profile(self.platform, self.os_version, self.app_target_sdk,
                               self.browser, os_kind=self.os_kind, api_level=self.api_level,
                               quiet_ui=self.quiet_ui, webapk=self.webapk)


def _k(platform: Platform, **kw: object) -> DeviceKind:
    return msgspec.convert({"platform": platform, **kw}, DeviceKind)


REPORTS: dict[str, DeviceKind] = {
    "ios": _k("ios", os_version=18.0),
    "android13": _k("android", os_version=14.0, app_target_sdk=34),
    "android13_legacy": _k("android", os_version=14.0, app_target_sdk=32),
    "android12": _k("android", os_version=12.0, app_target_sdk=34),
    "huawei_emui13": _k("huawei", os_kind="emui", os_version=13.0, api_level=33,
                        app_target_sdk=34),
    "huawei_emui12": _k("huawei", os_kind="emui", os_version=12.0, api_level=31,
                        app_target_sdk=34),
    "harmony_next": _k("huawei", os_kind="harmonyos_next", os_version=5.0),
    "fire_os_8": _k("amazon", os_version=8.0, app_target_sdk=34),
    "fire_os_14": _k("amazon", os_version=14.0, app_target_sdk=34),
    "chrome": _k("web", browser="chrome"),
    "chrome_quiet": _k("web", browser="chrome", quiet_ui=True),
    "firefox": _k("web", browser="firefox"),
    "safari": _k("web", browser="safari"),
    "firefox_android": _k("web", browser="firefox_android"),
    "safari_ios": _k("web", browser="safari_ios", os_version=18.0),
    "safari_ios_webapp": _k("web", browser="safari_ios_webapp", os_version=18.0),
    "chrome_webapk": _k("web", browser="chrome", os_version=14.0, webapk=True),
}
"""What a device on each built-in profile reports (the simulator's devices, the event log,
``promptsim parity``): each resolves back to its profile."""
