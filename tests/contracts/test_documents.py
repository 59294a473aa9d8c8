"""Hostile and broken OpenAPI documents: each one a clear, one-line sweep error naming why, never a crash or a
hang, and never a request the document asked for elsewhere (a $ref is only followed inside the document)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from synthetic.contracts.document import ApiDocumentError, parse_api
from synthetic.contracts.sweep import run_sweep
from tests.harness.hostile_target import Conn, HostileTarget, Seen, serve_hostile

from .helpers import document, json_response, sweep_config

PRODUCT = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}


@pytest.fixture
def hostile() -> Iterator[HostileTarget]:
    with serve_hostile() as server:
        yield server


def serve(target: HostileTarget, path: str, body: bytes | Any, content_type: str = "application/json") -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()

    def handler(conn: Conn, seen: Seen) -> None:
        conn.answer(200, data, {"Content-Type": content_type})

    target.route(path, handler)


def sweep_error(target: HostileTarget, openapi: str, **contracts: Any) -> str:
    config = sweep_config(target.url, {"openapi": openapi, **contracts})
    result = run_sweep(config.targets["api"], config.workflows)
    assert result.error is not None, [(r.operation, r.check, r.status) for r in result.results]
    assert result.results == []
    return result.error


# (case, the document served at /doc, what the error says)
BROKEN: list[tuple[str, Any, str]] = [
    ("not-json-or-yaml", b"{{{ not a document", "cannot be read: "),
    ("a-list", [1, 2], "is not a mapping"),
    ("swagger-2", {"swagger": "2.0", "paths": {}}, "is not OpenAPI 3.0 or 3.1: openapi is missing (Swagger 2.0"),
    ("openapi-4", {"openapi": "4.0.0", "paths": {}}, "is not OpenAPI 3.0 or 3.1: openapi is '4.0.0'"),
    ("paths-a-list", document([]), "paths: expected a mapping"),  # type: ignore[arg-type]
    ("path-without-slash", document({"items": {}}), "paths.items: a path must start with /"),
    ("operation-a-string", document({"/x": {"get": "yes"}}), "paths./x.get: expected a mapping"),
    ("undeclared-path-parameter", document({"/x/{id}": {"get": json_response(PRODUCT)}}),
     "paths./x/{id}.get: path parameter {id} is not declared"),
    ("parameter-without-in", document({"/x": {"get": {"parameters": [{"name": "q"}], "responses": {}}}}),
     "expected a mapping with name and in"),
    ("unresolvable-ref", document({"/x": {"get": json_response({"$ref": "#/components/schemas/Missing"})}}),
     "$ref '#/components/schemas/Missing' does not resolve"),
    ("remote-ref", document({"/x": {"get": json_response({"$ref": "http://127.0.0.1:9/evil.json#/A"})}}),
     "$ref 'http://127.0.0.1:9/evil.json#/A' is not in this document (only #/... is followed)"),
    ("file-ref", document({"/x": {"get": json_response({"$ref": "/etc/passwd"})}}),
     "$ref '/etc/passwd' is not in this document"),
    ("ref-cycle-without-schema", document({"/x": {"get": json_response({"$ref": "#/components/schemas/A"})}},
                                          components={"schemas": {"A": {"$ref": "#/components/schemas/B"},
                                                                  "B": {"$ref": "#/components/schemas/A"}}}),
     "a $ref cycle with no schema in it: #/components/schemas/A -> #/components/schemas/B -> #/components/schemas/A"),
    ("ref-not-a-string", document({"/x": {"get": json_response({"$ref": 42})}}), "$ref must be a string"),
    ("path-too-long", document({"/" + "a" * 300: {}}), "paths: a path of 301 characters (at most 256)"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN])
def test_a_broken_document_is_a_named_sweep_error(hostile: HostileTarget, body: Any, expected: str) -> None:
    serve(hostile, "/doc", body)
    error = sweep_error(hostile, "/doc")
    assert error.startswith("the OpenAPI document '/doc' ") and expected in error, error
    assert "\n" not in error
    assert [seen.route for seen in hostile.requests] == ["/doc"]  # nothing else fetched, nothing swept


@pytest.mark.parametrize(
    ("openapi", "expected"),
    [
        # 20 MB: the fetch stops at the 16 MB document cap, whatever the answer claims
        ("/bloat-body?bytes=20971520", "cannot fetch the OpenAPI document '/bloat-body?bytes=20971520': assertion: "),
        ("/bomb?encoding=gzip&mb=64", "cannot fetch the OpenAPI document '/bomb?encoding=gzip&mb=64': assertion: "),
        ("/deep-json?depth=100000", "cannot be read: the JSON is nested deeper than 100 levels"),
        (
            "/raw?case=status-not-a-number",
            "cannot fetch the OpenAPI document '/raw?case=status-not-a-number': protocol",
        ),
        ("/json?status=500", "cannot fetch the OpenAPI document '/json?status=500': it answered 500"),
        ("/loop", "cannot fetch the OpenAPI document '/loop': redirect: "),
    ],
    ids=["20-mb", "compression-bomb", "nested-too-deep", "not-http", "server-error", "redirect-loop"],
)
def test_a_hostile_fetch_is_a_named_sweep_error(hostile: HostileTarget, openapi: str, expected: str) -> None:
    error = sweep_error(hostile, openapi)
    assert expected in error, error


def test_a_twenty_megabyte_document_is_refused_by_size(hostile: HostileTarget) -> None:
    # A real JSON document of 20 MB: refused by the cap before it is parsed.
    big = document({f"/x{i}": {"get": json_response(PRODUCT)} for i in range(1)}, padding="x" * (20 * 1024 * 1024))
    serve(hostile, "/doc", big)
    error = sweep_error(hostile, "/doc")
    assert "cannot fetch the OpenAPI document '/doc': assertion: " in error and "document size limit" in error, error


def test_a_document_that_never_comes_ends_at_the_sweep_deadline(hostile: HostileTarget) -> None:
    started = time.monotonic()
    error = sweep_error(hostile, "/hang", timeout="2s", request_timeout="1s")
    assert "cannot fetch the OpenAPI document '/hang': timeout: no answer in time" in error, error
    assert time.monotonic() - started < 30  # bounded by the deadline, not waiting forever


def test_a_document_file_that_is_missing(hostile: HostileTarget, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # a relative location is a file (one starting with / is a path on the target)
    error = sweep_error(hostile, "docs/nope.json")
    assert error == "cannot read the OpenAPI document 'docs/nope.json': [Errno 2] No such file or directory: " \
        "'docs/nope.json'"  # fmt: skip


def test_a_recursive_schema_is_fine_and_checked_to_any_depth(hostile: HostileTarget) -> None:
    tree = {"type": "object", "required": ["name", "children"],
            "properties": {"name": {"type": "string"},
                           "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}}  # fmt: skip
    doc = document({"/tree": {"get": json_response({"$ref": "#/components/schemas/Tree"})},
                    "/broken-tree": {"get": json_response({"$ref": "#/components/schemas/Tree"})}},
                   components={"schemas": {"Tree": tree}})  # fmt: skip
    deep = {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": []}]}]}
    broken = {"name": "a", "children": [{"name": "b", "children": [{"name": 3, "children": []}]}]}
    serve(hostile, "/doc", doc)
    serve(hostile, "/tree", deep)
    serve(hostile, "/broken-tree", broken)
    config = sweep_config(hostile.url, {"openapi": "/doc", "checks": ["response_schema_conformance"]})
    result = run_sweep(config.targets["api"], config.workflows)
    verdicts = {r.operation: (r.status, r.message) for r in result.results}
    assert result.error is None
    assert verdicts["GET /tree"] == ("passed", "the 200 body matches its schema")
    assert verdicts["GET /broken-tree"] == (
        "failed",
        "the 200 body does not match its schema: children/0/children/0/name: 3 is not of type 'string'",
    )


def test_parse_api_refuses_more_operations_than_a_label_set_should_hold() -> None:
    doc = document({f"/x{i}": {"get": {"responses": {}}} for i in range(2001)})
    with pytest.raises(ApiDocumentError, match="has more than 2000 operations"):
        parse_api(doc)
