"""Every behaviour prior as a distribution: a range, a shape and a source.

A ``Prior`` names the ``Behaviour`` field it sets, the range a value may take and
the shape of its distribution over that range: ``pert`` (a Beta-PERT peaked at
the scenario's value, for a best guess with bounds) or ``uniform`` (no best guess
inside the bounds). Its ``source`` is a publication, or starts with
"assumption:" and gives the reason for the range. The scenario's value (by
default ``Behaviour()``'s, calibrated in ``sim.analysis.calibration``) is the
peak; ``draw`` and ``apply`` let the sensitivity analysis sample a full set of
priors. Fields that are not priors (the app's own settings) are in ``SETTINGS``
with the reason they are not sampled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from sim.model.behaviour import Behaviour

Shape = Literal["pert", "uniform"]
ANDROID_13_LIKE: tuple[str, ...] = ("android13", "android13_legacy", "huawei_emui13",
                                    "harmony_next", "fire_os_14")
"""Profiles that share the Android 13+ dialog answers."""


@dataclass(frozen=True)
class Prior:
    """One uncertain behaviour parameter."""

    name: str
    """Key of the prior (the field, or ``field.key`` for per-platform values)."""
    what: str
    field: str
    """The ``Behaviour`` field it sets."""
    low: float
    high: float
    shape: Shape
    source: str
    """A publication, or "assumption: ..." with the reason for the range."""
    keys: tuple[str, ...] = ()
    """For dict fields: the profiles or families it sets (all to the same value)."""
    scale: bool = False
    """A multiplier (default 1) on a list of values rather than a value itself."""
    sampled: bool = True
    """False for a prior that changes no outcome of a standard scenario (the reason is in
    ``source``): it keeps its value in a sensitivity run."""

    def applies(self, b: Behaviour) -> bool:
        """Whether ``b`` has something for it to set (a scenario may give dialog answers
        for some platforms only)."""
        return not self.keys or any(k in getattr(b, self.field) for k in self.keys)

    def value(self, b: Behaviour) -> float:
        """The prior's value in ``b`` (1 for a scale); see ``applies``."""
        if self.scale:
            return 1.0
        v = getattr(b, self.field)
        if self.keys:
            v = v[next(k for k in self.keys if k in v)]
            return float(v.allowed) if self.field.startswith("dialog_") else float(v)
        return float(v)

    def quantile(self, u: np.ndarray, mode: float) -> np.ndarray:
        """Values at probabilities ``u``, the PERT peaked at ``mode`` (clipped into the range)."""
        lo, hi = self.low, self.high
        if self.shape == "uniform" or hi <= lo:
            return lo + u * (hi - lo)
        m = min(max(mode, lo), hi)
        a = 1.0 + 4.0 * (m - lo) / (hi - lo)
        b = 1.0 + 4.0 * (hi - m) / (hi - lo)
        from scipy import stats  # only here: its import takes about 0.4 s of every run

        return np.asarray(lo + (hi - lo) * stats.beta.ppf(u, a, b), dtype=float)


def _assumption(reason: str) -> str:
    return f"assumption: {reason}"


