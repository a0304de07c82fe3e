"""Playwright in Debian's headless Chromium (never a downloaded browser) against live_server.

Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM calls
("async unsafe") from the test body; the tests only touch the database between page actions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import factories

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Each browser test starts with no sign-in failures and no "find my order" or password
    reset requests counted: those limits live in the cache (refunds.lockout), which the live
    server shares with every test of the process, all from 127.0.0.1. Without this, a test that
    asks for a guest link found the address's budget spent by the tests run before it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_stray_worker(request):
    """A browser test that does not ask for the Celery worker runs without one. The session's
    worker stays up after a test that used it; left running, it would deliver what this test
    approves (to no sandbox) and move the test's refunds on behind its back."""
    if "celery_worker" in request.fixturenames:
        return
    request.getfixturevalue("pipeline_worker").stop()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def roles(transactional_db):
    """Transactional tests flush the role groups the data migration made; put them back."""
    from tests.fixtures.pipeline import ensure_role_groups

    ensure_role_groups()


@pytest.fixture
def make_agent(roles):
    def make(username: str):
        return factories.agent(username=username)

    return make


@pytest.fixture
def make_manager(roles):
    def make(username: str):
        return factories.manager(username=username)

    return make


def sign_in(page, username: str, password: str = factories.PASSWORD, *, next_url: str = "/"):
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
