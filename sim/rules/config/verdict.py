"""The rules' answer: ``Decision`` (a msgspec Struct: the service returns it as JSON).

It lives apart from ``sim.rules.decision``, which is compiled with mypyc (``sim.COMPILED``):
mypyc would drop a Struct's class options (``frozen``, ``omit_defaults``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

ButtonAction = Literal["os_dialog", "open_settings", "instructions", "message"]
"""What the soft prompt's button does: open the OS dialog, open the app's notification
settings, show instructions for unblocking the site (the web: a page cannot open the
browser's settings), or another in-app message's own action."""
PromptUi = Literal["quiet", "loud"]
"""Which of Chrome's two notification prompts opens: its quieter one (an icon in the address
bar, a mini-infobar on Android) or the normal (loud) bubble."""


class Decision(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer: show or not, which campaign, what the button does, and why.

    ``reason`` is ``eligible`` (the only one with ``show``) or one of: ``not_installed``,
    ``already_opted_in``, ``no_campaign``, ``not_in_audience``, ``trigger_not_met``,
    ``too_early``, ``spacing``, ``outranked``, ``frequency_limit``, ``gap_not_elapsed``,
    ``min_delay``, ``session_cap``, ``daily_cap``, ``total_cap``, ``embargoed``, ``blocked``,
    ``no_os_dialog``, ``app_cannot_request``, ``needs_user_gesture``,
    ``cross_origin_iframe``, ``incognito``, ``needs_home_screen`` (a page in a Safari tab on
    iOS/iPadOS: web push only for Home Screen web apps).
    """

    show: bool
    reason: str
    campaign_id: str | None = None
    action: ButtonAction | None = None
    experiment: str | None = None
    """The service's experiment that decided with its arm's campaigns (absent: none)."""
    arm: str | None = None
    """The device's arm in ``experiment``."""
    prompt_ui: PromptUi | None = None
    """Chrome, a button that opens the browser's prompt: whether that prompt is the quiet or
    the loud one (absent elsewhere: other platforms have one prompt)."""
    loud_chance: float | None = None
    """Chrome, ``prompt_ui`` quiet on a crowd-deny site (the app's ``site_reputation``):
    the chance that Chrome opens its loud prompt instead (its control group,
    ``crowd_deny_hold_back``). Chrome draws it per prompt and no page sees the draw, so
    the answer gives the chance, never a guess of the draw; absent when the prompt is
    certain."""
