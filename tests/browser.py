"""A real browser for the tests that need one (Python Playwright driving Chromium): Debian's
``/usr/bin/chromium`` when installed, else the Chromium Playwright downloads; without either the
tests fail, saying how to get one. One browser a worker (``browser``, session-scoped); each test takes
a fresh context of its own (``offline_page``) that lets the page reach loopback addresses only and
records anything else it tried.

Playwright's asynchronous API: its synchronous one keeps an event loop running in the test's thread,
where the other fixtures start loops of their own. The browser lives on the session's event loop,
so a test module that uses it runs its tests there (``pytestmark = BROWSER_LOOP``) and imports these
fixtures into its conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Playwright, Route, async_playwright, expect

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: Short: a page of this machine's own server loads in well under a second.
TIMEOUT_MS = 15_000
#: The event loop the browser lives on, for the tests that use it.
BROWSER_LOOP = pytest.mark.asyncio(loop_scope="session")


def chromium(playwright: Playwright) -> str | None:
    """The Chromium to drive: Debian's, else Playwright's own (``None``: its default)."""
    if DEBIAN_CHROMIUM.exists():
        return str(DEBIAN_CHROMIUM)
    if Path(playwright.chromium.executable_path).exists():
        return None
    pytest.fail(
        "no Chromium for the browser tests: install Debian's (`apt-get install chromium`) or "
        "Playwright's (`.venv/bin/playwright install chromium`)"
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium(playwright),
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class OfflinePage:
    """A page that reaches loopback addresses only; ``refused`` lists every other URL it tried."""

    page: Page
    refused: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="session")
async def offline_page(browser: Browser) -> AsyncIterator[OfflinePage]:
    context = await browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)

    async def only_loopback(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOOPBACK:
            await route.continue_()
        else:
            offline.refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_loopback)
    offline = OfflinePage(await context.new_page())
    try:
        yield offline
    finally:
        await context.close()
