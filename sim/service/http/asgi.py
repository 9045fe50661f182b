"""A minimal ASGI layer: requests, responses, routes, the router and body limits.

No framework: a :class:`Route` is a method, a path template, a handler, who may
call it and what it takes and answers (the OpenAPI document is generated from
the route table); a handler is ``async def handler(req) -> (status, body,
content_type)``. The router answers 404 for an unknown path, 405 (with
``Allow``) for a known path with another method, and 422 for a path parameter
that does not fit its type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec import inspect as mi

from sim import msgspec_paths as mp
from sim.service.errors import InvalidInput, ServiceError
from sim.service.http.errors import UNREADABLE, HttpError, from_validation

if TYPE_CHECKING:
    from sim.service.http.service import Service
    from sim.service.tenant import App

JSON = b"application/json"
Response = tuple[int, bytes, bytes]
"""``(status, body, content_type)``."""
Handler = Callable[["Request"], Awaitable[Response]]
Auth = Literal["app", "admin", "none"]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_encode = msgspec.json.Encoder().encode


def json_response(status: int, obj: object) -> Response:
    """Encode ``obj`` (a Struct, dict or list) as a JSON response."""
    return status, _encode(obj), JSON


@dataclass(slots=True)
class Request:
    """One HTTP request as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]
    headers: list[tuple[bytes, bytes]]
    service: Service
    data: Any = None
    """The decoded body (routes with a ``body`` type)."""
    caller: App | None = None
    """The authenticated app (routes with ``auth="app"``)."""

    def header(self, name: bytes) -> bytes | None:
        """A request header (lower-case name), or None."""
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def tenant(self) -> App:
        """The app (the tenant) whose key authenticated this request (routes with
        ``auth="app"``); not an ASGI app."""
        assert self.caller is not None
        return self.caller


@dataclass(frozen=True, slots=True)
class Route:
    """A path template, its method, handler, who may call it, and what it takes and answers."""

    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "app"
    body: Any = None
    """The msgspec type of the JSON body, decoded into ``Request.data``; None: no body."""
    out: Any = None
    """The msgspec type of the answer, or a content type (``text/plain``) for text."""
    ok: tuple[int, ...] = (200,)
    """Success statuses."""
    errors: tuple[int, ...] = ()
    """Error statuses besides those every route of its kind has (401, 400, 413, 422, 503)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Path parameter types (msgspec), by name; each ``{name}`` of ``path`` has one."""
    tag: str = "meta"
    """The OpenAPI tag that groups it in the docs."""
    in_spec: bool = True
    """False for the docs pages' static files, which the OpenAPI document does not list."""
    segments: tuple[str, ...] = field(default=(), init=False)
    regex: re.Pattern[str] = field(default=re.compile(""), init=False)
    """The template without its outer slashes; ``{name}`` matches one non-empty segment."""
    checks: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        segments = tuple(self.path.strip("/").split("/"))
        pattern = "/".join(f"(?P<{s[1:-1]}>[^/]+)" if s[0] == "{" else re.escape(s)
                           for s in segments)
        names = [s[1:-1] for s in segments if s[0] == "{"]
        if sorted(names) != sorted(self.params):
            raise ValueError(f"{self.path}: parameters {names} need types, got {self.params}")
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "regex", re.compile(pattern))
        checks = []
        for n in names:
            info = mi.type_info(self.params[n])
            assert isinstance(info, mi.StrType) and info.pattern, f"{n}: a string with a pattern"
            checks.append((n, re.compile(info.pattern)))
        object.__setattr__(self, "checks", tuple(checks))

    def match(self, trimmed: str) -> dict[str, str] | None:
        """Path parameters if ``trimmed`` (a path without outer slashes) fits this template."""
        m = self.regex.fullmatch(trimmed)
        return m.groupdict() if m is not None else None

    def check(self, params: dict[str, str]) -> None:
        """422 naming the first path parameter that does not fit its type."""
        for name, pattern in self.checks:
            if pattern.search(params[name]) is None:
                raise InvalidInput("invalid_value", f"{params[name]!r} is not a valid {name}; "
                                   f"allowed: a string matching {pattern.pattern}", name)


