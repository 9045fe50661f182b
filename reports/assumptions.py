"""The model's assumptions, each with where it comes from (``docs/platform-rules.md``
and ``docs/behaviour-priors.md``).

The values come from the run's scenario. The behaviour priors' ranges, shapes and
sources are ``sim.model.priors.PRIORS`` (a test checks every field of
``sim.model.behaviour.Behaviour`` is a prior or a setting, so a new prior cannot
reach a report without its source); the platform profiles' sources are kept here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model import priors
from sim.model.behaviour import Behaviour, DialogOdds
from sim.model.scenario import Scenario

PROFILE_SOURCES: dict[str, str] = {
    "ios": "Apple 'Asking permission to use notifications'; MoEngage 'iOS Push Permission and "
           "Reachability' (reinstall resets)",
    "android13": "Android 'Notification runtime permission'; Android 11 permission changes "
                 "(second denial = don't ask again)",
    "android13_legacy": "source.android.com notification-perm (OS asks at first channel; one "
                        "denial locks)",
    "android12": "Android 'Notification runtime permission' (opt-out model below 13)",
    "huawei_emui13": "follows the Android level underneath (EMUI / HarmonyOS 2-4, API 33+)",
    "huawei_emui12": "follows the Android level underneath (EMUI / HarmonyOS 2-4, API <= 32)",
    "harmony_next": "Huawei HarmonyOS 'Requesting Notification Authorization'",
    "fire_os_8": "Amazon Fire OS device specs (opt-out, inferred from the Android base)",
    "fire_os_14": "Amazon Fire OS device specs (Android 12-14 base behaves like Android 13+)",
    "chrome": "Chromium permission_decision_auto_blocker.cc (3 dismissals or 4 ignores: 7-day "
              "embargo; the counts are never reset by an embargo)",
    "chrome_quiet": "Chromium permission_decision_auto_blocker.cc (quiet UI: 1 dismissal or 2 "
                    "ignores); adaptive_quiet_notification_permission_ui_enabler.cc (3 "
                    "denials in a row across sites within 90 days)",
    "firefox": "MDN Notification.requestPermission (user gesture since Firefox 72); "
               "gecko-dev PermissionUI.sys.mjs and firefox.js (no embargo, no \"Not now\")",
    "firefox_android": "GeckoViewPermission.sys.mjs (no prompt without a user gesture; "
                       "answers stored permanently, no embargo)",
    "safari": "WebKit PushManager.cpp (a user gesture, consumed by the request)",
    "safari_ios": "WebKit blog 13878 (iOS/iPadOS 16.4+: web push only for Home Screen web "
                  "apps; a Safari tab has no prompt)",
    "safari_ios_webapp": "WebKit blog 13878 and PushManager.cpp (Home Screen web app, "
                         "iOS/iPadOS 16.4+; a user gesture, consumed by the request)",
    "chrome_webapk": "Chromium notification_permission_context.cc (a WebAPK on Android 13+ "
                     "asks with Android's dialog, not Chrome's prompt: two denials, no "
                     "embargo)",
}
"""Where each platform profile's rules come from (``docs/platform-rules.md``)."""


@dataclass(frozen=True)
class Assumption:
    """One row of the assumptions table."""

    name: str
    what: str
    value: str
    prior: str
    """The range and shape of the prior (empty for a setting)."""
    source: str
    overridden: bool
    """True when the value differs from promptsim's current default."""
    default: str
    """promptsim's current default, as shown."""


def _show(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple):  # segments
        return "; ".join(
            f"{s.name} {100 * s.share:g}%: lifetime {s.lifetime_mean_days:g} d, "
            f"gap {s.gap_median_hours:g} h" for s in v)
    return str(v)


def behaviour_assumptions(sc: Scenario) -> list[Assumption]:
    """Every behaviour prior of the scenario with its range, shape and source, then the
    behaviour settings."""
    default = Behaviour()
    b = sc.behaviour
    rows = []
    for p in priors.PRIORS:
        if p.scale:
            value, dflt = _show(getattr(b, p.field)), _show(getattr(default, p.field))
            rng = f"x {p.low:g} - {p.high:g}"
        else:
            value = _show(p.value(b)) if p.applies(b) else "not set by this scenario"
            dflt = _show(p.value(default))
            rng = f"{p.low:g} - {p.high:g}"
        if p.name in sc.sensitivity.ranges:
            lo, hi = sc.sensitivity.ranges[p.name]
            rng = f"{lo:g} - {hi:g} (scenario)"
        sampled = "" if p.sampled else ", not sampled"
        source = sc.sensitivity.sources.get(p.name, p.source)
        rows.append(Assumption(p.name, p.what, value, f"{rng}, {p.shape}{sampled}", source,
                               value != dflt, dflt))
    for name, why in priors.SETTINGS.items():
        v, d = getattr(b, name), getattr(default, name)
        rows.append(Assumption(name, name.replace("_", " "), _show(v), "", f"setting: {why}",
                               v != d, _show(d)))
    return rows


def dialog_rows(sc: Scenario) -> list[tuple[str, float, str, str]]:
    """(profile, mix share, cold odds, primed odds) for the profiles in the population."""
    b = sc.behaviour
    profiles = sc.profiles()

    def odds(o: DialogOdds | None) -> str:
        if o is None:
            return "no dialog"
        return (f"allow {100 * o.allowed:g}%, deny {100 * o.denied:g}%, dismiss "
                f"{100 * o.dismissed:g}%, ignore {100 * o.ignored:g}%")

    rows = []
    for name, share in sc.population.mix.items():
        has = profiles[name].os_dialog
        rows.append((name, share, odds(b.dialog_cold.get(name)) if has else "no dialog",
                     odds(b.dialog_primed.get(name)) if has else "no dialog"))
    return rows


def platform_rules(sc: Scenario) -> list[dict[str, str]]:
    """The permission rules of the profiles in the population, with their sources."""
    profiles = sc.profiles()
    rows = []
    for name, share in sc.population.mix.items():
        p = profiles[name]
        rules = [f"starts {p.default_permission.replace('_', ' ')}"]
        if not p.os_dialog:
            rules.append("no OS dialog")
        elif not p.web_push:
            rules.append("no web push: no prompt (only Home Screen web apps ask)")
        else:
            rules.append(f"dialog gone after {p.max_denials} denial(s)")
            if p.dismiss_counts_as_denial:
                rules.append("a dismissal counts as a denial")
            if not p.app_can_request:
                rules.append("the OS asks by itself at first launch")
            if p.embargo_dismissals:
                rules.append(f"embargo {p.embargo_days:g} d after {p.embargo_dismissals} "
                             f"dismissals or {p.embargo_ignores} ignores")
            if p.requires_user_gesture:
                rules.append("needs a user gesture" + (", one per request"
                                                       if p.gesture_per_request else ""))
        if p.hibernation_days is not None:
            rules.append(f"permission revoked after {p.hibernation_days:g} idle days")
        if p.upgrade_to:
            rules.append(f"upgrades to {p.upgrade_to}")
        overridden = ", ".join(sorted(sc.platforms.get(name, {})))
        rows.append({"profile": name, "platform": p.platform, "share": f"{100 * share:g}%",
                     "rules": "; ".join(rules),
                     "source": PROFILE_SOURCES.get(name, "docs/platform-rules.md")
                     + (f" (scenario overrides: {overridden})" if overridden else "")})
    return rows
