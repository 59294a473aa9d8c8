from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.frontend_map import load_openapi

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
STOREFRONT = FIXTURES / "storefront"
DEMO_OPENAPI = HERE / "testdata" / "demo_shop_openapi.json"


@pytest.fixture(scope="session")
def demo_openapi() -> dict[str, Any]:
    """The demo shop's OpenAPI document as drf-spectacular writes it (test_openapi_copy proves it is current)."""
    return load_openapi(str(DEMO_OPENAPI))
