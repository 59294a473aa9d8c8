"""The demo storefront (demo_shop/storefront, Next.js 16) against the demo shop's OpenAPI document: every page's
calls have a backend operation, with the right method, and none is left unresolved. django_integration's own
endpoints (/healthz, /readyz), which the shop serves outside its OpenAPI document, are declared as the README
shows with --operation."""

from __future__ import annotations

from typing import Any

from exporter.frontend_map import build_map, parse_operation
from tests.conftest import REPO_ROOT

STOREFRONT = REPO_ROOT / "demo_shop" / "storefront"
INTEGRATION = [parse_operation("GET /healthz"), parse_operation("GET /readyz")]


def test_the_demo_storefront_has_no_unmatched_call(demo_openapi: dict[str, Any]) -> None:
    result = build_map(STOREFRONT, demo_openapi, extra_operations=INTEGRATION)
    counts = result.counts()
    assert counts["matched"] > 0
    not_matched = [c.to_json() for c in result.calls if c.status != "matched"]
    assert {status: counts[status] for status in ("unmatched", "method", "unresolved")} == {
        "unmatched": 0, "method": 0, "unresolved": 0}, not_matched  # fmt: skip
    assert [str(p) for p in result.problems] == []
    pages = {route.route for route in result.routes if route.kind == "page"}
    assert {"/", "/cart", "/checkout", "/login", "/orders", "/products", "/products/[id]"} <= pages
    called = {route.route for route in result.routes if route.calls}
    assert {"/cart", "/checkout", "/login", "/orders", "/products", "/products/[id]"} <= called
