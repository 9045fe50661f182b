"""Admission: how many requests one worker serves at once, and who waits for a place.

A worker serves at most ``max_requests`` requests at once (issue 15.7). Before issue 28.8
a request past that was answered 503 at once, which under a closed loop of clients that
resend at once (most load generators, many SDK retry loops) turned the worker into a
machine for 503s: on PostgreSQL at 2,000 connections 90% of the answers were 503 and the
goodput fell to an eighth of its best (``bench/bench_overload.py``). Now such a request
**waits** for a place, in a bounded queue:

* **fair between clients**: waiters are grouped into flows, one per API key this worker
  has already authenticated (a tenant) and one per client address for every other
  request; a freed place goes to the flows in turn (round robin), first come first
  served within a flow. A light client, another tenant's or an unknown key's, waits for
  one place, not behind a heavy client's whole queue;
* **bounded in time**: a request waits at most ``queue_timeout`` seconds, then it is
  answered 503 ``overloaded`` with ``Retry-After``; nothing was done for it (its body was
  not even read), so resending it is always safe. Its wait is not counted in the
  request's own deadline (:mod:`sim.service.http.deadline`): a request that gets a place
  has the whole store deadline for its work, it is never cut short after working;
* **bounded in size**: at most ``max_queued`` wait; past that the oldest waiter of the
  flow with the most waiters is answered 503 at once (if that is the newcomer's own
  flow, the newcomer is), so a heavy client cannot push a light one out;
* **no work for the gone**: a request whose client closed its connection while it waited
  is not served when its turn comes (the service counts it as 499 ``client_gone`` in its
  metrics; nobody reads the answer), so a queue left by clients that gave up drains at
  once instead of being worked through.

Within one flow, requests are served first come first served: a light client that shares
its app's key and address with a heavy one waits its turn among the heavy one's requests
(each of which, on its own connection, is a light client too).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from sim.service.http.asgi import overloaded
from sim.service.http.errors import HttpError

SWEEP = 0.1
"""Seconds between checks of the waiters' deadlines: a wait ends at most this late."""


class _Waiter:
    __slots__ = ("due", "fut")

    def __init__(self, due: float, fut: asyncio.Future[None]) -> None:
        self.due = due
        self.fut = fut


class Admission:
    """One worker's places (``limit``) and its queue of requests waiting for one.

    The waits are bounded by one timer that checks the oldest waiter of each flow every
    :data:`SWEEP` seconds (a flow's waiters came in order, so its expired ones are at its
    front), not by a timer per waiter (``asyncio.timeout``: a context, a timer and its
    cancellation per queued request; docs/design.md has the measurement, within noise)."""

    def __init__(self, limit: int, max_queued: int, wait: float) -> None:
        self.limit = limit
        self.max_queued = max_queued
        self.wait = wait
        self.working = 0
        """Requests holding a place."""
        self.queued = 0
        """Requests waiting for one (alive: not yet answered)."""
        self._flows: OrderedDict[str, deque[_Waiter]] = OrderedDict()
        """Each flow's waiters, oldest first; the flows in the order they are served."""
        self._alive: dict[str, int] = {}
        """Waiters of each flow not yet answered."""
        self._sweeping = False

    def _refusal(self) -> HttpError:
        return overloaded(f"{self.limit} requests at once and {self.queued} waiting")

    def take(self) -> bool:
        """Take a place if one is free and nobody waits for one."""
        if self.working < self.limit and not self.queued:
            self.working += 1
            return True
        return False

    async def enter(self, flow: str) -> None:
        """Take a place, waiting for one if need be (in ``flow``); 503 ``overloaded`` if
        none comes in time or the queue is full. The caller must :meth:`leave` after."""
        if self.take():
            return
        if self.queued >= self.max_queued and not self._shed_one(flow):
            raise self._refusal()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._flows.setdefault(flow, deque()).append(_Waiter(loop.time() + self.wait, fut))
        self._alive[flow] = self._alive.get(flow, 0) + 1
        self.queued += 1
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(SWEEP, self._sweep)
        try:
            await fut
        except asyncio.CancelledError:  # the request itself was cancelled
            if fut.cancelled():
                self._gone(flow)
            elif fut.exception() is None:
                self.leave()  # given a place meanwhile: pass it on
            raise

    def _sweep(self) -> None:
        """Answer 503 to the waiters past their time."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for flow in list(self._flows):
            waiters = self._flows[flow]
            while waiters and (waiters[0].fut.done() or waiters[0].due <= now):
                w = waiters.popleft()
                if not w.fut.done():
                    self._gone(flow)
                    w.fut.set_exception(self._refusal())
            if not waiters:
                del self._flows[flow]
        self._sweeping = bool(self._flows)
        if self._sweeping:
            loop.call_later(SWEEP, self._sweep)

    def _gone(self, flow: str) -> None:
        """A waiter of ``flow`` left the queue."""
        self.queued -= 1
        left = self._alive[flow] - 1
        if left:
            self._alive[flow] = left
        else:
            del self._alive[flow]

    def _shed_one(self, newcomer: str) -> bool:
        """Answer 503 to the oldest waiter of the flow with the most, to make room for a
        request of ``newcomer``; False (nothing shed) if that flow is the newcomer's own or
        hardly busier."""
        if not self._alive:
            return False
        flow = max(self._alive, key=self._alive.__getitem__)
        if flow == newcomer or self._alive[flow] <= self._alive.get(newcomer, 0) + 1:
            return False
        waiters = self._flows[flow]
        while waiters:
            w = waiters.popleft()
            if not w.fut.done():
                self._gone(flow)
                w.fut.set_exception(self._refusal())
                break
        if not waiters:
            del self._flows[flow]
        return True

    def leave(self) -> None:
        """Give the place back: to the next flow's oldest waiter, if any waits."""
        while self._flows:
            flow, waiters = self._flows.popitem(last=False)
            w = waiters.popleft()
            if waiters:
                self._flows[flow] = waiters  # its turn again after the other flows
            if not w.fut.done():
                self._gone(flow)
                w.fut.set_result(None)  # the place passes to it: working stays the same
                return
        self.working -= 1
