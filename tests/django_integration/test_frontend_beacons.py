"""/client-logs for a frontend on another origin: CORS, frontend metrics with bounded route labels, hostile
beacons, and the system check on django-cors-headers' settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.checks import Warning
from django.test import Client
from prometheus_client import REGISTRY, CollectorRegistry
from pytest_django.fixtures import Settings

from django_integration import views
from django_integration.checks import check_cors_headers
from django_integration.client_logs import (
    OTHER_ROUTE,
    RateLimiter,
    RouteLabels,
    is_route_template,
    record_metrics,
    route_labels,
)
from django_integration.metrics import Metrics
from tests.django_integration.conftest import LogLines


def sample(metric: str, **labels: str) -> float:
    """A sample of the process-wide registry (label ``name`` included), 0 when it does not exist yet."""
    return REGISTRY.get_sample_value(metric, labels) or 0.0


STOREFRONT = "http://127.0.0.1:3000"  # in the demo shop's CORS_ALLOWED_ORIGINS
UNTRUSTED = "https://evil.example"


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Full rate buckets and no route labels seen yet: both are process-wide."""
    monkeypatch.setattr(views, "_limiter", RateLimiter())
    route_labels.reset()
    yield
    route_labels.reset()


def post(body: Any, content_type: str = "application/json", **headers: str) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return Client().post("/client-logs", data, content_type=content_type, headers=headers)


def preflight(origin: str, headers: str = "content-type,x-request-id,traceparent") -> Any:
    return Client().options(
        "/client-logs",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers},
    )


BATCH = {"events": [{"level": "info", "message": "hello", "route": "/products"}]}


# --- CORS ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "send", "status", "allow_origin"),
    [
        ("trusted preflight", lambda: preflight(STOREFRONT), 204, STOREFRONT),
        ("untrusted preflight", lambda: preflight(UNTRUSTED), 403, None),
        ("trusted JSON post", lambda: post(BATCH, Origin=STOREFRONT), 202, STOREFRONT),
        (
            "trusted text/plain beacon",
            lambda: post(BATCH, "text/plain;charset=UTF-8", Origin=STOREFRONT),
            202,
            STOREFRONT,
        ),
        ("untrusted JSON post", lambda: post(BATCH, Origin=UNTRUSTED), 403, None),
        ("untrusted text/plain beacon", lambda: post(BATCH, "text/plain;charset=UTF-8", Origin=UNTRUSTED), 403, None),
        ("same-origin post", lambda: post(BATCH, Origin="http://testserver"), 202, None),
        ("post without Origin (a server)", lambda: post(BATCH), 202, None),
        ("plain OPTIONS", lambda: Client().options("/client-logs"), 200, None),
        (
            "trusted origin, wrong method",
            lambda: Client().get("/client-logs", headers={"Origin": STOREFRONT}),
            405,
            STOREFRONT,
        ),
        ("trusted origin, bad batch", lambda: post({"events": []}, Origin=STOREFRONT), 400, STOREFRONT),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_cross_origin_table(case: str, send: Any, status: int, allow_origin: str | None) -> None:
    response = send()
    assert response.status_code == status, response.content
    assert response.get("Access-Control-Allow-Origin") == allow_origin
    if allow_origin:
        assert "Origin" in response["Vary"]
        assert response["Access-Control-Allow-Credentials"] == "true"
    if status == 403:
        assert UNTRUSTED in response.json()["error"]


def test_preflight_allows_the_correlation_headers_and_json() -> None:
    response = preflight(STOREFRONT)
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert allowed >= {"content-type", "x-request-id", "traceparent"}
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert int(response["Access-Control-Max-Age"]) > 0
    # The correlation middleware still answers with an ID the page may read.
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    ("integration", "cors", "origin", "trusted"),
    [
        (None, {}, STOREFRONT, True),  # django-cors-headers' CORS_ALLOWED_ORIGINS of the demo settings
        (None, {"CORS_ALLOWED_ORIGINS": []}, STOREFRONT, False),
        (
            None,
            {"CORS_ALLOWED_ORIGINS": [], "CORS_ALLOWED_ORIGIN_REGEXES": [r"^https://\w+\.shop\.example$"]},
            "https://eu.shop.example",
            True,
        ),
        (None, {"CORS_ALLOWED_ORIGINS": [], "CORS_ALLOW_ALL_ORIGINS": True}, UNTRUSTED, True),
        (None, {"CORS_ALLOWED_ORIGINS": [], "CORS_ORIGIN_WHITELIST": [UNTRUSTED]}, UNTRUSTED, True),
        ([], {}, STOREFRONT, False),  # the integration's own setting wins
        (["https://shop.example/"], {}, "https://shop.example", True),
        (["*"], {}, UNTRUSTED, True),
    ],
)
def test_trusted_origins_come_from_cors_headers_or_our_setting(
    settings: Settings, integration: list[str] | None, cors: dict[str, Any], origin: str, trusted: bool
) -> None:
    settings.WORKFLOW_EXPORTER = {**settings.WORKFLOW_EXPORTER, "CLIENT_LOGS_ALLOWED_ORIGINS": integration}
    for name, value in cors.items():
        setattr(settings, name, value)
    assert post(BATCH, Origin=origin).status_code == (202 if trusted else 403)
    assert preflight(origin).status_code == (204 if trusted else 403)