RETENTION = "A. Chen / Quettra and aggregated blogs: D1 25-30%, D7 10-15%, D30 5-8%"
PRIORS: tuple[Prior, ...] = (
    Prior("lifetime_scale", "Multiplier on every segment's mean lifetime", "segments", 0.8,
          1.25, "pert", f"{RETENTION}; the segments are calibrated to it, and the range keeps "
          "D7 and D30 near their published ranges", scale=True),
    Prior("gap_scale", "Multiplier on every segment's median gap between sessions", "segments",
          0.75, 1.33, "pert", f"{RETENTION} (gaps set how often a retained user comes back "
          "on a given day); session gaps heavy-tailed: Falaki et al., MobiSys 2010", scale=True),
    Prior("user_gap_scatter", "Spread of each user's median gap around the segment's",
          "user_gap_scatter", 0.25, 0.75, "uniform",
          _assumption("users differ in how often they return (Falaki et al. 2010 report a "
                      "wide spread but no single figure); half to 1.5x the default")),
    Prior("session_seconds_median", "Median session length (s)", "session_seconds_median",
          30.0, 180.0, "pert",
          _assumption("sessions of about a minute; from half to more than twice that")),
    Prior("session_seconds_sigma", "Log-scale spread of session length",
          "session_seconds_sigma", 0.5, 1.5, "uniform",
          _assumption("heavy-tailed session lengths; half to 1.5x the default")),
    Prior("event_per_session", "Chance a session contains the named user event",
          "event_per_session", 0.05, 0.30, "uniform",
          _assumption("depends on the app and the event; a wide range around 15%")),
    Prior("receptiveness_mean", "Mean chance a fresh user taps the soft prompt",
          "receptiveness_mean", 0.20, 0.70, "pert",
          _assumption("no published acceptance rate with a method: vendor blogs quote primer "
                      "acceptance between about 30% and 70%; the range reaches down to 20% "
                      "because Pinterest saw no opt-in gain from primers (J. Egan)")),
    Prior("receptiveness_concentration", "Beta concentration of per-user receptiveness",
          "receptiveness_concentration", 2.0, 10.0, "uniform",
          _assumption("how much users differ in their willingness; from very spread (2) to "
                      "fairly alike (10)")),
    Prior("fatigue_factor", "Acceptance multiplier per unit of prompt fatigue",
          "fatigue_factor", 0.5, 0.9, "pert",
          _assumption("the shape (each dismissal lowers the next acceptance, then recovers) "
                      "is Duolingo's 'recovering bandit' (KDD 2020); the size is not "
                      "published: each prompt costs 10-50% of the acceptance")),
    Prior("fatigue_half_life_days", "Half-life of prompt fatigue (days)",
          "fatigue_half_life_days", 7.0, 30.0, "pert",
          _assumption("recovery shape from Duolingo (KDD 2020); one to four weeks")),
    Prior("context_boost", "Acceptance multiplier after a meaningful event", "context_boost",
          1.0, 2.0, "pert",
          _assumption("vendors advise asking in context; no published effect size: from no "
                      "effect to doubling")),
    Prior("dialog_cold.ios", "iOS: OS dialog allowed, without a soft prompt", "dialog_cold",
          0.46, 0.64, "pert", "calibrated to iOS opt-in 56% (Batch 2025) and 51% (Airship): "
          "the range keeps the cold baseline's iOS opt-in within 41-58%", keys=("ios",)),
    Prior("dialog_cold.android13", "Android 13+ (and Huawei, Fire OS 14): OS dialog allowed, "
          "without a soft prompt", "dialog_cold", 0.67, 0.755, "pert",
          "calibrated to Android 13+ opt-in 60% (Netcore 2024) and 67% (Batch 2025): the range "
          "keeps the cold baseline's Android 13+ opt-in within 60-67%", keys=ANDROID_13_LIKE),
    Prior("dialog_cold.chrome", "Chrome: OS dialog allowed, without a soft prompt",
          "dialog_cold", 0.10, 0.23, "pert",
          "Bilogrevic et al., USENIX Security 2021: 10% desktop, 21% Android (12% / 23% in "
          "the usenix.org abstract)", keys=("chrome", "chrome_quiet")),
    Prior("dialog_cold.firefox", "Firefox: OS dialog allowed, without a soft prompt",
          "dialog_cold", 0.010, 0.025, "pert",
          "Mozilla 2019: about 1.6% of prompts granted. Not sampled: Firefox 72+ opens the "
          "dialog only from a user gesture, which a cold dialog does not have",
          keys=("firefox", "firefox_android"), sampled=False),
    Prior("dialog_cold.safari", "Safari: OS dialog allowed, without a soft prompt",
          "dialog_cold", 0.016, 0.15, "pert",
          _assumption("no published figure; between Firefox's 1.6% and Chrome's 10-21%. Not "
                      "sampled: Safari opens the dialog only from a user gesture"),
          keys=("safari", "safari_ios_webapp"), sampled=False),
    Prior("dialog_primed.ios", "iOS: OS dialog allowed right after a tap on the soft prompt",
          "dialog_primed", 0.65, 0.95, "pert",
          _assumption("vendors claim most users who tapped the soft prompt allow; no "
                      "published figure. From a little above the cold rate to nearly all"),
          keys=("ios",)),
    Prior("dialog_primed.android13", "Android 13+: OS dialog allowed right after a tap on "
          "the soft prompt", "dialog_primed", 0.74, 0.97, "pert",
          _assumption("as for iOS, from the cold rate to nearly all"), keys=ANDROID_13_LIKE),
    Prior("dialog_primed.chrome", "Chrome: OS dialog allowed right after a tap",
          "dialog_primed", 0.30, 0.80, "pert",
          _assumption("no published figure; well above the cold 10-21%"),
          keys=("chrome", "chrome_quiet")),
    Prior("dialog_primed.firefox", "Firefox: OS dialog allowed right after a tap",
          "dialog_primed", 0.20, 0.70, "pert",
          _assumption("no published figure; well above the cold 1.6%"),
          keys=("firefox", "firefox_android")),
    Prior("dialog_primed.safari", "Safari: OS dialog allowed right after a tap",
          "dialog_primed", 0.25, 0.75, "pert",
          _assumption("no published figure; iOS as macOS"),
          keys=("safari", "safari_ios_webapp")),
    Prior("settings_completion", "Chance a user sent to Settings turns notifications on",
          "settings_completion", 0.10, 0.40, "uniform",
          _assumption("several steps outside the app lose most users; no published rate")),
    Prior("instructions_completion", "Chance a web user shown instructions for unblocking "
          "the site follows them", "instructions_completion", 0.02, 0.20, "uniform",
          _assumption("a page cannot open the browser's settings: the user must find the site "
                      "settings alone, so below the mobile deep link's 10-40%; no published "
                      "rate")),
    Prior("chrome_adaptive_quiet", "Share of Chrome devices whose browser shows quiet prompts",
          "chrome_adaptive_quiet", 0.0, 0.3, "uniform",
          _assumption("Chrome's adaptive quiet UI turns on after 3 denials in a row across "
                      "sites; its share of users is not published. Not sampled: a setting "
                      "of the population's browsers a scenario states"), sampled=False),
    Prior("chrome_other_site_denials_per_year", "Chrome: notification prompts denied per "
          "year on other sites", "chrome_other_site_denials_per_year", 0.0, 12.0, "uniform",
          _assumption("Chrome's adaptive quiet UI counts denials on every site; no rate is "
                      "published. Not sampled: the service never sees them, so a scenario "
                      "states it"), sampled=False),
    Prior("legacy_launcher_share", "Share of launches of an Android app targeting <= 32 "
          "that come from the launcher", "legacy_launcher_share", 0.5, 1.0, "uniform",
          _assumption("AOSP shows such an app its dialog only for a task started from the "
                      "launcher; no public share of launcher launches exists (the app's own "
                      "launch-intent analytics give it). Not sampled: a fact of the app a "
                      "scenario states"), sampled=False),
    Prior("review_notice_revoke", "Share of pre-granted apps turned off at Android 13's "
          "review notice", "review_notice_revoke", 0.0, 0.2, "uniform",
          _assumption("AOSP posts a 'review notification permissions' notice after the "
                      "12 -> 13 upgrade; how many users turn an app off there is not "
                      "published. Not sampled: a scenario states it"), sampled=False),
    Prior("scheduled_summary", "Share of iOS dialog allows given as 'Allow in Scheduled "
          "Summary'", "scheduled_summary", 0.0, 0.3, "uniform",
          _assumption("the answer exists only with Scheduled Summary on (iOS 15+, a setting "
                      "off by default); the dialog's third answer is issue 24's report, not "
                      "read in Apple's own documentation here, and no share of users who pick "
                      "it is published. Up to 0.3: a minority feature. Not sampled: it "
                      "changes no opt-in outcome, only when delivery happens"),
          sampled=False),
    Prior("spontaneous_reenable", "Share of denied users who re-enable from Settings by "
          "themselves", "spontaneous_reenable", 0.01, 0.05, "pert",
          "vendor blog (amply), 2025: under 5%"),
    Prior("reenable_delay_mean_days", "Mean delay of that re-enabling (days)",
          "reenable_delay_mean_days", 14.0, 180.0, "pert",
          _assumption("weeks to months after the denial")),
    Prior("annoyance_base", "Chance a declined soft prompt makes the user uninstall",
          "annoyance_base", 0.0, 0.01, "pert",
          _assumption("annoyance uninstalls are reported (Duolingo, KDD 2020) but not their "
                      "rate: from none to 1% of declined prompts")),
    Prior("annoyance_growth", "Growth of that chance with each earlier impression",
          "annoyance_growth", 0.0, 1.0, "uniform",
          _assumption("from no growth to doubling with each earlier impression")),
    Prior("opt_out_per_year", "Baseline hazard h0 of opting out after opting in (per year)",
          "opt_out_per_year", 0.125, 0.30, "pert",
          "calibrated: Android <= 12 starts opted in and keeps 81-91% (Airship median 81%; "
          "Netcore 2024: 80-90%); no public curve of the hazard itself"),
    Prior("opt_out_fatigue_k", "Fatigue coefficient k of the opt-out hazard",
          "opt_out_fatigue_k", 0.0, 0.3, "uniform",
          _assumption("no public curve. Not sampled: at a fixed number of pushes per week k "
                      "only rescales h0, which is sampled"), sampled=False),
    Prior("uninstall_after_churn.ios", "iOS: chance a device that stopped using the app "
          "uninstalls it", "uninstall_after_churn", 0.20, 0.40, "pert",
          "AppsFlyer 2018 / 2020: 28% to about 50% of installs uninstalled within 30 days, "
          "Android about 2x iOS", keys=("ios",)),
    Prior("uninstall_after_churn.android", "Android: chance a device that stopped using the "
          "app uninstalls it", "uninstall_after_churn", 0.40, 0.70, "pert",
          "AppsFlyer 2018 / 2020 (as for iOS)", keys=("android",)),
    Prior("uninstall_after_churn.web", "Web: chance a site is 'uninstalled'",
          "uninstall_after_churn", 0.0, 0.0, "uniform",
          "not a prior: a web origin is never uninstalled", keys=("web",), sampled=False),
    Prior("uninstall_delay_mean_days", "Mean delay from last use to uninstall (days)",
          "uninstall_delay_mean_days", 3.0, 30.0, "pert",
          _assumption("days to weeks; most 30-day uninstalls happen in the first week")),
    Prior("reinstall", "Chance an uninstall is followed by a reinstall", "reinstall", 0.02,
          0.20, "pert", _assumption("reinstalls are common in attribution data but their "
                                    "share is not published; 2-20%")),
    Prior("reinstall_delay_mean_days", "Mean delay to that reinstall (days)",
          "reinstall_delay_mean_days", 7.0, 90.0, "pert",
          _assumption("one week to three months")),
    Prior("clear_data_per_year", "Yearly rate of clearing app or site data (Android, web)",
          "clear_data_per_year", 0.01, 0.10, "pert",
          _assumption("rare; at most one device in ten a year")),
    Prior("os_upgrade_per_year", "Yearly rate of moving to the next OS level (Android "
          "12 -> 13, Fire OS 8 -> 14)", "os_upgrade_per_year", 0.2, 0.6, "pert",
          _assumption("Android's version distribution moves by roughly a third a year")),
    Prior("ios_adoption_median_days", "Days after release by which half of the iOS devices "
          "run the new version", "ios_adoption_median_days", 20.0, 60.0, "pert",
          _assumption("in line with Apple's published adoption of about two thirds within "
                      "three months. Not sampled: an iOS version changes no permission rule, "
                      "only the load tests' upgrade storm"), sampled=False),
    Prior("ios_adoption_shape", "Steepness of the log-logistic iOS adoption curve",
          "ios_adoption_shape", 1.0, 3.0, "uniform",
          _assumption("not sampled, as the median above"), sampled=False),
)
"""Every behaviour prior, in the order the reports list them."""

