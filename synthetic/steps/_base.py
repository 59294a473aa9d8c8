"""What every step kind shares: the signature, the context a run hands each step, and how a step's assertions
decide its fate.

Fail or degrade, by what an assertion judged (issue 18: symptoms page, causes ticket). A step **fails** (the
run is a ``failure``, which burns the journey's availability SLO and can page) when what the user gets is wrong
or missing: the status (``http_status``), the content (``json``, ``headers``, ``body_regex``, SQL row checks,
a body over ``max_response_bytes``: ``assertion``), the contract (``json_schema``, ``openapi``: ``schema``), a
value a later step needs (``extraction``), or an answer that does not come in time (the step's ``timeout`` or
the run's deadline: ``timeout``). A step is **degraded** (it passes, the journey goes on, the run's result is
``degraded``, which the SLO counts as good) when the answer was right and in time but a budget the team set
on how it was made was broken: its ``max_duration`` (latency budget) or a server limit of ``expect.server``
(``max_queries``, ``max_db_duration``, ``max_app_duration``, read from the answer's ``Server-Timing``; a
server that sends no timing breaks them too, since they cannot be judged). Those assertions have
``severity="warning"``; the step's assertions name which budget broke, so a slow step (``max_duration``) and a
chatty one (``max_queries``) never look alike, and the causes' alerts (``JourneyStepOverBudget``,
``JourneyNPlusOneQueries``, ``JourneySlowQueries``) open tickets for them instead of the journey's burn rate
paging. A step that fails is never also degraded.
"""

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
    # What a step kind keeps for the rest of the run (the browser kind's page), and what closes it: the runner
    # calls every closer, last first, when the run ends, whatever happened.
    resources: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

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
    """Record the ``max_duration`` assertion (the step's latency budget), when the step has one.

    Over the budget the step is ``degraded``, not failed: the assertion is recorded as a warning and the
    journey goes on (the run's result becomes ``degraded``). What ends a slow step is its ``timeout`` or the
    run's deadline, never its budget.
    """
    if step.max_duration is not None:
        budget_ms, took_ms = step.max_duration * 1000, result.duration * 1000
        within = result.duration <= step.max_duration
        result.assertions.append(
            AssertionResult(
                "max_duration",
                within,
                f"took {took_ms:.0f} ms, budget {budget_ms:.0f} ms",
                severity="warning",
            )
        )
        result.degraded = result.degraded or not within


def fail_on_first_failed_check(result: StepResult) -> None:
    """End the step with the reason of its first failed ``error`` assertion; every assertion stays recorded.

    A failed ``warning`` (an exceeded budget: ``max_duration``, a server limit) does not end the step: it marks
    the step degraded (module docstring). When the step fails for another reason, the exceeded budget stays on
    its assertions and the step is a failure, not degraded.
    """
    failed = next((check for check in result.assertions if not check.ok and check.severity == "error"), None)
    if failed is not None:
        result.degraded = False
        raise StepFailure(failed.reason, f"{failed.name}: {failed.message}")
    result.degraded = result.degraded or any(not check.ok for check in broken_budgets(result))


def broken_budgets(result: StepResult) -> list[AssertionResult]:
    """The step's failed ``warning`` assertions, in order: the budgets that made it degraded."""
    return [check for check in result.assertions if not check.ok and check.severity == "warning"]
