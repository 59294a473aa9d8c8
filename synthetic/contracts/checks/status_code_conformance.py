"""``status_code_conformance``: the status a valid request of a safe operation gets is documented for it.

Documented means the exact code, its class (``4XX``) or ``default``; the target's ``implicit_statuses``
(401, 403, 429 unless configured) pass too, since generators such as drf-spectacular leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import Answer, Probe, SweepContext, Verdict, safe_probe, transport_verdict

NAME = "status_code_conformance"


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    return safe_probe(operation, context)


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    answer = answers[0]
    if (broken := transport_verdict(answer)) is not None:
        return broken
    assert answer.status is not None
    matched = operation.response_for(answer.status)
    if matched is not None:
        return Verdict.passed(f"{answer.status} is documented (as {matched[0]})")
    if answer.status in context.implicit_statuses:
        return Verdict.passed(f"{answer.status} is not documented but implicitly allowed")
    documented = ", ".join(operation.responses) or "none"
    return Verdict.failed(f"status {answer.status} is not documented for {operation.label} (documented: {documented})",
                          answer)  # fmt: skip
