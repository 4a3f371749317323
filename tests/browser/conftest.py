"""Playwright driving Debian's Chromium (never a downloaded browser) for the browser tests.

Chromium is started headless with its own background traffic switched off and every host name
but the loopback ones unresolvable, so a test can only ever reach 127.0.0.1. In CI (CI=true) a
missing Chromium fails the tests; elsewhere they are skipped with the reason. Screenshots go to
tests/browser/screenshots/ (ignored by git, kept by CI as artifacts).
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    # Belt and braces for the loopback-only rule: nothing but 127.0.0.1 and localhost resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> None:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must have it.")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Module scope, not session: Playwright's sync API keeps an
    event loop in this thread while it runs, and the rest of the suite must not inherit it."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    # The test body uses the ORM synchronously between browser steps, which Django refuses
    # while an event loop runs in the thread. Allowed for these tests only, never leaked into
    # the rest of the session (`manage.py check --deploy` warns about it, rightly).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    # Loopback only, whatever a page might ask for.
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://127.0.0.1:", "http://localhost:"))
            else route.abort()
        ),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def site(live_server) -> str:
    """The live server's address on 127.0.0.1 (the only place the browser may go)."""
    return live_server.url.replace("://localhost", "://127.0.0.1")


@pytest.fixture
def screenshot(page, request):
    """`screenshot("03-action-page")` saves a full-page PNG named after the test and step;
    `width=390` takes it at a phone's width and restores the desktop size afterwards."""
    SCREENSHOTS.mkdir(exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)

    def take(name: str, *, width: int | None = None) -> Path:
        path = SCREENSHOTS / f"{prefix}--{name}.png"
        if width is not None:
            page.set_viewport_size({"width": width, "height": PHONE["height"]})
        try:
            page.screenshot(path=str(path), full_page=True)
        finally:
            if width is not None:
                page.set_viewport_size(DESKTOP)
        return path

    return take
