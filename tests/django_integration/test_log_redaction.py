"""Text from outside never reaches a log line unredacted, whichever record carries it and whatever its type.

One table of the ways outside text gets into a line: Django's own records (``django.request`` for 404, 405 and
500 with the request object, ``django.server`` from ``runserver``), the request object, query strings by
parameter name, headers as a mapping and as text, URLs with a password, exception text, secret-named fields
whatever their type, objects that only become text when written, nested values, and every field of a beacon
event. Each row runs through the middleware and the integration's formatter on a real ``StreamHandler`` and
names the secrets that must not appear in any line, and what must still be there. The one field exempt from
redaction, the correlation ID, has its own row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils.text import format_lazy

from django_integration import views as integration_views
from django_integration.client_logs import RateLimiter

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]

logger = logging.getLogger("t.leak")
S = "hunter2x"  # every secret below starts with this, so one search finds any leak


class ShowsAToken:
    def __str__(self) -> str:
        return f"Token: {S}-object"


class Socket:
    """What runserver puts in its records' ``request``: a socket, whose text says nothing useful."""

    def __repr__(self) -> str:
        return f"<socket.socket fd=7 laddr=('127.0.0.1', 8000) secret={S}-socket>"


def leak_view(request: HttpRequest, what: str) -> HttpResponse:
    if what == "full-path":
        logger.info("serving %s", request.get_full_path())
    elif what == "request-object":
        logger.info("serving", extra={"request": request})
    elif what == "headers":
        logger.info("headers", extra={"headers": dict(request.headers)})
        logger.info("headers as text: %s", dict(request.headers))
    elif what == "url":
        logger.info("connecting to https://admin:%s-url@api.example/v1", S)
    elif what == "numbers":
        logger.info("fields", extra={"pin": 4321, "otp": 123456, "password": None, "token": "", "api_key": 7.5})
    elif what == "objects":
        logger.info(
            "objects",
            extra={"obj": ShowsAToken(), "data": f"password={S}-bytes".encode(), "lazy": format_lazy("secret={}", S)},
        )
    elif what == "nested":
        logger.info("nested", extra={"events": [{"url": f"/cb?code={S}-code&state=kept", "n": 1}]})
    elif what == "machine-fields":
        # A caller's extra named like a fixed field of the line: on the fast path and on python-json-logger's
        # (a record with an exception takes that one).
        taken = {"level": f"Bearer {S}-level", "logger": f"password={S}-logger", "timestamp": f"token={S}-ts"}
        logger.info("fast path", extra=taken)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("slow path", extra=taken)
    elif what == "exception":
        raise ValueError(f"cannot reach mysql://shop:{S}-dsn@db/shop with password={S}-pw")
    elif what == "logged-exception":
        try:
            raise RuntimeError(f"login failed for password={S}-exc")
        except RuntimeError:
            logger.exception("login failed")
    return HttpResponse("ok")


urlpatterns = [
    path("t/leak/<str:what>/", leak_view),
    path("", include("django_integration.urls")),
]


def runserver_record() -> None:
    """The record Django's runserver writes for each request (django.core.servers.basehttp.log_message)."""
    server_logger = logging.getLogger("django.server")
    propagate, server_logger.propagate = server_logger.propagate, True  # to the test's handler on the root
    try:
        _runserver_line(server_logger)
    finally:
        server_logger.propagate = propagate


def _runserver_line(server_logger: logging.Logger) -> None:
    server_logger.info(
        '"%s" %s %s',
        f"GET /api/products/?password={S}-server&page=2 HTTP/1.1",
        "200",
        "512",
        extra={"request": Socket(), "server_time": "02/Jan/2026 03:04:05", "status_code": 200},
    )


def beacon() -> None:
    batch = {
        "events": [
            {
                "level": "error",
                "message": f"login failed password={S}-message",
                "route": f"/checkout?token={S}-route",
                "timestamp": f"token={S}-ts",
                "correlation_id": "beacon-event-0001",
                "timing": {"ttfb": 12},
            }
        ]
    }
    Client().post("/client-logs", json.dumps(batch), content_type="application/json")


@dataclass(frozen=True)
class Row:
    name: str
    act: Callable[[Client], Any]
    keeps: list[str] = field(default_factory=list)  # text that must still be in the lines
    check: Callable[[list[dict[str, Any]]], None] | None = None  # more about the lines


def line_of(lines: list[dict[str, Any]], logger_name: str) -> dict[str, Any]:
    (line,) = [line for line in lines if line["logger"] == logger_name]
    return line


def django_404(lines: list[dict[str, Any]]) -> None:
    line = line_of(lines, "django.request")
    assert line["request"] == "<WSGIRequest: GET '/api/nope?password=[REDACTED]&token=[REDACTED]&page=2'>"
    assert line["status"] == 404


def django_server(lines: list[dict[str, Any]]) -> None:
    line = line_of(lines, "django.server")
    assert line["message"] == '"GET /api/products/?password=[REDACTED]&page=2 HTTP/1.1" 200 512'
    assert "request" not in line and "server_time" not in line
    assert line["status"] == 200


