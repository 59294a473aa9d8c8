"""The storefront fixture, mapped against the demo shop's real OpenAPI document: every route, every call with its
method, path template, place, wrapper chain, module chain and verdict, written out by hand from the fixture's source.

The fixture (``fixtures/storefront``) is a Next.js app with both routers in ``src/``: route groups, dynamic,
catch-all and optional catch-all segments, a parallel ``@stats`` slot and an ``@modal`` slot with an intercepting
``(.)login`` route, a private ``_components`` folder holding a ``page.tsx``, an axios instance whose ``baseURL`` is
``process.env.NEXT_PUBLIC_API_URL`` with a default, a typed client wrapper (``api.get<T>(path)``), React Query and
SWR hooks in separate files behind the ``@/`` alias and a barrel ``index.ts``, server actions, a route handler
proxying to Django, a ``/api/:path*`` rewrite, a template path with two parameters, and a URL built at run time.
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.frontend_map import FrontendMap, build_map

from .conftest import STOREFRONT

REWRITE = "rewritten by /api/:path* -> http://127.0.0.1:8000/api/:path*/"
DJANGO_ENV = "base URL from process.env.DJANGO_URL"
# the axios instance's baseURL: process.env.NEXT_PUBLIC_API_URL ?? 'http://127.0.0.1:8000/api', the variable unset
API_DEFAULT = "base URL from the default of process.env.NEXT_PUBLIC_API_URL"
SEARCH_REASON = (
    "the URL is `url` (`url` is assigned again in src/components/Search.tsx: its value is known only at run time)"
)


def slash(path: str) -> str:
    return f"Next.js redirects {path} to {path.rstrip('/')} first (trailingSlash: false)"


# (method, path, "file:line", status, operation or reason, via, module chain, notes)
ROOT_LAYOUT = ("src/app/layout.tsx", "src/components/Header.tsx")
CART_HOOKS = (*ROOT_LAYOUT, "src/hooks/index.ts", "src/hooks/useCart.ts")
# The root layout's Header uses useCart (not useAddToCart, in the same file): what a route uses is what counts.
LAYOUT_CALLS = {
    ("POST", "/api/auth/logout/", "src/components/Header.tsx:9", "matched", "POST /api/auth/logout/", (),
     ROOT_LAYOUT, (slash("/api/auth/logout/"), REWRITE)),
    ("GET", "/api/cart/", "src/hooks/useCart.ts:7", "matched", "GET /api/cart/", ("src/lib/fetcher.ts:3",),
     CART_HOOKS, ("through an SWR fetcher", slash("/api/cart/"), REWRITE)),
}  # fmt: skip


def hook(name: str, entry: tuple[str, ...]) -> set[tuple[Any, ...]]:
    """The call of one hook (src/hooks/<file>.ts), as a route that uses it through the barrel reaches it."""
    calls = {
        "useProducts": ("GET", "/api/products/", "src/hooks/useProducts.ts:8", "matched", "GET /api/products/",
                        ("src/lib/api.ts:5",), (API_DEFAULT,)),
        "useProduct": ("GET", "/api/products/{id}/", "src/hooks/useProducts.ts:13", "matched",
                       "GET /api/products/{id}/", ("src/lib/api.ts:5",), (API_DEFAULT,)),
        "useOrders": ("GET", "/api/orders/", "src/hooks/useOrders.ts:5", "matched", "GET /api/orders/",
                      ("src/lib/api.ts:5",), (API_DEFAULT,)),
        "useOrder": ("GET", "/api/orders/{id}/", "src/hooks/useOrders.ts:9", "matched", "GET /api/orders/{id}/",
                     ("src/hooks/useOrders.ts:11",), (slash("/api/orders/{id}/"), REWRITE)),
        "useAddToCart": ("POST", "/api/cart/items/", "src/hooks/useCart.ts:11", "matched", "POST /api/cart/items/",
                         ("src/lib/fetcher.ts:6",), ("through an SWR fetcher", slash("/api/cart/items/"), REWRITE)),
    }  # fmt: skip
    method, path, where, status, verdict, via, notes = calls[name]
    module = where.split(":")[0]
    return {(method, path, where, status, verdict, via, (*entry, "src/hooks/index.ts", module), notes)}


def action(name: str, entry: str) -> set[tuple[Any, ...]]:
    chain = (entry, "src/app/actions.ts")
    return {
        "checkout": {("POST", "/api/checkout/", "src/app/actions.ts:8", "matched", "POST /api/checkout/", (), chain,
                      (DJANGO_ENV,))},
        "cancelOrder": {("DELETE", "/api/orders/{id}/", "src/app/actions.ts:14", "matched", "DELETE /api/orders/{id}/",
                         (), chain, (DJANGO_ENV,))},
    }[name]  # fmt: skip


ACCOUNT_LAYOUT = {
    ("GET", "/api/session", "src/app/(account)/layout.tsx:7", "external", "another origin (http://localhost:3000)", (),
     ("src/app/(account)/layout.tsx",), ()),
}  # fmt: skip


def login_form(entry: str) -> set[tuple[Any, ...]]:
    return {
        ("POST", "/api/session", "src/components/LoginForm.tsx:5", "matched", "next POST /api/session", (),
         (entry, "src/components/LoginForm.tsx"), ()),
    }  # fmt: skip


HOME = "src/app/(shop)/page.tsx"
PRODUCT = "src/app/(shop)/products/[id]/page.tsx"
CART = "src/app/(shop)/cart/page.tsx"
ORDERS = "src/app/(account)/orders/page.tsx"
ORDER = "src/app/(account)/orders/[id]/page.tsx"
MODAL_LOGIN = "src/app/@modal/(.)login/page.tsx"

# route, kind, router, file, files, extra fields, calls
EXPECTED: list[tuple[str, str, str, str, tuple[str, ...], dict[str, Any], set[tuple[Any, ...]]]] = [
    ("/", "page", "app", HOME, ("src/app/layout.tsx", HOME), {},
     LAYOUT_CALLS | hook("useProducts", (HOME, "src/components/ProductGrid.tsx"))),
    ("/api/session", "route-handler", "app", "src/app/api/session/route.ts", ("src/app/api/session/route.ts",),
     {"methods": ["GET", "POST"]}, {
        ("GET", "/api/auth/me/", "src/app/api/session/route.ts:7", "matched", "GET /api/auth/me/", (),
         ("src/app/api/session/route.ts",), (DJANGO_ENV,)),
        ("POST", "/api/auth/login/", "src/app/api/session/route.ts:12", "matched", "POST /api/auth/login/", (),
         ("src/app/api/session/route.ts",), (DJANGO_ENV,)),
     }),
    ("/cart", "page", "app", CART, ("src/app/layout.tsx", CART), {}, LAYOUT_CALLS | {
        ("PUT", "/api/cart/items/{itemId}/", "src/components/CartView.tsx:10", "method",
         "/api/cart/items/{item_id}/ allows DELETE, PATCH, not PUT", ("src/lib/api.ts:7",),
         (CART, "src/components/CartView.tsx"), (API_DEFAULT,)),
        ("DELETE", "/api/cart/items/{itemId}/", "src/components/CartView.tsx:11", "matched",
         "DELETE /api/cart/items/{item_id}/", ("src/lib/api.ts:8",), (CART, "src/components/CartView.tsx"),
         (API_DEFAULT,)),
    }),
    ("/checkout", "page", "app", "src/app/(shop)/checkout/page.tsx",
     ("src/app/layout.tsx", "src/app/(shop)/checkout/page.tsx"), {},
     LAYOUT_CALLS | action("checkout", "src/app/(shop)/checkout/page.tsx")),
    # the @stats slot's page renders with /dashboard; the dashboard's private _components/page.tsx is no route
    ("/dashboard", "page", "app", "src/app/dashboard/page.tsx",
     ("src/app/layout.tsx", "src/app/dashboard/layout.tsx", "src/app/dashboard/page.tsx",
      "src/app/dashboard/@stats/page.tsx"), {},
     LAYOUT_CALLS | hook("useOrders", ("src/app/dashboard/@stats/page.tsx",))),
    ("/docs/[...slug]", "page", "app", "src/app/docs/[...slug]/page.tsx",
     ("src/app/layout.tsx", "src/app/docs/[...slug]/page.tsx"), {}, LAYOUT_CALLS),
    ("/login", "page", "app", "src/app/login/page.tsx", ("src/app/layout.tsx", "src/app/login/page.tsx"), {},
     LAYOUT_CALLS | login_form("src/app/login/page.tsx")),
    # (.)login in the @modal slot: /login shown over the page it was followed from, at the root
    ("/login", "page", "app", MODAL_LOGIN, ("src/app/layout.tsx", MODAL_LOGIN), {"slot": "modal", "intercepts": "/"},
     LAYOUT_CALLS | login_form(MODAL_LOGIN)),
    ("/orders", "page", "app", ORDERS, ("src/app/layout.tsx", "src/app/(account)/layout.tsx", ORDERS), {},
     LAYOUT_CALLS | ACCOUNT_LAYOUT | hook("useOrders", (ORDERS,))),
    ("/orders/[id]", "page", "app", ORDER, ("src/app/layout.tsx", "src/app/(account)/layout.tsx", ORDER), {},
     LAYOUT_CALLS | ACCOUNT_LAYOUT | hook("useOrder", (ORDER,)) | action("cancelOrder", ORDER) | {
        ("GET", "/api/orders/{orderId}/lines/{lineId}/", "src/components/OrderLine.tsx:10", "unmatched",
         "no backend operation at /api/orders/{orderId}/lines/{lineId}/", ("src/lib/api.ts:5",),
         (ORDER, "src/components/OrderLine.tsx"), (API_DEFAULT,)),
     }),
    ("/products/[id]", "page", "app", PRODUCT, ("src/app/layout.tsx", PRODUCT), {},
     LAYOUT_CALLS | hook("useProduct", (PRODUCT, "src/components/ProductDetail.tsx"))
     | hook("useAddToCart", (PRODUCT, "src/components/ProductDetail.tsx", "src/components/AddToCartButton.tsx")) | {
        ("GET", "/api/products/{id}/", f"{PRODUCT}:8", "matched", "GET /api/products/{id}/", (), (PRODUCT,),
         (DJANGO_ENV,)),
     }),
    ("/shop/[[...filters]]", "page", "app", "src/app/shop/[[...filters]]/page.tsx",
     ("src/app/layout.tsx", "src/app/shop/[[...filters]]/page.tsx"), {}, LAYOUT_CALLS | {
        ("GET", None, "src/components/Search.tsx:12", "unresolved", SEARCH_REASON,
         (), ("src/app/shop/[[...filters]]/page.tsx", "src/components/Search.tsx"), ()),
     }),
    # the pages router: _app wraps every page, _document and _error are no routes, pages/api is any method
    ("/about", "page", "pages", "src/pages/about.tsx", ("src/pages/_app.tsx", "src/pages/about.tsx"), {}, set()),
    ("/api/health", "api", "pages", "src/pages/api/health.ts", ("src/pages/api/health.ts",), {}, {
        ("GET", "/api/auth/csrf/", "src/pages/api/health.ts:4", "matched", "GET /api/auth/csrf/", (),
         ("src/pages/api/health.ts",), (DJANGO_ENV,)),
    }),
    ("/help/[[...topic]]", "page", "pages", "src/pages/help/[[...topic]].tsx",
     ("src/pages/_app.tsx", "src/pages/help/[[...topic]].tsx"), {}, set()),
    ("/legacy/orders/[id]", "page", "pages", "src/pages/legacy/orders/[id].tsx",
     ("src/pages/_app.tsx", "src/pages/legacy/orders/[id].tsx"), {}, {
        ("GET", "/api/orders/{id}/", "src/pages/legacy/orders/[id].tsx:6", "matched", "GET /api/orders/{id}/", (),
         ("src/pages/legacy/orders/[id].tsx",), (DJANGO_ENV,)),
     }),
]  # fmt: skip


def _calls(route: dict[str, Any]) -> set[tuple[Any, ...]]:
    found = set()
    for call in route["calls"]:
        verdict = call["operation"] if call["status"] == "matched" else call["reason"]
        found.add((call["method"], call["path"], f"{call['file']}:{call['line']}", call["status"], verdict,
                   tuple(call["via"]), tuple(call["chain"]), tuple(call.get("notes", ()))))  # fmt: skip
    return found


@pytest.fixture(scope="module")
def storefront(demo_openapi: dict[str, Any]) -> FrontendMap:
    return build_map(STOREFRONT, demo_openapi, openapi_location="demo_shop_openapi.json")


def test_routes_are_listed_as_written(storefront: FrontendMap) -> None:
    got = [(r.route, r.kind, r.router, r.file) for r in storefront.routes]
    assert got == [(route, kind, router, file) for route, kind, router, file, *_ in EXPECTED]


@pytest.mark.parametrize("expected", EXPECTED, ids=[f"{row[0]} {row[3]}" for row in EXPECTED])
def test_route_files_and_calls(storefront: FrontendMap, expected: tuple[Any, ...]) -> None:
    route, _, _, file, files, extra, calls = expected
    found = next(r.to_json() for r in storefront.routes if r.route == route and r.file == file)
    assert found["files"] == list(files)
    for key, value in extra.items():
        assert found[key] == value
    assert "problems" not in found
    got = _calls(found)
    assert got - calls == set(), "calls not in the hand-written map"
    assert calls - got == set(), "calls the map misses"


def test_disagreements_and_unused_operations(storefront: FrontendMap) -> None:
    data = storefront.to_json()
    assert [(c["method"], c["path"], c["file"]) for c in data["unmatched"]] == [
        ("GET", "/api/orders/{orderId}/lines/{lineId}/", "src/components/OrderLine.tsx"),
    ]
    assert [(c["method"], c["path"], c["reason"]) for c in data["method_mismatches"]] == [
        ("PUT", "/api/cart/items/{itemId}/", "/api/cart/items/{item_id}/ allows DELETE, PATCH, not PUT"),
    ]
    assert [(c["file"], c["line"], c["reason"]) for c in data["unresolved"]] == [
        ("src/components/Search.tsx", 12, SEARCH_REASON),
    ]  # fmt: skip
    assert data["unused_operations"] == [
        "POST /api/auth/token/", "POST /api/auth/token/refresh/", "PATCH /api/cart/items/{item_id}/",
        "POST /api/products/",
    ]  # fmt: skip
    assert data["summary"]["calls"] == {"matched": 16, "unmatched": 1, "method": 1, "unresolved": 1}
    assert data["summary"]["external"] == 1
    assert data["rewrites"] == [
        {"source": "/api/:path*", "destination": "http://127.0.0.1:8000/api/:path*/", "phase": "afterFiles"},
    ]
    assert data["problems"] == []
