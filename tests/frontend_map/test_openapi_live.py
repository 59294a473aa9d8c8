"""The committed copy of the demo shop's OpenAPI document is the one the running shop serves, and mapping against
the live URL gives the same verdicts as against the copy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from exporter.frontend_map import build_map, load_openapi
from tests.harness import ShopServer, start_shop

from .conftest import DEMO_OPENAPI, STOREFRONT


@pytest.fixture(scope="module")
def live_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    workdir = tmp_path_factory.mktemp("fmap-shop")
    server = start_shop(workdir, f"sqlite:///{workdir / 'shop.sqlite3'}")
    yield server
    server.stop()


def test_the_committed_copy_is_the_live_document(live_shop: ShopServer) -> None:
    live = requests.get(f"{live_shop.url}/api/schema/?format=json", timeout=10)
    assert live.status_code == 200
    assert live.json() == json.loads(DEMO_OPENAPI.read_text()), (
        "the demo shop's API changed: regenerate tests/frontend_map/testdata/demo_shop_openapi.json with "
        "`python -m demo_shop spectacular --file tests/frontend_map/testdata/demo_shop_openapi.json "
        "--format openapi-json`"
    )


def test_the_live_url_maps_like_the_copy(live_shop: ShopServer, demo_openapi: dict[str, Any]) -> None:
    url = f"{live_shop.url}/api/schema/?format=json"
    live = build_map(STOREFRONT, load_openapi(url), openapi_location=url)
    copy = build_map(STOREFRONT, demo_openapi)
    assert [(c.key, c.status, c.operation) for c in live.calls] == [(c.key, c.status, c.operation) for c in copy.calls]
    assert live.unused_operations == copy.unused_operations
