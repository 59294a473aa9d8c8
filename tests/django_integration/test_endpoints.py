"""/healthz, /readyz, /client-logs and /metrics, in process against the test database."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings

from django_integration import views
from django_integration.client_logs import RateLimiter
from tests.django_integration.conftest import LogLines, sample

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with full buckets: the module-level limiter would carry counts across tests."""
    monkeypatch.setattr(views, "_limiter", RateLimiter())


def post_logs(body: bytes | str | dict[str, Any] | list[Any], **extra: Any) -> Any:
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    return Client().post("/client-logs", data, content_type="application/json", **extra)


def event(**fields: Any) -> dict[str, Any]:
    return {"level": "error", "message": "checkout failed", **fields}


# --- /healthz and /readyz -------------------------------------------------------------------------------------------


def test_healthz() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_refuses_post() -> None:
    assert Client().post("/healthz").status_code == 405


def test_readyz_with_migrated_database() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database:default", "migrations"}
    database = body["checks"]["database:default"]
    assert database["ok"] is True
    assert isinstance(database["duration_ms"], float) and database["duration_ms"] >= 0
    assert body["checks"]["migrations"] == {"ok": True, "unapplied": []}


@pytest.fixture
def hanging_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``_database_reachable`` blocks until the test ends (far longer than the readiness timeout)."""
    release = threading.Event()

    def hang(alias: str) -> None:
        release.wait(timeout=10)

    monkeypatch.setattr(views, "_database_reachable", hang)
    yield
    release.set()


def test_readyz_database_timeout(settings: Settings, hanging_database: None) -> None:
    settings.WORKFLOW_EXPORTER = {"READINESS_DB_TIMEOUT_SECONDS": 0.05}
    response = Client().get("/readyz")
    assert response.status_code == 503
    # No migration check without a database answer.
    assert response.json() == {
        "status": "not ready",
        "checks": {"database:default": {"ok": False, "error": "no answer within 0.05s"}},
    }


def test_readyz_database_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(alias: str) -> None:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(views, "_database_reachable", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {
            "database:default": {
                "ok": False,
                "error": "OperationalError: could not connect to server: Connection refused",
            }
        },
    }


def test_readyz_unapplied_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "_unapplied_migrations", lambda alias: ["shop.0002_x"])
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database:default"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": False, "unapplied": ["shop.0002_x"]}


def test_readyz_migration_check_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(alias: str) -> list[str]:
        raise RuntimeError("migration graph is inconsistent")

    monkeypatch.setattr(views, "_unapplied_migrations", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {
        "ok": False,
        "error": "RuntimeError: migration graph is inconsistent",
    }


# --- /client-logs: accepted batches ---------------------------------------------------------------------------------


def frontend_lines(json_logs: LogLines) -> list[dict[str, Any]]:
    return [line for line in json_logs() if line["logger"] == "django_integration.frontend"]


def test_client_log_becomes_a_frontend_log_line(json_logs: LogLines) -> None:
    batch = {
        "events": [
            event(
                route="/checkout",
                correlation_id="abcd1234-frontend",
                timing={"ttfb": 12.5},
                timestamp="2026-01-02T03:04:05.678Z",
            )
        ]
    }
    response = post_logs(batch, headers={"X-Request-ID": "beacon-request-01"})
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    (line,) = frontend_lines(json_logs)
    assert line | {"timestamp": ""} == {
        "timestamp": "",
        "level": "ERROR",
        "logger": "django_integration.frontend",
        "message": "checkout failed",
        "correlation_id": "abcd1234-frontend",
        "layer": "frontend",
        "route": "/checkout",
        "timing_ms": {"ttfb": 12.5},
        "client_timestamp": "2026-01-02T03:04:05.678Z",
    }


def test_event_without_id_gets_the_request_id(json_logs: LogLines) -> None:
    batch = {"events": [event(level="info", message="page shown"), event(level="warn", message="slow image")]}
    response = post_logs(batch, headers={"X-Request-ID": "beacon-request-02"})
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    assert response["X-Request-ID"] == "beacon-request-02"
    lines = frontend_lines(json_logs)
    assert [(line["level"], line["message"]) for line in lines] == [("INFO", "page shown"), ("WARNING", "slow image")]
    assert {line["correlation_id"] for line in lines} == {"beacon-request-02"}
    assert {line["layer"] for line in lines} == {"frontend"}


def test_generated_request_id_is_used_for_events_without_one(json_logs: LogLines) -> None:
    response = post_logs({"events": [event()]})
    assert response.status_code == 202
    (line,) = frontend_lines(json_logs)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert line["correlation_id"] == response["X-Request-ID"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("login failed password=hunter2", "login failed password=[REDACTED]"),
        ("retry with token: abc.def.ghi then gave up", "retry with token: [REDACTED] then gave up"),
        ("sent Authorization: Bearer eyJhbGciOi.x.y", "sent Authorization: [REDACTED]"),
    ],
)
def test_secrets_in_messages_are_redacted(message: str, expected: str, json_logs: LogLines) -> None:
    assert post_logs({"events": [event(message=message)]}).status_code == 202
    (line,) = frontend_lines(json_logs)
    assert line["message"] == expected
    assert "hunter2" not in json.dumps(json_logs())


def test_nul_bytes_and_unicode_in_messages_are_logged_escaped(json_logs: LogLines) -> None:
    message = "a\x00b \u2028 käse \U0001f600 <script>"
    assert post_logs({"events": [event(message=message)]}).status_code == 202
    (line,) = frontend_lines(json_logs)
    assert line["message"] == message


# --- /client-logs: refused batches ----------------------------------------------------------------------------------

TOO_MANY = {"events": [event()] * 51}

BAD_BATCHES: dict[str, tuple[bytes | str | dict[str, Any] | list[Any], int, str]] = {
    "not_json": ("level=error&message=x", 400, "body is not JSON: Expecting value: line 1 column 1 (char 0)"),
    "not_utf8": (
        b'{"events": "\xff\xfe"}',
        400,
        "body is not JSON: 'utf-8' codec can't decode byte 0xff in position 12: invalid start byte",
    ),
    "array": ([event()], 400, "(batch): [{'level': 'error', 'message': 'checkout failed'}] is not of type 'object'"),
    "no_events": ({"event": [event()]}, 400, "(batch): 'events' is a required property"),
    "empty_events": ({"events": []}, 400, "events: [] should be non-empty"),
    "events_not_a_list": (
        {"events": {"0": event()}},
        400,
        "events: {'0': {'level': 'error', 'message': 'checkout failed'}} is not of type 'array'",
    ),
    "unknown_level": (
        {"events": [event(level="fatal")]},
        400,
        "events/0/level: 'fatal' is not one of ['debug', 'error', 'info', 'warn', 'warning']",
    ),
    "no_level": ({"events": [{"message": "x"}]}, 400, "events/0: 'level' is a required property"),
    "message_not_string": ({"events": [event(message=42)]}, 400, "events/0/message: 42 is not of type 'string'"),
    "message_too_long": (
        {"events": [event(message="x" * 2001)]},
        400,
        "events/0/message: " + repr("x" * 2001) + " is too long",
    ),
    "correlation_id_crlf": (
        {"events": [event(correlation_id="abcd1234\r\nX-Evil: 1")]},
        400,
        "events/0/correlation_id: 'abcd1234\\r\\nX-Evil: 1' does not match '^[A-Za-z0-9\\\\-_.:]{8,128}$(?!\\\\n)'",
    ),
    "correlation_id_trailing_lf": (
        {"events": [event(correlation_id="abcd1234\n")]},
        400,
        "events/0/correlation_id: 'abcd1234\\n' does not match '^[A-Za-z0-9\\\\-_.:]{8,128}$(?!\\\\n)'",
    ),
    "correlation_id_too_short": (
        {"events": [event(correlation_id="abc")]},
        400,
        "events/0/correlation_id: 'abc' does not match '^[A-Za-z0-9\\\\-_.:]{8,128}$(?!\\\\n)'",
    ),
    "extra_field": (
        {"events": [event(user_agent="Mozilla")]},
        400,
        "events/0: Additional properties are not allowed ('user_agent' was unexpected)",
    ),
    "extra_top_level_field": (
        {"events": [event()], "session": "x"},
        400,
        "(batch): Additional properties are not allowed ('session' was unexpected)",
    ),
    "timing_negative": (
        {"events": [event(timing={"ttfb": -1})]},
        400,
        "events/0/timing/ttfb: -1 is less than the minimum of 0",
    ),
    "timing_string": (
        {"events": [event(timing={"ttfb": "12"})]},
        400,
        "events/0/timing/ttfb: '12' is not of type 'number'",
    ),
    "timing_huge": (
        {"events": [event(timing={"ttfb": 1e300})]},
        400,
        "events/0/timing/ttfb: 1e+300 is greater than the maximum of 3600000",
    ),
    "timing_nan": (
        '{"events": [{"level": "error", "message": "m", "timing": {"ttfb": NaN}}]}',
        400,
        "body is not JSON: NaN is not a JSON number",
    ),
    "timing_name_newline": (
        {"events": [event(timing={"ttfb\n": 1})]},
        400,
        "events/0/timing: 'ttfb\\n' does not match '^[a-z][a-z0-9_]{0,39}$(?!\\\\n)'",
    ),
    "too_many_events": (TOO_MANY, 400, "batch has 51 events; at most 50 are accepted"),
    "nested_too_deeply": ('{"events": ' + "[" * 50_000, 400, "body is not JSON: nested too deeply"),
}


@pytest.mark.parametrize(("body", "status", "error"), BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_bad_batches_are_refused(body: Any, status: int, error: str, json_logs: LogLines) -> None:
    response = post_logs(body)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert frontend_lines(json_logs) == []


def test_max_events_follows_the_setting(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {"CLIENT_LOGS_MAX_EVENTS": 2}
    response = post_logs({"events": [event()] * 3})
    assert (response.status_code, response.json()) == (400, {"error": "batch has 3 events; at most 2 are accepted"})
    assert post_logs({"events": [event()] * 2}).status_code == 202


def test_body_over_the_limit(settings: Settings, json_logs: LogLines) -> None:
    settings.WORKFLOW_EXPORTER = {"CLIENT_LOGS_MAX_BYTES": 100}
    small = json.dumps({"events": [event()]})
    assert len(small) <= 100
    assert post_logs(small).status_code == 202
    big = json.dumps({"events": [event(message="x" * 200)]})
    response = post_logs(big)
    assert (response.status_code, response.json()) == (413, {"error": "batch larger than 100 bytes"})
    assert len(frontend_lines(json_logs)) == 1


def test_body_over_the_limit_with_lying_content_length(settings: Settings) -> None:
    """A Content-Length smaller than the body does not get a big body past the limit."""
    settings.WORKFLOW_EXPORTER = {"CLIENT_LOGS_MAX_BYTES": 100}
    big = json.dumps({"events": [event(message="x" * 200)]}).encode()
    request = RequestFactory().post("/client-logs", big, content_type="application/json")
    request.META["CONTENT_LENGTH"] = "10"
    request._body = big  # what a server that ignored the header would hand over
    response = views.client_logs(request)
    assert (response.status_code, json.loads(response.content)) == (413, {"error": "batch larger than 100 bytes"})


@pytest.mark.parametrize("length", ["²", "١٢٣", "-5", "1e3", " 12"])
def test_odd_content_length_headers_are_not_a_crash(length: str) -> None:
    """Called on the view directly: django-prometheus' middleware cannot parse such headers at all."""
    body = json.dumps({"events": [event()]}).encode()
    request = RequestFactory().post("/client-logs", body, content_type="application/json")
    request.META["CONTENT_LENGTH"] = length
    request._body = body
    response = views.client_logs(request)
    assert (response.status_code, json.loads(response.content)) == (202, {"accepted": 1})


