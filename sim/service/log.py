"""The service's log: what an operator needs and a client must not read.

A client's error ``detail`` is the service's own words; the underlying cause (a
library's exception text, a file path) goes here instead, to standard error, once a
second per kind at most so that a failing disk cannot flood it.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("promptsim")
_last: dict[str, float] = {}
_quiet: dict[str, int] = {}


def setup() -> None:
    """Send the service's log lines to standard error (once per process)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s promptsim[%(process)d] %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def cause(kind: str, what: str, exc: BaseException | None = None) -> None:
    """Log why a request failed (``kind``: the error code), at most once a second per
    kind; the lines left out meanwhile are counted in the next one. Silent until
    :func:`setup` (the command line reports a store it cannot open in one line of its own)."""
    if not log.handlers:
        return
    now = time.monotonic()
    if now - _last.get(kind, -2.0) < 1.0:
        _quiet[kind] = _quiet.get(kind, 0) + 1
        return
    _last[kind] = now
    left_out = _quiet.pop(kind, 0)
    more = f" ({left_out} more since the last line)" if left_out else ""
    detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    log.warning("%s: %s%s%s", kind, what, detail, more)
