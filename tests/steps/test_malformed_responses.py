"""Whatever a target sends ends in a target-side reason, never ``internal`` (which means a bug in the exporter).

One table of answers no well-behaved server gives (status lines, heads, framing, encodings, bodies, nesting),
each written byte for byte by the hostile target, with the reason the step must end with. Answers browsers
tolerate (a header line without a colon, a bare LF) pass as they do in a browser. A second table proves that a
body over ``max_response_bytes`` is recorded with the status that arrived and the time until it was cut off.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synthetic.result import REASONS
from tests.harness.hostile_target import Conn, HostileTarget, Seen, head, read_request, serve_hostile
from tests.steps.stub import describe, run_steps, step


@pytest.fixture
def hostile() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


# (route and query, extra YAML for the step, expected reason or None for success, text the message contains)
MALFORMED = [
    # the status line
    ("/raw?case=status-not-a-number", "", "protocol", "BadStatusLine"),
    ("/raw?case=status-too-small", "", "protocol", "BadStatusLine"),
    ("/raw?case=status-too-large", "", "protocol", "BadStatusLine"),
    ("/raw?case=status-http2", "", "protocol", "UnknownProtocol"),
    ("/raw?case=status-not-http", "", "protocol", "BadStatusLine"),
    ("/raw?case=status-http09", "", "protocol", "BadStatusLine"),
    ("/raw?case=status-line-endless", "", "protocol", "status line"),
    ("/raw?case=status-binary", "", "protocol", "BadStatusLine"),
    ("/raw?case=empty", "", "connect", "closed the connection without answering"),
    # the head
    ("/raw?case=header-line-too-long", "", "protocol", "header line"),
    ("/raw?case=headers-too-many", "", "protocol", "more than 100 headers"),
    ("/bloat-head?count=95&size=61440", "", "protocol", "larger than 262144 bytes"),
    ("/raw?case=head-unterminated", "", None, ""),
    ("/raw?case=header-no-colon", "", None, ""),
    ("/raw?case=header-space-before-colon", "", None, ""),
    ("/raw?case=header-obs-fold", "", None, ""),
    ("/raw?case=header-nul", "", None, ""),
    ("/raw?case=header-bare-lf", "", None, ""),
    ("/raw?case=header-not-utf8", "expect: {headers: {X-Bytes: abc}}", "assertion", "X-Bytes"),
    ("/raw?case=header-not-utf8", "extract: {v: {header: X-Bytes}}", None, ""),
    ("/raw?case=server-timing-garbage", "", None, ""),
    # A server limit that cannot be judged degrades the step (tests/steps/test_degraded.py), it does not fail it.
    ("/raw?case=server-timing-garbage", "expect: {server: {max_queries: 5}}", None, ""),
    ("/raw?case=set-cookie-garbage", "", None, ""),
    ("/raw?case=location-on-200", "", None, ""),
    # framing: Content-Length and chunked encoding
    ("/raw?case=content-length-conflicting", "", "protocol", "Content-Length"),
    ("/raw?case=content-length-short-body", "", "protocol", "IncompleteRead"),
    ("/raw?case=content-length-huge", "", "protocol", "IncompleteRead"),
    ("/raw?case=content-length-not-a-number", "", None, ""),
    ("/raw?case=content-length-negative", "", None, ""),
    ("/raw?case=chunked-bad-size", "", "protocol", "not valid HTTP"),
    ("/raw?case=chunked-truncated", "", "protocol", "not valid HTTP"),
    ("/raw?case=chunked-no-last-chunk", "", "protocol", "not valid HTTP"),
    ("/raw?case=chunked-huge-size", "", "protocol", "not valid HTTP"),
    ("/raw?case=chunked-and-length", "expect: {body_regex: '^ok$'}", None, ""),
    ("/raw?case=transfer-encoding-unknown", "", None, ""),
    # content encodings
    ("/raw?case=encoding-gzip-garbage", "", "protocol", "not valid gzip"),
    ("/raw?case=encoding-deflate-garbage", "", "protocol", "not valid deflate"),
    ("/raw?case=encoding-br", "", "protocol", "unknown Content-Encoding 'br'"),
    ("/raw?case=encoding-unknown", "", "protocol", "unknown Content-Encoding 'sparkly'"),
    ("/raw?case=encoding-too-many", "", "protocol", "3 nested encodings"),
    ("/raw?case=encoding-gzip-trailing-garbage", "expect: {json: {status: ok}}", None, ""),
    ("/raw?case=encoding-gzip-truncated", "expect: {json: {status: ok}}", "assertion", "not JSON"),
    # bodies: encodings of text, nesting, JSON that is not quite JSON
    ("/raw?case=json-invalid-utf8", "expect: {json: {status: ok}}", "assertion", "not UTF-8"),
    ("/raw?case=json-invalid-utf8", "extract: {v: {json: status}}", "extraction", "not UTF-8"),
    ("/raw?case=json-invalid-utf8", "expect: {body_regex: status}", None, ""),
    ("/raw?case=json-nan", "expect: {json: {status: ok}}", "assertion", "status is nan"),
    ("/raw?case=json-bad-charset", "expect: {openapi: true, json: {status: ok}}", None, ""),
    ("/deep-json", "expect: {json: {a: 1}}", "assertion", "nested deeper than 100 levels"),
    ("/deep-json", "extract: {v: {json: a}}", "extraction", "nested deeper than 100 levels"),
    ("/deep-json", "expect: {json_schema: {type: array}}", "assertion", "nested deeper than 100 levels"),
    ("/deep-json", "expect: {openapi: true}", "schema", "cannot be checked"),
    ("/deep-json?depth=90", "expect: {openapi: true, json_schema: {type: array, items: {$ref: '#'}}}", None, ""),
]


@pytest.mark.parametrize(("path", "extra", "reason", "fragment"), MALFORMED, ids=[f"{r[0]} {r[1]}" for r in MALFORMED])
def test_every_malformed_answer_ends_in_a_target_side_reason(
    hostile: HostileTarget, path: str, extra: str, reason: str | None, fragment: str
) -> None:
    route, _, query = path.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&")) if query else {}
    yaml_query = "{" + ", ".join(f"{k}: '{v}'" for k, v in params.items()) + "}"
    steps = f"- name: hostile\n  http: {{path: {route}, query: {yaml_query}}}\n  {extra}\n"
    run = run_steps(
        hostile.url,
        steps + "- name: after\n  http: {path: /ok}",
        target="openapi: /openapi.json",
        timeout="5s",
    )
    result = step(run, "hostile")
    assert result.reason != "internal", describe(run)
    assert result.reason in (None, *REASONS)
    assert result.reason == reason, describe(run)
    assert fragment in result.message, result.message
    if reason is None:
        assert run.success, describe(run)
    else:
        assert step(run, "after").status == "skipped"
    assert len(result.message) <= 2048


# (route and query, the encoding in the message or "")
OVER_THE_CAP = [
    ("/bloat-body", {"bytes": str(1 << 30)}, ""),  # 1 GiB promised with Content-Length
    ("/bloat-body", {"bytes": str(1 << 30), "chunked": "1"}, ""),
    ("/bomb", {"encoding": "gzip", "mb": "256"}, "gzip"),  # 256 MiB of zeros in 256 KiB
    ("/bomb", {"encoding": "deflate", "mb": "64"}, "deflate"),
    ("/bomb", {"encoding": "raw-deflate", "mb": "64"}, "deflate"),
    ("/bomb", {"encoding": "gzip-gzip", "mb": "256"}, "gzip, gzip"),  # a bomb in a bomb
    ("/bomb", {"encoding": "gzip", "mb": "64", "status": "500"}, "gzip"),  # the status that arrived is kept
]
CAP = 100_000


@pytest.mark.parametrize(("route", "query", "encoding"), OVER_THE_CAP, ids=[f"{r[0]} {r[1]}" for r in OVER_THE_CAP])
def test_a_body_over_max_response_bytes_is_cut_off_and_recorded_with_its_status_and_time(
    hostile: HostileTarget, route: str, query: dict[str, str], encoding: str
) -> None:
    yaml_query = "{" + ", ".join(f"{k}: '{v}'" for k, v in query.items()) + "}"
    run = run_steps(
        hostile.url,
        f"- name: big\n  http: {{path: {route}, query: {yaml_query}}}\n  expect: {{status: [200, 500]}}",
        target=f"max_response_bytes: {CAP}",
    )
    big = step(run, "big")
    assert (big.status, big.reason) == ("failed", "assertion"), describe(run)
    assert f"larger than max_response_bytes ({CAP} bytes)" in big.message
    if encoding:
        assert f"bytes {encoding} inflated to more" in big.message, big.message
    # What arrived is on the record: the status, the head, the size read and the time until the cut.
    assert big.http_status == int(query.get("status", "200"))
    assert big.exchange is not None and big.exchange.status == big.http_status
    assert big.exchange.response_headers, "the head that arrived is kept"
    assert big.duration > 0
    # Bounded: never more than the cap plus one read, decoded or not ...
    assert CAP < big.response_bytes <= CAP + 64 * 1024
    # ... and the rest was never taken off the wire (a socket buffer's worth at most).
    assert hostile.sent[route] < 32 * 1024 * 1024


def _keep_alive_then_hang_up(conn: Conn, seen: Seen) -> None:
    """Answers with keep-alive, then takes the next request on that connection and closes without answering."""
    body = b'{"status": "ok"}'
    conn.send(head(200, {"Connection": "keep-alive", "Content-Type": "application/json",
                         "Content-Length": str(len(body))}) + body)  # fmt: skip
    again = read_request(conn.sock, conn.target.port)
    if again is not None:
        conn.target.record(again)


@pytest.mark.parametrize(("method", "reason", "requests"), [("GET", None, 3), ("PUT", None, 3), ("POST", "connect", 2)])
def test_a_kept_alive_connection_closed_under_a_request_is_retried_once_when_idempotent(
    hostile: HostileTarget, method: str, reason: str | None, requests: int
) -> None:
    hostile.route("/keep-alive", _keep_alive_then_hang_up)
    run = run_steps(
        hostile.url,
        "- name: first\n  http: {path: /keep-alive}\n"
        f"- name: second\n  http: {{method: {method}, path: /keep-alive}}",
    )
    second = step(run, "second")
    assert second.reason == reason, describe(run)
    if reason:
        assert second.message == "connection failed: the server closed the connection without answering"
    # first; second on the kept-alive connection (closed unanswered); for GET and PUT once more on a new one
    assert len(hostile.received("/keep-alive")) == requests
