"""App categories (``[population] category``): sourced opt-in per category, as priors.

Only one published figure splits opt-in by app category: Netcore's 2024 benchmark gives
Android 13+ opt-in from 43% (EdTech) to 76% (Gaming), 60% on average. A category sets
the Android 13+ cold OS-dialog answer (``dialog_cold.android13``: Android 13+, Huawei
and Fire OS 14) to the value at which the calibration's Android 13+ cohort
(``sim.analysis.calibration``: the cold baseline, a year of installs, measured at day
365) lands on the category's figure, and its prior range (``--prior-draws``) to that
value +-0.03, an assumption (about +-2.5 points of opt-in; the source gives one figure
per category, no spread). No source splits iOS or the web by category, so they keep
the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIOR = "dialog_cold.android13"
"""The prior a category sets."""


@dataclass(frozen=True)
class Category:
    """One app category: its published Android 13+ opt-in and the prior that matches it."""

    optin_android13: float
    """Published share of Android 13+ devices opted in."""
    cold: float
    """``dialog_cold.android13`` at which the calibration cohort opts in that share
    (found by simulating 8,000 devices at 0.48, 0.50, 0.86 and 0.88 and interpolating:
    0.48 -> 42.5%, 0.50 -> 44.1%, 0.86 -> 75.5%, 0.88 -> 77.0%)."""
    source: str

    @property
    def range(self) -> tuple[float, float]:
        """The prior's range under ``--prior-draws``: ``cold`` +-0.03 (assumption)."""
        return (round(self.cold - 0.03, 3), round(self.cold + 0.03, 3))


CATEGORIES: dict[str, Category] = {
    "edtech": Category(0.43, 0.487, "Netcore 2024: EdTech apps, 43% of Android 13+ opted in"),
    "gaming": Category(0.76, 0.867, "Netcore 2024: Gaming apps, 76% of Android 13+ opted in"),
}
"""The categories a source gives, by the name ``[population] category`` takes."""
