"""The workflows a sweep runs first: a login whose token the authenticated checks send, a journey whose
extracted values (an existing product's id) fill path parameters.

Their steps run as a run's do (``synthetic.steps``), in one session whose cookie jar the checks may reuse
(``auth.cookies``), within the sweep's deadline, judged on their status only (a journey's query budget or
schema assertion is the journey's business, not the sweep's); the variables they extract are returned
unredacted, for the sweep's own use only. What the sweep shows of them (failures) is redacted by the sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from ..ids import new_id
from ..model import Target, Workflow
from ..openapi import OpenAPIDocuments
from ..result import StepFailure, StepResult
from ..steps import STEP_KINDS, RunContext
from ..templating import UndefinedVariable

logger = logging.getLogger("synthetic.contracts")

__all__ = ["SetupResult", "run_setup"]


@dataclass
class SetupResult:
    """The variables the workflows extracted (with the target's built-ins), the session they ran in, the values
    that are secret (what workflows treat as secret), and ``error`` when one failed (the first failure). A
    failure after what the sweep needs was extracted does not stop the sweep: it only needs the values."""

    variables: dict[str, Any]
    session: requests.Session
    secrets: list[str] = field(default_factory=list)
    error: str | None = None


def run_setup(
    workflows: Sequence[Workflow],
    target: Target,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    openapi: OpenAPIDocuments | None = None,
) -> SetupResult:
    """Run each workflow's steps in order until one fails (the rest of that workflow is skipped, the next
    workflow still runs); never raises."""
    correlation_id = new_id()
    session = requests.Session()
    variables: dict[str, Any] = {"run.correlation_id": correlation_id, **target.variables()}
    result = SetupResult(variables, session)
    documents = openapi or OpenAPIDocuments()
    for workflow in workflows:
        context = RunContext(workflow=workflow, target=target, correlation_id=correlation_id, session=session,
                             deadline=deadline, openapi=documents, variables=variables, clock=clock)  # fmt: skip
        for configured in workflow.steps:
            # Only what the step extracts matters here, and its status: a journey's other assertions (a query
            # budget, a schema) must not keep the sweep from its values, nor make it wait for its budget.
            step = replace(configured, expect={k: v for k, v in configured.expect.items() if k == "status"},
                           max_duration=None, retries=0)  # fmt: skip
            step_result = StepResult(name=step.name, kind=step.kind)
            try:
                if context.remaining() <= 0:
                    raise StepFailure("timeout", "the sweep's deadline passed before this step")
                STEP_KINDS[step.kind].run(step, step.spec, context, step_result)
            except StepFailure as failure:
                step_result.status, step_result.reason, step_result.message = "failed", failure.reason, failure.message
            except UndefinedVariable as missing:
                step_result.status, step_result.reason, step_result.message = "failed", "extraction", str(missing)
            except Exception as error:  # a bug in a step kind: reported, never raised
                logger.exception("setup step %s of %s crashed", step.name, workflow.name)
                step_result.status, step_result.reason = "failed", "internal"
                step_result.message = f"{type(error).__name__}: {error}"
            if step_result.status == "failed":
                result.error = result.error or (
                    f"setup workflow {workflow.name!r} failed at step {step.name!r} ({step_result.reason}): "
                    f"{step_result.message}"
                )
                break
        result.secrets += [str(variables[name]) for name in workflow.secret_variables if name in variables]
    return result
