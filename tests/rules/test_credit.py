"""Which campaign an OS dialog's answer or a settings change is credited to (``sim.rules.credit``).

The rule is the service's (its campaign figures), applied by the load-test devices
too, so what they count must equal what the service stores.
"""

from __future__ import annotations

from sim.rules.credit import Click, click_action, credit


def test_a_named_campaign_is_credited_and_the_last_click_is_kept() -> None:
    """An event that names its campaign (a cold dialog) is credited to it."""
    click = Click("soft", "os_dialog")
    assert credit("native", click, "os_dialog") == ("native", False)
    assert credit("native", None, "open_settings") == ("native", False)


def test_an_answer_goes_to_the_last_click_that_led_there_once() -> None:
    """Without a campaign id, the last click is credited if its button led to this kind of
    answer (or is not known); a click is credited once; nothing else is credited."""
    assert credit(None, Click("soft", "os_dialog"), "os_dialog") == ("soft", True)
    assert credit(None, Click("soft", None), "open_settings") == ("soft", True)
    assert credit(None, Click("soft", "open_settings"), "os_dialog") == (None, False)
    assert credit(None, Click("soft", "os_dialog"), "open_settings") == (None, False)
    assert credit(None, None, "os_dialog") == (None, False)


def test_a_click_does_what_the_last_offer_of_its_campaign_did() -> None:
    """A click's action is that of the last ``show`` decision, when it was the same
    campaign's; a click on another campaign's button has no known action."""
    offer = Click("soft", "open_settings")
    assert click_action(offer, "soft") == "open_settings"
    assert click_action(offer, "other") is None
    assert click_action(None, "soft") is None
