"""The runner: one deadline for the whole run, skipped steps after a failure, and always_run teardown."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
import requests
from requests.utils import select_proxy

from synthetic.result import REASONS
from synthetic.transport import environment_settings
from tests.steps.stub import Case, StubServer, closed_port_url, describe, run_steps, step


def test_a_step_slower_than_the_run_timeout_fails_with_timeout_and_later_steps_are_skipped(stub: StubServer) -> None:
    started = time.monotonic()
    run = run_steps(
        stub.url,
        """
        - name: slow
          http: {path: /slow, query: {seconds: 10}}
        - name: after
          http: {path: /ok}
        - name: last
          http: {path: /ok}
        """,
        timeout="1s",
    )
    elapsed = time.monotonic() - started
    slow = step(run, "slow")
    assert (slow.status, slow.reason) == ("failed", "timeout"), describe(run)
    assert slow.message.startswith("no answer in time: "), slow.message
    for name in ("after", "last"):
        skipped = step(run, name)
        assert (skipped.status, skipped.reason, skipped.message) == ("skipped", "skipped", "an earlier step failed")
    assert not stub.received("/ok")
    assert run.reason == "timeout" and not run.success
    assert run.failed_step is slow
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"
    assert run.duration == pytest.approx(elapsed, abs=0.5)


def test_a_server_that_never_answers_cannot_hold_the_run_past_its_timeout(stub: StubServer) -> None:
    started = time.monotonic()
    run = run_steps(stub.url, "- name: hang\n  http: {path: /hang}\n- name: after\n  http: {path: /ok}", timeout="1s")
    elapsed = time.monotonic() - started
    hang = step(run, "hang")
    assert (hang.status, hang.reason) == ("failed", "timeout"), describe(run)
    assert step(run, "after").status == "skipped"
    assert len(stub.received("/hang")) == 1
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"


@pytest.mark.parametrize(
    "query",
    [
        "{bytes: 100, every: 0.1}",  # a byte every 100 ms: every read is in time, the body takes 10 s
        "{bytes: 100, every: 30, delay: 0.7}",  # late headers, then one byte and silence
    ],
)
def test_a_trickling_body_cannot_hold_the_run_past_its_timeout(stub: StubServer, query: str) -> None:
    started = time.monotonic()
    run = run_steps(stub.url, f"- name: drip\n  http: {{path: /drip, query: {query}}}", timeout="1s")
    elapsed = time.monotonic() - started
    drip = step(run, "drip")
    assert (drip.status, drip.reason) == ("failed", "timeout"), describe(run)
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"


def test_the_run_timeout_argument_overrides_the_workflow_timeout(stub: StubServer) -> None:
    started = time.monotonic()
    run = Case(stub.url, "- name: hang\n  http: {path: /hang}", timeout="30s").run(timeout=0.5)
    elapsed = time.monotonic() - started
    assert step(run, "hang").reason == "timeout", describe(run)
    assert elapsed < 0.5 + 3


def test_always_run_teardown_runs_after_a_failure_and_the_run_keeps_the_first_reason(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: create
          http: {path: /ok}
          extract: {item_id: {json: id}}
        - name: check
          http: {path: /ok}
          expect: {body_regex: gadget}
        - name: order
          http: {path: /ok}
          extract: {order_id: {json: id}}
        - name: delete-item
          always_run: true
          http: {path: "/echo/items/${item_id}"}
        - name: delete-order
          always_run: true
          http: {path: "/echo/orders/${order_id}"}
        - name: failing-teardown
          always_run: true
          http: {path: /500}
        - name: not-teardown
          http: {path: /ok}
        """,
    )
    assert [(s.name, s.status, s.reason) for s in run.steps] == [
        ("create", "ok", None),
        ("check", "failed", "assertion"),
        ("order", "skipped", "skipped"),
        ("delete-item", "ok", None),
        ("delete-order", "skipped", "skipped"),
        ("failing-teardown", "failed", "http_status"),
        ("not-teardown", "skipped", "skipped"),
    ], describe(run)
    assert step(run, "delete-order").message == "variable ${order_id} has no value"
    assert [r.path for r in stub.requests] == ["/ok", "/ok", "/echo/items/42", "/500"]
    assert run.reason == "assertion"
    assert run.failed_step is step(run, "check")
    assert not run.success


def test_a_teardown_that_does_not_need_the_missing_variable_still_runs_after_a_transport_failure() -> None:
    run = run_steps(
        closed_port_url(),
        """
        - name: login
          http: {path: /login}
          extract: {token: {header: X-Token}}
        - name: logout
          always_run: true
          http: {path: /logout, headers: {Authorization: "Bearer ${token}"}}
        """,
    )
    assert (step(run, "login").reason, step(run, "logout").status) == ("connect", "skipped"), describe(run)
    assert run.reason == "connect"


