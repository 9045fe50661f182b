"""The model's assumptions, each with where it comes from (``docs/platform-rules.md``
and ``docs/behaviour-priors.md``).

The values come from the run's scenario; the sources are kept here, one per
behaviour field, and a test checks every field of ``sim.model.behaviour.Behaviour``
has one, so a new prior cannot reach a report without its source.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from sim.model.behaviour import Behaviour, DialogOdds
from sim.model.scenario import Scenario

ASSUMPTION = "assumption (no public source)"

BEHAVIOUR_SOURCES: dict[str, tuple[str, str]] = {
    "segments": ("Engagement segments: share, mean lifetime, median gap between sessions",
                 "Retention: A. Chen / Quettra (77% of daily actives lost in 3 days, 90% in 30, "
                 "95% in 90; D1 25-30%, D7 10-15%, D30 5-8%)"),
    "gap_model": ("Session gaps", "Falaki et al., MobiSys 2010; Pfister & Ghosh (bursty, "
                                  "heavy-tailed; Poisson as a baseline only)"),
    "user_gap_scatter": ("Spread of each user's median gap around the segment's", ASSUMPTION),
    "session_seconds_median": ("Median session length (s)", ASSUMPTION),
    "session_seconds_sigma": ("Log-scale spread of session length", ASSUMPTION),
    "event_name": ("Named user event that can trigger a prompt", ASSUMPTION),
    "event_per_session": ("Chance a session contains that event", ASSUMPTION),
    "receptiveness_mean": ("Mean chance a fresh user taps the soft prompt",
                           "assumption; vendor primers report 30-60% (vendor blogs)"),
    "receptiveness_concentration": ("Beta concentration of per-user receptiveness", ASSUMPTION),
    "fatigue_factor": ("Acceptance multiplier per unit of prompt fatigue",
                       "shape: Duolingo 'recovering bandit' (KDD 2020); value an assumption"),
    "fatigue_half_life_days": ("Half-life of prompt fatigue (days)",
                               "shape: Duolingo 'recovering bandit' (KDD 2020); value an "
                               "assumption"),
    "context_boost": ("Acceptance multiplier after a meaningful event", ASSUMPTION),
    "dialog_cold": ("OS dialog answers without a soft prompt first (see the dialog table)",
                    "Chrome: Bilogrevic et al., USENIX Security 2021 (10% desktop, 21% Android "
                    "granted); Firefox: Mozilla 2019 (about 1.6%); others an assumption"),
    "dialog_primed": ("OS dialog answers right after the user tapped the soft prompt",
                      "assumption: vendors claim +30% to 3x over cold (vendor blogs); "
                      "Pinterest saw no gain in six experiments (J. Egan)"),
    "settings_completion": ("Chance a user sent to Settings turns notifications on", ASSUMPTION),
    "spontaneous_reenable": ("Share of denied users who re-enable from Settings by themselves",
                             "vendor blog (amply), 2025: under 5%"),
    "reenable_delay_mean_days": ("Mean delay of that re-enabling (days)", ASSUMPTION),
    "annoyance_base": ("Chance a declined soft prompt makes the user uninstall",
                       "assumption; annoyance uninstalls: Duolingo (KDD 2020)"),
    "annoyance_growth": ("Growth of that chance with each earlier impression", ASSUMPTION),
    "opt_out_per_year": ("Baseline hazard h0 of opting out after opting in (per year)",
                         "no public curve: hazard h0 * exp(k * fatigue), h0 and k uncertain"),
    "opt_out_fatigue_k": ("Fatigue coefficient k of the opt-out hazard",
                          "no public curve: h0 and k uncertain"),
    "pushes_per_week": ("Notifications received per week (the fatigue f)", ASSUMPTION),
    "uninstall_after_churn": ("Chance a device that stopped using the app uninstalls it",
                              "AppsFlyer 2018 / 2020: 28% to ~50% uninstall within 30 days, "
                              "Android about 2x iOS"),
    "uninstall_delay_mean_days": ("Mean delay from last use to uninstall (days)", ASSUMPTION),
    "reinstall": ("Chance an uninstall is followed by a reinstall", ASSUMPTION),
    "reinstall_delay_mean_days": ("Mean delay to that reinstall (days)", ASSUMPTION),
    "clear_data_per_year": ("Yearly rate of clearing app or site data (Android, web)",
                            ASSUMPTION),
    "os_upgrade_per_year": ("Yearly rate of moving to the next OS level (Android 12 -> 13, "
                            "Fire OS 8 -> 14)", ASSUMPTION),
    "ios_release_day": ("Day a new iOS major version ships (rules unchanged; logged only)",
                        ASSUMPTION),
    "ios_adoption_median_days": ("Days after release by which half of the iOS devices run "
                                 "it (log-logistic adoption)",
                                 "assumption, in line with Apple's published adoption"),
    "ios_adoption_shape": ("Steepness of the log-logistic iOS adoption curve", ASSUMPTION),
}
"""What each ``Behaviour`` field means and its source (``docs/behaviour-priors.md``)."""

PROFILE_SOURCES: dict[str, str] = {
    "ios": "Apple 'Asking permission to use notifications'; MoEngage 'iOS Push Permission and "
           "Reachability' (reinstall resets)",
    "android13": "Android 'Notification runtime permission'; Android 11 permission changes "
                 "(second denial = don't ask again)",
    "android13_legacy": "source.android.com notification-perm (OS asks at first channel; one "
                        "denial locks)",
    "android12": "Android 'Notification runtime permission' (opt-out model below 13)",
    "huawei_emui13": "follows the Android level underneath (EMUI)",
    "huawei_emui12": "follows the Android level underneath (EMUI)",
    "harmony_next": "Huawei HarmonyOS 'Requesting Notification Authorization'",
    "fire_os_8": "Amazon Fire OS device specs (opt-out, inferred from the Android base)",
    "fire_os_14": "Amazon Fire OS device specs (Android 12-14 base behaves like Android 13+)",
    "chrome": "Chromium permission_decision_auto_blocker.cc (3 dismissals or 4 ignores: 7-day "
              "embargo)",
    "firefox": "MDN Notification.requestPermission (user gesture since Firefox 72)",
    "safari": "MDN Notification.requestPermission (user gesture; iOS only in Home Screen web "
              "apps)",
}
"""Where each platform profile's rules come from (``docs/platform-rules.md``)."""


@dataclass(frozen=True)
class Assumption:
    """One row of the assumptions table."""

    field: str
    what: str
    value: str
    source: str
    overridden: bool
    """True when the value differs from promptsim's current default."""
    default: str
    """promptsim's current default, as shown."""


def _show(v: object) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):  # segments
        return "; ".join(
            f"{s.name} {100 * s.share:g}%: lifetime {s.lifetime_mean_days:g} d, "
            f"gap {s.gap_median_hours:g} h" for s in v)
    if isinstance(v, dict):
        if v and isinstance(next(iter(v.values())), DialogOdds):
            return "per platform, see below"
        return ", ".join(f"{k} {x:g}" for k, x in v.items())
    return str(v)


def behaviour_assumptions(sc: Scenario) -> list[Assumption]:
    """Every behaviour prior of the scenario with its meaning and source."""
    default = Behaviour()
    rows = []
    for f in msgspec.structs.fields(Behaviour):
        what, source = BEHAVIOUR_SOURCES.get(f.name, (f.name, ASSUMPTION))
        value, dflt = getattr(sc.behaviour, f.name), getattr(default, f.name)
        rows.append(Assumption(f.name, what, _show(value), source, value != dflt, _show(dflt)))
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
                rules.append("needs a user gesture")
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
