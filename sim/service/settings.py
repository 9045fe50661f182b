"""One settings object for the service, read from the environment.

Every field is one ``PROMPTSIM_<NAME>`` variable (the field name in capitals);
an unset or empty variable takes the default. ``promptsim serve`` writes its
flags into these variables before it starts the server, so every worker process
(spawned, not forked) reads the same values. A bad value raises
:class:`SettingsError` naming the variable and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "PROMPTSIM_"


class SettingsError(ValueError):
    """A variable of the environment the service cannot use."""


DEFAULT_DB = "data/promptsim.sqlite3"
"""The SQLite file of ``promptsim serve`` without ``--db``: under ``./data/`` (ignored by git),
not loose in the working tree."""

MIN_ADMIN_KEY = 16
"""Characters an admin key needs at least."""


def _short(what: str, n: int) -> str:
    return (f"{what} has {n} characters; allowed: at least {MIN_ADMIN_KEY} (make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))')")


def _setting(default: Any, doc: str, minimum: float | None = None,
             choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"doc": doc, "min": minimum, "choices": choices})


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs to know to start."""

    db: str = _setting(DEFAULT_DB, "a SQLite file path (or sqlite:///path) or a "
                       "postgresql:// URL; the default's folder is made when missing")
    admin_key: str | None = _setting(None, "bearer key of POST /v1/apps; without one that "
                                     "endpoint answers 401")
    admin_key_file: str | None = _setting(None, "a file whose first line is the admin key "
                                          "(keeps the key out of the command line)")
    max_body_bytes: int = _setting(1 << 20, "largest request body accepted (413 above)", 1)
    max_batch_events: int = _setting(500, "most events in one POST .../events batch "
                                     "(413 above)", 1)
    pg_pool_size: int = _setting(8, "connections in each worker's asyncpg pool", 1)
    device_cache: int = _setting(50_000, "decoded device records each worker keeps "
                                 "for reads (about 1 KB each); 0 turns the cache off", 0)
    max_body_memory: int = _setting(64 << 20, "bytes of request bodies one worker holds at "
                                    "once; a body past it waits for none, it is shed (503)", 1)
    max_requests: int = _setting(1000, "requests one worker serves at once; more wait for "
                                 "a place (PROMPTSIM_MAX_QUEUED, PROMPTSIM_QUEUE_TIMEOUT)", 1)
    max_queued: int = _setting(4000, "requests one worker holds waiting for a place, served "
                               "in turn per app (per client address before a key is known); "
                               "past it the oldest waiter of the busiest is shed (503)", 0)
    queue_timeout: float = _setting(3.0, "seconds a request waits for a place before 503 "
                                    "overloaded with Retry-After (nothing done; at most "
                                    "PROMPTSIM_STORE_TIMEOUT)", 0.01)
    auth_failures: int = _setting(20, "failed authentications one client address may make in "
                                  "10 s before 429 (per worker; an assumption: far above a "
                                  "mistyped key's retries, far below key guessing)", 1)
    max_connections: int = _setting(4000, "open connections per worker (at most the file "
                                    "limit less 256); past it the oldest idle one is "
                                    "closed, or the new one shed (503)", 1)
    header_timeout: float = _setting(10.0, "seconds a connection has to send a request's "
                                     "headers, from its first byte (or from the connection)",
                                     0.1)
    keep_alive_timeout: float = _setting(5.0, "seconds an idle kept-alive connection stays "
                                         "open", 0.1)
    body_timeout: float = _setting(30.0, "seconds a request has to send its whole body "
                                   "(408 after)", 0.1)
    store_timeout: float = _setting(5.0, "deadline of each store call, waits for a lock or a "
                                    "pool connection included (503 after)", 0.05)
    connect_timeout: float = _setting(5.0, "seconds to connect to PostgreSQL", 0.1)
    metrics_dir: str | None = _setting(None, "a directory where each worker writes its "
                                       "metrics once a second, so that one /metrics scrape "
                                       "answers for all workers (promptsim serve makes a "
                                       "fresh one when unset)")
    cors_origins: str | None = _setting(None, "browser origins whose pages may call the API "
                                        "(comma-separated scheme://host[:port], or * for "
                                        "any); unset: no CORS headers")
    integrity_check: str = _setting("quick", "SQLite: PRAGMA quick_check at start (quick) or "
                                    "none (off)", choices=("quick", "off"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every field from its ``PROMPTSIM_*`` variable."""
        e = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = e.get(env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = _cast(f, raw)
        return cls(**values)

    def admin(self) -> str | None:
        """The admin key: ``admin_key``, else the first line of ``admin_key_file``; one
        shorter than :data:`MIN_ADMIN_KEY` characters is refused (it could be guessed)."""
        if self.admin_key or not self.admin_key_file:
            if self.admin_key is not None and len(self.admin_key) < MIN_ADMIN_KEY:
                raise SettingsError(_short(env_name("admin_key"), len(self.admin_key)))
            return self.admin_key
        try:
            with open(self.admin_key_file, encoding="utf-8") as f:
                key = f.readline().strip()
        except OSError as exc:
            raise SettingsError(f"{env_name('admin_key_file')}: cannot read "
                                f"{self.admin_key_file} ({exc.strerror})") from None
        if not key:
            raise SettingsError(f"{env_name('admin_key_file')}: {self.admin_key_file} is empty")
        if len(key) < MIN_ADMIN_KEY:
            raise SettingsError(_short(f"{env_name('admin_key_file')}: the key in "
                                       f"{self.admin_key_file}", len(key)))
        return key

    @property
    def is_postgres(self) -> bool:
        """Whether ``db`` names a PostgreSQL database."""
        return self.db.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> str:
        """The SQLite file of ``db`` (``sqlite:///`` prefix removed)."""
        return self.db.removeprefix("sqlite:///").removeprefix("sqlite://")


def env_name(name: str) -> str:
    """The variable of a settings field: ``max_body_bytes`` -> ``PROMPTSIM_MAX_BODY_BYTES``."""
    return PREFIX + name.upper()


_KINDS: dict[str, tuple[type, str]] = {
    "int": (int, "an integer"), "float": (float, "a number"),
    "str": (str, "text"), "str | None": (str, "text"),
}


def _cast(f: dataclasses.Field[Any], raw: str) -> Any:
    kind, words = _KINDS[str(f.type)]
    name = env_name(f.name)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not {words}") from None
    choices = f.metadata["choices"]
    if choices and value not in choices:
        raise SettingsError(f"{name}: {value!r} is not allowed; allowed: {', '.join(choices)}")
    low = f.metadata["min"]
    if low is not None and value < low:
        raise SettingsError(f"{name}: {value} is too small; allowed: {words} >= {low}")
    return value


def describe() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` of every setting, for help texts and docs."""
    return [(env_name(f.name), repr(f.default), f.metadata["doc"])
            for f in dataclasses.fields(Settings)]
