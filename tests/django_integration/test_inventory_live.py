"""The inventory of the real demo shop under gunicorn: its gauge on /metrics and ``manage.py api_inventory``
report POST api/products/ as writable without authentication while open_write is on, and not otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.harness import ShopServer, start_shop

ANONYMOUS_POST = 'django_api_endpoint_anonymous{method="POST",public="false",route="api/products/"}'


@pytest.fixture(scope="module")
def sqlite_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    workdir = tmp_path_factory.mktemp("inventory-shop")
    server = start_shop(workdir, f"sqlite:///{workdir / 'shop.sqlite3'}")
    yield server
    server.stop()


def scrape(shop: ShopServer) -> dict[str, float]:
    lines = requests.get(f"{shop.url}/metrics", timeout=10).text.splitlines()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines
            if line.startswith("django_api_endpoint")}  # fmt: skip


def test_the_gauge_follows_the_fault(sqlite_shop: ShopServer) -> None:
    assert scrape(sqlite_shop)[ANONYMOUS_POST] == 0
    sqlite_shop.set_faults(open_write=True)
    try:
        metrics = scrape(sqlite_shop)
        assert metrics[ANONYMOUS_POST] == 1
        assert metrics['django_api_endpoint_findings{finding="anonymous_write"}'] == 1
    finally:
        sqlite_shop.set_faults(open_write=False)
    metrics = scrape(sqlite_shop)
    assert metrics[ANONYMOUS_POST] == 0 and metrics['django_api_endpoint_findings{finding="anonymous_write"}'] == 0


@pytest.mark.parametrize(("faults", "expected"), [("", []), ("open_write", [["W101", "POST", "api/products/"]])])
def test_the_command_follows_the_fault(sqlite_shop: ShopServer, faults: str, expected: list[list[str]]) -> None:
    out = sqlite_shop.manage("api_inventory", "--format", "json", env={"DEMO_FAULTS": faults})
    document = json.loads(out)
    found = [[f["check_id"].rsplit(".", 1)[1], f["method"], f["route"]] for f in document["findings"]]
    assert found == expected
    post = next(e for e in document["endpoints"] if (e["method"], e["route"]) == ("POST", "api/products/"))
    assert post["anonymous"] is bool(faults) and post["in_schema"] == "yes"
