"""``ignored_auth``: an operation the document secures refuses callers without credentials and with invalid
ones: 401 or 403.

Every operation whose security requirements are all non-empty is called without credentials and once with a
wrong credential of each security scheme it accepts (a bearer token, a basic login, an API key in its header,
query or cookie). A safe operation gets its valid request. An unsafe one gets a body that violates its schema:
an endpoint that checks who calls answers 401/403 before reading it, one that skips the check answers 400 (its
validation ran), and nothing is written either way. An unsafe operation without a body is not called (nothing
would keep a request that passed from writing); operations in ``contracts.public`` are anonymous by intent. A 5xx
answer is an ``error`` (nothing can be said about authentication while the server fails), not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import (
    AUTH_NONE,
    INVALID_PREFIX,
    Answer,
    Probe,
    SweepContext,
    Verdict,
    server_error_verdict,
    transport_verdict,
)

NAME = "ignored_auth"
REFUSED = frozenset({401, 403})


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    if not operation.secured:
        return "the document does not require credentials for it"
    contracts = context.contracts
    if contracts.is_public(operation.method, operation.path, operation.tags, operation.operation_id):
        return "anonymous access is intended (contracts.public)"
    try:
        path = context.path_for(operation)
        query = context.query_for(operation)
    except ValueError as missing:
        return str(missing)
    body: bytes | None = None
    content_type: str | None = None
    note = ""
    if not operation.safe:
        if not operation.request_body:
            return "an unsafe operation without a request body is not called: nothing would stop it writing"
        cases = context.negative_cases(operation)
        if isinstance(cases, str):
            return f"no invalid body to send it: {cases}"
        with_body = next((c for c in cases if c.invalid == ("body",) and c.body is not None), None)
        if with_body is None:
            return "no invalid body to send it"
        body, content_type, note = with_body.body, with_body.content_type, f" with an invalid body ({with_body.why})"
    probes = [Probe(operation.method, path, query, AUTH_NONE, body=body, content_type=content_type,
                    note=f"without credentials{note}")]  # fmt: skip
    for auth in context.invalid_auth(operation):
        probes.append(Probe(operation.method, path, query, auth, body=body, content_type=content_type,
                            note=f"with an invalid {auth.removeprefix(INVALID_PREFIX)} credential{note}"))  # fmt: skip
    return probes


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    errors = []
    for answer in answers:
        if (broken := transport_verdict(answer)) is not None:
            if broken.status == "failed":
                return broken
            errors.append(broken)
            continue
        assert answer.status is not None
        if answer.status in REFUSED:
            continue
        if (failed_server := server_error_verdict(answer, "who may call")) is not None:
            errors.append(failed_server)
            continue
        who = answer.probe.note.split(" with an invalid body")[0]
        if not operation.safe and answer.status in (400, 422):
            return Verdict.failed(f"answered {answer.status} {who}; it validated the body instead of refusing the "
                                  "caller, so it does not check authentication", answer)  # fmt: skip
        return Verdict.failed(f"answered {answer.status} {who}; expected 401 or 403", answer)
    if errors:
        return errors[0]
    return Verdict.passed(f"refused {len(answers)} request(s) without valid credentials")
