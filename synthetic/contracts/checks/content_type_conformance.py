"""``content_type_conformance``: the Content-Type of the answer to a valid request of a safe operation is one
the document lists for its status (``application/*`` and ``*/*`` match as media ranges).

A status with no documented content, or one not documented at all (that is ``status_code_conformance``'s to
say), passes; so does an empty body without a Content-Type.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import Answer, Probe, SweepContext, Verdict, safe_probe, transport_verdict

NAME = "content_type_conformance"


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    return safe_probe(operation, context)


def media_type(value: str | None) -> str:
    """``application/json`` of ``application/json; charset=utf-8``; ``""`` for none."""
    return (value or "").split(";", 1)[0].strip().lower()


def matches(actual: str, documented: str) -> bool:
    kind, _, sub = documented.partition("/")
    actual_kind, _, actual_sub = actual.partition("/")
    return (kind in ("*", actual_kind)) and (sub in ("*", actual_sub))


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    answer = answers[0]
    if (broken := transport_verdict(answer)) is not None:
        return broken
    assert answer.status is not None
    matched = operation.response_for(answer.status)
    if matched is None or not matched[1]:
        return Verdict.passed(f"no content documented for {answer.status}")
    documented = [media_type(m.media_type) for m in matched[1]]
    actual = media_type(answer.header("Content-Type"))
    if not actual:
        if not answer.body:
            return Verdict.passed("an empty body without a Content-Type")
        return Verdict.failed(f"the {answer.status} answer has a body but no Content-Type (documented: "
                              f"{', '.join(documented)})", answer)  # fmt: skip
    if any(matches(actual, d) for d in documented):
        return Verdict.passed(f"Content-Type {actual} is documented for {matched[0]}")
    return Verdict.failed(f"Content-Type {actual} is not documented for {matched[0]} (documented: "
                          f"{', '.join(documented)})", answer)  # fmt: skip
