"""The API's wire formats of times and OS versions, shared by the service and its clients
(the load-test device, ``promptsim parity``), which cannot import each other.

Requests take a time as Unix seconds or an RFC 3339 string and an OS version as a number or
a string; answers give times as RFC 3339 strings in UTC (``2026-01-05T09:00:00.25Z``, the
fraction only when there is one, to the microsecond) and the OS version as the device
reported it (a number sent is written as its shortest text, ``17`` or ``13.5``).

The rules keep times in days since the Unix epoch; :func:`wire_state` turns the builtins of
a ``DeviceState`` (``msgspec.to_builtins``) into the answer's form, so a client compares the
state it replayed with the state the service answers through the same function.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

DAY_SECONDS: Final = 86400.0
STATE_TIMES: Final = ("embargo_until", "uninstalled_at", "last_active_at", "last_in_app_at",
                      "review_notice_at", "revocation_proposed_at", "revoked_at",
                      "revocation_ignored_until")
"""The fields of a ``DeviceState`` that are times (days since the epoch in the rules)."""
CAMPAIGN_TIMES: Final = ("last_shown_at", "last_dismissed_at")
"""The fields of a ``CampaignCounters`` that are times."""


def rfc3339(seconds: float) -> str:
    """Unix seconds as an RFC 3339 UTC date-time, to the microsecond."""
    t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=round(seconds * 1e6))
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text + "Z"


def day_time(days: float | None) -> str | None:
    """A time of the rules (days since the epoch) as RFC 3339 (``None`` stays ``None``)."""
    return None if days is None else rfc3339(days * DAY_SECONDS)


def version_text(version: float | str | None) -> str | None:
    """An OS version as text: a string as it is, a number as its shortest text."""
    if version is None or isinstance(version, str):
        return version
    return str(int(version)) if float(version).is_integer() else repr(float(version))


def wire_state(state: dict[str, Any]) -> dict[str, Any]:
    """The builtins of a ``DeviceState`` with its times (and its campaigns' times) as
    RFC 3339 strings: the ``state`` of ``GET /v1/devices/{id}``."""
    out = dict(state)
    for name in STATE_TIMES:
        out[name] = day_time(out[name])
    out["campaigns"] = {cid: {**c, **{n: day_time(c[n]) for n in CAMPAIGN_TIMES}}
                        for cid, c in state["campaigns"].items()}
    return out