def numbers(lines: list[dict[str, Any]]) -> None:
    line = line_of(lines, "t.leak")
    assert (line["pin"], line["otp"], line["password"], line["token"], line["api_key"]) == (
        "[REDACTED]", "[REDACTED]", None, "", "[REDACTED]",
    )  # fmt: skip


def beacon_fields(lines: list[dict[str, Any]]) -> None:
    line = line_of(lines, "django_integration.frontend")
    assert line["route"] == "/checkout?token=[REDACTED]"
    assert line["client_timestamp"] == "token=[REDACTED]"
    assert line["message"] == "login failed password=[REDACTED]"
    assert line["correlation_id"] == "beacon-event-0001"


def machine_fields(lines: list[dict[str, Any]]) -> None:
    """The line's own level, logger and timestamp stay the record's; the caller's values are kept beside them,
    redacted like any other field."""
    for message, level in (("fast path", "INFO"), ("slow path", "ERROR")):
        (line,) = [line for line in lines if line.get("message") == message]
        assert (line["level"], line["logger"]) == (level, "t.leak"), line
        assert line["timestamp"].endswith("Z") and line["timestamp"][:2] == "20", line
        assert line["extra_level"] == "Bearer [REDACTED]", line
        assert line["extra_logger"] == "password=[REDACTED]", line
        assert line["extra_timestamp"] == "token=[REDACTED]", line


def exempt_id(lines: list[dict[str, Any]]) -> None:
    assert {line["correlation_id"] for line in lines} == {"password:hunter2x-id"}


QUERY = (
    f"access_token={S}-1&client_secret={S}-2&code={S}-3&sig={S}-4&X-Amz-Signature={S}-5&refresh_token={S}-6"
    f"&id_token={S}-7&sessionid={S}-8&jwt={S}-9&apikey={S}-10&state=kept&page=2"
)
HEADERS = {
    "Authorization": f"Bearer {S}-bearer",
    "Cookie": f"sessionid={S}-cookie; csrftoken={S}-csrf",
    "X-Api-Key": f"{S}-apikey",
    "X-Auth-Token": f"{S}-authtoken",
    "X-Client-Secret": f"{S}-clientsecret",
    "Accept": "application/json",
    "Access-Control-Request-Headers": "x-request-id",  # a CORS header, not an access token: kept
}

ROWS = [
    Row("Django's 404 line: the request object with a query string",
        lambda c: c.get(f"/api/nope?password={S}-404&token={S}-404t&page=2"), ["page=2"], django_404),
    Row("Django's 405 line", lambda c: c.post(f"/healthz?api_key={S}-405"), ["Method Not Allowed (POST): /healthz"]),
    Row("Django's 500 line: exception text with a DSN and a password", lambda c: c.get("/t/leak/exception/"),
        ["mysql://shop:[REDACTED]@db/shop", "password=[REDACTED]"]),
    Row("query parameters by name", lambda c: c.get(f"/t/leak/full-path/?{QUERY}"), ["state=kept", "page=2"]),
    Row("the request object in extra", lambda c: c.get(f"/t/leak/request-object/?password={S}-obj&page=3"),
        ["page=3"]),
    Row("headers as a mapping and as text", lambda c: c.get("/t/leak/headers/", headers=HEADERS),
        ["application/json", "x-request-id"]),
    Row("a URL with a password", lambda c: c.get("/t/leak/url/"), ["https://admin:[REDACTED]@api.example/v1"]),
    Row("secret-named fields that are numbers", lambda c: c.get("/t/leak/numbers/"), [], numbers),
    Row("objects that become text when written", lambda c: c.get("/t/leak/objects/"),
        ["Token: [REDACTED]", "password=[REDACTED]", "secret=[REDACTED]"]),
    Row("nested values", lambda c: c.get("/t/leak/nested/"), ["state=kept"]),
    Row("an exception logged with its traceback", lambda c: c.get("/t/leak/logged-exception/"),
        ["RuntimeError: login failed for password=[REDACTED]"]),
    Row("a caller's extra named level, logger or timestamp", lambda c: c.get("/t/leak/machine-fields/"), [],
        machine_fields),
    Row("runserver's django.server line", lambda c: runserver_record(), ["page=2"], django_server),
    Row("every field of a beacon event", lambda c: beacon(), [], beacon_fields),
    Row("exempt: the correlation ID is written as received", lambda c: c.get(
        "/t/leak/url/", headers={"X-Request-ID": f"password:{S}-id"}), [], exempt_id),
]  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integration_views, "_limiter", RateLimiter())


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_outside_text_is_redacted_in_every_line(row: Row, raw_logs: Callable[[], list[str]]) -> None:
    row.act(Client(raise_request_exception=False))
    text = raw_logs()
    assert text, "nothing was logged"
    lines = [json.loads(line) for line in text]
    leaked = [line for line in text if S in line]
    if row.check is exempt_id:
        leaked = [line.replace(f"password:{S}-id", "") for line in leaked if S in line.replace(f"password:{S}-id", "")]
    assert not leaked, leaked
    for kept in row.keeps:
        assert any(kept in line for line in text), (kept, text)
    if row.check is not None:
        row.check(lines)