def test_without_cors_headers_only_our_setting_trusts(settings: Settings) -> None:
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "corsheaders"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.startswith("corsheaders.")]
    assert post(BATCH, Origin=STOREFRONT).status_code == 403
    settings.WORKFLOW_EXPORTER = {**settings.WORKFLOW_EXPORTER, "CLIENT_LOGS_ALLOWED_ORIGINS": [STOREFRONT]}
    assert post(BATCH, Origin=STOREFRONT).status_code == 202


# --- the system check ------------------------------------------------------------------------------------------


def _ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),  # the demo shop's settings
        ({"CORS_ALLOW_HEADERS": ("content-type", "authorization")}, ["django_integration.W003"]),
        ({"CORS_ALLOW_HEADERS": ("content-type", "X-Request-ID")}, ["django_integration.W003"]),
        ({"CORS_ALLOW_HEADERS": ("X-Request-ID", "Traceparent")}, []),
        ({"CORS_EXPOSE_HEADERS": []}, []),  # ours is above CorsMiddleware: it exposes the ID itself
        (
            {
                "CORS_EXPOSE_HEADERS": [],
                "MIDDLEWARE": [
                    "corsheaders.middleware.CorsMiddleware",
                    "django_integration.middleware.RequestMonitoringMiddleware",
                ],
            },
            ["django_integration.W004"],
        ),
        ({"CORS_EXPOSE_HEADERS": ["x-request-id"], "MIDDLEWARE": ["corsheaders.middleware.CorsMiddleware"]}, []),
        ({"INSTALLED_APPS": ["django_integration"], "CORS_ALLOW_HEADERS": ()}, []),  # no django-cors-headers
    ],
)
def test_cors_headers_check(settings: Settings, overrides: dict[str, Any], expected: list[str]) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)
    messages = check_cors_headers()
    assert _ids(messages) == expected
    assert all(isinstance(message, Warning) for message in messages)
    for message in messages:
        assert message.hint


def test_check_without_allow_headers_setting_uses_the_defaults(settings: Settings) -> None:
    del settings.CORS_ALLOW_HEADERS  # django-cors-headers' defaults have neither header
    (message,) = check_cors_headers()
    assert message.id == "django_integration.W003"
    assert "x-request-id, traceparent" in message.msg


# --- frontend metrics ------------------------------------------------------------------------------------------


def vital(name: str, value: float, route: str = "/products/[id]", **extra: Any) -> dict[str, Any]:
    return {"level": "info", "message": f"{name} {value}", "kind": "vital", "route": route,
            "vital": {"name": name, "value": value, "rating": "good"}, **extra}  # fmt: skip


def test_vitals_land_in_the_histograms_under_the_route_template(db: None) -> None:
    route = "/products/[id]"
    before = {name: sample("django_frontend_web_vitals_seconds_count", name=name, route=route)
              for name in ("LCP", "INP", "FCP", "TTFB")}  # fmt: skip
    lcp_fast = sample("django_frontend_web_vitals_seconds_bucket", name="LCP", route=route, le="2.5")
    cls_before = sample("django_frontend_web_vitals_score_sum", name="CLS", route=route)
    batch = {"events": [vital("LCP", 1800), vital("INP", 120), vital("FCP", 900), vital("TTFB", 250),
                        vital("CLS", 0.12)]}  # fmt: skip
    assert post(batch, Origin=STOREFRONT).status_code == 202
    for name in before:
        assert sample("django_frontend_web_vitals_seconds_count", name=name, route=route) == before[name] + 1
    # LCP 1.8 s is in the 2.5 s bucket (milliseconds became seconds); CLS is a score, not a time.
    assert sample("django_frontend_web_vitals_seconds_bucket", name="LCP", route=route, le="2.5") == lcp_fast + 1
    assert sample("django_frontend_web_vitals_score_sum", name="CLS", route=route) == pytest.approx(cls_before + 0.12)
    assert sample("django_frontend_web_vitals_seconds_count", name="CLS", route=route) == 0


