"""``response_schema_conformance``: the body of the answer to a valid request of a safe operation matches the
schema the document gives its status and media type (JSON bodies; OpenAPI 3.0 or 3.1 rules, ``$ref`` resolved).

The verdict names the first schema error (``price: 4.99 is not of type 'string'``). A HEAD answer, a status or
media type with no schema, and non-JSON media types pass: nothing is promised about them here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...documents import DEFAULT_LIMITS, DocumentError, check_shape, decode_utf8
from ..document import Operation, is_json
from ._base import Answer, Probe, SweepContext, Verdict, safe_probe, transport_verdict
from .content_type_conformance import matches, media_type

NAME = "response_schema_conformance"


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    return safe_probe(operation, context)


def strict_json(data: bytes) -> Any:
    """JSON as RFC 8259 has it (UTF-8, no NaN or Infinity), within the document bounds; DocumentError."""
    text = decode_utf8(data, "the body")
    try:
        value = json.loads(text, parse_constant=_refuse)
    except RecursionError:
        raise DocumentError(f"the JSON is nested deeper than {DEFAULT_LIMITS.max_depth} levels") from None
    except ValueError as error:
        raise DocumentError(f"invalid JSON: {error}") from None
    check_shape(value, DEFAULT_LIMITS)
    return value


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    answer = answers[0]
    if (broken := transport_verdict(answer)) is not None:
        return broken
    assert answer.status is not None
    if operation.method == "HEAD":
        return Verdict.passed("a HEAD answer has no body")
    matched = operation.response_for(answer.status)
    if matched is None:
        return Verdict.passed(f"no schema for {answer.status}")
    actual = media_type(answer.header("Content-Type")) or "application/json"
    candidates = [m for m in matched[1] if matches(actual, media_type(m.media_type))]
    schema = next((m for m in candidates if m.pointer is not None), None)
    if schema is None or schema.pointer is None:
        return Verdict.passed(f"no schema for {answer.status} {actual}")
    if not is_json(actual):
        return Verdict.passed(f"only JSON bodies are checked, not {actual}")
    try:
        body = strict_json(answer.body)
    except DocumentError as error:
        return Verdict.failed(f"the {answer.status} body is not the JSON its schema describes: {error}", answer,
                              schema_error=str(error))  # fmt: skip
    first = context.document.first_error(schema.pointer, body, "read")
    if first is None:
        return Verdict.passed(f"the {answer.status} body matches its schema")
    return Verdict.failed(f"the {answer.status} body does not match its schema: {first}", answer, schema_error=first)
