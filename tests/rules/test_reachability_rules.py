"""docs/platform-rules.md section 2, tracking and reachability: MoEngage codes and
Subscribed events."""

from __future__ import annotations

import pytest

from sim.rules.config.platforms import DEFAULT_PROFILES, FAMILY_OF, PLATFORMS
from sim.rules.reachability import REACHABLE, device_reach, user_reach


@pytest.mark.parametrize(("installed", "reports", "permission", "code"), [
    (True, True, "granted", 201),
    (True, True, "provisional", 201),
    (True, True, "denied", 202),
    (True, True, "not_determined", 202),
    (True, False, "denied", 200),
    (True, False, "granted", 200),
    (False, True, "granted", None),
])
def test_device_reach_codes(installed: bool, reports: bool, permission: str,
                            code: int | None) -> None:
    """One install: 201 opted in (quiet provisional delivery counts), 202 opted out, 200 an SDK
    too old to report the permission, nothing without a valid token (uninstalled)."""
    assert device_reach(installed, reports, permission) == code


@pytest.mark.parametrize(("codes", "combined"), [
    ([201, 202, 202], 201),
    ([202, 200], 200),
    ([200, 201], 201),
    ([202, 202], 202),
    ([None, 202], 202),
    ([None, None], None),
    ([], None),
])
def test_user_reach_combines_the_devices_of_one_family(codes: list[int | None],
                                                      combined: int | None) -> None:
    """Per user and family: 201 if opted in on at least one device with a valid token, 202 only
    if opted out on every such device, 200 when an old SDK leaves it unknown."""
    assert user_reach(codes) == combined


def test_200_and_201_are_reachable_only_201_is_opted_in() -> None:
    """200 and 201 count as reachable; 202 does not."""
    assert {200, 201} == REACHABLE


def test_reachability_is_reported_per_ios_android_and_web() -> None:
    """MoEngage reports per iOS, Android and Web: Huawei and Amazon count as Android."""
    assert {p: FAMILY_OF[p] for p in PLATFORMS} == {
        "ios": "ios", "android": "android", "huawei": "android", "amazon": "android",
        "web": "web"}
    assert all(FAMILY_OF[p.platform] for p in DEFAULT_PROFILES.values())
