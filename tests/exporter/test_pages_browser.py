"""The pages in a real browser: Debian's Chromium (``/usr/bin/chromium``) driven by Playwright for Python against
the real exporter server. The landing page shows a new run without a reload, its filters work, a failed run's
page opens on the failed step (reached from the landing page in one click), the failures page groups them, the
replay button (with --web.enable-replay) creates a linked run, and the contracts pages are in the navigation: plain
about having nothing to show, and a failing check's example still there after a restart.

Screenshots go to each test's temp dir; ``UPDATE_DOCS_IMAGES=1`` also copies one of each page to docs/images/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from synthetic.steps.browser import CHROMIUM_ARGS
from tests.conftest import REPO_ROOT
from tests.contracts.test_exporter import api, config_text  # noqa: F401 - the fixture
from tests.exporter.test_api import Served, serving, shop_config
from tests.exporter.test_store import make_run
from tests.harness import require_binary, wait_until
from tests.harness.processes import in_ci

try:
    from playwright.sync_api import BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if in_ci():
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)

DOCS_IMAGES = REPO_ROOT / "docs" / "images"
DOCS_PAGES = ("landing", "run", "failures")  # one picture of each page in the docs


@pytest.fixture
def serve_app(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    with serving(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh user-data dir, for the module."""
    chromium = require_binary("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": 1360, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    tab = browser.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    tab.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_DOCS_IMAGES") == "1" and name in DOCS_PAGES:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMAGES / path.name)
    return path


def history(served: Served) -> None:
    """A day of runs, as a landing page usually has them: scheduled and probe runs, some failed."""
    now = served.exporter.store.clock()
    for index in range(36):
        failed = "pay" if index % 9 == 4 else "login" if index == 30 else None
        workflow, target = (("checkout", "shop"), ("checkout", "other"), ("login", "shop"))[index % 3]
        run_id = hashlib.md5(f"past-{index}".encode()).hexdigest()  # 32 hex digits, like a correlation ID
        run = make_run(run_id, workflow=workflow, target=target,
                       started_at=now - (36 - index) * 1500, duration=0.2 + (index % 7) * 0.05,
                       failed=failed if workflow == "checkout" else None,
                       reason="timeout" if failed == "login" else "http_status")  # fmt: skip
        served.exporter.store.add(run, source="probe" if index % 4 == 0 else "scheduled")
    served.exporter.store.flush()


def newest(served: Served, **params: Any) -> dict[str, Any]:
    return requests.get(f"{served.url}/api/v1/runs", params={"limit": 1, **params}, timeout=5).json()["data"]["runs"][0]


def test_the_landing_page_shows_a_new_run_without_a_reload(serve_app, target, page: Page, tmp_path: Path) -> None:
    served = serve_app(shop_config(target.url))
    history(served)
    page.goto(f"{served.url}/")
    assert page.locator("#pairs tr[data-workflow]").count() == 3, "one row per workflow x target"
    page.wait_for_selector("#live.on")  # the stream is open
    page.evaluate("window.loadedOnce = true")
    before = page.locator("#runs tr").count()

    probe = requests.get(f"{served.url}/probe", params={"target": "other", "workflow": "checkout"}, timeout=10)
    assert "probe_success 1.0" in probe.text
    run = newest(served)
    row = page.locator(f"#run-{run['id']}")
    row.wait_for(timeout=5000)  # a few seconds at most; it comes in over the stream
    assert page.evaluate("window.loadedOnce") is True, "no reload happened"
    assert page.locator("#runs tr").first.get_attribute("id") == f"run-{run['id']}"
    assert row.locator(".badge.probe").inner_text() == "probe"
    assert page.locator("#runs tr").count() == min(before + 1, 50)
    pair = page.locator('#pairs tr[data-workflow="checkout"][data-target="other"]')
    assert pair.locator("td.when").inner_text() == "just now"
    screenshot(page, tmp_path, "landing")


def test_filtering_the_runs_works_with_and_without_the_stream(serve_app, target, page: Page, tmp_path: Path) -> None:
    served = serve_app(shop_config(target.url, pay="/fail"))
    history(served)
    page.goto(f"{served.url}/")
    page.select_option("select[name=result]", "failure")
    page.select_option("select[name=workflow]", "checkout")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/?workflow=checkout*result=failure*")
    results = page.locator("#runs tr td:nth-child(5)").all_inner_texts()
    assert results and set(results) == {"failure"}
    assert set(page.locator("#runs tr td:nth-child(2)").all_inner_texts()) == {"checkout"}
    page.wait_for_selector("#live.on")

    requests.get(f"{served.url}/probe", params={"target": "shop", "workflow": "login"}, timeout=10)  # succeeds
    requests.get(f"{served.url}/probe", params={"target": "shop", "workflow": "checkout"}, timeout=10)  # fails
    failed = newest(served, result="failure")
    page.locator(f"#run-{failed['id']}").wait_for(timeout=5000)
    success = newest(served, workflow="login")
    assert page.locator(f"#run-{success['id']}").count() == 0, "the stream is filtered like the list"
    screenshot(page, tmp_path, "landing-filtered")


def test_a_failed_run_opens_on_the_failed_step_one_click_from_the_landing_page(
    serve_app, target, page: Page, tmp_path: Path
) -> None:
    served = serve_app(shop_config(target.url, pay="/fail"))
    history(served)
    requests.get(f"{served.url}/probe", params={"target": "shop", "workflow": "checkout"}, timeout=10)
    run = newest(served)
    page.goto(f"{served.url}/")
    page.locator('#pairs tr[data-workflow="checkout"][data-target="shop"] td.status a', has_text="pay").click()
    page.wait_for_url(f"**/runs/{run['id']}#step-pay")
    failed = page.locator("details#step-pay")
    assert failed.get_attribute("open") is not None, "the failed step is open"
    for name in ("login", "logout"):
        assert page.locator(f"details#step-{name}").get_attribute("open") is None, f"{name} is collapsed"
    assert failed.locator("text=Response").is_visible()
    assert '"ok": false' in failed.locator("pre").nth(1).inner_text(), "the JSON body, pretty-printed"
    summary = page.locator("#summary")
    assert "Failed at step pay" in summary.inner_text() and "http_status" in summary.inner_text()
    assert "First failing assertion: status" in page.locator("#first-assertion").inner_text()
    assert (page.locator("#advice a").get_attribute("href") or "").endswith("api.md#journeyapierrorratiohigh")
    assert page.locator(".bar span").count() >= 2, "the waterfall: the login and pay bars"
    assert "workflow-exporter replay " + run["id"] in page.locator("#replay-command").inner_text()
    screenshot(page, tmp_path, "run")


def test_the_failures_page_groups_failures(serve_app, target, page: Page, tmp_path: Path) -> None:
    served = serve_app(shop_config(target.url, pay="/fail"))
    history(served)
    for _ in range(2):
        requests.get(f"{served.url}/probe", params={"target": "shop", "workflow": "checkout"}, timeout=10)
    page.goto(f"{served.url}/failures")
    rows = page.locator("#groups tr:has(td)")
    assert rows.count() == 3  # the history's two groups and the probes' one
    first = rows.first.locator("td").all_inner_texts()
    assert first[:4] == ["checkout", "other", "pay", "http_status"] and first[5] == "4"
    assert "expected status <n>, got <n>" in first[4] and "Runbook" in first[4]
    assert rows.first.locator("svg.hourly rect").count() == 4, "one bar per hour with failures"
    screenshot(page, tmp_path, "failures")
    page.select_option("select[name=window]", "1h")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/failures?window=1h*")
    (row,) = page.locator("#groups tr:has(td)").all()
    assert row.locator("td").all_inner_texts()[:6][::5] == ["checkout", "2"]
    row.locator("td:last-child a").first.click()
    page.wait_for_url("**/runs/*#step-pay")
    assert page.locator("details#step-pay").get_attribute("open") is not None


def test_the_replay_button_creates_a_linked_run(serve_app, target, page: Page, tmp_path: Path) -> None:
    served = serve_app(shop_config(target.url, pay="/fail"), enable_replay=True)
    requests.get(f"{served.url}/probe", params={"target": "shop", "workflow": "checkout"}, timeout=10)
    original = newest(served)
    page.goto(f"{served.url}/runs/{original['id']}")
    page.click("#replay")
    page.wait_for_url(lambda url: "/runs/" in url and original["id"] not in url)
    replay_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#replay-of").get_attribute("href") == f"/runs/{original['id']}"
    assert page.locator(".badge.replay").count() >= 1
    stored = requests.get(f"{served.url}/api/v1/runs/{replay_id}", timeout=5).json()["data"]
    assert (stored["source"], stored["replay_of"], stored["workflow"]) == ("replay", original["id"], "checkout")
    screenshot(page, tmp_path, "replayed")

    page.goto(f"{served.url}/runs/{original['id']}")
    assert replay_id[:12] in page.locator("#summary").inner_text(), "the original links its replays"
    page.click("#replay-step")
    wait_until(lambda: "/runs/" in page.url and original["id"] not in page.url and replay_id not in page.url, 10,
               "the step's replay page")  # fmt: skip
    step_replay = requests.get(f"{served.url}/api/v1/runs/{page.url.rsplit('/', 1)[1]}", timeout=5).json()["data"]
    assert [s["name"] for s in step_replay["steps"]] == ["pay"] and step_replay["replay_of"] == original["id"]


def test_the_contracts_page_is_in_the_navigation_and_says_when_nothing_is_configured(
    serve_app, target, page: Page, tmp_path: Path
) -> None:
    served = serve_app(shop_config(target.url))
    for start in ("/", "/failures"):
        page.goto(f"{served.url}{start}")
        page.locator("nav a", has_text="contracts").click()
        page.wait_for_url(f"{served.url}/contracts")
    assert page.title().startswith("Contracts")
    plain = page.locator("#no-contracts")
    assert plain.is_visible()
    assert plain.inner_text().startswith("No contract checks are configured: no target in this exporter's config has")
    assert page.locator("h2").count() == 0
    screenshot(page, tmp_path, "contracts-none")


def test_a_failing_checks_example_is_on_its_page_after_a_restart(
    serve_app,
    api,  # noqa: F811
    page: Page,
    tmp_path: Path,
) -> None:
    server, state = api
    state["drift"] = True  # GET /items/1 answers an id as a string: response_schema_conformance fails
    first = serve_app(config_text(server.url), storage_path=tmp_path / "data")
    swept = first.exporter.contracts.sweep("api")
    assert swept is not None and [(r.operation, r.check) for r in swept.failures] == [
        ("GET /items/{id}", "response_schema_conformance")]  # fmt: skip
    first.stop()

    second = serve_app(config_text(server.url), storage_path=tmp_path / "data")  # not scheduled: no new sweep
    page.goto(f"{second.url}/")
    page.locator("nav a", has_text="contracts").click()
    page.wait_for_url(f"{second.url}/contracts")
    assert "response_schema_conformance" in page.locator("table.failing").inner_text()
    page.locator("h2 a", has_text="api").click()
    page.wait_for_url(f"{second.url}/contracts/api")
    assert "read back from the run store" in page.locator("p.restored").inner_text()
    row = page.locator("table.failing tr#api-1")
    assert row.locator("td").nth(1).inner_text() == "response_schema_conformance"
    assert row.locator("details.example").get_attribute("open") is not None, "the example is open"
    assert page.locator("#history tr.current a").inner_text() == swept.correlation_id
    screenshot(page, tmp_path, "contracts")

    row.locator("a.permalink").click()
    page.wait_for_url(f"{second.url}/contracts/api/sweeps/{swept.correlation_id}#api-1")
    example = page.locator("tr#api-1 details.example")
    assert example.is_visible() and example.get_attribute("open") is not None
    assert example.locator(".schema-error").inner_text() == "id: '1' is not of type 'integer'"
    text = example.inner_text()
    assert f"GET {server.url}/items/1" in text and "status\n200" in text
    screenshot(page, tmp_path, "contract-sweep")
