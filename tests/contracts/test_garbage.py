"""A target that answers the sweep with garbage: every answer judged or reported, never a crash, and what it
sent kept bounded. HTTP that is not HTTP, bodies too large, JSON that is not JSON, no answer at all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synthetic.contracts.sweep import SweepResult, run_sweep
from tests.harness.hostile_target import RAW_ANSWERS, Conn, Handler, HostileTarget, Seen, serve_hostile

from .helpers import document, json_response, sweep_config

CONFORMANCE = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
               "response_schema_conformance"]  # fmt: skip
NOT_HTTP = "no usable HTTP answer (protocol): "

# (case: an answer of tests/harness/hostile_target.RAW_ANSWERS, or a route of it; the verdict of each check)
CASES: list[tuple[str, dict[str, tuple[str, str]]]] = [
    *[(case, dict.fromkeys(CONFORMANCE, ("failed", NOT_HTTP))) for case in (
        "status-not-a-number", "status-too-large", "status-not-http", "status-http09", "status-line-endless",
        "headers-too-many", "content-length-conflicting", "chunked-bad-size", "chunked-huge-size",
        "encoding-gzip-garbage", "encoding-unknown",
    )],
    ("empty", dict.fromkeys(CONFORMANCE, ("error", "closed the connection without answering"))),
    # Heads HTTP clients take: judged on what they say.
    ("head-unterminated", {"not_a_server_error": ("passed", "answered 200"),
                           "response_schema_conformance": ("failed", "not the JSON its schema describes: invalid")}),
    ("header-no-colon", {"content_type_conformance": ("failed", "the 200 answer has a body but no Content-Type")}),
    ("header-nul", {"content_type_conformance": ("failed", "the 200 answer has a body but no Content-Type")}),
    ("json-nan", {"not_a_server_error": ("passed", "answered 200"),
                  "response_schema_conformance": ("failed", "invalid JSON: NaN is not JSON")}),
    ("json-invalid-utf8", {"response_schema_conformance": ("failed", "the body is not UTF-8")}),
    ("/bloat-body?bytes=5000000", dict.fromkeys(CONFORMANCE, ("failed", "no usable HTTP answer (assertion): "))),
    ("/hang", dict.fromkeys(CONFORMANCE, ("error", "no answer (timeout): "))),
]  # fmt: skip


@pytest.fixture(scope="module")
def swept() -> Iterator[SweepResult]:
    """One sweep over a document with one operation per case, each answered with its garbage."""
    with serve_hostile() as server:
        paths = {}
        for index, (case, _) in enumerate(CASES):
            path = f"/case-{index}"
            paths[path] = {"get": json_response({"type": "object", "required": ["status"]})}
            server.route(path, _answer(server, case))
        server.route("/doc", lambda conn, seen: conn.json(200, document(paths)))
        config = sweep_config(server.url, {"openapi": "/doc", "checks": CONFORMANCE, "timeout": "20s",
                                           "request_timeout": "1s"})  # fmt: skip
        yield run_sweep(config.targets["api"], config.workflows)


def _answer(server: HostileTarget, case: str) -> Handler:
    if case.startswith("/"):
        route, _, query = case.partition("?")
        original = server.handler(route)
        assert original is not None

        def delegate(conn: Conn, seen: Seen) -> None:
            original(conn, Seen(seen.method, f"{route}?{query}", seen.headers, seen.body, seen.port))

        return delegate

    def raw(conn: Conn, seen: Seen) -> None:
        conn.send(RAW_ANSWERS[case])

    return raw


@pytest.mark.parametrize(("index", "expected"), [(i, row[1]) for i, row in enumerate(CASES)],
                         ids=[row[0] for row in CASES])  # fmt: skip
def test_each_garbage_answer_is_judged(swept: SweepResult, index: int, expected: dict[str, tuple[str, str]]) -> None:
    assert swept.error is None
    verdicts = {r.check: r for r in swept.results if r.operation == f"GET /case-{index}"}
    for check, (status, fragment) in expected.items():
        verdict = verdicts[check]
        assert verdict.status == status and fragment in verdict.message, (check, verdict.status, verdict.message)
        if status in ("failed", "error"):
            assert verdict.example is not None and len(verdict.example.response_body) <= 4096


def test_the_sweep_went_on_after_every_garbage_answer(swept: SweepResult) -> None:
    assert swept.operations == len(CASES)
    assert len(swept.results) == len(CASES) * len(CONFORMANCE)
    assert swept.requests == len(CASES)  # one answer read by all four checks
