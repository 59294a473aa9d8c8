"""What every step kind shares: the signature, and the context a run hands each step."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import requests

from ..errors import Problems
from ..model import Step, Target, Workflow
from ..result import AssertionResult, StepFailure, StepResult
from ..templating import render

if TYPE_CHECKING:
    from ..openapi import OpenAPIDocuments


@dataclass
class RunContext:
    """One run's state: its ID, variables, cookie jar and deadline."""

    workflow: Workflow
    target: Target
    correlation_id: str
    session: requests.Session
    deadline: float  # on the clock below
    openapi: OpenAPIDocuments
    variables: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    log: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def render(self, value: Any) -> Any:
        """``value`` with this run's ``${variables}`` filled in (UndefinedVariable if one has no value)."""
        return render(value, self.variables)


class StepKind(Protocol):
    def parse(self, raw: Any, where: str, problems: Problems, targets: list[Target]) -> Any: ...

    def parse_expect(self, raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]: ...

    def parse_extract(self, raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, dict[str, Any]]: ...

    def idempotent(self, spec: Any) -> bool: ...

    def run(self, step: Step, spec: Any, context: RunContext, result: StepResult) -> None:
        """Do the step, fill ``result``; raise StepFailure to end it with a reason."""


def check_budget(step: Step, result: StepResult) -> None:
    """Record the ``max_duration`` assertion (the step's latency budget), when the step has one."""
    if step.max_duration is not None:
        budget_ms, took_ms = step.max_duration * 1000, result.duration * 1000
        result.assertions.append(
            AssertionResult(
                "max_duration",
                result.duration <= step.max_duration,
                f"took {took_ms:.0f} ms, budget {budget_ms:.0f} ms",
            )
        )


def fail_on_first_failed_check(result: StepResult) -> None:
    """End the step with the reason of its first failed assertion; every assertion stays recorded."""
    failed = next((check for check in result.assertions if not check.ok), None)
    if failed is not None:
        raise StepFailure(failed.reason, f"{failed.name}: {failed.message}")