def test_get_is_not_allowed() -> None:
    response = Client().get("/client-logs")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


def test_rate_limit_per_address(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {"CLIENT_LOGS_RATE_PER_MINUTE": 3}
    batch = {"events": [event()]}
    assert [post_logs(batch).status_code for _ in range(3)] == [202, 202, 202]
    refused = post_logs(batch)
    assert (refused.status_code, refused.json()) == (
        429,
        {"error": "too many log batches from this address; slow down"},
    )
    # Refused batches count too: a client hammering the endpoint stays refused.
    assert post_logs(batch).status_code == 429
    # Another address has its own bucket.
    assert post_logs(batch, REMOTE_ADDR="192.0.2.7").status_code == 202


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter()
    assert [limiter.allow("a", 3, now=100.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("a", 3, now=110.0) is False  # 10 s refill half a token at 3 per minute
    assert limiter.allow("a", 3, now=120.0) is True  # 20 s after the bucket ran dry: one token
    assert limiter.allow("a", 3, now=120.0) is False
    assert limiter.allow("b", 3, now=120.0) is True  # other keys are independent
    # A long pause refills up to the rate, never beyond it.
    assert [limiter.allow("a", 3, now=10_000.0) for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_forgets_the_oldest_clients() -> None:
    limiter = RateLimiter(max_clients=2)
    assert limiter.allow("a", 1, now=0.0) is True
    assert limiter.allow("a", 1, now=0.0) is False
    limiter.allow("b", 1, now=0.0)
    limiter.allow("c", 1, now=0.0)  # pushes "a" out
    assert limiter.allow("a", 1, now=0.0) is True


def hostile_bodies() -> list[bytes]:
    rng = random.Random(20260101)
    fixed = [
        b"",
        b"null",
        b"0",
        b'"events"',
        b"[]",
        b"{}",
        b"\x00",
        b'{"events": [{"level": "error", "message": "a\x00b"}]}',
        b'{"events": [{"level": "error", "message": "\\u0000"}]}',
        b'{"events": [{"level": "error", "message": "\\ud800"}]}',
        b"\xff\xfe\xfd",
        b'{"events": [{"level": "error", "message": "\xc3\x28"}]}',
        b"\xef\xbb\xbf{}",
        b"9" * 5000,
        b'{"events": [{"level": "error", "message": "m", "timing": {"t": ' + b"9" * 4400 + b"}}]}",
        b'{"events": [{"level": "error", "message": "m", "timing": {"t": 1e999}}]}',
        b'{"events": [{"level": "error", "message": "m", "timing": {"t": -Infinity}}]}',
        b'{"events": [{"level": "error", "message": "m", "timing": {"t": Infinity}}]}',
        b"[" * 60_000,
        b'{"events": ' + b"[" * 900 + b"]" * 900 + b"}",
        b'{"events": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}",
        b'{"events": [{"level": "error", "message": {"$ref": "#"}}]}',
        b'{"events": [{"level": ["error"], "message": "m"}]}',
        b'{"events": [{"level": "error", "message": "m", "timing": []}]}',
        b'{"events": [{"level": "error", "message": "m", "timing": {"\\"": 1}}]}',
        b'{"events": [{"level": "error", "message": "m", "route": null}]}',
        b'{"events": [{"level": "error", "message": "m", "correlation_id": 12345678}]}',
        b'{"events": [{"level": "error", "message": "m"}], "events": []}',
        b'{"__proto__": {"events": 1}}',
        b'{"events": [' + b'{"level": "error", "message": "m"},' * 10 + b"]}",
        b'{"events": [{"level": "error", "message": "' + b"x" * 70_000 + b'"}]}',
    ]
    alphabet = b'{}[]",:0123456789.eE-+ \\u\x00\xff\ntruefalsnul'
    randoms = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 200))) for _ in range(30)]
    return fixed + randoms