def test_a_run_where_every_step_passes_has_no_reason_and_offsets_in_order(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: one\n  http: {path: /ok}\n- name: two\n  http: {path: /ok}")
    assert run.success and run.reason is None and run.failed_step is None, describe(run)
    one, two = run.steps
    assert 0 <= one.offset < two.offset <= run.duration
    assert run.workflow == "wf" and run.target == "stub"
    assert run.started_at == pytest.approx(time.time(), abs=30)


def test_every_reason_a_run_reports_is_in_the_closed_set(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: boom\n  http: {path: /500}\n- name: next\n  http: {path: /ok}")
    assert {s.reason for s in run.steps} == {"http_status", "skipped"}
    assert all(s.reason in REASONS for s in run.steps)


def test_header_names_are_case_insensitive_so_a_step_can_override_the_defaults(stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: cookie
          http: {path: /set-cookie, query: {token: from-cookie}}
        - name: post
          http:
            method: POST
            path: /headers
            headers: {user-agent: custom-agent, referer: "https://app.example/cart/", x-csrftoken: from-step}
        """,
        target="headers: {x-team: checkout}",
    )
    assert run.success, describe(run)
    (received,) = stub.received("/headers")
    assert received.headers["user-agent"] == "custom-agent"
    assert received.headers["referer"] == "https://app.example/cart/"
    assert received.headers["x-csrftoken"] == "from-step"
    assert received.headers["x-team"] == "checkout"
    assert received.headers["x-request-id"] == run.correlation_id


def test_teardown_still_runs_after_the_run_timed_out(stub: StubServer) -> None:
    """A run that hits its deadline still cleans up: always_run steps get a short grace budget."""
    run = run_steps(
        stub.url,
        """
        - name: create
          http: {path: /ok}
          extract: {item_id: {json: id}}
        - name: stuck
          http: {path: /slow, query: {seconds: 5}}
        - name: cleanup
          always_run: true
          http: {path: "/echo/items/${item_id}"}
        """,
        timeout="1s",
    )
    assert step(run, "stuck").reason == "timeout"
    assert step(run, "cleanup").ok, describe(run)
    assert stub.received("/echo/items/42"), "the teardown request never reached the server"


def test_proxy_settings_from_the_environment_apply(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured (resolved once per run), and NO_PROXY still bypasses it."""
    monkeypatch.setenv("HTTP_PROXY", stub.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    via_proxy = run_steps("http://shop.invalid", "- name: ok\n  http: {path: /ok}")
    assert step(via_proxy, "ok").ok, describe(via_proxy)
    assert stub.received("/ok")[0].path == "http://shop.invalid/ok"  # an absolute URL: a proxy request

    monkeypatch.setenv("NO_PROXY", "shop.invalid")
    direct = run_steps("http://shop.invalid", "- name: ok\n  http: {path: /ok}")
    assert step(direct, "ok").reason == "dns", describe(direct)


_PROXY_NAMES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                "NO_PROXY", "REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "ftp_proxy")  # fmt: skip


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTP_PROXY": "http://proxy.invalid:3128"},
        {"http_proxy": "http://lower.invalid:3128", "HTTPS_PROXY": "http://secure.invalid:3128"},
        {"ALL_PROXY": "socks5://socks.invalid:1080"},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "shop.invalid"},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "no_proxy": "*"},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": ".invalid,127.0.0.1"},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "REQUEST_METHOD": "GET"},  # CGI: HTTP_PROXY is not trusted
        {"ftp_proxy": "http://ftp.invalid:21"},
        {"REQUESTS_CA_BUNDLE": "/etc/bundle.pem"},
        {"CURL_CA_BUNDLE": "/etc/curl.pem"},
    ],
    ids=lambda environment: ",".join(environment) or "none",
)
@pytest.mark.parametrize("url", ["http://shop.invalid/ok", "https://shop.invalid:8443/a?b=c", "http://127.0.0.1:8000/"])
@pytest.mark.parametrize("verify", [True, False, "/etc/mine.pem"])
def test_environment_settings_are_requests_own(
    environment: dict[str, str], url: str, verify: bool | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy and CA bundle a request gets are requests' own answer for the environment, though looked up
    once per origin: the same for every proxy variable, and a changed variable is seen at once."""

    def effective(settings: Mapping[str, Any]) -> tuple[Any, ...]:
        # What the adapter uses of the proxies: the one select_proxy picks for the URL.
        return select_proxy(url, settings["proxies"]), settings["verify"], settings["cert"], settings["stream"]

    for name in _PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    expected = session.merge_environment_settings(url, {}, True, verify, None)
    assert effective(environment_settings(session, url, verify, None)) == effective(expected)  # the cache is warm
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    expected = session.merge_environment_settings(url, {}, True, verify, None)
    assert effective(environment_settings(session, url, verify, None)) == effective(expected)