class Router:
    """Static routes found by dict lookup; templates by method, segment count and last segment."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._static: dict[tuple[str, str], Route] = {}
        self._dynamic: dict[tuple[str, int, str], list[Route]] = {}
        """By method, segment count and last segment ("" when that is a parameter)."""
        for r in routes:
            if "{" in r.path:
                last = "" if r.segments[-1][0] == "{" else r.segments[-1]
                self._dynamic.setdefault((r.method, len(r.segments), last), []).append(r)
            else:
                self._static[(r.method, r.path)] = r

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and its checked parameters; 404, 405 or 422 otherwise."""
        r = self._static.get((method, path))
        if r is not None:
            return r, {}
        trimmed = path.strip("/")
        n = trimmed.count("/") + 1
        for last in (trimmed.rpartition("/")[2], ""):
            for r in self._dynamic.get((method, n, last), ()):
                params = r.match(trimmed)
                if params is not None:
                    r.check(params)
                    return r, params
        allowed = [r.method for r in self.routes
                   if (r.match(trimmed) is not None if "{" in r.path else r.path == path)]
        if "GET" in allowed:
            allowed.append("HEAD")
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            raise HttpError(405, "method_not_allowed", f"{method} is not allowed on {path}; "
                            f"allowed: {allow}", headers=[(b"allow", allow.encode())])
        raise HttpError(404, "not_found", f"no route {path}; the paths are listed in "
                        "/openapi.json, /docs and /redoc")


def _too_big(limit: int) -> HttpError:
    return HttpError(413, "body_too_large", f"the body exceeds {limit} bytes; send at most "
                     f"{limit} bytes (split event batches)")


def overloaded(what: str) -> HttpError:
    """503 for load shed before it could hurt the requests already being served."""
    return HttpError(503, "overloaded", f"the server is at its limit of {what}; retry after "
                     "the Retry-After seconds", headers=[(b"retry-after", b"1")])


SMALL_BODY = 64 * 1024
"""Bodies up to this size are not counted against the budget: a decision or a usual event
batch is far smaller, so large bodies can never starve them. Their total is bounded by the
requests served at once (``max_requests``) times this."""


class BodyBudget:
    """The bytes of large request bodies one worker holds at once, bounded: a body that
    would pass the bound is refused (503) instead of growing the process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        """Reserve ``n`` bytes or raise 503."""
        if self.used + n > self.limit:
            raise overloaded(f"{self.limit} bytes of request bodies in flight")
        self.used += n

    def give(self, n: int) -> None:
        """Release ``n`` bytes."""
        self.used -= n


def is_json(content_type: bytes | None) -> bool:
    """Whether a ``Content-Type`` value is JSON (absent counts as JSON)."""
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def check_body_headers(req: Request) -> None:
    """415 for a body that is not JSON, or is encoded (``Content-Encoding`` other than
    ``identity``: the service reads bodies as sent, so a compressed one would be garbage)."""
    if not is_json(req.header(b"content-type")):
        raise HttpError(415, "unsupported_media_type", "send the body as "
                        "Content-Type: application/json")
    encoding = req.header(b"content-encoding")
    if encoding is not None and encoding.strip().lower() not in (b"identity", b""):
        raise HttpError(415, "unsupported_media_type", f"Content-Encoding "
                        f"{encoding.decode('latin-1')[:40]!r} is not supported; send the body "
                        "uncompressed (no Content-Encoding, or identity)")


def _cut_short() -> HttpError:
    """The error of a body cut short. No client reads it (its connection is gone: uvicorn
    drops what is sent after that); it is counted as a 408."""
    return HttpError(408, "body_incomplete", "the connection ended before the whole body "
                     "arrived; nothing was applied")


async def read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int,
                    budget: BodyBudget, held: list[int]) -> bytes:
    """The whole request body; 413 as soon as it is known to exceed ``limit`` bytes, 503 if
    the worker's ``budget`` cannot hold it. (A body that stalls is the server protocol's to
    end: ``sim.service.http.protocol``.)

    A body is only ever returned whole (its ``Content-Length`` reached, or the chunked
    terminator read): a connection that ends first, the client's close or the protocol's
    408 after ``body_timeout``, is a 408 and nothing is applied.

    The bytes reserved from ``budget`` are added to ``held[0]``; the caller gives them back.
    """
    declared: int | None = None
    for k, v in headers:
        if k == b"content-length":
            try:
                declared = int(v)
            except ValueError:
                raise HttpError(400, "invalid_header", "Content-Length is not an integer") \
                    from None
            if declared > limit:
                raise _too_big(limit)
    if declared is not None and declared > SMALL_BODY:
        budget.take(declared)
        held[0] += declared
    reserve = declared is None
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise _cut_short()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_big(limit)
        if reserve and size > SMALL_BODY:  # no Content-Length: reserve as the chunks come
            grow = size - held[0]
            budget.take(grow)
            held[0] += grow
        chunks.append(chunk)
        if not msg.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(send: Send, status: int, body: bytes, content_type: bytes,
                        extra: list[tuple[bytes, bytes]] | None = None,
                        head: bool = False) -> None:
    """Send a complete response (headers only for ``HEAD``)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_any = msgspec.json.Decoder()


