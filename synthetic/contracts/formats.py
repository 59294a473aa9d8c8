"""A sweep written for people or for CI: ``text`` (a table), ``json`` and ``junit`` (JUnit XML).

One function per format, same signature, registered in ``FORMATS``; ``workflow-exporter contract --format``
chooses. The sweep is already redacted (``synthetic.contracts.sweep``), so every format shows the same values.

JSON shape (one object): ``target``, ``correlation_id``, ``result`` (``success`` / ``failure``), ``error`` (why
nothing could be checked, or null), ``notes`` (what went wrong without stopping the sweep), ``document``,
``started_at`` (unix seconds), ``duration_seconds``, ``requests``, ``budget``, ``operations``, ``counts``
(``passed``, ``failed``, ``error``, ``skipped``) and
``results``: each with ``operation``, ``check``, ``status``, ``message`` and ``example`` (``note``, ``method``,
``url``, ``request_headers``, ``request_body``, ``status``, ``response_headers``, ``response_body``,
``schema_error``, ``curl``, ``correlation_id``) or null. ``sweep_from_document`` reads it back (the run store
keeps sweeps in this shape).

JUnit XML: one ``<testsuite>`` named ``contracts on <target>``, one ``<testcase>`` per check and operation
(``classname`` the operation, ``name`` the check), ``<failure>`` for failed, ``<error>`` for errored and
``<skipped>`` for skipped checks; a sweep that could not run is one ``<testcase name="sweep">`` with ``<error>``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from typing import Any

from .sweep import STATUSES, CheckResult, Example, SweepResult

__all__ = ["FORMATS", "render_json", "render_junit", "render_text", "sweep_document", "sweep_from_document"]

_ORDER = {"failed": 0, "error": 1, "passed": 2, "skipped": 3}


def sweep_document(sweep: SweepResult) -> dict[str, Any]:
    """The JSON-ready mapping described in the module docstring."""
    return {
        "target": sweep.target,
        "correlation_id": sweep.correlation_id,
        "result": "success" if sweep.success else "failure",
        "error": sweep.error,
        "notes": sweep.notes,
        "document": sweep.document,
        "started_at": sweep.started_at,
        "duration_seconds": sweep.duration,
        "requests": sweep.requests,
        "budget": sweep.budget,
        "operations": sweep.operations,
        "counts": {status: sweep.count(status) for status in STATUSES},
        "results": [
            {
                **{k: v for k, v in asdict(r).items() if k != "example"},
                "example": asdict(r.example) if r.example else None,
            }
            for r in sweep.results
        ],
    }


def sweep_from_document(document: Mapping[str, Any]) -> SweepResult:
    """The ``SweepResult`` a ``sweep_document`` was made from (``result`` and ``counts`` are derived, so they are
    recomputed; keys a later version adds are left out)."""

    def known(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
        names = {f.name for f in fields(cls)}
        return {key: value for key, value in values.items() if key in names}

    results = []
    for raw in document.get("results") or ():
        example = raw.get("example")
        results.append(CheckResult(**{**known(CheckResult, raw),
                                      "example": Example(**known(Example, example)) if example else None}))  # fmt: skip
    values = known(SweepResult, document)
    values["duration"] = document.get("duration_seconds", 0.0)
    values["results"] = results
    values["notes"] = list(document.get("notes") or ())
    return SweepResult(**values)


def render_json(sweep: SweepResult) -> str:
    return json.dumps(sweep_document(sweep), indent=2, ensure_ascii=False) + "\n"


def render_text(sweep: SweepResult, verbose: bool = False) -> str:
    """A summary line, then a table: failed and errored checks first with the example's request line and
    schema error, then passed; with ``verbose`` also the skipped ones and each example's curl line."""
    lines = [_summary(sweep), *(f"note: {note}" for note in sweep.notes)]
    if sweep.error:
        lines.append(f"error: {sweep.error}")
        return "\n".join(lines) + "\n"
    shown = [r for r in sweep.results if verbose or r.status != "skipped"]
    shown.sort(key=lambda r: _ORDER[r.status])
    if not shown:
        return "\n".join(lines) + "\n"
    width_op = max(len("OPERATION"), *(len(r.operation) for r in shown))
    width_check = max(len("CHECK"), *(len(r.check) for r in shown))
    lines.append(f"{'OPERATION':<{width_op}}  {'CHECK':<{width_check}}  {'RESULT':<7}  DETAIL")
    for r in shown:
        lines.append(f"{r.operation:<{width_op}}  {r.check:<{width_check}}  {r.status.upper():<7}  {r.message}")
        if r.example is not None:
            indent = " " * (width_op + width_check + 15)
            lines.append(f"{indent}{r.example.method} {r.example.url} -> {r.example.status or 'no answer'} "
                         f"({r.example.note}; X-Request-ID {r.example.correlation_id})")  # fmt: skip
            if r.example.schema_error:
                lines.append(f"{indent}first schema error: {r.example.schema_error}")
            if verbose:
                lines.append(f"{indent}{r.example.curl}")
    return "\n".join(lines) + "\n"


def _summary(sweep: SweepResult) -> str:
    counts = ", ".join(f"{sweep.count(status)} {status}" for status in STATUSES)
    verdict = "PASSED" if sweep.success else "FAILED"
    return (f"contract sweep of {sweep.target}: {verdict}; {sweep.operations} operations, {sweep.requests} of "
            f"{sweep.budget} requests, {sweep.duration:.1f} s; {counts}")  # fmt: skip


def render_junit(sweep: SweepResult) -> str:
    suite = ElementTree.Element("testsuite", {
        "name": f"contracts on {sweep.target}",
        "tests": str(len(sweep.results) or 1),
        "failures": str(sweep.count("failed")),
        "errors": str(sweep.count("error") + (1 if sweep.error else 0)),
        "skipped": str(sweep.count("skipped")),
        "time": f"{sweep.duration:.3f}",
    })  # fmt: skip
    if sweep.error:
        case = ElementTree.SubElement(suite, "testcase", {"classname": sweep.target, "name": "sweep"})
        ElementTree.SubElement(case, "error", {"message": sweep.error[:1000], "type": "sweep"}).text = sweep.error
    for r in sweep.results:
        case = ElementTree.SubElement(suite, "testcase", {"classname": r.operation, "name": r.check, "time": "0"})
        if r.status in ("failed", "error"):
            tag = "failure" if r.status == "failed" else "error"
            element = ElementTree.SubElement(case, tag, {"message": r.message[:1000], "type": r.check})
            element.text = r.message
            if r.example is not None:
                out = [f"{r.example.method} {r.example.url} -> {r.example.status}", r.example.curl,
                       f"X-Request-ID: {r.example.correlation_id}"]  # fmt: skip
                if r.example.schema_error:
                    out.insert(1, f"first schema error: {r.example.schema_error}")
                ElementTree.SubElement(case, "system-out").text = "\n".join(out)
        elif r.status == "skipped":
            ElementTree.SubElement(case, "skipped", {"message": r.message[:1000]})
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suite, encoding="unicode") + "\n"


FORMATS: Mapping[str, Callable[[SweepResult], str]] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
}