def test_hostile_bodies_never_cause_a_server_error() -> None:
    client = Client(raise_request_exception=False)
    statuses = []
    for body in hostile_bodies():
        response = client.post("/client-logs", body, content_type="application/json")
        assert response.status_code in {202, 400, 413}, (body[:80], response.status_code, response.content[:300])
        assert set(response.json()) == ({"accepted"} if response.status_code == 202 else {"error"})
        statuses.append(response.status_code)
    assert {202, 400, 413} <= set(statuses)


# --- /metrics -------------------------------------------------------------------------------------------------------


def test_metrics_bearer_token(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {"METRICS_BEARER_TOKEN": "s3cret"}
    missing = Client().get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert missing.content == b"metrics need a bearer token\n"
    for wrong in ["Bearer wrong", "Bearer s3cret2", "bearer s3cret", "Basic czNjcmV0", "s3cret"]:
        assert Client().get("/metrics", headers={"Authorization": wrong}).status_code == 401, wrong
    right = Client().get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert b"# TYPE python_info gauge" in right.content


@pytest.mark.parametrize(
    ("networks", "remote_addr", "status"),
    [
        (["10.0.0.0/8"], "127.0.0.1", 403),
        (["127.0.0.0/8"], "127.0.0.1", 200),
        (["10.0.0.0/8", "127.0.0.1"], "127.0.0.1", 200),
        (["10.0.0.0/8"], "10.20.30.40", 200),
        (["::1/128"], "::1", 200),
        (["10.0.0.0/8"], "not-an-address", 403),
    ],
)
def test_metrics_allowed_networks(settings: Settings, networks: list[str], remote_addr: str, status: int) -> None:
    settings.WORKFLOW_EXPORTER = {"METRICS_ALLOWED_NETWORKS": networks}
    response = Client().get("/metrics", REMOTE_ADDR=remote_addr)
    assert response.status_code == status
    if status == 403:
        assert response.content == b"metrics are not served to this address\n"


def test_metrics_network_is_checked_before_the_token(settings: Settings) -> None:
    settings.WORKFLOW_EXPORTER = {"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"], "METRICS_BEARER_TOKEN": "s3cret"}
    assert Client().get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 403
    allowed = Client().get("/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200


def test_openmetrics_with_exemplars() -> None:
    Client().get("/t/count/", headers={"X-Request-ID": "exemplar-test-01"})
    response = Client().get("/metrics", headers={"Accept": OPENMETRICS})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    exemplar_lines = [
        line
        for line in text.splitlines()
        if line.startswith("django_request_duration_seconds_bucket{") and 'route="t/count/"' in line and " # {" in line
    ]
    assert exemplar_lines, text
    assert any('# {correlation_id="exemplar-test-01"}' in line for line in exemplar_lines), exemplar_lines


def test_plain_metrics_have_no_exemplars() -> None:
    Client().get("/t/count/", headers={"X-Request-ID": "exemplar-test-02"})
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert re.search(r'^django_request_duration_seconds_bucket\{.*route="t/count/".*\} \d', text, re.M)
    assert "# {" not in text
    assert "exemplar-test-02" not in text
    assert "# EOF" not in text


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_excluded_routes_have_no_request_metrics(path: str, json_logs: LogLines) -> None:
    route = path.lstrip("/")
    before = sample("django_request_duration_seconds_count", route=route, method="GET", status_class="2xx")
    assert Client().get(path).status_code == 200
    after = sample("django_request_duration_seconds_count", route=route, method="GET", status_class="2xx")
    assert before == after == 0.0
    assert not [line for line in json_logs() if line["logger"] == "django_integration.request"]
    text = Client().get("/metrics").content.decode()
    assert f'route="{route}"' not in text


def test_client_logs_route_is_measured() -> None:
    """The beacon is not excluded: its own requests show up like any other route."""
    labels = {"route": "client-logs", "method": "POST", "status_class": "2xx"}
    before = sample("django_request_duration_seconds_count", **labels)
    assert post_logs({"events": [event()]}).status_code == 202
    assert sample("django_request_duration_seconds_count", **labels) == before + 1


def test_excluded_routes_follow_the_setting(settings: Settings) -> None:
    # Excludes an application route: measuring /metrics here would leave samples the test above forbids.
    settings.WORKFLOW_EXPORTER = {"EXCLUDED_ROUTES": ["t/count/"]}
    labels = {"route": "t/count/", "method": "GET", "status_class": "2xx"}
    before = sample("django_request_duration_seconds_count", **labels)
    assert Client().get("/t/count/").status_code == 200
    assert sample("django_request_duration_seconds_count", **labels) == before
    settings.WORKFLOW_EXPORTER = {}
    assert Client().get("/t/count/").status_code == 200
    assert sample("django_request_duration_seconds_count", **labels) == before + 1
