"""Error classes for each kind of failure; and the integration failing open when its own parts break."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from prometheus_client import CollectorRegistry

from django_integration.errors import ERROR_CLASSES, classify_exception, classify_status
from django_integration.metrics import Metrics
from django_integration.middleware import RequestMonitoringMiddleware
from tests.django_integration.conftest import LogLines, sample

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (200, None),
        (302, None),
        (400, "validation"),
        (401, "authentication"),
        (403, "permission"),
        (404, "not_found"),
        (405, "client"),
        (409, "conflict"),
        (413, "client"),
        (429, "throttled"),
        (500, "server"),
        (502, "upstream"),
        (503, "server"),
        (504, "timeout"),
    ],
)
def test_status_classes(status: int, error_class: str | None) -> None:
    assert classify_status(status) == error_class


def test_exception_classes() -> None:
    import requests
    from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
    from django.db import IntegrityError, OperationalError
    from rest_framework import exceptions as drf

    cases: list[tuple[BaseException, str]] = [
        (ValidationError("x"), "validation"),
        (drf.ValidationError("x"), "validation"),
        (drf.ParseError("x"), "validation"),
        (drf.NotAuthenticated(), "authentication"),
        (drf.AuthenticationFailed(), "authentication"),
        (PermissionDenied(), "permission"),
        (drf.PermissionDenied(), "permission"),
        (Http404(), "not_found"),
        (ObjectDoesNotExist(), "not_found"),
        (drf.Throttled(), "throttled"),
        (OperationalError("gone away"), "db"),
        (IntegrityError("dup"), "db"),
        (requests.ConnectionError("refused"), "upstream"),
        (requests.ReadTimeout("slow"), "timeout"),
        (TimeoutError(), "timeout"),
        (RuntimeError("bug"), "server"),
    ]
    for exception, expected in cases:
        assert classify_exception(exception) == expected, exception
        assert expected in ERROR_CLASSES


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error_class", "route"),
    [
        ("post", "/api/cart/items/", {}, 401, "authentication", "api/cart/items/"),
        ("post", "/api/auth/login/", {"data": {}, "content_type": "application/json"}, 403, "permission",
         "api/auth/login/"),
        ("get", "/api/products/999999/", {}, 404, "not_found", "api/products/<int:pk>/"),
        ("get", "/no/such/route/", {}, 404, "not_found", "<unmatched>"),
        ("delete", "/api/auth/csrf/", {}, 405, "client", "api/auth/csrf/"),
        ("get", "/t/db-error/", {}, 500, "db", "t/db-error/"),
        ("get", "/t/crash/", {}, 500, "server", "t/crash/"),
        ("get", "/t/upstream-down/", {}, 500, "upstream", "t/upstream-down/"),
    ],
)  # fmt: skip
def test_error_classes_of_real_requests(
    seeded: None, json_logs: LogLines, method: str, path: str, kwargs: dict[str, Any], status: int,
    error_class: str, route: str,
) -> None:  # fmt: skip
    before = sample("django_request_errors_total", route=route, error_class=error_class)
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert sample("django_request_errors_total", route=route, error_class=error_class) - before == 1
    (line,) = [entry for entry in json_logs() if entry["logger"] == "django_integration.request"]
    assert line["error_class"] == error_class
    assert line["status"] == status
    assert line["level"] == ("ERROR" if status >= 500 else "WARNING")


def test_validation_error_class(seeded: None) -> None:
    client = Client()
    client.login(username="probe", password="in-process-password")
    before = sample("django_request_errors_total", route="api/cart/items/", error_class="validation")
    response = client.post("/api/cart/items/", {"product_id": 1, "quantity": 0}, content_type="application/json")
    assert response.status_code == 400
    assert sample("django_request_errors_total", route="api/cart/items/", error_class="validation") - before == 1


class _Exploding:
    """Stands in for any metric object: every use raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"metrics backend broken ({name})")


def test_a_registry_that_raises_does_not_change_the_response() -> None:
    metrics = Metrics(registry=CollectorRegistry())
    for name in vars(metrics).copy():
        if name != "registry":
            setattr(metrics, name, _Exploding())

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("the application's answer", status=201)

    before = sample("django_integration_internal_errors_total", component="metrics")
    middleware = RequestMonitoringMiddleware(view, metrics=metrics)
    response = middleware(RequestFactory().get("/anything", headers={"X-Request-ID": "fail-open-0001"}))
    assert response.status_code == 201
    assert response.content == b"the application's answer"
    assert response["X-Request-ID"] == "fail-open-0001"
    assert sample("django_integration_internal_errors_total", component="metrics") - before == 1


def test_a_broken_sql_recorder_does_not_break_queries(seeded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise ValueError("accounting bug")

    monkeypatch.setattr("django_integration.db.QueryRecorder.record", broken)
    before = sample("django_integration_internal_errors_total", component="sql_accounting")
    response = Client().get("/t/count/")
    assert response.status_code == 200 and response.json()["products"] == 32
    assert sample("django_integration_internal_errors_total", component="sql_accounting") - before == 1


def test_a_broken_sql_comment_does_not_break_queries(seeded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise ValueError("comment bug")

    monkeypatch.setattr("django_integration.db.add_comment", broken)
    response = Client().get("/t/count/")
    assert response.status_code == 200 and response.json()["products"] == 32


def test_a_broken_log_filter_still_logs(json_logs: LogLines, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("contextvar bug")

    monkeypatch.setattr("django_integration.log.current_request", broken)
    response = Client().get("/t/log/")
    assert response.status_code == 200
    assert [line["message"] for line in json_logs()][:1] == ["first line from the view"]


def test_the_applications_own_errors_still_propagate() -> None:
    """Failing open is about our errors; the application's exceptions reach Django's handler unchanged."""

    def view(request: HttpRequest) -> HttpResponse:
        raise DatabaseError("app error")

    middleware = RequestMonitoringMiddleware(view, metrics=Metrics(registry=CollectorRegistry()))
    with pytest.raises(DatabaseError):
        middleware(RequestFactory().get("/"))
