"""API keys: generated once, shown once, stored only as a SHA-256 hash.

A request's ``Authorization: Bearer KEY`` is hashed and looked up; the app it
belongs to scopes every query, so a key never reaches another app's rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sim.service.errors import ApiError


@dataclass(frozen=True, slots=True)
class AppRow:
    """An app (tenant) as stored."""

    app_id: str
    name: str
    clock: str


def new_app_id() -> str:
    """A fresh app id."""
    return "app_" + secrets.token_hex(8)


def new_key() -> str:
    """A fresh API key (256 random bits)."""
    return "psk_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """What the store keeps of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


UNAUTHORIZED_DETAIL = "send 'Authorization: Bearer KEY' with the API key of your app"


def bearer(header: bytes | None) -> str:
    """The key of an ``Authorization`` header value; 401 if missing or malformed."""
    if not header:
        raise ApiError(401, "unauthorized", f"missing credentials; {UNAUTHORIZED_DETAIL}",
                       headers=[(b"www-authenticate", b"Bearer")])
    scheme, _, key = header.decode("latin-1").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "unauthorized", f"malformed credentials; {UNAUTHORIZED_DETAIL}",
                       headers=[(b"www-authenticate", b"Bearer")])
    return key


def invalid_key() -> ApiError:
    """401 for a key that belongs to no app."""
    return ApiError(401, "unauthorized", f"unknown API key; {UNAUTHORIZED_DETAIL}",
                    headers=[(b"www-authenticate", b"Bearer")])


def is_admin(key: str, admin_key: str | None) -> bool:
    """Whether ``key`` is the configured admin key (constant-time compare)."""
    return admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode())