def _whole_floats_as_ints(x: Any) -> Any:
    """``588.0`` -> ``588`` everywhere (JSON Schema's integers include them; every number
    field of the API accepts an int)."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, dict):
        return {k: _whole_floats_as_ints(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_whole_floats_as_ints(v) for v in x]
    return x


EMPTY = "the body is empty; send a JSON object"
TOO_DEEP = ("the body nests arrays or objects too deeply; no field of this API nests more "
            "than a few levels")


def decode(body: bytes, root: Any) -> Any:
    """Decode and validate a JSON body of type ``root``; 400 / 422 naming the field otherwise.

    Never raises anything else: bytes that are not UTF-8 and nesting past msgspec's depth
    limit are 400 ``invalid_json`` like any other malformed JSON. Every ``detail`` is the
    service's own wording (:func:`refusal`), whatever msgspec's messages say.
    """
    if not body:
        raise HttpError(400, "invalid_json", EMPTY)
    dec = _decoders.get(root)
    if dec is None:
        dec = _decoders[root] = msgspec.json.Decoder(root)
    try:
        return dec.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        failed: BaseException = exc
    data = _plain(body) if isinstance(failed, msgspec.ValidationError) else UNREADABLE
    if isinstance(failed, msgspec.ValidationError) and data is not UNREADABLE:
        value = mp.at(root, mp.split(str(failed))[1], data)[1]
        if isinstance(value, float) and value.is_integer():  # 588.0 for an integer
            data = _whole_floats_as_ints(data)
            try:
                return msgspec.convert(data, root)
            except msgspec.ValidationError as again:
                failed = again
    raise refusal(failed, body, root, data) from None


def refusal(exc: BaseException, body: bytes, root: Any, data: Any) -> ServiceError:
    """The 400 or 422 for a body that failed to decode as ``root`` (``data``: the body
    decoded without a type, or :data:`UNREADABLE`)."""
    try:
        text = body.decode()
    except UnicodeDecodeError as bad:
        return HttpError(400, "invalid_json", f"the body is not UTF-8 (byte "
                         f"0x{bad.object[bad.start]:02x} at {bad.start}); send UTF-8 JSON")
    if isinstance(exc, RecursionError):
        return HttpError(400, "invalid_json", TOO_DEEP)
    if not isinstance(exc, msgspec.ValidationError):
        return HttpError(400, "invalid_json", _not_json(text))
    return from_validation(exc, root, data)


def _plain(body: bytes) -> Any:
    """The body decoded without a type, or :data:`UNREADABLE`; 400 if it nests too deeply
    (whatever the type stopped at first)."""
    try:
        return _any.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return UNREADABLE
    except RecursionError:
        raise HttpError(400, "invalid_json", TOO_DEEP) from None


def _not_json(text: str) -> str:
    """Where a text stops being JSON, as far as Python's own parser can tell."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        at, size = len(text[:exc.pos].encode()), len(text.encode())
        if at >= size:
            return (f"the body is not valid JSON: it ends too soon (after {size} bytes); "
                    "send one whole JSON object")
        return f"the body is not valid JSON (at byte {at} of {size}); send one JSON object"
    except (ValueError, RecursionError):
        pass
    return "the body is not valid JSON; send one JSON object"
