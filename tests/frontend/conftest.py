"""A real browser on the demo storefront on the demo shop: the stack (shop under gunicorn, storefront under
``next start`` on another port, so every API call is cross-origin) and a Chromium page driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from synthetic.steps import browser as browser_steps
from tests.conftest import database_url
from tests.harness import ShopServer, free_port, require_binary, start_shop, wait_until
from tests.harness.shop import PROBE_PASSWORD
from tests.harness.storefront import StorefrontServer, build_storefront, start_storefront

BROWSER_USER = "probe-browser"
SLOW_SECONDS = 2.5  # slow_products' query and slow_bundle's main-thread block


@dataclass
class Stack:
    shop: ShopServer
    storefront: StorefrontServer
    backend: str

    def metric(self, metric: str, **labels: str) -> float:
        """A sample of the shop's /metrics (0 when absent)."""
        text = requests.get(f"{self.shop.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if not line.startswith(metric + "{") and not line.startswith(metric + " "):
                continue
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.split("}")[-1].split()[0] if "{" in line else line.split()[1])
        return 0.0

    def series(self, name: str) -> list[dict[str, str]]:
        text = requests.get(f"{self.shop.url}/metrics", timeout=10).text
        return [dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0]))
                for line in text.splitlines() if line.startswith(name + "{")]  # fmt: skip

    def log_lines(self, correlation_id: str, **fields: Any) -> list[dict[str, Any]]:
        return [line for line in self.shop.lines_of(correlation_id)
                if all(line.get(key) == value for key, value in fields.items())]  # fmt: skip


def chromium() -> str:
    path = browser_steps.chromium_path()
    return path or require_binary("chromium")


def start_stack(request: pytest.FixtureRequest, backend: str, workdir: Path) -> Iterator[Stack]:
    build_storefront()  # Node.js 20.9+: skip locally, fail under CI=true
    chromium()
    port = free_port()
    # The slow faults well past the journey's 1 s budget for the product list, whatever else the machine does.
    env = {"CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}", "DEMO_SLOW_SECONDS": str(SLOW_SECONDS)}
    shop = start_shop(workdir / "shop", database_url(request, backend, workdir), env)
    try:
        shop.add_user(BROWSER_USER, PROBE_PASSWORD)
        storefront = start_storefront(workdir / "storefront", shop.url, port=port,
                                      STOREFRONT_SLOW_MS=str(int(SLOW_SECONDS * 1000)))  # fmt: skip
    except BaseException:
        shop.stop()
        raise
    try:
        yield Stack(shop=shop, storefront=storefront, backend=backend)
    finally:
        storefront.stop()
        shop.stop()


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One Chromium for the module (a fresh context per test)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium(), args=list(browser_steps.CHROMIUM_ARGS))
        yield instance
        instance.close()


@pytest.fixture
def page(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors  # what the page threw, for tests that expect it
    yield page
    context.close()


def sign_in(page: Any, stack: Stack, user: str = BROWSER_USER) -> None:
    page.goto(f"{stack.storefront.url}/login")
    page.fill("#username", user)
    page.fill("#password", PROBE_PASSWORD)
    page.click("[data-testid=sign-in]")
    page.wait_for_url(re.compile(r"/products$"))


def leave(page: Any) -> None:
    """Leave the page (pagehide: the monitoring sends what it holds with sendBeacon)."""
    page.goto("about:blank")


def wait_for_log(stack: Stack, correlation_id: str, what: str, **fields: Any) -> list[dict[str, Any]]:
    return wait_until(lambda: stack.log_lines(correlation_id, **fields), 15, what)
