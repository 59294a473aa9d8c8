"""``make demo`` with Node.js: the storefront is built, served on FRONTEND_PORT next to the shop, its URL printed,
and Ctrl-C stops it with the rest."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT
from tests.harness import free_port, wait_until
from tests.harness.storefront import build_storefront


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_serves_the_storefront_on_the_shop(tmp_path: Path) -> None:
    build_storefront()  # skips (locally) or fails (CI) without Node.js 20.9+; the demo then reuses this build
    ports = {name: free_port() for name in ("SHOP_PORT", "EXPORTER_PORT", "FRONTEND_PORT", "PROMETHEUS_PORT",
                                            "ALERTMANAGER_PORT")}  # fmt: skip
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
            env={**os.environ, **{k: str(v) for k, v in ports.items()}, "DEMO_STATE_DIR": str(tmp_path / "state")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            front = f"http://127.0.0.1:{ports['FRONTEND_PORT']}"
            page = wait_until(lambda: requests.get(f"{front}/products", timeout=5), 180, "the demo's storefront")
            assert page.status_code == 200
            assert "Products" in page.text and 'data-testid="product-list"' in page.text
            # The product list is rendered from the shop's API, and the page's ID is the one the shop logged it under.
            assert re.fullmatch(r"[0-9a-f]{32}", page.headers["X-Request-ID"])
            assert f'content="http://127.0.0.1:{ports["SHOP_PORT"]}"' in page.text  # where the browser calls the API
            # The shop trusts the storefront's origin (CORS for the API, and for its beacons).
            preflight = requests.options(
                f"http://127.0.0.1:{ports['SHOP_PORT']}/api/cart/",
                headers={"Origin": front, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type,x-request-id,traceparent"},
                timeout=5,
            )  # fmt: skip
            assert preflight.headers.get("Access-Control-Allow-Origin") == front
            assert f"{front}/" in log_path.read_text()
            os.killpg(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=30) in (0, 130, -signal.SIGINT)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    for name, port in ports.items():
        assert not listening(port), f"{name} {port} still listening after Ctrl-C"
