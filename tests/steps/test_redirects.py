"""Redirects stay inside the run's rules: a hop limit with its own reason, the byte caps, browsers' method rules,
and nothing configured (headers, credentials, the synthetic marker, a request body) crosses to another origin.

Three tables against two hostile targets, ``home`` (the configured target) and ``other`` (another origin):
where a chain ends, what method and body each redirect status leaves, and what reaches the other origin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synthetic.config import ConfigError
from tests.harness.hostile_target import Conn, HostileTarget, Seen, head, serve_hostile
from tests.steps.stub import Case, describe, run_steps, step


@pytest.fixture
def home() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


@pytest.fixture
def other() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


def _yaml_query(query: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: '{v}'" for k, v in query.items()) + "}"


# --- where a chain ends ----------------------------------------------------------------------------------------

# (route, query ({home} and {home_port} are filled in), extra http fields, reason or None, message fragment)
ENDINGS = [
    ("/loop", {}, "", "redirect", "more than 10 redirects (max_redirects) (a loop)"),
    ("/chain", {"n": "12"}, "", "redirect", "more than 10 redirects"),
    ("/chain", {"n": "3"}, ", max_redirects: 2", "redirect", "more than 2 redirects"),
    ("/chain", {"n": "1"}, ", max_redirects: 0", "redirect", "more than 0 redirects"),
    ("/chain", {"n": "3"}, "", None, ""),
    ("/chain", {"n": "10"}, "", None, ""),
    ("/redirect", {"to": "ftp://127.0.0.1/file"}, "", "redirect", "only http:// and https:// redirects"),
    ("/redirect", {"to": "file:///etc/passwd"}, "", "redirect", "only http:// and https:// redirects"),
    ("/redirect", {"to": "javascript:alert(1)"}, "", "redirect", "only http:// and https:// redirects"),
    ("/redirect", {"to": "data:text/plain,hello"}, "", "redirect", "only http:// and https:// redirects"),
    ("/redirect", {"to": "gopher://127.0.0.1:70/"}, "", "redirect", "only http:// and https:// redirects"),
    ("/redirect", {"to": "http://[::1"}, "", "redirect", "not a URL"),
    ("/redirect", {"to": "http://"}, "", "redirect", "not a URL both URL parsers read alike"),
    ("/redirect", {"to": "http://127.0.0.1:99999/"}, "", "redirect", "not a URL both URL parsers read alike"),
    ("/redirect", {"to": "http://user:pw@127.0.0.1:{home_port}/ok"}, "", "redirect", "carries credentials"),
    ("/redirect", {"to": "http://127.0.0.1:{home_port}\\@127.0.0.2/ok"}, "", "redirect", "not followed"),
    ("/redirect", {"to": "ok"}, "", None, ""),
    ("/redirect", {"to": "./ok?from=relative"}, "", None, ""),
    ("/redirect", {"to": "/chain/../ok"}, "", None, ""),
    ("/redirect", {"to": "//127.0.0.1:{home_port}/ok"}, "", None, ""),
    ("/redirect", {"to": "{home}/ok"}, "", None, ""),
    ("/redirect", {}, "", "http_status", "status 302"),  # no Location: the 302 is the answer
    ("/two-locations", {}, "", "redirect", "2 different Location headers"),
    ("/utf8-location", {}, "", None, ""),
    # A redirect's body is never read: a gigabyte or a compression bomb costs nothing ...
    ("/redirect", {"to": "/ok", "body": str(1 << 30)}, "", None, ""),
    ("/redirect", {"to": "/ok", "bomb": "gzip", "mb": "256"}, "", None, ""),
    ("/redirect", {"to": "/ok", "bomb": "gzip-gzip", "mb": "256"}, "", None, ""),
    # ... unless it is the answer, when the cap holds as for any body.
    ("/redirect", {"to": "/ok", "body": str(1 << 30)}, ", follow_redirects: false", "assertion", "max_response_bytes"),
    ("/redirect", {"to": "/ok", "bomb": "gzip"}, ", follow_redirects: false", "assertion", "max_response_bytes"),
]


def _two_locations(conn: Conn, seen: Seen) -> None:
    conn.send(head(302, {"Location": "/ok", "location": "/loop", "Content-Length": "0"}))


def _utf8_location(conn: Conn, seen: Seen) -> None:
    conn.send(b"HTTP/1.1 302 Found\r\nLocation: /echo?name=caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("route", "query", "extra", "reason", "fragment"), ENDINGS,
                         ids=[f"{r[0]} {r[1]} {r[2]}" for r in ENDINGS])  # fmt: skip
def test_where_a_redirect_chain_ends(
    home: HostileTarget, route: str, query: dict[str, str], extra: str, reason: str | None, fragment: str
) -> None:
    home.route("/two-locations", _two_locations)
    home.route("/utf8-location", _utf8_location)
    filled = {k: v.format(home=home.url, home_port=home.port) for k, v in query.items()}
    run = run_steps(
        home.url,
        f"- name: go\n  http: {{path: {route}, query: {_yaml_query(filled)}{extra}}}\n  expect: {{status: 2xx}}",
        target="max_response_bytes: 100000",
    )
    go = step(run, "go")
    assert go.reason != "internal", describe(run)
    assert go.reason == reason, describe(run)
    assert fragment in go.message, go.message
    assert len(home.requests) <= 12, "the hop limit (10) bounds the requests a chain makes"
    # Every hop followed is on the run page, as a bounded list.
    assert go.exchange is not None and len(go.exchange.redirects) <= 20
    if reason == "redirect":
        assert go.http_status is not None and 300 <= go.http_status < 400, "the redirect that arrived is on record"
    if route == "/chain" and reason is None:
        assert len(go.exchange.redirects) == int(query["n"])
        assert go.exchange.redirects[0].startswith(f"302 {home.url}/chain?n=")
    if route == "/utf8-location":
        (echo,) = home.received("/echo")
        assert echo.path == "/echo?name=caf%C3%A9"
    if "body" in query or "bomb" in query:
        # Never taken off the wire: a socket buffer's worth at most of a 1 GiB body or a 256 MiB bomb.
        assert home.sent["/redirect"] < 32 * 1024 * 1024
        assert go.response_bytes <= 100_000 + 64 * 1024


# --- methods and bodies ----------------------------------------------------------------------------------------

# (method, redirect status, the method that arrives, whether the body arrives)
METHODS = [
    ("POST", 301, "GET", False),
    ("POST", 302, "GET", False),
    ("POST", 303, "GET", False),
    ("POST", 307, "POST", True),
    ("POST", 308, "POST", True),
    ("PUT", 302, "PUT", True),  # browsers rewrite only POST on 301/302
    ("PUT", 303, "GET", False),
    ("PATCH", 301, "PATCH", True),
    ("DELETE", 303, "GET", False),
    ("DELETE", 307, "DELETE", False),  # no body to begin with
    ("GET", 303, "GET", False),
]


@pytest.mark.parametrize(("method", "status", "arrives", "with_body"), METHODS)
def test_each_redirect_status_keeps_or_changes_the_method_as_browsers_do(
    home: HostileTarget, method: str, status: int, arrives: str, with_body: bool
) -> None:
    body = "" if method in ("GET", "DELETE") else ", json: {quantity: 2}"
    run = run_steps(
        home.url,
        f"- name: go\n  http: {{method: {method}, path: /redirect, query: {{to: /echo, status: '{status}'}}{body}}}",
    )
    assert step(run, "go").ok, describe(run)
    (first,) = home.received("/redirect")
    assert first.method == method
    (echo,) = home.received("/echo")
    assert echo.method == arrives
    assert (echo.body == b'{"quantity": 2}') is with_body
    assert ("content-type" in echo.headers) is with_body, "a dropped body takes its Content-Type along"


# --- what crosses to another origin ----------------------------------------------------------------------------

SECRET = "marker-secret-0123456789"
TARGET = f"""
headers: {{X-Api-Key: key-0123456789, Authorization: "Basic dXNlcjpwYXNzd29yZA=="}}
synthetic_secret: {SECRET}
"""
CONFIGURED = ("x-api-key", "authorization", "x-token", "x-synthetic", "x-csrftoken", "referer")

# (method, where the home target redirects ({other}, {other_port}, {home_port}), which server gets the last hop,
#  whether configured headers arrive there)
CROSSINGS = [
    ("GET", "/redirect?to=/echo", "home", True),  # same origin: everything goes along
    ("GET", "/redirect?to={other}/echo", "other", False),
    ("GET", "/redirect?status=301&to={other}/echo", "other", False),
    ("GET", "/redirect?status=303&to={other}/echo", "other", False),
    ("GET", "/redirect?status=307&to={other}/echo", "other", False),
    ("GET", "/redirect?status=308&to={other}/echo", "other", False),
    ("GET", "/redirect?to=//127.0.0.1:{other_port}/echo", "other", False),
    ("GET", "/redirect?to=http://localhost:{home_port}/echo", "home", False),  # same server, another host name
    ("GET", "/redirect?to={other}/redirect%3Fto%3Dhttp://127.0.0.1:{home_port}/echo", "home", False),  # and back
    ("POST", "/redirect?to={other}/echo", "other", False),  # 302: now a GET without the body
    ("POST", "/redirect?status=303&to={other}/echo", "other", False),
]


@pytest.mark.parametrize(("method", "redirect", "lands", "kept"), CROSSINGS, ids=[f"{r[0]} {r[1]}" for r in CROSSINGS])
def test_nothing_configured_crosses_to_another_origin(
    home: HostileTarget, other: HostileTarget, method: str, redirect: str, lands: str, kept: bool
) -> None:
    route, _, query = redirect.format(other=other.url, other_port=other.port, home_port=home.port).partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    params = {k: v.replace("%3F", "?").replace("%3D", "=") for k, v in params.items()}
    body = "\n    form: {password: hunter2-secret}" if method == "POST" else ""
    run = Case(
        home.url,
        "- name: cookie\n"
        '  http: {path: /header, query: {name: Set-Cookie, value: "csrftoken=csrf-0123456789; Path=/"}}\n'
        f"- name: go\n  http:\n    method: {method}\n    path: {route}\n    query: {_yaml_query(params)}\n"
        f"    headers: {{X-Token: step-token-0123456789, Cookie: manual=cookie-0123456789}}{body}",
        TARGET,
    ).run()
    assert run.success, describe(run)
    landed = (home if lands == "home" else other).received("/echo")
    assert len(landed) == 1, describe(run)
    arrived = landed[0].headers
    # The run's public trace context always crosses: it is what ties the other side's logs to this run.
    assert arrived["x-request-id"] == run.correlation_id
    assert arrived["traceparent"].split("-")[1] == run.correlation_id
    if kept:
        assert arrived["x-api-key"] == "key-0123456789"
        assert arrived["x-token"] == "step-token-0123456789"
        assert arrived["x-synthetic"].startswith("v1:")
        return
    leaked = {name: arrived[name] for name in CONFIGURED if name in arrived}
    assert not leaked, f"configured headers reached another origin: {leaked}"
    assert "manual=" not in arrived.get("cookie", ""), "a Cookie header set by hand stays on the target"
    if "localhost" in redirect:
        # The cookie jar follows the cookie rules (RFC 6265, as browsers do): by host name, not by port.
        assert "cookie" not in arrived
    assert b"hunter2" not in landed[0].body, "a request body never follows a redirect to another origin"
    assert landed[0].method == "GET"


@pytest.mark.parametrize("status", [307, 308])
def test_a_307_or_308_that_would_resend_a_body_to_another_origin_is_not_followed(
    home: HostileTarget, other: HostileTarget, status: int
) -> None:
    run = run_steps(
        home.url,
        f"- name: login\n  http: {{method: POST, path: /redirect, query: {{to: '{other.url}/echo', status: "
        f"'{status}'}}, json: {{password: hunter2-secret}}}}",
        target=TARGET,
    )
    login = step(run, "login")
    assert (login.status, login.reason) == ("failed", "redirect"), describe(run)
    assert "would re-send the request body" in login.message
    assert login.http_status == status, "the redirect that arrived is on the record"
    assert not other.requests


def test_the_openapi_fetch_carries_nothing_configured_to_another_origin(
    home: HostileTarget, other: HostileTarget
) -> None:
    run = run_steps(
        home.url,
        "- name: ok\n  http: {path: /raw, query: {case: json-bad-charset}}\n  expect: {openapi: true}",
        target=TARGET + f"openapi: /redirect?to={other.url}/openapi.json",
    )
    assert run.success, describe(run)
    (fetched,) = other.received("/openapi.json")
    leaked = {name: fetched.headers[name] for name in (*CONFIGURED, "cookie") if name in fetched.headers}
    assert not leaked, f"the OpenAPI fetch leaked configured headers to another origin: {leaked}"
    (asked,) = home.received("/redirect")
    assert asked.headers["x-api-key"] == "key-0123456789", "on the target's own origin they go along"
    assert asked.headers["x-synthetic"] != "1"


@pytest.mark.parametrize("value", ["-1", "ten", "true", "1.5"])
def test_max_redirects_must_be_a_whole_number(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Case("http://127.0.0.1:1", f"- name: go\n  http: {{path: /x, max_redirects: {value}}}").config()
    assert any("max_redirects must be a whole number >= 0" in found for found in error.value.problems)
