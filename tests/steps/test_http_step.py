"""``http`` steps against a real local server: assertions, extraction, correlation headers and every failure."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from django_integration.correlation import trace_id_from_traceparent
from django_integration.marker import verify_marker
from synthetic.config import ConfigError
from synthetic.redact import REDACTED
from tests.steps.conftest import TLSStub
from tests.steps.stub import (
    HUGE_BYTES,
    OK_DOCUMENT,
    Case,
    StubServer,
    closed_port_url,
    describe,
    run_steps,
    step,
)

# --- the success path ------------------------------------------------------------------------------------------


def test_every_kind_of_assertion_passes_on_a_matching_response(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        r"""
        - name: ok
          http: {path: /ok}
          expect:
            status: 200
            max_duration: 2s
            json:
              status: ok
              "items[0].quantity": 1
              "length(items)": 1
              next: /headers
            headers:
              Content-Type: "^application/json$"
              X-Item-Id: "^7$"
              X-Powered-By: null
            body_regex: ['"name": "widget"', '"quantity": \d']
            json_schema:
              type: object
              required: [status, id, items]
              properties:
                id: {type: integer}
                items: {type: array, minItems: 1}
            openapi: true
          extract:
            widget_id: {json: id}
        - name: expected-values-from-variables
          http:
            path: /echo/${widget_id}
            headers: {X-Widget: "${widget_id}"}
          expect:
            json:
              path: /echo/${widget_id}
              'headers."x-widget"': "${widget_id}"
              'headers."x-request-id"': "${run.correlation_id}"
              query: {}
        """,
        target="openapi: /openapi.json",
    )
    assert run.success, describe(run)
    ok = step(run, "ok")
    assert ok.http_status == 200
    assert ok.attempts == 1
    assert 0 < ok.duration < 2
    assert ok.budget == 2.0
    assert ok.extracted == {"widget_id": 42}
    assert ok.response_bytes == len(json.dumps(OK_DOCUMENT))
    names = [check.name for check in ok.assertions]
    assert names == [
        "status",
        "max_duration",
        "header Content-Type",
        "header X-Item-Id",
        "header X-Powered-By",
        "body_regex",
        "body_regex",
        "json status",
        "json items[0].quantity",
        "json length(items)",
        "json next",
        "json_schema",
        "openapi",
    ]
    assert all(check.ok for check in ok.assertions), ok.assertions
    assert next(c for c in ok.assertions if c.name == "openapi").message == "response matches its OpenAPI operation"
    second = step(run, "expected-values-from-variables")
    assert second.exchange is not None and second.exchange.url == f"{stub.url}/echo/42"
    assert [r.path for r in stub.requests] == ["/ok", "/openapi.json", "/echo/42"]


@pytest.mark.parametrize(
    ("expect", "reason", "message"),
    [
        ("status: 201", "http_status", "status: status 200, expected 201"),
        ("status: [4xx, 300-399]", "http_status", "status: status 200, expected 400-499, 300-399"),
        ("json: {name: gadget}", "assertion", "json name: name is 'widget', expected 'gadget'"),
        ("json: {missing: 1}", "assertion", "json missing: missing is None, expected 1"),
        (
            "headers: {Content-Type: ^text/html}",
            "assertion",
            "header Content-Type: Content-Type: 'application/json' against /^text/html/",
        ),
        ("headers: {X-Item-Id: null}", "assertion", "header X-Item-Id: X-Item-Id must be absent, is '7'"),
        ("headers: {X-Absent: .}", "assertion", "header X-Absent: X-Absent: None against /./"),
        ("body_regex: gadget", "assertion", "body_regex: body does not match /gadget/"),
        (
            "json_schema: {type: object, required: [price]}",
            "schema",
            "json_schema: (root): 'price' is a required property",
        ),
        ("json_schema: {properties: {id: {type: string}}}", "schema", "json_schema: id: 42 is not of type 'string'"),
    ],
)
def test_a_failed_assertion_fails_the_step_with_its_reason(
    stub: StubServer, expect: str, reason: str, message: str
) -> None:
    run = run_steps(
        stub.url, f"- name: ok\n  http: {{path: /ok}}\n  expect: {{{expect}}}\n- name: after\n  http: {{path: /ok}}"
    )
    ok = step(run, "ok")
    assert (ok.status, ok.reason) == ("failed", reason), describe(run)
    assert ok.message.startswith(message), ok.message
    assert run.reason == reason
    assert step(run, "after").status == "skipped"
    assert len(stub.received("/ok")) == 1


def test_max_duration_is_the_step_budget_and_degrades_the_run(stub: StubServer) -> None:
    # tests/steps/test_degraded.py has the whole table; this is the budget as an http step records it.
    run = run_steps(
        stub.url, "- name: slow\n  http: {path: /slow, query: {seconds: 0.3}}\n  expect: {max_duration: 100ms}"
    )
    slow = step(run, "slow")
    assert (slow.status, slow.reason, slow.degraded, run.result) == ("ok", None, True, "degraded"), describe(run)
    (budget,) = [check for check in slow.assertions if check.name == "max_duration"]
    assert (budget.ok, budget.severity) == (False, "warning")
    assert re.fullmatch(r"took \d+ ms, budget 100 ms", budget.message), budget.message
    assert slow.duration >= 0.3


def test_extracted_json_header_cookie_and_regex_values_flow_into_later_requests(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        r"""
        - name: read
          http: {path: /ok}
          extract:
            item_id: {json: "items[0].id"}
            header_id: {header: X-Item-Id}
            name: {regex: '"name": "(\w+)"'}
            whole: {regex: 'wid\w+'}
        - name: cookie
          http: {path: /set-cookie, query: {token: csrf-abc123}}
          extract:
            csrf: {cookie: csrftoken}
        - name: use
          http:
            method: POST
            path: /echo/${item_id}
            query: {name: "${name}"}
            headers: {X-Item: "${header_id}", X-Name: "name-${name}"}
            json: {item: "${item_id}", label: "item ${item_id}", csrf: "${csrf}", run: "${run.correlation_id}"}
          expect:
            json: {method: POST, path: /echo/7, "json.item": 7}
        """,
    )
    assert run.success, describe(run)
    assert step(run, "read").extracted == {"item_id": 7, "header_id": "7", "name": "widget", "whole": "widget"}
    assert step(run, "cookie").extracted == {"csrf": "[REDACTED]"}  # secret by name: shown nowhere
    (used,) = stub.received("/echo/7")
    assert used.method == "POST"
    assert used.path == "/echo/7?name=widget"
    assert used.headers["x-item"] == "7"
    assert used.headers["x-name"] == "name-widget"
    assert used.headers["content-type"] == "application/json"
    assert json.loads(used.body) == {
        "item": 7,  # a whole-string ${var} keeps its type
        "label": "item 7",
        "csrf": "csrf-abc123",
        "run": run.correlation_id,
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{json: missing.field}", "value: JSON 'missing.field' found nothing in the response"),
        ("{header: X-Nope}", "value: header X-Nope found nothing in the response"),
        ("{cookie: sessionid}", "value: cookie sessionid found nothing in the response"),
        ("{regex: 'price=(\\d+)'}", "value: regex /price=(\\d+)/ found nothing in the response"),
    ],
)
def test_an_extraction_that_finds_nothing_fails_with_extraction(stub: StubServer, source: str, message: str) -> None:
    run = run_steps(stub.url, f"- name: read\n  http: {{path: /ok}}\n  extract:\n    value: {source}")
    read = step(run, "read")
    assert (read.status, read.reason, read.message) == ("failed", "extraction", message), describe(run)


def test_each_request_carries_the_run_correlation_id_trace_context_and_signed_marker(stub: StubServer) -> None:
    secret = "marker-secret-0123456789"
    run = run_steps(
        stub.url,
        """
        - name: first
          http: {path: /headers}
        - name: second
          http: {path: /headers, headers: {X-Request-ID: spoofed-by-step}}
        """,
        target=f"synthetic_secret: {secret}",
    )
    assert run.success, describe(run)
    cid = run.correlation_id
    assert re.fullmatch(r"[0-9a-f]{32}", cid)
    first, second = stub.received("/headers")
    parents = set()
    for received in (first, second):
        assert received.headers["x-request-id"] == cid
        traceparent = received.headers["traceparent"]
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent), traceparent
        assert trace_id_from_traceparent(traceparent) == cid
        parents.add(traceparent.split("-")[2])
        marker = received.headers["x-synthetic"]
        assert marker.startswith("v1:")
        assert verify_marker(marker, secret, cid)
        assert not verify_marker(marker, secret, "0" * 31 + "1"), "the marker must be bound to this run's ID"
        assert not verify_marker(marker, "another-secret", cid)
        assert received.headers["user-agent"] == "workflow-exporter"
    assert len(parents) == 2, "each request gets its own parent-id in the run's trace"
    # The marker is a credential: it never reaches a page or the curl line.
    exchange = step(run, "first").exchange
    assert exchange is not None
    assert exchange.request_headers["X-Synthetic"] == REDACTED
    assert secret not in exchange.curl and "v1:" not in exchange.curl
    assert f"X-Request-ID: {cid}" in exchange.curl


def test_without_a_secret_the_marker_is_unsigned_and_a_given_correlation_id_is_used(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: one\n  http: {path: /headers}", correlation_id="probe-run-0001")
    assert run.success, describe(run)
    (received,) = stub.received("/headers")
    assert received.headers["x-synthetic"] == "1"
    assert received.headers["x-request-id"] == "probe-run-0001"
    trace_id = trace_id_from_traceparent(received.headers["traceparent"])
    assert trace_id is not None and re.fullmatch(r"[0-9a-f]{32}", trace_id)


def test_django_csrf_cookie_is_sent_back_as_header_on_unsafe_requests_only(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: form
          http: {path: /set-cookie}
          extract: {token: {cookie: csrftoken}}
        - name: read
          http: {path: /headers}
        - name: submit
          http: {method: POST, path: /headers, form: {quantity: 1}}
          expect:
            json: {method: POST, body: quantity=1}
        """,
    )
    assert run.success, describe(run)
    assert step(run, "form").extracted["token"] == "[REDACTED]"  # secret by name: never shown
    get, post = stub.received("/headers")
    token = post.headers["x-csrftoken"]  # the server makes a new one each time
    assert token.startswith("csrf-")
    form = step(run, "form").exchange
    assert form is not None and token not in form.response_body, "a CSRF token in a body is redacted on the page"
    assert post.headers["cookie"] == f"csrftoken={token}"
    assert post.headers["referer"] == stub.url + "/"
    assert "x-csrftoken" not in get.headers, "safe methods need no CSRF token"
    assert get.headers["cookie"] == f"csrftoken={token}", "the run keeps one cookie jar"
    # The token is a credential: redacted on the run page.
    submit = step(run, "submit").exchange
    assert submit is not None and submit.request_headers["X-CSRFToken"] == REDACTED


