"""API keys: generated once, shown once, stored only as a SHA-256 hash.

A request's key is hashed and looked up; the app it belongs to scopes every
query, so a key never reaches another app's rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_app_id() -> str:
    """A fresh app id."""
    return "app_" + secrets.token_hex(8)


def new_key() -> str:
    """A fresh API key (256 random bits)."""
    return "psk_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """What the store keeps of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_admin(key: str, admin_key: str | None) -> bool:
    """Whether ``key`` is the configured admin key (constant-time compare)."""
    return admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode())