SETTINGS: dict[str, str] = {
    "gap_model": "the model of session gaps (lognormal; Poisson as a baseline), a choice",
    "event_name": "the app's named event that campaigns can trigger on",
    "events": "the app's other named events and their rates per session, from its analytics",
    "programmatic_per_session": "how often the app fires its programmatic trigger, its choice",
    "pushes_per_week": "the app's own sending rate: the team knows it",
    "ios_release_day": "the day a new iOS version ships, a scenario input",
}
"""Behaviour fields that are the app's or the scenario's settings, not priors."""

BY_NAME: dict[str, Prior] = {p.name: p for p in PRIORS}


def sampled(names: Sequence[str] | None = None) -> list[Prior]:
    """The priors a sensitivity run draws: ``names`` (any prior), else every sampled one."""
    if names is None:
        return [p for p in PRIORS if p.sampled]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"sensitivity.priors: unknown prior {unknown[0]!r}; allowed: "
                         f"{', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def apply(b: Behaviour, values: Mapping[str, float]) -> Behaviour:
    """``b`` with each prior in ``values`` (name -> value) set."""
    changes: dict[str, object] = {}
    for name, v in values.items():
        p = BY_NAME[name]
        cur = changes.get(p.field, getattr(b, p.field))
        if p.field == "segments":
            attr = "lifetime_mean_days" if name == "lifetime_scale" else "gap_median_hours"
            changes[p.field] = tuple(msgspec.structs.replace(s, **{attr: getattr(s, attr) * v})
                                     for s in cur)  # type: ignore[attr-defined]
        elif p.keys:
            new = dict(cur)  # type: ignore[call-overload]
            for k in p.keys:
                if k in new:
                    new[k] = new[k].with_allowed(v) if p.field.startswith("dialog_") else v
            changes[p.field] = new
        else:
            changes[p.field] = float(v)
    return msgspec.structs.replace(b, **changes)
