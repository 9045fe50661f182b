"""The API's one error shape and how every failure becomes it.

``{"error": code, "field": path-or-null, "detail": text}``. Domain errors
(:mod:`sim.service.errors`) map to a status by class; :class:`HttpError` is for
what only HTTP knows (400 bad JSON, 405, 413, 415). :func:`from_validation`
turns msgspec's decode errors into a 422 whose ``detail`` says what would have
been accepted, built from the msgspec type of the request body.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import inspect as mi

from sim import msgspec_paths as mp
from sim.service.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
)
from sim.service.schemas import RFC3339, OsVersionText


class ErrorBody(msgspec.Struct, frozen=True):
    """Body of every 4xx and 5xx."""

    error: str
    """A stable code: ``invalid_json``, ``unknown_field``, ``unknown_device``, ..."""
    field: str | None
    """Where in the request the problem is (``events[3].outcome``), or null."""
    detail: str
    """Human text naming what is allowed."""


Headers = list[tuple[bytes, bytes]]


class HttpError(ServiceError):
    """An error only the HTTP layer knows, with its status and extra headers."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None,
                 headers: Headers | None = None) -> None:
        super().__init__(code, detail, field)
        self.status = status
        self.headers = headers or []


STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 422, NotFound: 404, Conflict: 409, Unauthorized: 401, Unavailable: 503,
}
"""HTTP status of each domain error class."""

_encode = msgspec.json.Encoder().encode


def render(exc: ServiceError) -> tuple[int, bytes, Headers]:
    """``(status, JSON body, extra headers)`` of an error."""
    body = _encode(ErrorBody(error=exc.code, field=exc.field, detail=exc.detail))
    if isinstance(exc, HttpError):
        return exc.status, body, exc.headers
    if isinstance(exc, Unavailable):
        return 503, body, [(b"retry-after", str(exc.retry_after).encode())]
    if isinstance(exc, Unauthorized):
        return 401, body, [(b"www-authenticate", b"Bearer")]
    return STATUS[type(exc)], body, []


def from_validation(exc: msgspec.DecodeError, root: Any, body: bytes | None = None) -> ServiceError:
    """Translate a msgspec decode error on a body of type ``root`` into an error.

    ``body``, when given, picks the variant of a tagged union that the client meant,
    so "allowed fields" lists that event type's fields.
    """
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return HttpError(400, "invalid_json", f"the body is not valid JSON ({text})")
    msg, path = mp.split(text)
    field = path.lstrip(".") or None
    t, _ = mp.at(root, path, _data(body))
    named = _NAMED.search(msg)
    if msg.startswith("Object contains unknown field") and named:
        allowed = ", ".join(mp.field_names(t)) or "none"
        return InvalidInput("unknown_field", f"unknown field {named['name']!r}; "
                            f"allowed fields: {allowed}", _join(field or "", named["name"]))
    if msg.startswith("Object missing required field") and named:
        name = named["name"]
        sub = mp.field_type(t, name)
        want = f"; expected {describe(sub)}" if sub is not None else ""
        return InvalidInput("missing_field", f"required field {name!r} is missing{want}",
                            _join(field or "", name))
    code = "wrong_type" if ", got `" in msg else "invalid_value"
    if msg.startswith("Expected `str` matching regex"):
        msg = "the string does not have an allowed form"
    return InvalidInput(code, f"{msg}; allowed: {describe(t)}" if t is not None else msg, field)


_NAMED = re.compile(r"field `(?P<name>[^`]+)`")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _data(body: bytes | None) -> Any:
    try:
        return msgspec.json.decode(body) if body else None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def _bounds(t: Any) -> str:
    parts = [f"{op} {v}" for op, v in (("> ", getattr(t, "gt", None)),
                                       (">=", getattr(t, "ge", None)),
                                       ("< ", getattr(t, "lt", None)),
                                       ("<=", getattr(t, "le", None))) if v is not None]
    return (" " + " and ".join(p.replace("  ", " ") for p in parts)) if parts else ""


def _pattern(t: Any) -> str:
    info = mp.unwrap(mi.type_info(t))
    assert isinstance(info, mi.StrType) and info.pattern
    return info.pattern


_STRINGS = {
    _pattern(RFC3339): "an RFC 3339 date-time with an offset such as 2026-01-05T09:00:00Z "
                         "(years 1971 to 9999)",
    _pattern(OsVersionText): "a version string such as 14 or 17.4.1",
}
"""Plain words for the string types whose pattern would not be read."""


def describe(t: Any) -> str:
    """Plain words for what a value of type ``t`` may be."""
    t = mp.unwrap(t)
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in t.values)
    if isinstance(t, mi.UnionType):
        structs = mp.structs(t)
        if structs and all(s.tag for s in structs):
            return (f'an object whose "{structs[0].tag_field}" is one of '
                    + ", ".join(str(s.tag) for s in structs))
        return " or ".join(describe(u) for u in t.types)
    if isinstance(t, mi.StructType):
        req = [f.encode_name for f in t.fields if f.required]
        return ("an object with fields " + ", ".join(mp.field_names(t))
                + (f" (required: {', '.join(req)})" if req else ""))
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.IntType):
        return "an integer" + _bounds(t)
    if isinstance(t, mi.FloatType):
        return "a number" + _bounds(t)
    if isinstance(t, mi.StrType):
        words = _STRINGS.get(t.pattern or "")
        if words is not None:
            return words
        return "a string" + (f" matching {t.pattern}" if t.pattern else "")
    if isinstance(t, (mi.ListType, mi.VarTupleType)):
        return f"a list of {describe(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"an object of {describe(t.value_type)}"
    if isinstance(t, mi.AnyType):
        return "any JSON value"
    return type(t).__name__.removesuffix("Type").lower()
