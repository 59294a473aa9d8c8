"""A server that fails is not a security hole: the security checks (``ignored_auth``, ``cors_preflight``) judge a
5xx answer as ``error`` — nothing can be said while the server fails, and ``not_a_server_error`` reports it — so an
outage (a database refusing connections) does not page as JourneyContractSecurityCheckFailing. What a 5xx answer
does say is still judged: a foreign origin allowed, or ``*`` with credentials, fails whatever the status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synthetic.contracts.sweep import SweepResult, run_sweep
from tests.harness.hostile_target import Conn, Seen, serve_hostile

from .helpers import document, json_response, sweep_config

SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
WILDCARD = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}

# (path, the headers its 500 answer carries, {check: (verdict, fragment of its message)})
CASES: list[tuple[str, dict[str, str], dict[str, tuple[str, str]]]] = [
    ("/down", {}, {
        "ignored_auth": ("error", "answered 500: a server error says nothing about who may call"),
        "cors_preflight": ("error", "answered 500: a server error says nothing about what a trusted origin is allowed"),
        "not_a_server_error": ("failed", "500"),
    }),
    ("/down-open", WILDCARD, {
        "ignored_auth": ("error", "a server error says nothing about who may call"),
        "cors_preflight": ("failed", "any origin allowed (Access-Control-Allow-Origin *) together with credentials"),
    }),
    ("/down-foreign", {"Access-Control-Allow-Origin": "https://contract-check.invalid"}, {
        "cors_preflight": ("failed", "untrusted origin https://contract-check.invalid is allowed"),
    }),
]  # fmt: skip
CHECKS = ["ignored_auth", "cors_preflight", "not_a_server_error"]


@pytest.fixture(scope="module")
def swept() -> Iterator[SweepResult]:
    """One sweep over secured operations whose every answer is a 500 (GET: an unsafe operation's probes carry an
    invalid body, judged by the same code, and generating it costs seconds)."""
    with serve_hostile() as server:
        paths: dict[str, Any] = {}
        for path, headers, _ in CASES:
            paths[path] = {"get": {**json_response({"type": "object"}), **SECURED}}
            server.route(path, _failing(headers))
        paths["/doc"] = {}
        server.route("/doc", lambda conn, seen: conn.json(200, document(
            {p: o for p, o in paths.items() if o},
            components={"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}})))  # fmt: skip
        config = sweep_config(server.url, {
            "openapi": "/doc", "checks": CHECKS, "timeout": "20s", "request_timeout": "2s",
            "auth": {"headers": {"Authorization": "Bearer valid-token"}},
            "cors": {"trusted_origins": ["https://shop.example"]},
        })  # fmt: skip
        yield run_sweep(config.targets["api"], config.workflows)


def _failing(headers: dict[str, str]) -> Any:
    def answer(conn: Conn, seen: Seen) -> None:
        conn.json(500, {"detail": "the database refused the connection"}, headers)

    return answer


@pytest.mark.parametrize(("path", "expected"), [(row[0], row[2]) for row in CASES], ids=[row[0] for row in CASES])
def test_a_failing_server_is_not_judged_a_security_hole(swept: SweepResult, path: str,
                                                        expected: dict[str, tuple[str, str]]) -> None:  # fmt: skip
    assert swept.error is None, swept.error
    verdicts = {r.check: r for r in swept.results if r.operation == f"GET {path}"}
    for check, (status, fragment) in expected.items():
        verdict = verdicts[check]
        assert (verdict.status, fragment in verdict.message) == (status, True), (check, verdict.message)
