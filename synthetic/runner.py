"""Run one workflow against one target: a fresh correlation ID, a cookie jar, one deadline, steps in order.

A failed step is a result, not an exception: later steps are ``skipped``, except those marked ``always_run``
(teardown), which still run. Nothing raised by a step escapes; a bug in one is reported as ``internal``.

Each step runs until its own deadline: the earlier of the run's deadline and, when the step sets ``timeout``,
that long after it starts. Passing either fails the step with ``timeout``. A step over its ``max_duration``
budget or a server limit (``expect.server``) is not failed: it is marked degraded, the journey goes on, and the
run's result is ``degraded`` (which assertions fail and which degrade: ``synthetic.steps._base``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from .ids import new_id
from .model import Target, Workflow
from .openapi import OpenAPIDocuments
from .redact import REDACTED, Redactor
from .result import RunResult, StepFailure, StepResult
from .steps import STEP_KINDS, RunContext
from .steps._base import broken_budgets
from .templating import UndefinedVariable

logger = logging.getLogger("synthetic.runner")

TEARDOWN_GRACE_SECONDS = 2.0


def run_workflow(
    workflow: Workflow,
    target: Target,
    *,
    timeout: float | None = None,
    correlation_id: str | None = None,
    session: requests.Session | None = None,
    openapi: OpenAPIDocuments | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> RunResult:
    """Run every step; ``timeout`` (default the workflow's) bounds the whole run."""
    cid = correlation_id or new_id()
    own_session = session is None
    http = session or requests.Session()
    started = clock()
    context = RunContext(
        workflow=workflow,
        target=target,
        correlation_id=cid,
        session=http,
        deadline=started + (workflow.timeout if timeout is None else timeout),
        openapi=openapi or OpenAPIDocuments(),
        variables={"run.correlation_id": cid, **target.variables()},
        clock=clock,
    )
    run = RunResult(workflow=workflow.name, target=target.name, correlation_id=cid, started_at=wall_clock())
    failed = False
    try:
        for step in workflow.steps:
            result = StepResult(name=step.name, kind=step.kind, budget=step.max_duration, offset=clock() - started)
            run.steps.append(result)
            if failed and not step.always_run:
                result.status, result.reason, result.message = "skipped", "skipped", "an earlier step failed"
                continue
            run_deadline = context.deadline
            step_cut = False  # whether the step's own timeout, not the run's deadline, bounds it
            try:
                if context.remaining() <= 0 and step.always_run:
                    # Teardown still gets a short budget of its own, or a timed-out run leaves its data behind.
                    context.deadline = run_deadline = clock() + min(TEARDOWN_GRACE_SECONDS, workflow.timeout)
                if context.remaining() <= 0:
                    raise StepFailure("timeout", "the run's deadline passed before this step")
                if step.timeout is not None and clock() + step.timeout < run_deadline:
                    context.deadline, step_cut = clock() + step.timeout, True
                STEP_KINDS[step.kind].run(step, step.spec, context, result)
            except StepFailure as failure:
                result.status, result.reason, result.message = "failed", failure.reason, failure.message
            except UndefinedVariable as missing:
                # Only a teardown can get here: the step that extracts the variable did not run.
                result.status, result.reason, result.message = "skipped", "skipped", str(missing)
                continue
            except Exception as error:  # a bug in a step kind: report it, keep the exporter alive
                logger.exception("step %s of %s crashed", step.name, workflow.name)
                result.status, result.reason = "failed", "internal"
                result.message = f"{type(error).__name__}: {error}"
            finally:
                step_deadline, context.deadline = context.deadline, run_deadline
            if result.status == "failed":
                failed = True
                result.degraded = False  # a failed step is a failure, whatever its budget said
                if result.reason == "timeout" and step_cut and clock() >= step_deadline:
                    result.message = f"{result.message} (the step's timeout: {step.timeout:g}s)"
                context.log.append(f"{step.name}: failed ({result.reason}): {result.message}")
            elif result.degraded:
                broken = "; ".join(check.message for check in broken_budgets(result))
                context.log.append(f"{step.name}: degraded: over its budget: {broken or 'max_duration'}")
    finally:
        run.duration = clock() - started
        for close in reversed(context.closers):  # what step kinds opened for the run (a browser context)
            try:
                close()
            except Exception:
                logger.exception("closing what %s opened failed", workflow.name)
        if own_session:
            http.close()
        _redact(run, workflow, target, context.variables)
    run_log = logger.info if run.result == "success" else logger.warning
    if run.success:
        outcome = f"degraded at step {run.degraded_step.name}" if run.degraded_step else "success"
    else:
        outcome = f"failed at step {run.failed_step.name if run.failed_step else '?'}"
    run_log(
        "%s on %s: %s",
        workflow.name,
        target.name,
        outcome,
        extra={
            "correlation_id": cid,
            "layer": "probe",
            "workflow": workflow.name,
            "target": target.name,
            "duration_ms": round(run.duration * 1000, 1),
            "result": run.result,
            "reason": run.reason,
        },
    )
    return run


def _redact(run: RunResult, workflow: Workflow, target: Target, variables: dict[str, Any]) -> None:
    """Apply the one redaction policy (synthetic.redact) to everything the run recorded, before anyone sees it:
    pages, ``/probe?debug=true``, ``run``, logs and the history all show this copy."""
    secret_values = [variables[name] for name in workflow.secret_variables if name in variables]
    redactor = Redactor([*target.secrets(), *(v for v in secret_values if isinstance(v, str | int))])
    for step in run.steps:
        for name in step.extracted:
            if name in workflow.secret_variables:
                step.extracted[name] = REDACTED
    redactor.apply(run)
