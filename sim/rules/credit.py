"""Which campaign an OS dialog's answer or a settings change is credited to.

An SDK often reports ``os_dialog_result`` and ``permission_changed`` without a
campaign id: the OS dialog was opened by a soft prompt's button, and only the
click knows which. The service credits such an answer to the campaign whose
button was clicked last, provided that button led there (its action), one click
for one outcome. The service applies this rule to the events it stores; the
load-test device applies it to the events it sends, to count what the
service's campaign figures must show.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Button(Protocol):
    """A campaign's button as offered or clicked: the campaign and what the button does."""

    @property
    def campaign_id(self) -> str:
        """The campaign whose button it is."""
        ...

    @property
    def action(self) -> str | None:
        """``os_dialog``, ``open_settings`` or ``message`` (``None``: not known)."""
        ...


class Click(NamedTuple):
    """A click on a campaign's button (``action``: ``None`` when it is not known)."""

    campaign_id: str
    action: str | None


def click_action(last_offer: Button | None, campaign_id: str) -> str | None:
    """What a click on ``campaign_id``'s button does: the action of the last offer (a
    ``show`` decision), if that offer was this campaign's; else unknown (``None``)."""
    if last_offer is not None and last_offer.campaign_id == campaign_id:
        return last_offer.action
    return None


def credit(given: str | None, last_click: Button | None,
           answers: str) -> tuple[str | None, bool]:
    """The campaign credited with an answer, and whether the last click is used up.

    ``given`` is the campaign id the event names, if any: it is credited. Else
    the last click is, when its button's action is ``answers`` (``os_dialog`` for
    an OS dialog's answer, ``open_settings`` for a settings change) or unknown;
    a click is credited once.
    """
    if given is not None:
        return given, False
    if last_click is not None and last_click.action in (answers, None):
        return last_click.campaign_id, True
    return None, False
