"""A value from a response cannot move the next request to another host, nor split it.

The target answers a value (here: it echoes what the first step asked for), the second step renders it into its
path, a header name or value, a query value or a JSON body. A rendered URL must stay on the target's origin
(scheme, host and port as both URL parsers read them); a rendered header must be one header. Anything else
fails the step with ``extraction`` before a byte is sent: the other origin receives nothing, and neither does
the target a second time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from synthetic.config import ConfigError
from tests.harness.hostile_target import HostileTarget, serve_hostile
from tests.steps.stub import Case, describe, run_steps, step


@pytest.fixture
def home() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


@pytest.fixture
def other() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


TARGET = "headers: {X-Api-Key: key-0123456789}\nsynthetic_secret: marker-secret-0123456789"

# (where the value goes, the value ({other} = other's host:port, {home} = home's URL, {port} = home's port),
#  None when the step must refuse it else the request target that must arrive at home, message fragment)
VALUES = [
    # the reported case: userinfo glued onto base_url
    ("path", "@{other}/x", None, "neither a path nor a URL on the target's origin"),
    ("path", "//{other}/x", None, "a single '/'"),
    ("path", "/\\{other}/x", None, "a single '/'"),
    ("path", "\\\\{other}/x", None, "a single '/'"),
    ("path", "http://{other}/x", None, "leaves the target's origin"),
    ("path", "https://{other}/x", None, "leaves the target's origin"),
    ("path", "http://localhost:{port}/echo", None, "leaves the target's origin"),
    ("path", "http://127.0.0.1:{port}@{other}/x", None, "user:password@"),
    ("path", "http://user:pw@127.0.0.1:{port}/echo", None, "user:password@"),
    ("path", "http://127.0.0.1:{port}\\@{other}/x", None, "neither a path nor a URL"),
    ("path", "http://127\u30020\u30020\u30021:{port}/echo", None, "neither a path nor a URL"),  # ideographic dots
    ("path", "ftp://127.0.0.1:{port}/echo", None, "neither a path nor a URL"),
    ("path", "/echo\r\nHost: {other}", None, "line breaks or control characters"),
    ("path", "/echo\nX-Injected: 1", None, "line breaks or control characters"),
    ("path", "/echo\x00", None, "line breaks or control characters"),
    ("path", "/echo\t", None, "line breaks or control characters"),
    ("path", " /echo", None, "neither a path nor a URL"),
    ("path", "", None, "neither a path nor a URL"),
    # on the target: sent there, encoded as a path
    ("path", "{home}/echo?from=absolute", "/echo?from=absolute", ""),
    ("path", "HTTP://127.0.0.1:{port}/echo?case=upper", "/echo?case=upper", ""),
    ("path", "/echo?next=//{other}/x", "/echo?next=//{other}/x", ""),
    ("path", "/%2F%2F{other}/x", "/%2F%2F{other}/x", ""),
    ("path", "/echo%0d%0aX-Injected:%201", "/echo%0D%0AX-Injected:%201", ""),
    ("path", "/echo/..%2F..%2F", "/echo/..%2F..%2F", ""),
    ("path", "/\u3002{other}", "/%E3%80%82{other}", ""),
    ("path", "/echo#@{other}", "/echo", ""),
    # header values and names
    ("header", "a\r\nX-Injected: 1", None, "line breaks or control characters"),
    ("header", "a\nHost: {other}", None, "line breaks or control characters"),
    ("header", "a\x00b", None, "line breaks or control characters"),
    ("header", "\u540d\u524d", None, "only Latin-1"),
    ("header", "caf\u00e9", "/echo", ""),
    ("header", "  padded\t", "/echo", ""),
    ("header-name", "Bad Name", None, "not a valid HTTP header name"),
    ("header-name", "X-A\r\nX-B", None, "not a valid HTTP header name"),
    ("header-name", "X-Fine", "/echo", ""),
    # query values are encoded: whatever they hold stays one parameter on the target
    ("query", "a&b=c#d\r\nX-Injected: 1 //{other}", "/echo", ""),
    ("query", "http://{other}/", "/echo", ""),
]


def _steps(where: str, value: str) -> str:
    use = {
        "path": 'path: "${next}"',
        "header": 'path: /echo, headers: {X-Next: "${next}"}',
        "header-name": 'path: /echo, headers: {"${next}": v}',
        "query": 'path: /echo, query: {q: "${next}"}',
    }[where]
    return (
        f"- name: answer\n  http: {{path: /echo, query: {{v: {json.dumps(value)}}}}}\n"
        "  extract: {next: {json: query.v}}\n"
        f"- name: use\n  http: {{{use}}}\n  expect: {{status: [200, 404]}}\n"
    )


@pytest.mark.parametrize(("where", "value", "arrives", "fragment"), VALUES, ids=[f"{r[0]} {r[1]!r}" for r in VALUES])
def test_a_value_from_a_response_cannot_move_or_split_the_next_request(
    home: HostileTarget, other: HostileTarget, where: str, value: str, arrives: str | None, fragment: str
) -> None:
    filled = value.format(other=f"127.0.0.1:{other.port}", home=home.url, port=home.port)
    run = run_steps(home.url, _steps(where, filled), target=TARGET)
    answer, use = step(run, "answer"), step(run, "use")
    assert answer.ok, describe(run)
    assert not other.requests, "nothing reaches another origin"
    if arrives is None:
        assert (use.status, use.reason) == ("failed", "extraction"), describe(run)
        assert fragment in use.message, use.message
        assert "the request was not sent" in use.message or "header" in use.message
        assert len(home.requests) == 1, "the refused request reached nobody"
        return
    assert use.ok, describe(run)
    sent = home.requests[-1]
    assert (sent.path if where == "path" else sent.route) == arrives.format(other=f"127.0.0.1:{other.port}")
    assert "x-injected" not in sent.headers
    assert sent.headers["x-api-key"] == "key-0123456789"
    if where == "header":
        assert sent.headers["x-next"] == filled.strip(" \t")
    if where == "query":
        assert use.exchange is not None
        echoed = json.loads(use.exchange.response_body)
        assert echoed["query"] == {"q": filled}, "the whole value arrives as one query parameter"


def test_a_value_json_cannot_carry_fails_the_step_before_sending(home: HostileTarget) -> None:
    """JSON has no NaN; Python's parser accepts it in a response, so a later JSON body must refuse it."""
    run = run_steps(
        home.url,
        """
        - name: answer
          http: {path: /raw, query: {case: json-nan}}
          extract: {value: {json: status}}
        - name: use
          http: {method: POST, path: /echo, json: {value: "${value}"}}
        """,
    )
    use = step(run, "use")
    assert (use.status, use.reason) == ("failed", "extraction"), describe(run)
    assert use.message.startswith("the JSON body cannot be sent"), use.message
    assert not home.received("/echo")


# The same rules for what is written in the config: refused when it loads, with every problem named.
LOAD_PROBLEMS = [
    ("path: //other.example/x", "path must start with one '/'"),
    ('path: "/\\\\other.example/x"', "path must start with one '/'"),
    ("path: http://other.example/x", "path must start with one '/'"),
    ('path: "/x\\r\\nHost: other.example"', "path has line breaks or control characters"),
    ('path: /x, headers: {"Bad Name": v}', "header name 'Bad Name' is not a valid HTTP header name"),
    ('path: /x, headers: {X-Ok: "a\\r\\nX-Injected: 1"}', "header X-Ok: the value has line breaks"),
]


@pytest.mark.parametrize(("http", "problem"), LOAD_PROBLEMS, ids=[r[0] for r in LOAD_PROBLEMS])
def test_a_literal_path_or_header_that_would_leave_or_split_the_request_is_a_config_problem(
    http: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Case("http://127.0.0.1:1", f"- name: bad\n  http: {{{http}}}").config()
    assert any(problem in found for found in error.value.problems), error.value.problems