def test_redirects_are_followed_with_the_run_headers_unless_switched_off(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: follow
          http: {path: /redirect, query: {to: /headers}}
          expect: {json: {path: /headers}}
        - name: stay
          http: {path: /redirect, follow_redirects: false}
          expect: {status: 302, headers: {Location: ^/ok$}}
        """,
    )
    assert run.success, describe(run)
    (followed,) = stub.received("/headers")
    assert followed.headers["x-request-id"] == run.correlation_id
    assert step(run, "stay").http_status == 302
    assert not stub.received("/ok")


# --- transport failures ----------------------------------------------------------------------------------------


def test_a_closed_port_fails_with_connect() -> None:
    run = run_steps(closed_port_url(), "- name: one\n  http: {path: /ok}\n- name: two\n  http: {path: /ok}")
    one = step(run, "one")
    assert (one.status, one.reason) == ("failed", "connect"), describe(run)
    assert one.message.startswith("connection failed: ")
    assert "refused" in one.message.lower()
    assert one.http_status is None
    assert step(run, "two").status == "skipped"
    assert run.reason == "connect"


def test_an_unresolvable_host_fails_with_dns() -> None:
    run = run_steps("http://no-such-host.invalid", "- name: one\n  http: {path: /ok}")
    one = step(run, "one")
    assert (one.status, one.reason) == ("failed", "dns"), describe(run)
    assert one.message.startswith("name does not resolve: ")
    assert "no-such-host.invalid" in one.message


def test_a_server_error_fails_with_http_status(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: boom\n  http: {path: /500}")
    boom = step(run, "boom")
    assert (boom.status, boom.reason, boom.message) == ("failed", "http_status", "status: status 500, expected 200-299")
    assert boom.http_status == 500
    assert boom.exchange is not None and '"boom"' in boom.exchange.response_body


def test_malformed_json_fails_a_json_assertion_with_assertion(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: bad\n  http: {path: /malformed-json}\n  expect: {json: {id: 1}}")
    bad = step(run, "bad")
    assert (bad.status, bad.reason) == ("failed", "assertion"), describe(run)
    assert bad.message.startswith("json: the response body is not JSON"), bad.message


def test_malformed_json_fails_a_json_extraction_with_extraction(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: bad\n  http: {path: /malformed-json}\n  extract: {id: {json: id}}")
    bad = step(run, "bad")
    assert (bad.status, bad.reason) == ("failed", "extraction"), describe(run)
    assert bad.message.startswith("id: the response body is not JSON"), bad.message


def test_a_body_over_max_response_bytes_fails_with_assertion(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: huge\n  http: {path: /huge}", target="max_response_bytes: 1000")
    huge = step(run, "huge")
    assert (huge.status, huge.reason) == ("failed", "assertion"), describe(run)
    assert "max_response_bytes" in huge.message and "1000 bytes" in huge.message
    # The same body passes when the cap allows it: the cap, not the endpoint, failed the step.
    run = run_steps(stub.url, "- name: huge\n  http: {path: /huge}", target=f"max_response_bytes: {HUGE_BYTES}")
    assert run.success, describe(run)
    assert step(run, "huge").response_bytes == HUGE_BYTES


def test_tls_needs_the_target_ca_file_to_trust_a_self_signed_certificate(tls_stub: TLSStub) -> None:
    steps = "- name: secure\n  http: {path: /ok}\n  expect: {json: {status: ok}}"
    run = run_steps(tls_stub.server.url, steps)
    secure = step(run, "secure")
    assert (secure.status, secure.reason) == ("failed", "tls"), describe(run)
    assert secure.message.startswith("TLS handshake failed: ")
    assert "certificate verify failed" in secure.message.lower()
    assert not tls_stub.server.requests

    run = run_steps(tls_stub.server.url, steps, target=f"tls: {{ca_file: {tls_stub.cert}}}")
    assert run.success, describe(run)
    assert len(tls_stub.server.received("/ok")) == 1


# --- OpenAPI and Server-Timing ---------------------------------------------------------------------------------


def test_openapi_drift_fails_with_schema(stub: StubServer) -> None:
    case = Case(
        stub.url,
        """
        - name: typed
          http: {path: /typed}
          expect: {openapi: true}
        - name: drifted
          http: {path: /typed, query: {drift: 1}}
          expect: {openapi: true}
        """,
        target="openapi: /openapi.json",
    )
    run = case.run()
    assert step(run, "typed").ok, describe(run)
    drifted = step(run, "drifted")
    assert (drifted.status, drifted.reason) == ("failed", "schema"), describe(run)
    assert drifted.message.startswith("openapi: response body does not match the schema"), drifted.message
    assert "id" in drifted.message and "integer" in drifted.message, drifted.message
    # The document is fetched once and cached for the next step and the next run.
    case.run()
    (fetch,) = stub.received("/openapi.json")
    # ...as the exporter's own traffic: marked synthetic, with an ID of its own.
    assert fetch.headers["x-synthetic"] == "1" and len(fetch.headers["x-request-id"]) == 32


def test_an_undocumented_status_passes_openapi_only_when_implicitly_allowed(stub: StubServer) -> None:
    steps = """
        - name: unauthorized
          http: {path: /typed, query: {status: 401}}
          expect: {status: 401, openapi: true}
        - name: forbidden
          http: {path: /typed, query: {status: 403}}
          expect: {status: 403, openapi: true}
    """
    run = run_steps(stub.url, steps, target="openapi: /openapi.json\nimplicit_statuses: [401]")
    unauthorized = step(run, "unauthorized")
    assert unauthorized.ok, describe(run)
    openapi = next(c for c in unauthorized.assertions if c.name == "openapi")
    assert openapi.message == "status 401 is not documented but implicitly allowed"
    forbidden = step(run, "forbidden")
    assert (forbidden.status, forbidden.reason) == ("failed", "schema"), describe(run)
    assert "403" in forbidden.message, forbidden.message


def test_an_unreachable_openapi_document_fails_with_schema(stub: StubServer) -> None:
    run = run_steps(
        stub.url, "- name: ok\n  http: {path: /ok}\n  expect: {openapi: true}", target="openapi: /nope.json"
    )
    ok = step(run, "ok")
    assert (ok.status, ok.reason) == ("failed", "schema"), describe(run)
    assert ok.message.startswith("openapi: cannot load the OpenAPI document '/nope.json'"), ok.message


def test_fetching_the_openapi_document_cannot_hold_the_run_past_its_timeout(stub: StubServer) -> None:
    started = time.monotonic()
    run = run_steps(
        stub.url, "- name: ok\n  http: {path: /ok}\n  expect: {openapi: true}", target="openapi: /hang", timeout="1s"
    )
    elapsed = time.monotonic() - started
    ok = step(run, "ok")
    assert (ok.status, ok.reason) == ("failed", "schema"), describe(run)
    assert ok.message.startswith("openapi: cannot load the OpenAPI document '/hang'"), ok.message
    assert "no answer in time" in ok.message, ok.message
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"


def test_server_timing_is_parsed_and_checked_against_server_limits(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: within
          http: {path: /server-timing}
          expect:
            server: {max_queries: 4, max_db_duration: 4ms, max_app_duration: 13ms}
        - name: too-many-queries
          http: {path: /server-timing}
          expect:
            server: {max_queries: 3}
        """,
    )
    within = step(run, "within")
    assert within.ok, describe(run)
    assert within.server.app_seconds == pytest.approx(0.0125)
    assert within.server.db_seconds == pytest.approx(0.0035)
    assert within.server.queries == 4
    too_many = step(run, "too-many-queries")
    assert (too_many.status, too_many.degraded) == ("ok", True), describe(run)
    (broken,) = [check for check in too_many.assertions if not check.ok]
    assert (broken.name, broken.severity, broken.message) == (
        "max_queries",
        "warning",
        "server ran 4 queries, at most 3 allowed",
    )
    assert run.result == "degraded"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("{max_db_duration: 3ms}", "max_db_duration: server db time 4 ms, budget 3 ms"),
        ("{max_app_duration: 10ms}", "max_app_duration: server app time 12 ms, budget 10 ms"),
    ],
)
def test_server_durations_over_budget_degrade_the_step(stub: StubServer, limits: str, message: str) -> None:
    run = run_steps(stub.url, f"- name: timed\n  http: {{path: /server-timing}}\n  expect: {{server: {limits}}}")
    timed = step(run, "timed")
    assert (timed.status, timed.degraded, run.result) == ("ok", True, "degraded"), describe(run)
    assert [f"{c.name}: {c.message}" for c in timed.assertions if not c.ok] == [message]