def test_error_events_are_counted_by_level_with_the_failed_calls_id(db: None, json_logs: LogLines) -> None:
    before = sample("django_frontend_events_total", level="error", route="/checkout")
    warnings = sample("django_frontend_events_total", level="warning", route="/checkout")
    failed_call = "c0ffee00c0ffee00c0ffee00c0ffee00"
    batch = {"events": [
        {"level": "error", "kind": "error", "message": "TypeError: x is undefined", "route": "/checkout",
         "correlation_id": failed_call, "error_class": "TypeError", "stack": "at Checkout (page.js:1:2)"},
        {"level": "warn", "message": "slow", "route": "/checkout"},
    ]}  # fmt: skip
    assert post(batch, Origin=STOREFRONT).status_code == 202
    assert sample("django_frontend_events_total", level="error", route="/checkout") == before + 1
    assert sample("django_frontend_events_total", level="warning", route="/checkout") == warnings + 1
    (line,) = [line for line in json_logs() if line.get("message") == "TypeError: x is undefined"]
    assert line["correlation_id"] == failed_call
    assert line["layer"] == "frontend"
    assert line["error_class"] == "TypeError"
    assert line["route"] == "/checkout"


ROUTES = [
    ("/", True),
    ("/products", True),
    ("/products/[id]", True),
    ("/docs/[...slug]", True),
    ("/shop/[[...filters]]", True),
    ("/(shop)/cart", True),
    ("/orders/[orderId]/items", True),
    ("/products/42", False),
    ("/orders/order-12345", False),
    ("/t/3f2a9c0b7d1e4f5a", False),
    ("/t/3f2a9c0b-7d1e-4f5a-9c0b-7d1e4f5a9c0b", False),
    ("/Products", False),
    ("products", False),
    ("/products?id=3", False),
    ("/products/", False),
    ("//evil", False),
    ("/a b", False),
    ("/" + "/".join(["x"] * 13), False),
    ("/" + "a" * 41, False),
    ("/products/[id", False),
    ("/é", False),
]


@pytest.mark.parametrize(("route", "template"), ROUTES)
def test_route_templates(route: str, template: bool) -> None:
    assert is_route_template(route) is template


def test_route_labels_are_capped_and_allowlisted() -> None:
    labels = RouteLabels()
    assert [labels.label(f"/r{i}", 3) for i in range(5)] == ["/r0", "/r1", "/r2", OTHER_ROUTE, OTHER_ROUTE]
    assert labels.label("/r1", 3) == "/r1"  # already a label: stays one
    assert labels.label("/products/42", 100) == OTHER_ROUTE
    assert labels.label(None, 100) == OTHER_ROUTE
    assert labels.label(["/x"], 100) == OTHER_ROUTE
    assert labels.label("/cart", 100, allowed={"/checkout"}) == OTHER_ROUTE
    assert labels.label("/checkout", 100, allowed={"/checkout"}) == "/checkout"


def test_label_cardinality_stays_capped_under_a_flood_of_routes(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {**settings.WORKFLOW_EXPORTER, "FRONTEND_MAX_ROUTES": 5}
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    routes = RouteLabels()
    events = [vital("LCP", 1000, route=f"/page{i}") for i in range(200)]
    events += [vital("LCP", 1000, route=f"/products/{i}") for i in range(200)]
    events += [{"level": "error", "message": "x", "route": f"/u/user-{i:06d}"} for i in range(200)]
    record_metrics(events, metrics, routes)
    values = {
        s.labels["route"] for family in registry.collect() if family.name.startswith("django_frontend")
        for s in family.samples if "route" in s.labels
    }  # fmt: skip
    assert values == {"/page0", "/page1", "/page2", "/page3", "/page4", OTHER_ROUTE}
    assert registry.get_sample_value("django_frontend_events_total", {"level": "error", "route": OTHER_ROUTE}) == 200


# --- hostile beacons -------------------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return (
        b'{"events": [{"level": "info", "message": "x", "timing": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}]}"
    )


