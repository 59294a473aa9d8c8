"""``not_a_server_error``: a valid request of a safe operation, as the auth profile, never answers 5xx."""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import Answer, Probe, SweepContext, Verdict, safe_probe, transport_verdict

NAME = "not_a_server_error"


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    return safe_probe(operation, context)


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    answer = answers[0]
    if (broken := transport_verdict(answer)) is not None:
        return broken
    assert answer.status is not None
    if answer.status >= 500:
        return Verdict.failed(f"answered {answer.status} to a valid request", answer)
    return Verdict.passed(f"answered {answer.status}")
