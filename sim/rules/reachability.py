"""Reachability per user and platform family, as MoEngage reports it.

201: a valid push token and opted in on at least one device; 202: a valid token
but opted out on every such device; 200: a valid token on an SDK too old to
report the permission. 200 and 201 count as reachable, only 201 as opted in.

One definition for the simulator and the service: a user's code is computed per
platform family (``sim.rules.config.platforms.FAMILY_OF``: iOS, Android with Huawei and
Amazon devices, web) over her installs in that family. A web origin without the
permission has no push subscription, hence no token: it counts in no code
(``PlatformProfile.token_needs_permission``). Nor does an Android app while it hibernates:
no push reaches it, FCM included, although it keeps its permission; nor a web origin whose
push subscription WebKit removed after silent pushes (``sim.rules.sending``): the permission
stays, the token is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sim.rules.permission import RECEIVES_PUSH

REACHABLE: frozenset[int] = frozenset({200, 201})


def device_reach(installed: bool, sdk_reports_permission: bool, permission: str,
                 token_needs_permission: bool = False, hibernated: bool = False) -> int | None:
    """The code one install contributes; ``None`` when it has no valid token (uninstalled,
    or a web origin without the permission: no push subscription) or cannot receive a push
    (``hibernated``: an Android app in hibernation, ``sim.rules.permission.hibernated``,
    until its next session, or a web origin whose subscription WebKit removed,
    ``DeviceState.push_unsubscribed``)."""
    if not installed or hibernated:
        return None
    if token_needs_permission and permission not in RECEIVES_PUSH:
        return None
    if not sdk_reports_permission:
        return 200
    return 201 if permission in RECEIVES_PUSH else 202


def group_reach(counts: dict[int, int]) -> int | None:
    """A user's code from how many of her devices have each code: 201 beats 200 beats 202."""
    if counts.get(201):
        return 201
    if counts.get(200):
        return 200
    return 202 if counts.get(202) else None


def user_reach(codes: Iterable[int | None]) -> int | None:
    """Combine the codes of one user's devices in one family (see ``group_reach``)."""
    return group_reach(Counter(c for c in codes if c is not None))