HOSTILE = [
    ("huge", b'{"events": [{"level": "info", "message": "' + b"x" * 70_000 + b'"}]}', 413, "too_large", "larger than"),
    ("deeply nested", b'{"events": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400, "invalid", "nested too deeply"),
    ("nested object in timing", _nested(50), 400, "invalid", "events/0/timing/a"),
    ("invalid UTF-8", b'{"events": [{"level": "info", "message": "\xff\xfe"}]}', 400, "invalid", "not JSON"),
    ("too many events", json.dumps({"events": [{"level": "info", "message": "x"}] * 51}).encode(), 400, "invalid",
     "at most 50"),
    ("NaN vital", b'{"events": [{"level": "info", "message": "x", "kind": "vital", '
     b'"vital": {"name": "LCP", "value": NaN}}]}', 400, "invalid", "not a JSON number"),
    ("vital without a measurement", json.dumps({"events": [{"level": "info", "message": "x", "kind": "vital"}]})
     .encode(), 400, "invalid", "'vital' is a required property"),
    ("unknown vital", json.dumps({"events": [vital("FID", 10)]}).encode(), 400, "invalid", "events/0/vital/name"),
    ("negative vital", json.dumps({"events": [vital("LCP", -1)]}).encode(), 400, "invalid", "events/0/vital/value"),
    ("huge stack", json.dumps({"events": [{"level": "error", "message": "x", "stack": "s" * 5000}]}).encode(), 400,
     "invalid", "events/0/stack"),
    ("unknown field", json.dumps({"events": [{"level": "info", "message": "x", "user": {"email": "a@b"}}]}).encode(),
     400, "invalid", "Additional properties"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "status", "reason", "says"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_beacons_are_refused_with_a_clear_4xx(
    case: str, body: bytes, status: int, reason: str, says: str
) -> None:
    refused = sample("django_frontend_beacons_refused_total", reason=reason)
    events = sample("django_frontend_events_total", level="info", route=OTHER_ROUTE)
    response = post(body, "text/plain;charset=UTF-8", Origin=STOREFRONT)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert response["Access-Control-Allow-Origin"] == STOREFRONT  # the page may read why
    assert sample("django_frontend_beacons_refused_total", reason=reason) == refused + 1
    assert sample("django_frontend_events_total", level="info", route=OTHER_ROUTE) == events


def test_a_flood_is_rate_limited_and_counted(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {**settings.WORKFLOW_EXPORTER, "CLIENT_LOGS_RATE_PER_MINUTE": 5}
    refused = sample("django_frontend_beacons_refused_total", reason="rate_limited")
    statuses = [post(BATCH, Origin=STOREFRONT).status_code for _ in range(20)]
    assert statuses == [202] * 5 + [429] * 15
    assert sample("django_frontend_beacons_refused_total", reason="rate_limited") == refused + 15


def test_an_untrusted_origin_is_counted() -> None:
    refused = sample("django_frontend_beacons_refused_total", reason="origin")
    post(BATCH, Origin=UNTRUSTED)
    preflight(UNTRUSTED)
    assert sample("django_frontend_beacons_refused_total", reason="origin") == refused + 2


def test_non_template_routes_are_accepted_but_labelled_other(json_logs: LogLines) -> None:
    before = sample("django_frontend_events_total", level="info", route=OTHER_ROUTE)
    batch = {"events": [{"level": "info", "message": f"page {i}", "route": f"/products/{i}"} for i in range(30)]}
    assert post(batch, Origin=STOREFRONT).status_code == 202
    assert sample("django_frontend_events_total", level="info", route=OTHER_ROUTE) == before + 30
    # The log line keeps what the page said; only the label is bounded.
    assert {line["route"] for line in json_logs() if line.get("layer") == "frontend"} >= {"/products/7"}


def test_metrics_fail_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken metrics path never costs the page its answer; it is counted as an internal error."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("django_integration.client_logs.record_metrics", broken)
    errors = sample("django_integration_internal_errors_total", component="frontend_metrics")
    assert post(BATCH, Origin=STOREFRONT).status_code == 202
    assert sample("django_integration_internal_errors_total", component="frontend_metrics") == errors + 1
