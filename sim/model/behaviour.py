"""Behaviour priors: how people use the app and answer prompts.

Every default is the central value of a prior in ``sim.model.priors`` (a range
with a shape, and its source or the reason for an assumed range); the defaults
are calibrated to the published benchmarks (``docs/behaviour-priors.md``,
``sim.analysis.calibration``). A scenario file overrides any of them under
``[behaviour]``. How a user answers, given these priors and a uniform, is in
``sim.model.answers``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec

from sim.rules.config.campaigns import Identifier

Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class Segment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An engagement segment: how long people keep using the app and how often.

    The default three segments reproduce the retention priors (Chen / Quettra:
    D1 ~ 25-30%, D7 ~ 10-15%, D30 ~ 5-8%, ~5% left at D90).
    """

    name: str
    """The segment's name (for the reports)."""
    share: Probability
    """Share of users in the segment; the shares sum to 1."""
    lifetime_mean_days: Positive
    """Mean of the exponential time from install to the last session."""
    gap_median_hours: Positive
    """Median time between sessions (lognormal; Falaki et al. 2010: heavy-tailed)."""
    gap_sigma: Positive = 1.0
    """Log-scale spread of the gaps: bursty usage."""


class DialogOdds(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How people answer an OS dialog: the four outcomes, summing to 1."""

    allowed: Probability
    """Chance the user allows notifications."""
    denied: Probability
    """Chance the user denies them (counts towards the platform's denial limit)."""
    dismissed: Probability = 0.0
    """Chance the user dismisses the dialog without answering (counted as a denial where the
    platform's rules say so)."""
    ignored: Probability = 0.0
    """Chance the user leaves the dialog unanswered (the app is closed with it open)."""

    def __post_init__(self) -> None:
        total = self.allowed + self.denied + self.dismissed + self.ignored
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"allowed + denied + dismissed + ignored must be 1, got {total:g}")

    def with_allowed(self, allowed: float) -> DialogOdds:
        """These odds with ``allowed`` set (clipped to [0, 1]) and the other outcomes
        scaled so the four still sum to 1, in the same proportions."""
        a = min(1.0, max(0.0, allowed))
        rest = 1.0 - self.allowed
        if rest <= 0:
            return DialogOdds(allowed=a, denied=1.0 - a)
        k = (1.0 - a) / rest
        return DialogOdds(allowed=a, denied=self.denied * k, dismissed=self.dismissed * k,
                          ignored=1.0 - a - self.denied * k - self.dismissed * k)


def _odds(a: float, d: float, dis: float = 0.0, ign: float = 0.0) -> DialogOdds:
    return DialogOdds(allowed=a, denied=d, dismissed=dis, ignored=ign)


# Calibrated (sim.analysis.calibration): with the opt-out hazard below, the cold
# baseline gives iOS 52% and Android 13+ 63% opted in (published 41-58% and 60-67%).
_ANDROID_COLD = _odds(0.72, 0.18, 0.08, 0.02)
_ANDROID_PRIMED = _odds(0.88, 0.06, 0.04, 0.02)

DEFAULT_COLD: dict[str, DialogOdds] = {
    "ios": _odds(0.58, 0.40, 0.0, 0.02),
    "android13": _ANDROID_COLD, "android13_legacy": _ANDROID_COLD,
    "huawei_emui13": _ANDROID_COLD, "harmony_next": _ANDROID_COLD, "fire_os_14": _ANDROID_COLD,
    # Bilogrevic et al. 2021: Chrome grants 10% desktop, 21% Android; most of the rest dismiss.
    "chrome": _odds(0.15, 0.30, 0.40, 0.15),
    "chrome_quiet": _odds(0.15, 0.30, 0.40, 0.15),
    # Mozilla 2019: about 1.6% of prompts granted. Firefox for Android: no figure of its own
    # (assumption: as desktop).
    "firefox": _odds(0.016, 0.55, 0.334, 0.10),
    "firefox_android": _odds(0.016, 0.55, 0.334, 0.10),
    "safari": _odds(0.05, 0.50, 0.35, 0.10),
    # Safari on iOS: no figure of its own (assumption: as macOS Safari). A Safari tab on iOS
    # (``safari_ios``) never shows the dialog: no web push outside Home Screen web apps.
    "safari_ios_webapp": _odds(0.05, 0.50, 0.35, 0.10),
    # A WebAPK on Android 13+ asks with Android's dialog (assumption: answered as an app's).
    "chrome_webapk": _ANDROID_COLD,
}
"""OS dialog answers without a soft prompt first (cold). Chrome's quiet prompt is answered
as the normal one (assumption: no published split by prompt style)."""

DEFAULT_PRIMED: dict[str, DialogOdds] = {
    "ios": _odds(0.85, 0.13, 0.0, 0.02),
    "android13": _ANDROID_PRIMED, "android13_legacy": _ANDROID_PRIMED,
    "huawei_emui13": _ANDROID_PRIMED, "harmony_next": _ANDROID_PRIMED,
    "fire_os_14": _ANDROID_PRIMED,
    "chrome": _odds(0.55, 0.20, 0.20, 0.05),
    "chrome_quiet": _odds(0.55, 0.20, 0.20, 0.05),
    "firefox": _odds(0.45, 0.30, 0.20, 0.05),
    "firefox_android": _odds(0.45, 0.30, 0.20, 0.05),
    "safari": _odds(0.50, 0.30, 0.15, 0.05),
    "safari_ios_webapp": _odds(0.50, 0.30, 0.15, 0.05),
    "chrome_webapk": _ANDROID_PRIMED,
}
"""OS dialog answers right after the user tapped the soft prompt (assumption: vendors
claim +30% to 3x over cold; Pinterest saw no gain: override to test that)."""


class Behaviour(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """All behaviour parameters of a scenario."""

    segments: tuple[Segment, ...] = (
        Segment("one_and_done", 0.60, 0.75, 8.0, 1.0),
        Segment("casual", 0.30, 12.0, 26.0, 1.0),
        Segment("loyal", 0.10, 730.0, 22.0, 1.0),
    )
    """Calibrated to retention D1 28%, D7 12%, D30 6% (published 25-30%, 10-15%, 5-8%)."""
    gap_model: Literal["lognormal", "poisson"] = "lognormal"
    """Session gaps: lognormal per user (default) or exponential (Poisson baseline)."""
    user_gap_scatter: NonNegative = 0.5
    """Log-scale spread of each user's median gap around the segment's."""
    session_seconds_median: Positive = 75.0
    """Median session length in seconds (lognormal; assumption)."""
    session_seconds_sigma: NonNegative = 1.0
    """Log-scale spread of session lengths."""
    event_name: str = "order_placed"
    """The app's main named event (``event`` triggers name it); its rate is
    ``event_per_session``."""
    event_per_session: Probability = 0.15
    """Chance a session contains the named user event (assumption)."""
    events: Annotated[dict[Identifier, Probability], msgspec.Meta(max_length=60)] = \
        msgspec.field(default_factory=dict)
    """The app's other named events, each with the chance a session contains it, e.g.
    ``[behaviour.events] add_to_cart = 0.3`` (the team's analytics know these rates). A
    campaign triggered by an event declared nowhere is an error, not a silent 0%."""
    programmatic_per_session: Probability = 0.0
    """Chance a session fires the app's ``programmatic`` trigger (a profile screen, a
    preference centre: the app's own choice). A campaign with that trigger needs it > 0."""
    receptiveness_mean: Probability = 0.45
    """Mean chance a fresh user taps the soft prompt (assumption, range 20-70%: see
    ``sim.model.priors``)."""
    receptiveness_concentration: Positive = 4.0
    """Beta concentration of per-user receptiveness: lower means more spread."""
    fatigue_factor: Probability = 0.7
    """Each unit of prompt fatigue multiplies acceptance by this (Duolingo KDD 2020 shape)."""
    fatigue_half_life_days: Positive = 14.0
    """Prompt fatigue recovers with this half-life."""
    context_boost: Positive = 1.5
    """Acceptance multiplier when the prompt follows a meaningful event (assumption)."""
    dialog_cold: dict[str, DialogOdds] = msgspec.field(default_factory=lambda: dict(DEFAULT_COLD))
    """OS dialog answers without a soft prompt first, per platform profile (``DEFAULT_COLD``)."""
    dialog_primed: dict[str, DialogOdds] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_PRIMED))
    """OS dialog answers right after a tapped soft prompt, per profile (``DEFAULT_PRIMED``)."""
    settings_completion: Probability = 0.25
    """Chance a user the soft prompt sent to settings turns notifications on (assumption)."""
    instructions_completion: Probability = 0.10
    """Chance a web user shown instructions for unblocking the site follows them (assumption:
    a page cannot open the browser's settings, so the user must find the lock icon or the
    site settings alone; lower than a mobile deep link)."""
    chrome_adaptive_quiet: Probability = 0.0
    """Share of Chrome devices whose browser already shows quiet prompts (Chrome's adaptive
    quiet UI: 3 notification denials in a row across sites within 90 days). Default 0: no
    published share (assumption); those devices run on the ``chrome_quiet`` profile."""
    chrome_other_site_denials_per_year: Annotated[float, msgspec.Meta(ge=0, le=365)] = 0.0
    """Notification prompts a Chrome user denies per year on sites other than the app's
    (a Poisson rate per browser): Chrome's adaptive quiet UI counts them with the app's own
    (3 denials in a row within 90 days, an allow between breaks the run), but the service
    never sees them. Default 0: no published rate (assumption; range 0-12 a year, a
    denial a month at most)."""
    legacy_launcher_share: Probability = 1.0
    """Share of the launches of an Android app targeting <= 32 that come from the launcher.
    The OS shows its own dialog only to a task started from the launcher (AOSP
    ``PermissionPolicyService``); a launch from a notification, a link or another app gets
    none. Default 1, every launch from the launcher (assumption, the model before it was a
    setting): no public share of launcher launches exists; analytics of the app's launch
    intents give it."""
    review_notice_revoke: Probability = 0.0
    """Share of pre-granted apps whose notifications the user turns off at Android 13's
    "review notification permissions" notice after the 12 -> 13 upgrade (answered at once).
    Default 0 (assumption): no published share; the notice's own rules (remind me later
    re-posts it after 7 days) are AOSP's."""
    scheduled_summary: Probability = 0.0
    """Share of iOS dialog allows given as "Allow in Scheduled Summary": with Scheduled
    Summary on (iOS 15+), the dialog has this third answer; the app is authorized (opted in,
    reachable) but its notifications wait for the user's summary times. Counted apart as
    ``os_dialogs_allowed_in_summary``. Default 0 (assumption: no published share of users
    with Scheduled Summary on, nor of those who pick it at the dialog)."""
    spontaneous_reenable: Probability = 0.04
    """Share of denied users who later re-enable from Settings by themselves (amply: < 5%)."""
    reenable_delay_mean_days: Positive = 60.0
    """Mean delay before such a user re-enables (exponential)."""
    annoyance_base: Probability = 0.002
    """Chance a declined soft prompt makes the user uninstall (assumption)."""
    annoyance_growth: NonNegative = 0.5
    """Annoyance grows by this fraction with each earlier impression."""
    opt_out_per_year: NonNegative = 0.17
    """Baseline hazard h0 of turning notifications off after opting in (no public curve;
    calibrated: Android <= 12, opted in by default, keeps 88% opted in, published 81-91%)."""
    opt_out_fatigue_k: NonNegative = 0.15
    """How fast the opt-out hazard grows with pushes per week (k in h0 * exp(k * f))."""
    pushes_per_week: NonNegative = 3.0
    """Notification fatigue f = pushes per week: hazard h0 * exp(k * f)."""
    uninstall_after_churn: dict[str, Probability] = msgspec.field(
        default_factory=lambda: {"ios": 0.30, "android": 0.55, "web": 0.0})
    """Chance a device that stopped using the app uninstalls it (AppsFlyer: Android ~2x iOS)."""
    uninstall_delay_mean_days: Positive = 10.0
    """Mean delay from the last session to that uninstall (exponential)."""
    reinstall: Probability = 0.08
    """Chance an exogenous uninstall is followed by a reinstall (assumption)."""
    reinstall_delay_mean_days: Positive = 30.0
    """Mean delay from an uninstall to the reinstall (exponential)."""
    clear_data_per_year: NonNegative = 0.03
    """Yearly rate of clearing app or site data on Android and the web (assumption)."""
    os_upgrade_per_year: NonNegative = 0.35
    """Yearly rate at which devices on an old OS level move to the next (``upgrade_to``)."""
    ios_release_day: NonNegative | None = None
    """Day a new iOS major version ships (``None``: none within the horizon). The permission
    rules do not change (the state is kept), so the simulator only logs the upgrades; the
    load tests replay them as an upgrade storm."""
    ios_adoption_median_days: Positive = 30.0
    """Half of the iOS devices run the new version this many days after release
    (log-logistic adoption curve; assumption in line with Apple's published adoption of
    roughly two thirds within three months)."""
    ios_adoption_shape: Positive = 1.5
    """Shape of the log-logistic adoption curve: higher means a steeper S."""

    def __post_init__(self) -> None:
        total = sum(s.share for s in self.segments)
        if not self.segments or abs(total - 1.0) > 1e-6:
            raise ValueError(f"segments: shares must sum to 1, got {total:g}")

    def event_bits(self) -> dict[str, int]:
        """The bit of each app event in a session's event mask (``Chunk.session_event``):
        ``event_name`` first, then ``events`` in file order."""
        return {self.event_name: 1} | {n: 2 << k for k, n in enumerate(self.events)}

    def programmatic_bit(self) -> int:
        """The bit of the programmatic trigger in a session's event mask."""
        return 2 << len(self.events)

    def opt_out_rate(self) -> float:
        """Yearly hazard of opting out: h0 * exp(k * pushes per week), per day."""
        return self.opt_out_per_year * math.exp(self.opt_out_fatigue_k * self.pushes_per_week) \
            / 365.0
