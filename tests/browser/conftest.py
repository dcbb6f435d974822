"""A headless system chromium driven by Playwright, and the local runtime its pages come from.

The browser is Debian's `chromium` (never a downloaded one). It is started with every background service
off and a resolver that knows only 127.0.0.1, so it reaches nothing but the local gateway.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, sync_playwright

from etl_aws.reviewers import ReviewConfig, ReviewPolicy
from etl_local.runtime import LocalRuntime

LOOPBACK = "127.0.0.1"
# Quality policies for the datasets the tests upload to on purpose; uploads/ itself has none (a reviewer
# decides, as without policies).
BROWSER_POLICIES = json.dumps(
    {
        "version": "browser-1",
        "datasets": {
            "uploads/watched": {"warn": {"max_reject_rate": 0.1, "reject_reasons": ["bad_date"]}},
            "uploads/steady": {"warn": {"max_reject_rate": 0.9}},
        },
    }
)
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system chromium's path; the browser tests skip (with the reason) when it is not installed."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS))
    yield launched
    launched.close()


@contextmanager
def local_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile that fails the test if a page asks for anything but 127.0.0.1."""
    opened = browser.new_context()
    offsite: list[str] = []
    opened.on("request", lambda request: _note_offsite(request, offsite))
    try:
        yield opened
    finally:
        opened.close()
    assert not offsite, f"pages requested off-machine resources: {offsite}"


def _note_offsite(request: Request, offsite: list[str]) -> None:
    if urlsplit(request.url).hostname != LOOPBACK:
        offsite.append(request.url)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    with local_context(browser) as opened:
        yield opened


@pytest.fixture(scope="module")
def module_context(browser: Browser) -> Iterator[BrowserContext]:
    """A profile shared by a module's fixtures (one page each) that act once for several tests."""
    with local_context(browser) as opened:
        yield opened


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# One dataset with two named reviewers, both of whose approvals publish; every other keeps the shared link.
TEAM_DATASET = "uploads/team"
TEAM_REVIEWERS = ("ana@example.com", "ben@example.com")
REVIEW = ReviewConfig(datasets={TEAM_DATASET: ReviewPolicy(reviewers=TEAM_REVIEWERS, approvals_required=2)})


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(
        root=root, approval_timeout_seconds=600, review_config=REVIEW, dataset_policies=BROWSER_POLICIES
    ) as rt:
        yield rt
