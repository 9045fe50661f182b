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


def _setting(default: Any, doc: str, minimum: float | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "min": minimum})


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs to know to start."""

    db: str = _setting("promptsim.sqlite3", "a SQLite file path (or sqlite:///path) or a "
                       "postgresql:// URL")
    admin_key: str | None = _setting(None, "bearer key of POST /v1/apps; without one that "
                                     "endpoint answers 401")
    max_body_bytes: int = _setting(1 << 20, "largest request body accepted (413 above)", 1)
    max_batch_events: int = _setting(500, "most events in one POST .../events batch "
                                     "(413 above)", 1)
    pg_pool_size: int = _setting(8, "connections in each worker's asyncpg pool", 1)
    device_cache: int = _setting(50_000, "decoded device records each SQLite worker keeps "
                                 "for reads (about 1 KB each); 0 turns the cache off", 0)

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
    low = f.metadata["min"]
    if low is not None and value < low:
        raise SettingsError(f"{name}: {value} is too small; allowed: {words} >= {low}")
    return value


def describe() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` of every setting, for help texts and docs."""
    return [(env_name(f.name), repr(f.default), f.metadata["doc"])
            for f in dataclasses.fields(Settings)]
