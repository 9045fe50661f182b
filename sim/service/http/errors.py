"""The API's one error shape and how every failure becomes it.

``{"error": code, "field": path-or-null, "detail": text}``. Domain errors
(:mod:`sim.service.errors`) map to a status by class; :class:`HttpError` is for
what only HTTP knows (400 bad JSON, 405, 413, 415). :func:`from_validation`
turns msgspec's validation errors into a 422 whose ``detail`` says what would have
been accepted, built from the msgspec type of the request body. No ``detail`` is a
library's exception text: those change between releases and name internals.
"""

from __future__ import annotations

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


def from_validation(exc: msgspec.ValidationError, root: Any, data: Any = None) -> ServiceError:
    """Translate a msgspec validation error on a body of type ``root`` into a 422 in the
    service's own words.

    Only the error's path is read from msgspec's message (and the text of a
    ``__post_init__`` check of this project, its ``__cause__``); what is wrong is found
    again from ``data`` (the decoded body, which also picks the variant of a tagged union
    that the client meant) and the type at that path, so no library wording reaches a
    client and a msgspec release that rewords its messages changes no answer.
    """
    _, path = mp.split(str(exc))
    field = path.lstrip(".") or None
    t, value = mp.at(root, path, data)
    if data is UNREADABLE:
        value = UNREADABLE
    if isinstance(exc.__cause__, (ValueError, TypeError)):  # a check of this project
        return InvalidInput("invalid_value", str(exc.__cause__), field)
    if t is None:
        return InvalidInput("invalid_value", "this value is not allowed here", field)
    if isinstance(value, dict) and mp.structs(t):
        names = mp.field_names(t)
        unknown = next((k for k in value if k not in names), None)
        if unknown is not None:
            return InvalidInput("unknown_field", f"unknown field {unknown!r}; allowed fields: "
                                f"{', '.join(names) or 'none'}", _join(field or "", unknown))
        missing = next((n for n in _required(t) if n not in value), None)
        if missing is not None:
            sub = mp.field_type(t, missing)
            want = f"; expected {describe(sub)}" if sub is not None else ""
            return InvalidInput("missing_field", f"required field {missing!r} is missing{want}",
                                _join(field or "", missing))
    if value is not UNREADABLE and not _fits(t, value):
        return InvalidInput("wrong_type", f"got {_kind(value)}; allowed: {describe(t)}", field)
    shown = "this value" if value is UNREADABLE else _shown(value)
    return InvalidInput("invalid_value", f"{shown} is not allowed; allowed: {describe(t)}",
                        field)


UNREADABLE = object()
"""The value at an error's path when the body could not be decoded without a type."""


def _required(t: Any) -> list[str]:
    """The fields an object of type ``t`` must have (a union's tag, or a struct's)."""
    found = mp.structs(t)
    if len(found) > 1:
        return [found[0].tag_field] if found[0].tag_field else []
    return [f.encode_name for f in found[0].fields if f.required] if found else []


def _fits(t: Any, value: Any) -> bool:
    """Whether ``value`` is of a JSON kind that type ``t`` takes (its bounds aside)."""
    t = mp.unwrap(t)
    if isinstance(t, mi.UnionType):
        return any(_fits(u, value) for u in t.types)
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(t, mi.IntType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(t, mi.FloatType):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(t, mi.LiteralType):
        return any(type(v) is type(value) for v in t.values)
    if isinstance(t, mi.StrType):
        return isinstance(value, str)
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.TupleType, mi.SetType,
                      mi.FrozenSetType)):
        return isinstance(value, list)
    if isinstance(t, (mi.StructType, mi.DictType, mi.TypedDictType, mi.DataclassType)):
        return isinstance(value, dict)
    return True  # a kind this API does not use: say only that the value is not allowed


def _kind(value: Any) -> str:
    """The JSON kind of a decoded value, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _shown(value: Any) -> str:
    """A value as JSON, cut to 40 characters."""
    try:
        text = _encode(value).decode()
    except (TypeError, ValueError, OverflowError):  # a number JSON cannot write
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _bounds(t: Any) -> str:
    parts = [f"{op} {v}" for op, v in (("> ", getattr(t, "gt", None)),
                                       (">=", getattr(t, "ge", None)),
                                       ("< ", getattr(t, "lt", None)),
                                       ("<=", getattr(t, "le", None))) if v is not None]
    return (" " + " and ".join(p.replace("  ", " ") for p in parts)) if parts else ""


def _lengths(t: Any, unit: str) -> str:
    lo, hi = getattr(t, "min_length", None), getattr(t, "max_length", None)
    if hi is not None:
        return f" ({lo or 0} to {hi} {unit})"
    return f" (at least {lo} {unit if lo != 1 else unit[:-1]})" if lo else ""


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
        return ("a string" + (f" matching {t.pattern}" if t.pattern else "")
                + _lengths(t, "characters"))
    if isinstance(t, (mi.ListType, mi.VarTupleType)):
        return f"a list of {describe(t.item_type)}{_lengths(t, 'items')}"
    if isinstance(t, mi.DictType):
        return f"an object of {describe(t.value_type)}"
    if isinstance(t, mi.AnyType):
        return "any JSON value"
    return type(t).__name__.removesuffix("Type").lower()
