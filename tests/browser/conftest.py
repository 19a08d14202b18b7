"""Playwright for Python driving Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# (creating staff) are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("HAVEN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """A failed browser test says where each of its pages stood (address, headings,
    messages) in its report and keeps a screenshot, so a failure in CI can be read
    from the log."""
    report = yield
    pages = getattr(item.funcargs.get("new_page"), "pages", [])
    if report.when == "call" and report.failed and pages:
        report.sections.append(("where the pages stood", _where_pages_stood(item.name, pages)))
    return report


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("HAVEN_REQUIRE_BROWSER"):
            pytest.fail(f"chromium not found at {CHROMIUM}")
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _published_rules(transactional_db: Any) -> None:
    """A live server needs a transactional database, which an earlier transactional
    test may have flushed, taking the rules that a migration publishes with it; publish
    them again the way the migration does. (Django's serialized rollback cannot be
    used: the flush has recreated the content types under new ids.)"""
    import importlib

    from access.models import ConfidentialityRules

    migration = importlib.import_module("access.migrations.0004_default_confidentiality_rules")
    if not ConfidentialityRules.objects.exists():
        ConfidentialityRules.objects.create(version=1, text=migration.DEFAULT_RULES)


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Any]:
    contexts = []
    pages = []

    def make() -> Any:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 390, "height": 844}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        pages.append(page)
        return page

    make.pages = pages  # type: ignore[attr-defined]
    yield make
    for context in contexts:
        context.close()


def _where_pages_stood(test: str, pages: list[Any]) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    lines = []
    for number, page in enumerate(pages, start=1):
        try:
            texts = page.locator("h1, h2, .messages, [role=alert]").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / f"failed-{test}-{number}.png"), full_page=True)
        except Exception as error:  # the page may have closed or crashed
            texts = [f"(unreadable: {error.__class__.__name__})"]
        lines += [f"page {number}: {page.url}", *(f"  {text!r}" for text in texts[:8])]
    return "\n".join(lines)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Any, user: Any, *, steps_ahead: int = 0) -> None:
    """Sign in through the real form: password, then the authenticator's code (the
    device exists already). A code is accepted once, so a second sign-in within the
    same 30 seconds passes ``steps_ahead=1``."""
    from tests.factories import PASSWORD
    from tests.helpers import current_code, totp_device

    device = totp_device(user)
    page.goto("/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(current_code(device, steps_ahead=steps_ahead))
    page.get_by_role("button", name="Continue").click()
    # Each role lands on its own home (My day, the access log, the staff page).
    page.get_by_role("button", name="Sign out").wait_for()
