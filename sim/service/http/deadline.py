"""Every request is answered in time, whatever the store does (issue 28.6).

The store bounds each of its calls by ``PROMPTSIM_STORE_TIMEOUT``, but a request may
make several calls one after the other (a new key's lookup, the change feed's check, a
read, a write), and a call cancelled at its deadline may still wait for its connection's
cleanup. So each request also has one deadline of its own: ``store_timeout`` plus 0.5 s
(:data:`SLACK` and at most one :data:`TICK`) of work after its headers (the time its
body takes to arrive is not counted: that has ``PROMPTSIM_BODY_TIMEOUT``; nor is its wait
for a place, which has ``PROMPTSIM_QUEUE_TIMEOUT``: :mod:`sim.service.http.admission`). When it
passes, the request is answered at once: a read is 503 ``timeout`` (nothing was
changed); a write is 503 ``outcome_unknown`` (it may still commit). The handler is left
to finish in the background, bounded by the store's own deadlines; its answer is
dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sim.service.errors import Unavailable

SLACK = 0.4
"""Seconds past ``store_timeout`` before the request's own deadline (plus up to
:data:`TICK`: 0.5 s in all): the store's deadlines, which know whether a write was sent,
answer first when they can."""


def late_answer(method: str, seconds: float) -> Unavailable:
    """The answer of a request past its deadline."""
    if method in ("POST", "PUT"):
        return Unavailable("outcome_unknown", f"the store did not finish within {seconds:g} s; "
                           "the write may or may not be applied; send the same request again")
    return Unavailable("timeout", f"the store did not answer within {seconds:g} s; retry later")


TICK = 0.1
"""Seconds between checks of the deadlines: a request is answered at most this late."""


class Deadlines:
    """One worker's requests in flight and their deadlines, checked every :data:`TICK`
    seconds by one timer (a timer per request would cost more than the check)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._live: dict[Deadline, None] = {}
        self._ticking = False

    def start(self, fire: Callable[[], None]) -> Deadline:
        """A request's deadline, running from now; ``fire`` is called once it passes."""
        d = Deadline(self, fire)
        self.add(d)
        return d

    def add(self, d: Deadline) -> None:
        """Count ``d`` (again)."""
        self._live[d] = None
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_later(TICK, self._check)

    def remove(self, d: Deadline) -> None:
        """Stop counting ``d``."""
        self._live.pop(d, None)

    def _check(self) -> None:
        now = asyncio.get_running_loop().time()
        for d in [d for d in self._live if d.due <= now]:
            del self._live[d]
            d.fired = True
            d.fire()
        self._ticking = bool(self._live)
        if self._ticking:
            asyncio.get_running_loop().call_later(TICK, self._check)


class Deadline:
    """One request's deadline, paused while the request's body arrives."""

    __slots__ = ("due", "fire", "fired", "left", "owner")

    def __init__(self, owner: Deadlines, fire: Callable[[], None]) -> None:
        self.owner = owner
        self.fire = fire
        self.due = asyncio.get_running_loop().time() + owner.seconds
        self.left = owner.seconds
        self.fired = False

    def pause(self) -> None:
        """Stop counting (the body is arriving)."""
        self.owner.remove(self)
        self.left = self.due - asyncio.get_running_loop().time()

    def resume(self) -> None:
        """Count again from where :meth:`pause` stopped."""
        if not self.fired:
            self.due = asyncio.get_running_loop().time() + self.left
            self.owner.add(self)

    def stop(self) -> None:
        """The request is answered."""
        self.owner.remove(self)
