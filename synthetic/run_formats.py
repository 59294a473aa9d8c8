"""A run written for people or for CI: ``text`` (the waterfall), ``json`` and ``junit`` (JUnit XML).

One function per format, same signature, registered in ``FORMATS``; ``workflow-exporter run --format``
chooses. The run is already redacted (``synthetic.redact``), so every format shows the same safe values.

JSON shape (one object): ``workflow``, ``target``, ``correlation_id``, ``result`` (``success``, ``degraded``
or ``failure``), ``reason`` (the failed step's, or null), ``started_at`` (unix seconds), ``duration_seconds``
and ``steps``: each with ``name``, ``kind``, ``status`` (ok, failed, skipped), ``degraded`` (an ok step over
its budget), ``reason``, ``message``, ``offset_seconds``, ``duration_seconds``, ``budget_seconds``,
``http_status``, ``response_bytes``, ``attempts``, ``phases`` (``http`` steps: seconds in ``resolve``,
``connect``, ``tls``, ``processing``, ``transfer``; ``{}`` otherwise), ``tls_cert_expires_at`` (unix seconds
or null), ``server`` (``app_seconds``, ``db_seconds``, ``queries``), ``assertions`` (``name``, ``ok``,
``message``, ``reason``, ``severity``: ``error`` fails the step, ``warning`` degrades it), ``extracted`` and
``exchange`` (method, url, heads, truncated bodies, ``curl``) or null.

JUnit XML, as CI servers read it (Jenkins, GitLab, GitHub actions): one ``<testsuite>`` per run named
``workflow on target`` with the run's ``result`` among its properties, one ``<testcase>`` per step with
``time`` in seconds, a ``<failure type="reason">`` for the failed step, ``<skipped>`` for the steps after it,
and the curl line and correlation ID in ``<system-out>``. A degraded step passes (JUnit has no warning); its
``<system-out>`` says it went over its budget.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from .result import RunResult, StepResult
from .waterfall import render_waterfall

__all__ = ["FORMATS", "render_json", "render_junit", "run_document"]


def run_document(run: RunResult) -> dict[str, Any]:
    """The JSON-ready mapping described in the module docstring."""
    return {
        "workflow": run.workflow,
        "target": run.target,
        "correlation_id": run.correlation_id,
        "result": run.result,
        "reason": run.reason,
        "started_at": run.started_at,
        "duration_seconds": run.duration,
        "cached": run.cached,
        "steps": [_step(step) for step in run.steps],
    }


def _step(step: StepResult) -> dict[str, Any]:
    return {
        "name": step.name,
        "kind": step.kind,
        "status": step.status,
        "degraded": step.degraded,
        "reason": step.reason,
        "message": step.message,
        "offset_seconds": step.offset,
        "duration_seconds": step.duration,
        "budget_seconds": step.budget,
        "http_status": step.http_status,
        "response_bytes": step.response_bytes,
        "attempts": step.attempts,
        "phases": dict(step.phases),
        "tls_cert_expires_at": step.tls_cert_expires_at,
        "server": asdict(step.server),
        "assertions": [asdict(check) for check in step.assertions],
        "extracted": step.extracted,
        "exchange": asdict(step.exchange) if step.exchange is not None else None,
        "browser": step.browser,  # browser steps only (synthetic.steps.browser), else null
    }


def render_json(run: RunResult) -> str:
    return json.dumps(run_document(run), indent=2, default=str) + "\n"


def render_junit(run: RunResult) -> str:
    suite = ElementTree.Element(
        "testsuite",
        name=f"{run.workflow} on {run.target}",
        tests=str(len(run.steps)),
        failures=str(sum(step.status == "failed" for step in run.steps)),
        skipped=str(sum(step.status == "skipped" for step in run.steps)),
        errors="0",
        time=f"{run.duration:.3f}",
    )
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("correlation_id", run.correlation_id), ("workflow", run.workflow), ("target", run.target),
                        ("result", run.result)):  # fmt: skip
        ElementTree.SubElement(properties, "property", name=name, value=value)
    for step in run.steps:
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"{run.workflow}.{run.target}", name=step.name, time=f"{step.duration:.3f}"
        )
        if step.status == "failed":
            failure = ElementTree.SubElement(case, "failure", type=step.reason or "failed", message=_xml(step.message))
            failure.text = _xml("\n".join(f"{c.name}: {c.message}" for c in step.assertions if not c.ok))
        elif step.status == "skipped":
            ElementTree.SubElement(case, "skipped", message=_xml(step.message))
        out = [f"correlation_id={run.correlation_id}"]
        if step.degraded and step.ok:
            out += [f"degraded: over its budget: {c.message}" for c in step.assertions if c.severity == "warning"
                    and not c.ok]  # fmt: skip
        if step.exchange is not None and step.exchange.curl:
            out.append(f"reproduce: {step.exchange.curl}")
        ElementTree.SubElement(case, "system-out").text = _xml("\n".join(out))
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suite, encoding="unicode") + "\n"


def _xml(text: str) -> str:
    """Text XML 1.0 can hold: control characters a target sent become U+FFFD."""
    return "".join(c if c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff") else "\ufffd" for c in text)


FORMATS: Mapping[str, Callable[[RunResult], str]] = {
    "text": render_waterfall,
    "json": render_json,
    "junit": render_junit,
}
