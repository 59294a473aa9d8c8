"""Memory is bounded by size, not only by count: what a step keeps of a target's answer has a fixed ceiling.

The reported case: 95 response headers of 60 KB each, through 200 probes, took the exporter from 77 MB to
1.28 GB, and one run page was 5.7 MB. The response head is now capped while it arrives (256 KiB, a failure
with ``protocol`` beyond), and every channel through which target text reaches a step result is cut to a
bound: response and request headers (names, values, count and total), the URL and curl line, bodies,
extracted values, assertion messages that quote a header, a JSON value or a schema error, and the redirect
list. The table drives each channel with a huge value and asserts the size of the recorded structures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from synthetic.result import (
    KEPT_HEADER_VALUE_CHARS,
    KEPT_HEADERS,
    KEPT_HEADERS_CHARS,
    KEPT_MESSAGE_CHARS,
    KEPT_TEXT_CHARS,
    KEPT_URL_CHARS,
    KEPT_VALUE_CHARS,
    RunResult,
    StepResult,
)
from synthetic.transport import MAX_RESPONSE_HEAD_BYTES
from tests.harness.hostile_target import HostileTarget, serve_hostile
from tests.steps.stub import Case, describe, run_steps, step


@pytest.fixture
def hostile() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


def size(value: Any) -> int:
    """Characters held by a recorded structure: every string, key and value, recursively (numbers count 8)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(size(k) + size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return sum(size(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(size(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 8


# The most one step can keep: both header blocks, URL, both body previews, curl, messages, a few extracted values.
STEP_CEILING = 2 * KEPT_HEADERS_CHARS + KEPT_URL_CHARS + 2 * KEPT_TEXT_CHARS + 2 * KEPT_TEXT_CHARS + 4 * 1024
STEP_CEILING += KEPT_MESSAGE_CHARS * 8 + 4 * KEPT_VALUE_CHARS

BIG = 60 * 1024

# (what the steps do, the expected reason of the last step or None)
CHANNELS = [
    # the reported case: the head is refused while it arrives, nothing of it is kept
    ("- name: s\n  http: {path: /bloat-head, query: {count: 95, size: 61440}}", "protocol"),
    # heads under the cap are kept cut: values, count, total
    ("- name: s\n  http: {path: /bloat-head, query: {count: 90, size: 2800}}", None),
    ("- name: s\n  http: {path: /bloat-head, query: {count: 3, size: 61440}}", None),
    # a huge header extracted, then sent back in a path, a query, a header or a body, and quoted in assertions
    *(
        (
            "- name: s\n  http: {path: /bloat-head, query: {count: 1, size: 61440}}\n"
            f"  extract: {{big: {{header: X-Bloat-0}}}}\n- name: t\n  http: {{method: POST, {use}}}\n"
            "  expect: {status: [200, 404]}",
            None,
        )
        for use in ("path: '/echo/${big}'", "path: /echo, query: {q: '${big}'}",
                    "path: /echo, headers: {X-Big: '${big}'}", "path: /echo, json: {big: '${big}'}")
    ),
    ("- name: s\n  http: {path: /bloat-head, query: {count: 1, size: 61440}}\n  expect: {headers: {X-Bloat-0: '^c'}}",
     "assertion"),
    ("- name: s\n  http: {path: /bloat-head, query: {count: 1, size: 61440}}\n  expect: {headers: {X-Bloat-0: null}}",
     "assertion"),
    # a huge JSON value and a huge JSON subtree: extracted, asserted on, validated against a schema
    ("- name: s\n  http: {path: /big-json, query: {items: 400, size: 1000}}\n"
     "  extract: {items: {json: items}, text: {json: text}}", None),
    ("- name: s\n  http: {path: /big-json, query: {items: 400, size: 1000}}\n  expect: {json: {items: []}}",
     "assertion"),
    ("- name: s\n  http: {path: /big-json, query: {items: 400, size: 1000}}\n  expect: {json: {text: short}}",
     "assertion"),
    ("- name: s\n  http: {path: /big-json, query: {items: 400, size: 1000}}\n"
     "  expect: {json_schema: {properties: {text: {type: integer}, items: {items: {type: integer}}}}}", "schema"),
    ("- name: s\n  http: {path: /big-json, query: {items: 400, size: 1000}}\n  expect: {body_regex: '^nothing'}",
     "assertion"),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "reason"), CHANNELS, ids=[f"row{i}" for i in range(len(CHANNELS))])
def test_every_channel_of_target_text_into_a_step_result_is_bounded(
    hostile: HostileTarget, steps: str, reason: str | None
) -> None:
    run = run_steps(hostile.url, steps, target="max_response_bytes: 2000000")
    last = run.steps[-1]
    assert last.reason == reason, describe(run)
    for result in run.steps:
        _assert_bounded(result)
    assert size(run) <= len(run.steps) * STEP_CEILING + 1024


def _assert_bounded(result: StepResult) -> None:
    assert size(result) <= STEP_CEILING, f"{result.name} keeps {size(result)} characters"
    assert len(result.message) <= KEPT_MESSAGE_CHARS
    for check in result.assertions:
        assert len(check.message) <= KEPT_MESSAGE_CHARS, check.message[:200]
    for value in result.extracted.values():
        assert size(value) <= KEPT_VALUE_CHARS
    exchange = result.exchange
    if exchange is None:
        return
    for block in (exchange.request_headers, exchange.response_headers):
        assert len(block) <= KEPT_HEADERS
        assert size(block) <= KEPT_HEADERS_CHARS
        assert all(len(value) <= KEPT_HEADER_VALUE_CHARS for value in block.values())
    assert len(exchange.url) <= KEPT_URL_CHARS
    assert len(exchange.request_body) <= KEPT_TEXT_CHARS + 64  # redaction may lengthen a cut preview a little
    assert len(exchange.response_body) <= KEPT_TEXT_CHARS + 64
    assert len(exchange.curl) <= 2 * KEPT_TEXT_CHARS


def test_what_was_cut_is_marked_and_the_full_values_still_flow(hostile: HostileTarget) -> None:
    run = run_steps(
        hostile.url,
        "- name: s\n  http: {path: /bloat-head, query: {count: 1, size: 61440}}\n"
        "  extract: {big: {header: X-Bloat-0}}\n"
        "- name: t\n  http: {method: POST, path: /echo, headers: {X-Big: '${big}'}, json: {big: '${big}'}}\n"
        "  extract: {length: {json: 'length(headers.\"x-big\")'}}",
        target="max_response_bytes: 2000000",
    )
    assert run.success, describe(run)
    first, second = step(run, "s"), step(run, "t")
    assert first.exchange is not None and "response_headers" in first.exchange.truncated
    assert first.exchange.response_headers["X-Bloat-0"].endswith("…")
    assert isinstance(first.extracted["big"], str) and first.extracted["big"].endswith("…")
    # The variable itself is whole: the next request carried all 60 KiB.
    assert second.extracted["length"] == BIG
    (echo,) = hostile.received("/echo")
    assert len(echo.headers["x-big"]) == BIG
    assert second.exchange is not None
    assert {"request_headers", "request_body", "curl"} <= set(second.exchange.truncated)


def test_two_hundred_runs_against_bloated_heads_keep_a_bounded_total(hostile: HostileTarget) -> None:
    case = Case(hostile.url, "- name: s\n  http: {path: /bloat-head, query: {count: 90, size: 2800}}")
    runs: list[RunResult] = [case.run() for _ in range(200)]
    assert all(run.success for run in runs), describe(runs[0])
    total = sum(size(run) for run in runs)
    # Each head was 250 KB on the wire (50 MB in all); what is kept is bounded per step.
    assert MAX_RESPONSE_HEAD_BYTES > 90 * 2800
    assert total <= 200 * STEP_CEILING, f"{total} characters kept for 200 runs"