def test_server_limits_degrade_the_step_when_the_server_sends_no_timing(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: ok\n  http: {path: /ok}\n  expect: {server: {max_queries: 10}}")
    ok = step(run, "ok")
    assert (ok.status, ok.degraded, run.result) == ("ok", True, "degraded"), describe(run)
    assert [f"{c.name}: {c.message}" for c in ok.assertions if not c.ok] == [
        "max_queries: server sent no query count, at most 10 allowed"
    ]
    assert ok.server.queries is None and ok.server.app_seconds is None


# --- retries ---------------------------------------------------------------------------------------------------


def test_a_get_with_retries_survives_one_server_error(stub: StubServer) -> None:
    key = uuid.uuid4().hex
    run = run_steps(stub.url, f"- name: flaky\n  retries: 2\n  http: {{path: /flaky, query: {{key: {key}}}}}")
    flaky = step(run, "flaky")
    assert flaky.ok, describe(run)
    assert flaky.attempts == 2
    assert flaky.http_status == 200
    assert len(stub.received("/flaky")) == 2


def test_without_retries_the_first_server_error_fails_the_step(stub: StubServer) -> None:
    key = uuid.uuid4().hex
    run = run_steps(stub.url, f"- name: flaky\n  http: {{path: /flaky, query: {{key: {key}}}}}")
    flaky = step(run, "flaky")
    assert (flaky.status, flaky.reason, flaky.attempts) == ("failed", "http_status", 1), describe(run)
    assert len(stub.received("/flaky")) == 1


def test_a_post_cannot_have_retries() -> None:
    case = Case("http://127.0.0.1:1", "- name: create\n  retries: 1\n  http: {method: POST, path: /items}")
    with pytest.raises(ConfigError) as error:
        case.config()
    (problem,) = error.value.problems
    assert problem.startswith("test.yml: workflow 'wf', step 'create': retries are only allowed for idempotent steps")


def test_ok_document_is_what_the_stub_serves(stub: StubServer) -> None:
    # Guards the expectations above: they are written against this document.
    run = run_steps(stub.url, "- name: ok\n  http: {path: /ok}")
    exchange = step(run, "ok").exchange
    assert exchange is not None
    assert json.loads(exchange.response_body) == OK_DOCUMENT


def test_json_equality_does_not_confuse_booleans_and_numbers(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: typed\n  http: {path: /typed}\n  expect: {json: {id: true}}")
    assert step(run, "typed").reason == "assertion", describe(run)
    run = run_steps(stub.url, "- name: typed\n  http: {path: /typed}\n  expect: {json: {id: '42'}}")
    assert step(run, "typed").ok, describe(run)


def test_variables_in_regexes_are_literal(stub: StubServer) -> None:
    """An extracted value with regex syntax in it ('(' or '.') is matched as text, not as a pattern."""
    run = run_steps(
        stub.url,
        """
        - name: echo
          http: {path: /echo/a, query: {value: "x.(y"}}
          extract: {value: {json: query.value}}
        - name: match
          http: {path: /echo/b, query: {value: "x.(y"}}
          expect: {body_regex: "${value}"}
        - name: literal-dot
          http: {path: /echo/c, query: {value: "xz(y"}}
          expect: {body_regex: "${value}"}
        """,
    )
    assert step(run, "match").ok, describe(run)
    assert step(run, "literal-dot").reason == "assertion", describe(run)
