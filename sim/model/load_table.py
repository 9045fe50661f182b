"""A scenario's optional ``[load]`` table: what ``promptsim load`` takes from the file.

The simulator ignores it; ``promptsim validate`` and ``simulate`` check it like every other
table, so a mistyped budget fails before a load run, not during one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class LoadConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The optional ``[load]`` table of a scenario file: defaults the command line overrides."""

    strategy: str | None = None
    """Strategy whose campaigns the service runs (default: the scenario's baseline)."""
    day_seconds: NonNegative | None = None
    """Real seconds per simulated day (0: no waiting at all, as fast as possible)."""
    users: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Simulated devices at once (``--users``)."""
    duration: str | None = None
    """How long the run lasts, as ``30s``, ``5m`` or ``1h`` (``--duration``)."""
    shape: str | None = None
    """The load's shape over time (``--shape``: ``promptsim load --help`` lists them)."""
    replication: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Which replication's population the devices are drawn from (``--replication``)."""
    budgets: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)
    """Per endpoint (name or alias), limits of ``p95_ms``, ``p99_ms`` and ``fail_ratio``."""
