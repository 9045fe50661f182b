"""uvicorn's httptools protocol with the connection limits it lacks.

uvicorn bounds an idle kept-alive connection (``timeout_keep_alive``), but not a
connection that never completes its headers (idle from the start, or trickling
them: a slow client), nor the bytes of those headers, nor the number of open
connections short of the file-descriptor limit (its ``limit_concurrency`` answers
a plain-text 503 without ``Retry-After``, and only once a request's headers are in:
idle connections still pile up). Per worker process, this protocol adds:

* a **header deadline**: a request's headers must be complete ``header_timeout``
  seconds after its first byte (or after the connection opened); else 408 and close;
* a **body deadline**: a request's body must be complete ``body_timeout`` seconds
  after its headers; else 408 and close (the timers are armed only when a read ends
  with the headers or the body incomplete: a request that arrives whole costs none);
* a **header size** limit (``MAX_HEADER_BYTES``): else 431 and close;
* a **connection limit** below the file limit: a new connection past it closes the
  connection that has waited longest without a request being served (idle, or still
  sending headers); when every connection is serving a request, the new one gets
  503 with ``Retry-After`` and is closed, before file descriptors run out.

Settings come from :class:`~sim.service.settings.Settings` (the environment), read
once per worker process.

``HttpToolsProtocol`` is uvicorn's private class: ``pyproject.toml`` accepts only the
uvicorn release this subclass was tested on, and :func:`shape_changes` (run by
``tests/service/test_protocol_shape.py``) names what a new release changed of what it
relies on, so that widening the range fails loudly instead of serving wrongly.
"""

from __future__ import annotations

import asyncio
import inspect
import resource
from collections import OrderedDict
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sim.service.settings import Settings

MAX_HEADER_BYTES = 64 * 1024
"""Bytes of a request line and headers; a valid request of this API needs under 1 KB."""
FD_RESERVE = 256
"""File descriptors kept free of connections: the store, the WAL, logs, pool connections."""


def _canned(status: str, code: str, detail: str, extra: str = "") -> bytes:
    body = msgspec.json.encode({"error": code, "field": None, "detail": detail})
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: "
            f"{len(body)}\r\nconnection: close\r\n{extra}\r\n")
    return head.encode() + body


SHED = _canned("503 Service Unavailable", "overloaded", "too many open connections; retry "
               "after the Retry-After seconds", "retry-after: 1\r\n")
SLOW = _canned("408 Request Timeout", "header_timeout", "the request headers did not arrive "
               "in time")
SLOW_BODY = _canned("408 Request Timeout", "body_timeout", "the request body did not arrive "
                    "in time; send it at once")
TOO_BIG = _canned("431 Request Header Fields Too Large", "headers_too_large",
                  f"the request line and headers exceed {MAX_HEADER_BYTES} bytes")


RELIES_ON: dict[str, tuple[str, ...]] = {
    "__init__": ("self", "config", "server_state", "app_state", "_loop"),
    "connection_made": ("self", "transport"),
    "data_received": ("self", "data"),
    "on_message_begin": ("self",),
    "on_headers_complete": ("self",),
    "on_message_complete": ("self",),
    "on_response_complete": ("self",),
    "connection_lost": ("self", "exc"),
}
"""The methods of ``HttpToolsProtocol`` this module overrides or calls, and their
parameters."""
ASSIGNS = ("self.connections = ", "self.loop = ", "self.transport = ", "self.url = ",
           "self.headers = ", "self.scope = ", "self.connections.add(self)",
           "self.cycle.disconnected = True")
"""What its source must still do: the attributes read here, and the connection set and
disconnection flag that the connection limit and the cut-short body check count on."""
GONE = "promptsim.gone"
"""The scope key of a callable that tells whether the request's connection is closed: a
request whose client left while it waited for a place is not served
(:mod:`sim.service.http.admission`)."""


def shape_changes() -> list[str]:
    """What the installed uvicorn's ``HttpToolsProtocol`` no longer has of what this module
    relies on (empty: the shape it was tested on)."""
    changes = []
    for name, params in RELIES_ON.items():
        fn = getattr(HttpToolsProtocol, name, None)
        if fn is None:
            changes.append(f"{name} is gone")
            continue
        got = tuple(inspect.signature(fn).parameters)
        if got != params:
            changes.append(f"{name}{params} is now {name}{got}")
    source = inspect.getsource(HttpToolsProtocol)
    changes += [f"no longer does {a.strip()!r}" for a in ASSIGNS if a not in source]
    return changes


class Limits:
    """This worker's limits, from the environment."""

    def __init__(self, settings: Settings) -> None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        room = soft - FD_RESERVE if soft != resource.RLIM_INFINITY else settings.max_connections
        self.max_connections = max(16, min(settings.max_connections, room))
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout


_limits: Limits | None = None
_waiting: OrderedDict[GuardedHttpProtocol, None] = OrderedDict()
"""This worker's connections with no request being served, oldest first."""


def limits() -> Limits:
    """The limits of this worker process (read on first use)."""
    global _limits
    if _limits is None:
        _limits = Limits(Settings.from_env())
    return _limits


class GuardedHttpProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with a header deadline, a header size limit and a
    connection limit that sheds before file descriptors run out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits()
        self._timer: asyncio.TimerHandle | None = None
        """The header or body deadline running now, if any."""
        self._head_bytes = 0
        self._in_headers = True
        self._in_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            oldest = next(iter(_waiting), None)
            if oldest is None:  # every connection is serving a request: shed this one
                self._close(SHED)
                return
            oldest._close(b"")
        _waiting[self] = None
        self._arm(self._limits.header_timeout, SLOW)  # nothing may come at all

    def _arm(self, seconds: float, answer: bytes) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._close, answer)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self, answer: bytes) -> None:
        _waiting.pop(self, None)
        self._disarm()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_headers:
            if self._head_bytes > MAX_HEADER_BYTES:
                self._close(TOO_BIG)
            elif self._timer is None:  # a request began and its headers are not all here
                self._arm(self._limits.header_timeout, SLOW)
        elif self._in_body and self._timer is None:  # its body is not all here
            self._arm(self._limits.body_timeout, SLOW_BODY)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._in_body = True
        _waiting.pop(self, None)
        self._disarm()
        if self._head_bytes > MAX_HEADER_BYTES and len(self.url) + sum(
                len(k) + len(v) + 4 for k, v in self.headers) > MAX_HEADER_BYTES:
            self._close(TOO_BIG)  # all of it came in one read
            return
        self.scope[GONE] = self.transport.is_closing  # type: ignore[literal-required]
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's keep-alive timer
        if not self.transport.is_closing():
            _waiting[self] = None
            self._in_headers = True
            self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        _waiting.pop(self, None)
        self._disarm()
        super().connection_lost(exc)
