"""Headers every answer may carry: the request id, and CORS for browser SDKs.

* **X-Request-ID**: a client's id is kept if it is 1-128 characters of
  ``A-Za-z0-9._:@/+=-`` (else a new one is made); every answer echoes it and the server
  log names it with each 5xx.
* **CORS** is off unless ``PROMPTSIM_CORS_ORIGINS`` lists origins (``*`` for any): then an
  answer to an allowed ``Origin`` carries ``Access-Control-Allow-Origin``, and a preflight
  ``OPTIONS`` is answered 204 with the methods and headers the API takes. Keys travel in
  ``Authorization``, never in cookies, so credentials are never allowed.
"""

from __future__ import annotations

import os
import re

from sim.service.settings import SettingsError, env_name

_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
METHODS = b"GET, HEAD, POST, PUT"
ALLOWED_HEADERS = b"authorization, content-type, x-request-id"
EXPOSED = b"retry-after, x-request-id, allow"
MAX_AGE = b"600"
"""Seconds a browser may keep a preflight's answer."""
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def request_id(given: bytes | None) -> bytes:
    """The client's ``X-Request-ID`` if it fits, else a new random one (16 hex digits)."""
    if given is not None and _ID.fullmatch(given):
        return given
    return os.urandom(8).hex().encode()


def cors_origins(text: str | None) -> frozenset[bytes] | None:
    """The origins of ``PROMPTSIM_CORS_ORIGINS`` (comma-separated ``scheme://host[:port]``,
    or ``*``); None when CORS is off. :class:`SettingsError` naming a malformed one."""
    if not text:
        return None
    found = set()
    for origin in (o.strip() for o in text.split(",")):
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(f"{env_name('cors_origins')}: {origin!r} is not an origin; "
                                "allowed: scheme://host[:port] such as https://app.example.com "
                                "(no path, no trailing slash), comma-separated, or *")
        found.add(origin.encode())
    return frozenset(found)


class Cors:
    """The CORS headers of answers to the origins a deployment allows."""

    def __init__(self, origins: frozenset[bytes]) -> None:
        self.origins = origins
        self.any = b"*" in origins

    def allows(self, origin: bytes | None) -> bool:
        """Whether answers to ``origin`` may be read by its pages."""
        return origin is not None and (self.any or origin in self.origins)

    def headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The headers of an answer to an allowed ``origin``."""
        return [(b"access-control-allow-origin", b"*" if self.any else origin),
                (b"access-control-expose-headers", EXPOSED), (b"vary", b"Origin")]

    def preflight(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The headers of a 204 answer to a preflight from an allowed ``origin``."""
        return [*self.headers(origin), (b"access-control-allow-methods", METHODS),
                (b"access-control-allow-headers", ALLOWED_HEADERS),
                (b"access-control-max-age", MAX_AGE)]
