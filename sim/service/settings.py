"""One settings object for the service, read from the environment.

``promptsim serve`` writes its flags into these variables before it starts the
server, so every worker process (spawned, not forked) reads the same values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DB = "promptsim.sqlite3"
MAX_BODY_BYTES = 1 << 20
MAX_BATCH_EVENTS = 500
PG_POOL_SIZE = 8
DEVICE_CACHE = 50_000


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise ValueError(f"{name}: {value} is too small; allowed: an integer >= {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs to know to start."""

    db: str = DEFAULT_DB
    """A SQLite file path (or ``sqlite:///path``) or a ``postgresql://`` URL."""
    admin_key: str | None = None
    """Bearer key of ``POST /v1/apps``; without one that endpoint answers 401."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest request body accepted (413 above)."""
    max_batch_events: int = MAX_BATCH_EVENTS
    """Most events in one ``POST .../events`` batch (413 above)."""
    pg_pool_size: int = PG_POOL_SIZE
    """Connections in each worker's asyncpg pool."""
    device_cache: int = DEVICE_CACHE
    """Decoded device records each SQLite worker keeps for reads (about 1 KB each);
    0 turns the cache off."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``PROMPTSIM_DB``, ``PROMPTSIM_ADMIN_KEY``, ``PROMPTSIM_MAX_BODY_BYTES``,
        ``PROMPTSIM_MAX_BATCH_EVENTS``, ``PROMPTSIM_PG_POOL_SIZE`` and
        ``PROMPTSIM_DEVICE_CACHE``."""
        e = os.environ if env is None else env
        return cls(
            db=e.get("PROMPTSIM_DB") or DEFAULT_DB,
            admin_key=e.get("PROMPTSIM_ADMIN_KEY") or None,
            max_body_bytes=_int(e, "PROMPTSIM_MAX_BODY_BYTES", MAX_BODY_BYTES),
            max_batch_events=_int(e, "PROMPTSIM_MAX_BATCH_EVENTS", MAX_BATCH_EVENTS),
            pg_pool_size=_int(e, "PROMPTSIM_PG_POOL_SIZE", PG_POOL_SIZE),
            device_cache=_int(e, "PROMPTSIM_DEVICE_CACHE", DEVICE_CACHE, minimum=0),
        )

    @property
    def is_postgres(self) -> bool:
        """Whether ``db`` names a PostgreSQL database."""
        return self.db.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> str:
        """The SQLite file of ``db`` (``sqlite:///`` prefix removed)."""
        return self.db.removeprefix("sqlite:///").removeprefix("sqlite://")
