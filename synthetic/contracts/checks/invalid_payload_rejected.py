"""``invalid_payload_rejected``: requests that violate the schema, sent as the auth profile, answer 4xx.

The requests come from ``synthetic.contracts.negative`` (schemathesis' negative generation, kept only when the
violation survives a lenient server's coercions). A 2xx to one of them means the server took what the document
forbids (on an unsafe method it may have written); a 5xx that the invalid input broke it; a redirect that it
did not refuse. One exception: a safe request whose only invalid part is an optional query value may answer
2xx (ignoring an optional filter it cannot read, as Django REST framework's paginator does, is no harm).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import Answer, Probe, SweepContext, Verdict, transport_verdict

NAME = "invalid_payload_rejected"


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    cases = context.negative_cases(operation)
    if isinstance(cases, str):
        return cases
    probes = []
    optional = {p.name for p in operation.query_parameters() if not p.required}
    missing = None
    for case in cases:
        values = {name: value for name, value in case.path_values.items() if not case.replaces_path(name)}
        generated = {name: value for name, value in case.path_values.items() if case.replaces_path(name)}
        try:
            path = context.path_for(operation, values, fallback=generated)
        except ValueError as error:
            missing = str(error)
            continue
        lenient = operation.safe and all(part.startswith("query ") and part.split(" ", 1)[1] in optional
                                         for part in case.invalid)  # fmt: skip
        probes.append(Probe(operation.method, path, case.query, body=case.body, content_type=case.content_type,
                            note=f"invalid: {case.why}", lenient=lenient))  # fmt: skip
    return probes or missing or "no invalid request could be built"


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    errors = []
    for answer in answers:
        if (broken := transport_verdict(answer)) is not None:
            if broken.status == "failed":
                return broken
            errors.append(broken)
            continue
        status = answer.status
        assert status is not None
        if 400 <= status < 500:
            continue
        if 200 <= status < 300 and answer.probe.lenient:
            continue
        what = answer.probe.note.removeprefix("invalid: ")
        if 200 <= status < 300:
            writes = "" if operation.safe else "; it may have written"
            return Verdict.failed(f"accepted an invalid request with {status} ({what}){writes}", answer)
        if status >= 500:
            return Verdict.failed(f"answered {status} to an invalid request ({what}): refuse it with 4xx", answer)
        return Verdict.failed(f"answered {status} to an invalid request ({what}); expected 4xx", answer)
    if errors:
        return errors[0]
    return Verdict.passed(f"refused {len(answers)} invalid request(s)")
