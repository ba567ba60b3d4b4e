"""What the browser scenarios share: Debian's Chromium under Playwright."""

import pytest

from tests.servers import require_binary

# The flags a headless Chromium needs here (no sandbox in this container, no GPU, no calls home).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def chromium(transactional_db):
    """Set up after the database and torn down before its flush: the ORM refuses to run beside
    Playwright's event loop, so the test's rows are made before the browser starts."""
    executable = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Note: a fresh profile per launch (Playwright's own temporary user-data-dir).
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
