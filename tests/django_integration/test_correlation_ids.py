"""Which inbound IDs are trusted, and that the chosen one reaches the response, every log line and outbound HTTP."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from django_integration.correlation import choose_correlation_id, trace_id_from_traceparent, traceparent_for
from tests.django_integration.conftest import LogLines

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]

HEX32 = re.compile(r"[0-9a-f]{32}")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Request-ID": "req-12345678"}, "req-12345678"),
        ({"X-Correlation-ID": "corr:abc_DEF.123"}, "corr:abc_DEF.123"),
        ({"traceparent": TRACEPARENT}, TRACE_ID),
        ({"traceparent": TRACEPARENT, "X-Request-ID": "req-12345678"}, TRACE_ID),
        ({"X-Request-ID": "req-12345678", "X-Correlation-ID": "corr-12345678"}, "req-12345678"),
        ({"traceparent": "garbage", "X-Request-ID": "req-12345678"}, "req-12345678"),
        ({"X-Request-ID": "x" * 128}, "x" * 128),
    ],
)
def test_valid_inbound_ids_are_kept(headers: dict[str, str], expected: str) -> None:
    assert choose_correlation_id(headers)[0] == expected
    response = Client().get("/t/count/", headers=headers)
    assert response["X-Request-ID"] == expected
    assert response.json()["correlation_id"] == expected


HOSTILE = {
    "crlf": "abc12345\r\nSet-Cookie: evil=1",
    "lf": "abc12345\nx",
    "one_kilobyte": "a" * 1024,
    "non_ascii": "käsekuchen-12345",
    "empty": "",
    "too_short": "zq7",  # not hex: a fresh 32-hex ID must not contain it by chance (as "abc" can)
    "spaces": "abc 12345 678",
    "html": "<script>alert(1)</script>",
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("header", ["X-Request-ID", "X-Correlation-ID"])
def test_invalid_ids_are_replaced_and_never_echoed(header: str, value: str, json_logs: LogLines) -> None:
    response = Client().get("/t/log/", headers={header: value})
    new_id = response["X-Request-ID"]
    assert HEX32.fullmatch(new_id)
    assert response.json()["correlation_id"] == new_id
    if value:
        assert value not in json.dumps(json_logs())
        assert value not in str(response.headers)


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent-id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Evil: 1",
    ],
)
def test_malformed_traceparent_is_replaced(traceparent: str) -> None:
    assert trace_id_from_traceparent(traceparent) is None
    response = Client().get("/t/count/", headers={"traceparent": traceparent})
    assert HEX32.fullmatch(response["X-Request-ID"])
    assert response["X-Request-ID"] != TRACE_ID


def test_expose_headers_are_appended_not_overwritten() -> None:
    response = Client().get("/t/expose/")
    assert response["Access-Control-Expose-Headers"] == "X-Shop-Version, X-Request-ID, Server-Timing"


def test_cors_response_exposes_the_id_once() -> None:
    response = Client().get("/api/products/", headers={"Origin": "http://localhost:3000"})
    exposed = [h.strip() for h in response["Access-Control-Expose-Headers"].split(",")]
    assert sorted(exposed) == ["Server-Timing", "X-Request-ID"]


def test_every_log_line_of_the_request_carries_the_id(json_logs: LogLines) -> None:
    response = Client().get("/t/log/", headers={"X-Request-ID": "log-test-0001"})
    lines = json_logs()
    assert [line["logger"] for line in lines] == ["shop.views", "shop.views", "django_integration.request"]
    assert {line["correlation_id"] for line in lines} == {"log-test-0001"}
    assert response["X-Request-ID"] == "log-test-0001"
    request_line = lines[-1]
    assert request_line | {"duration_ms": 0, "db_ms": 0, "timestamp": ""} == {
        "timestamp": "",
        "level": "INFO",
        "logger": "django_integration.request",
        "message": "GET t/log/ 200",
        "correlation_id": "log-test-0001",
        "layer": "api",
        "route": "t/log/",
        "method": "GET",
        "status": 200,
        "duration_ms": 0,
        "db_queries": 0,
        "db_ms": 0,
        "error_class": None,
        "synthetic": False,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["timestamp"])


def test_djangos_own_loggers_carry_the_id(json_logs: LogLines) -> None:
    Client().get("/no/such/page/", headers={"X-Request-ID": "django-own-1"})
    not_found = [line for line in json_logs() if line["logger"] == "django.request"]
    assert not_found and not_found[0]["message"] == "Not Found: /no/such/page/"
    assert not_found[0]["correlation_id"] == "django-own-1"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_outbound_requests_carry_the_id() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/downstream"
        response = Client().get("/t/upstream/", {"url": url}, headers={"traceparent": TRACEPARENT})
    finally:
        server.shutdown()
        server.server_close()
    assert response.json()["upstream_status"] == 204
    (received,) = _Recorder.seen
    assert received["X-Request-ID"] == TRACE_ID
    version, trace_id, parent_id, flags = received["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert parent_id != "00f067aa0ba902b7" and len(parent_id) == 16


def test_traceparent_for_a_non_hex_id_is_stable_and_valid() -> None:
    first, second = traceparent_for("req-12345678"), traceparent_for("req-12345678")
    assert first.split("-")[1] == second.split("-")[1]
    assert trace_id_from_traceparent(first) == first.split("-")[1]


def test_async_views_keep_their_own_id(seeded: None) -> None:
    """20 concurrent requests to an async view that awaits and queries: each keeps its own ID throughout."""
    import asyncio

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    ids = [f"async-request-{n:04d}" for n in range(20)]

    async def run_all() -> list[Any]:
        return await asyncio.gather(
            *(client.get(f"/t/async/{n}/", headers={"X-Request-ID": cid}) for n, cid in enumerate(ids))
        )

    # async_to_sync runs the views' sync_to_async DB calls on this thread, inside the test's transaction.
    responses = async_to_sync(run_all)()
    for cid, response in zip(ids, responses, strict=True):
        assert response["X-Request-ID"] == cid
        assert response.json()["before"] == response.json()["after"] == cid
        assert response.json()["products"] == 32
