"""The service's domain errors: what went wrong, in words a client can act on.

The rules, the tenant code and the storage raise these; they know nothing of
HTTP. The HTTP layer (``sim.service.http.errors``) maps each class to a status
code and renders ``{"error": code, "field": path-or-null, "detail": text}``.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base: a stable ``code``, a human ``detail`` naming what is allowed, and the
    request ``field`` at fault (``events[3].outcome``) or None."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.field = field


class InvalidInput(ServiceError):
    """The request does not fit the API's types (HTTP 422)."""


class NotFound(ServiceError):
    """An id names nothing in this app (HTTP 404)."""


class Conflict(ServiceError):
    """The request fits the API but not the app's settings or the device's state (HTTP 409):
    the same request can succeed on another app or device."""


class Unauthorized(ServiceError):
    """Missing, malformed or unknown credentials (HTTP 401)."""


class Unavailable(ServiceError):
    """The store cannot answer now (HTTP 503 with ``Retry-After``): the request may be sent
    again unchanged. Nothing was applied, except under the code ``outcome_unknown``: a
    write that was sent and not confirmed (it may have committed; every write gives the
    same result when sent again, an eligibility if it carries a ``request_id``)."""

    def __init__(self, code: str, detail: str, retry_after: int = 1) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after


def not_found(what: str, ident: str, field: str | None) -> NotFound:
    """An unknown device, campaign or user."""
    return NotFound(f"unknown_{what}", f"no {what} {ident!r} in this app", field)
