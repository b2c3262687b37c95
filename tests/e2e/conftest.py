"""End-to-end fixtures: the real ASGI server (uvicorn, tests/server.py) on the test database, driven by
Debian's Chromium through Playwright.

The browser is the system one (`apt-get install chromium`, /usr/bin/chromium): no `playwright install`,
no browser download. Every test under tests/e2e is marked `e2e` (`pytest -m "not e2e"` skips them).
Without Chromium or PostgreSQL these tests skip on a laptop and fail under REQUIRE_POSTGRES=1 or CI.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connection
from PIL import Image, ImageChops
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.server import ROOT, LiveServer

CHROMIUM = os.environ.get("LOUPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("LOUPE_SCREENSHOTS_DIR", str(ROOT / "docs" / "screenshots")))
SCREENSHOT_BUDGET = 250_000  # bytes per committed PNG
_E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def require(condition: bool, reason: str) -> None:
    """Skip on a laptop that lacks something; fail in CI, where a skip would hide a missing install step."""
    if condition:
        return
    if settings.REQUIRE_POSTGRES or os.environ.get("CI"):
        pytest.fail(f"{reason} (REQUIRE_POSTGRES/CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright, for the e2e package only: its sync API keeps an event loop running in this thread."""
    require(os.access(CHROMIUM, os.X_OK), f"e2e tests need Chromium at {CHROMIUM}: apt-get install -y chromium")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as driver:
        # Django refuses ORM calls while a loop runs in the thread; the calls that e2e tests make between
        # browser steps are plain synchronous code, so allow them here (never in the server: see LiveServer).
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def start_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Callable[..., LiveServer]]:
    """Start extra servers with their own environment (e.g. another frontend build); all stop at the end."""
    require(connection.vendor == "postgresql", "e2e tests need PostgreSQL: set DATABASE_URL=postgres://...")
    servers: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        # Static files straight from the finders: no collectstatic into the worktree for a test run.
        # One server serves the whole browser run, every browser from 127.0.0.1 and the same few names (alice,
        # bob…) signing in test after test: sign-in limits meant for one person at one address would refuse
        # the suite, so they are raised here, explicitly (tests/security/test_rate_limits.py holds the real ones).
        server = LiveServer(tmp_path_factory.mktemp("e2e-media"), env={
            "LOUPE_STATIC_FINDERS": "true", "LOUPE_RATE_LOGIN_ADDRESS": "1000/min",
            "LOUPE_RATE_LOGIN_ACCOUNT": "1000/min", **env})
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture(scope="session")
def app_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """The app as `make run` serves it (uvicorn, Redis channel layer when REDIS_URL is set), one per session."""
    return start_server()


@pytest.fixture
def context(browser: Browser, app_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# A committed screenshot is rewritten only when the page looks different: fewer than this share of pixels
# changing by more than a few levels (a lease countdown, antialiasing, palette rounding) is the same picture.
SAME_PICTURE_CHANGED_SHARE = 0.003


def same_picture(old: Path, new_png: bytes) -> bool:
    """Whether `new_png` shows what the committed `old` shows (same size, next to no pixel visibly changed)."""
    if not old.exists():
        return False
    with Image.open(old) as a, Image.open(io.BytesIO(new_png)) as b:
        if a.size != b.size:
            return False
        diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
        changed = sum(diff.point(lambda v: 255 if v > 24 else 0).histogram()[255:])
        return changed / (a.size[0] * a.size[1]) < SAME_PICTURE_CHANGED_SHARE


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """`screenshot(page, "queue-dashboard")` saves docs/screenshots/queue-dashboard.png for the README, only
    when the page looks different from the committed picture (so a test run does not churn the files)."""

    def save(page: Page, name: str) -> Path:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise ValueError(f"screenshot names are kebab-case: {name!r}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        png = page.screenshot(full_page=False)
        if same_picture(path, png):
            return path
        path.write_bytes(png)
        if path.stat().st_size > SCREENSHOT_BUDGET:
            # Photos (scenes, clip frames) make big truecolour PNGs: a 256-colour palette keeps them committable.
            with Image.open(path) as image:
                image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        return path

    return save


@functools.cache
def browser_password(raw: str) -> str:
    """A password hash the server process can check: tests hash with MD5 for speed, the server does not.
    Kept per password: PBKDF2 at Django's iterations costs most of a second, and the same few people (alice,
    bob…) are made in test after test; the server still checks every sign-in at full strength."""
    hasher = PBKDF2PasswordHasher()
    return hasher.encode(raw, hasher.salt())


@pytest.fixture
def make_user() -> Callable[..., User]:
    """`make_user("alice", "pw", is_staff=True)`: a user who can log in through the browser."""

    def make(username: str, password: str, **fields: object) -> User:
        return User.objects.create(username=username, password=browser_password(password), **fields)

    return make
