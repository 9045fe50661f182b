"""Failed authentication made cheap and bounded (issue 28.11).

* An unknown key is remembered for :data:`UNKNOWN_SECONDS`, so a client retrying a wrong
  key costs no store query each time (640 us on PostgreSQL). A key can only become valid
  by being created, and a created key was never looked up before (it is random), so this
  never refuses a valid key.
* Wrong keys are counted per client address in windows of :data:`WINDOW_SECONDS`: past
  :data:`FAILURES_ALLOWED` in one window, that address's requests with a key that would
  need a look-up are 429 with ``Retry-After`` until the window ends (a request without
  a key costs nothing and stays 401). Keys this worker has already accepted skip the
  check (a valid client behind the same address goes on). The address is the TCP peer:
  behind a proxy every client shares the proxy's.
"""

from __future__ import annotations

import math
import time

from sim.service.http.errors import HttpError

UNKNOWN_SECONDS = 30.0
UNKNOWN_MAX = 10_000
"""Unknown keys remembered at most (the oldest is forgotten first)."""
WINDOW_SECONDS = 10.0
FAILURES_ALLOWED = 20
"""Failed authentications per client address and window, by default
(``PROMPTSIM_AUTH_FAILURES``): an assumption, far above what a client with a mistyped key
sends and far below what guessing keys needs."""


class KeyGuard:
    """One worker's memory of unknown keys and of failures per client address."""

    def __init__(self, allowed: int = FAILURES_ALLOWED) -> None:
        self.allowed = allowed
        """Failed authentications per client address and window."""
        self._unknown: dict[str, float] = {}
        """Key hash -> when it may be looked up again."""
        self._failures: dict[str, int] = {}
        self._window_end = 0.0

    def is_unknown(self, key_hash: str) -> bool:
        """Whether the key was looked up lately and found unknown."""
        until = self._unknown.get(key_hash)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        del self._unknown[key_hash]
        return False

    def unknown(self, key_hash: str) -> None:
        """Remember an unknown key."""
        if len(self._unknown) >= UNKNOWN_MAX:
            del self._unknown[next(iter(self._unknown))]
        self._unknown[key_hash] = time.monotonic() + UNKNOWN_SECONDS

    def _window(self) -> float:
        now = time.monotonic()
        if now >= self._window_end:
            self._failures.clear()
            self._window_end = now + WINDOW_SECONDS
        return now

    def check(self, address: str) -> None:
        """429 if ``address`` failed too often in this window."""
        now = self._window()
        if self._failures.get(address, 0) >= self.allowed:
            wait = max(1, math.ceil(self._window_end - now))
            raise HttpError(429, "too_many_failures", f"more than {self.allowed} failed "
                            f"authentications from this address in {WINDOW_SECONDS:g} s; "
                            "retry after the Retry-After seconds with a valid key",
                            headers=[(b"retry-after", str(wait).encode())])

    def failed(self, address: str) -> None:
        """Count a failed authentication of ``address``."""
        self._window()
        self._failures[address] = self._failures.get(address, 0) + 1
