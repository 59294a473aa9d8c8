"""Every endpoint of the integration answers the methods it serves, HEAD included, and says which with Allow.

One table: each endpoint and each method, with the status and the ``Allow`` header expected, in process; and the
reported case (``curl -I /healthz`` answered 405) with its siblings under real gunicorn, where HEAD must get
the GET's status and headers and no body.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_integration import views
from django_integration.client_logs import RateLimiter
from tests.harness import ShopServer, start_shop

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]

READ_ONLY = "GET, HEAD, OPTIONS"
BEACON = "POST, OPTIONS"
BATCH = json.dumps({"events": [{"level": "info", "message": "page shown"}]})

# (path, method, status, Allow header or None when there must be none)
CASES = [
    ("/healthz", "GET", 200, None),
    ("/healthz", "HEAD", 200, None),
    ("/healthz", "OPTIONS", 200, READ_ONLY),
    ("/healthz", "POST", 405, READ_ONLY),
    ("/healthz", "PUT", 405, READ_ONLY),
    ("/healthz", "PATCH", 405, READ_ONLY),
    ("/healthz", "DELETE", 405, READ_ONLY),
    ("/readyz", "GET", 200, None),
    ("/readyz", "HEAD", 200, None),
    ("/readyz", "OPTIONS", 200, READ_ONLY),
    ("/readyz", "POST", 405, READ_ONLY),
    ("/readyz", "DELETE", 405, READ_ONLY),
    ("/metrics", "GET", 200, None),
    ("/metrics", "HEAD", 200, None),
    ("/metrics", "OPTIONS", 200, READ_ONLY),
    ("/metrics", "POST", 405, READ_ONLY),
    ("/metrics", "PUT", 405, READ_ONLY),
    ("/metrics", "DELETE", 405, READ_ONLY),
    ("/client-logs", "POST", 202, None),
    ("/client-logs", "OPTIONS", 200, BEACON),
    ("/client-logs", "GET", 405, BEACON),
    ("/client-logs", "HEAD", 405, BEACON),
    ("/client-logs", "PUT", 405, BEACON),
    ("/client-logs", "DELETE", 405, BEACON),
]


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "_limiter", RateLimiter())


@pytest.mark.parametrize(("path", "method", "status", "allow"), CASES, ids=[f"{m} {p}" for p, m, _, _ in CASES])
def test_methods_in_process(path: str, method: str, status: int, allow: str | None) -> None:
    kwargs: dict[str, Any] = {"data": BATCH, "content_type": "application/json"} if method == "POST" else {}
    response = Client(enforce_csrf_checks=True).generic(method, path, **kwargs)
    assert response.status_code == status, response.content[:200]
    assert response.get("Allow") == allow
    if method == "HEAD":
        get = Client().get(path)
        assert response.content == b""
        assert response["Content-Type"] == get["Content-Type"]
    if method == "OPTIONS":
        assert response.content == b""


@pytest.fixture(scope="module")
def gunicorn_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    workdir = tmp_path_factory.mktemp("methods-shop")
    server = start_shop(workdir, f"sqlite:///{workdir / 'shop.sqlite3'}")
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_head_under_gunicorn(gunicorn_shop: ShopServer, path: str) -> None:
    """HEAD then GET on one keep-alive connection: a body sent for the HEAD would corrupt the GET's answer."""
    host, port = gunicorn_shop.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("HEAD", path)
        head = connection.getresponse()
        head_body = head.read()
        connection.request("GET", path)
        get = connection.getresponse()
        get_body = get.read()
    finally:
        connection.close()
    assert (head.status, get.status) == (200, 200)
    assert head_body == b""
    assert head.getheader("Content-Type") == get.getheader("Content-Type")
    assert head.getheader("X-Request-ID") and head.getheader("X-Request-ID") != get.getheader("X-Request-ID")
    assert get_body


def test_wrong_method_under_gunicorn(gunicorn_shop: ShopServer) -> None:
    host, port = gunicorn_shop.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("DELETE", "/healthz")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert (response.status, response.getheader("Allow")) == (405, READ_ONLY)
