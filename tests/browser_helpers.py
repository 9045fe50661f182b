"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by
``playwright`` (no browser download). Skipped when either is missing, except under CI
(env ``CI`` set), where that fails."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("PROMPTSIM_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic"]


def browser_or_skip() -> None:
    """Skip (or, under CI, fail) unless playwright and Chromium are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI: the browser test needs `pip install playwright`")
        pytest.skip("playwright is not installed")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: the browser test needs {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")


@dataclass
class Seen:
    """What a page did: every request's URL, and console errors and page errors."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Any, Seen]]:
    """A new page of headless Chromium (a fresh profile) and what it does."""
    from playwright.sync_api import sync_playwright

    seen = Seen()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": width, "height": height})
        try:
            page = ctx.new_page()
            page.on("console", lambda m: seen.errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            yield page, seen
        finally:
            ctx.close()
