"""Debian's headless Chromium through Playwright, for the browser tests and benchmarks.

benchmarks/ import this module too (they add tests/ to `sys.path`), so it needs no pytest;
the tests' skip-or-fail when Chromium is missing is `conftest.require_chromium`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    # Chromium's own traffic (updates, sync, QUIC probes) stays off: a test asserts that a
    # page fetched nothing from the network.
    "--disable-quic", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip


@contextmanager
def chromium(*, width: int = 1300, height: int = 1000, offline: bool = False) -> Iterator[Any]:
    """A headless Chromium browser context with a profile of its own, closed afterwards;
    `offline` makes every network request fail (a page must then need none)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=FLAGS, headless=True, offline=offline,
            viewport={"width": width, "height": height},
        )  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()
