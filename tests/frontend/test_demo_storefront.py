"""``make demo`` with Node.js: the storefront is built, served on FRONTEND_PORT next to the shop, its URL printed,
and Ctrl-C stops it with the rest. With Playwright and Chromium (what ``make demo`` installs) the exporter runs the
storefront's browser journey on its schedule, and a purchase in a real browser has its ID on the demo exporter's
trace page: the shop's request line for the checkout, the statements it ran counted (the demo's SQLite keeps no
statement history; the SQL comment is seen with MySQL/MariaDB's performance_schema as a trace source)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.conftest import REPO_ROOT
from tests.harness import free_port, wait_until
from tests.harness.storefront import build_storefront

BUYER = "demo-buyer"  # not a journey's user: the journeys' checkouts take their user's whole cart
PASSWORD = "demo-buyer-password"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def journey_runs(exporter: str) -> float:
    """The storefront journey's runs so far, whatever their result, on the exporter's /metrics."""
    text = requests.get(f"{exporter}/metrics", timeout=5).text
    pattern = r'^workflow_runs_total\{result="\w+",target="storefront",workflow="storefront-buy"\} (\S+)'
    return sum(float(count) for count in re.findall(pattern, text, re.M))


def buy_product_3(page: Any, front: str) -> Any:
    """Sign in as BUYER, add product 3 to the cart, place the order; the checkout's response as the browser saw it."""
    page.goto(f"{front}/login")
    page.fill("#username", BUYER)
    page.fill("#password", PASSWORD)
    page.click("[data-testid=sign-in]")
    page.wait_for_url(re.compile(r"/products$"))
    page.goto(f"{front}/products/3")
    page.click("[data-testid=add-to-cart]")
    page.wait_for_selector("[data-testid=added]")
    page.goto(f"{front}/checkout")
    with page.expect_response(lambda r: r.url.endswith("/api/checkout/") and r.request.method == "POST") as answer:
        page.click("[data-testid=place-order]:not([disabled])")
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    return answer.value


def test_demo_serves_the_storefront_on_the_shop(tmp_path: Path, page: Any) -> None:
    build_storefront()  # skips (locally) or fails (CI) without Node.js 20.9+; the demo then reuses this build
    ports = {name: free_port() for name in ("SHOP_PORT", "EXPORTER_PORT", "FRONTEND_PORT", "PROMETHEUS_PORT",
                                            "ALERTMANAGER_PORT")}  # fmt: skip
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
            env={
                **os.environ,
                **{k: str(v) for k, v in ports.items()},
                "DEMO_STATE_DIR": str(tmp_path / "state"),
                "DEMO_PROBE_PASSWORD": PASSWORD,
                "DEMO_DATABASE": "sqlite",  # the storefront is the subject; the buyer is seeded into this file below
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            front = f"http://127.0.0.1:{ports['FRONTEND_PORT']}"
            listed = wait_until(lambda: requests.get(f"{front}/products", timeout=5), 180, "the demo's storefront")
            assert listed.status_code == 200
            assert "Products" in listed.text and 'data-testid="product-list"' in listed.text
            # The product list is rendered from the shop's API, and the page's ID is the one the shop logged it under.
            assert re.fullmatch(r"[0-9a-f]{32}", listed.headers["X-Request-ID"])
            assert f'content="http://127.0.0.1:{ports["SHOP_PORT"]}"' in listed.text  # where the browser calls the API
            # The shop trusts the storefront's origin (CORS for the API, and for its beacons).
            preflight = requests.options(
                f"http://127.0.0.1:{ports['SHOP_PORT']}/api/cart/",
                headers={"Origin": front, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type,x-request-id,traceparent"},
                timeout=5,
            )  # fmt: skip
            assert preflight.headers.get("Access-Control-Allow-Origin") == front
            assert f"{front}/" in log_path.read_text()
            assert "no browser journey" not in log_path.read_text()  # Playwright and Chromium are here

            # The exporter runs the storefront's browser journey on its schedule (its first run comes at the start).
            exporter = f"http://127.0.0.1:{ports['EXPORTER_PORT']}"
            wait_until(lambda: journey_runs(exporter) >= 1, 60, "a scheduled run of storefront-buy")

            # A purchase in a real browser, as a user of its own.
            subprocess.run(
                [sys.executable, "-m", "demo_shop", "seed_shop", "--username", BUYER],
                env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'shop.sqlite3'}",
                     "DEMO_PROBE_PASSWORD": PASSWORD},
                cwd=REPO_ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            placed = buy_product_3(page, front)
            bought = placed.headers["x-request-id"]
            assert placed.status == 201 and re.fullmatch(r"[0-9a-f]{32}", bought)
            assert placed.request.headers["x-request-id"] == bought  # the ID the page sent is the one answered
            # Its trace page on the demo exporter: the shop's request line for the checkout, from the shop's log.
            trace_url = f"{exporter}/trace/{bought}"
            wait_until(lambda: requests.get(trace_url, timeout=10).status_code == 200, 15, "the purchase's trace")
            page.goto(trace_url)
            (row,) = page.locator("tr", has_text="route=api/checkout/").all_inner_texts()
            assert "POST api/checkout/ 201" in row and "status=201" in row and "shop.log" in row, row
            queries = re.search(r"db_queries=(\d+)", row)
            assert queries and int(queries.group(1)) >= 3, row  # the order's statements ran under this ID
            assert re.search(r"Sources: .*log files \([1-9]\d*\)", page.inner_text("body"))
            os.killpg(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=30) in (0, 130, -signal.SIGINT)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGINT)  # honcho stops what it started (SIGKILL would orphan them)
                try:
                    demo.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(demo.pid, signal.SIGKILL)
                    demo.wait()
    for name, port in ports.items():
        assert not listening(port), f"{name} {port} still listening after Ctrl-C"
