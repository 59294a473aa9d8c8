"""``cors_preflight``: foreign origins are kept out, the trusted ones get what a browser needs.

For each operation, a preflight (``OPTIONS`` with ``Origin``, ``Access-Control-Request-Method`` and
``Access-Control-Request-Headers``) from every untrusted origin must get no ``Access-Control-Allow-Origin``.
From every trusted origin it must answer 2xx and allow the origin, the method (unless CORS-safelisted) and the
request headers (``X-Request-ID``, ``traceparent`` by default); a safe operation's request from the first
trusted origin must allow it too and expose the expose headers (``X-Request-ID`` by default). No answer may
allow ``*`` together with credentials. Preflights carry no credentials, as browsers send them. A trusted origin
answered 5xx is an ``error`` (the server failed; nothing can be said about CORS), while a foreign origin allowed,
or ``*`` with credentials, fails whatever the status.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..document import Operation
from ._base import AUTH_NONE, Answer, Probe, SweepContext, Verdict, server_error_verdict, transport_verdict

NAME = "cors_preflight"
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})


def plan(operation: Operation, context: SweepContext) -> list[Probe] | str:
    cors = context.contracts.cors
    if not cors.trusted_origins and not cors.untrusted_origins:
        return "no origins configured (contracts.cors)"
    try:
        path = context.path_for(operation)
    except ValueError as missing:
        return str(missing)
    requested = ", ".join(name.lower() for name in cors.request_headers)
    probes = []
    for origin, trusted in [*((o, False) for o in cors.untrusted_origins), *((o, True) for o in cors.trusted_origins)]:
        headers = [("Origin", origin), ("Access-Control-Request-Method", operation.method)]
        if requested:
            headers.append(("Access-Control-Request-Headers", requested))
        who = f"{'trusted' if trusted else 'untrusted'} origin {origin}"
        probes.append(Probe("OPTIONS", path, (), AUTH_NONE, tuple(headers), note=f"a preflight from {who}"))
    if operation.safe and cors.trusted_origins:
        try:
            query = context.query_for(operation)
        except ValueError:
            query = None
        if query is not None:
            origin = cors.trusted_origins[0]
            probes.append(Probe(operation.method, path, query, headers=(("Origin", origin),),
                                note=f"a request from trusted origin {origin}"))  # fmt: skip
    return probes


def _tokens(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def judge(operation: Operation, answers: Sequence[Answer], context: SweepContext) -> Verdict:
    cors = context.contracts.cors
    errors = []
    for answer in answers:
        if (broken := transport_verdict(answer)) is not None:
            if broken.status == "failed":
                return broken
            errors.append(broken)
            continue
        origin = dict(answer.probe.headers)["Origin"]
        trusted = origin in cors.trusted_origins
        allowed = answer.header("Access-Control-Allow-Origin")
        credentials = (answer.header("Access-Control-Allow-Credentials") or "").strip().lower() == "true"
        if allowed is not None and allowed.strip() == "*" and credentials:
            return Verdict.failed(f"{answer.probe.note} is answered with any origin allowed (Access-Control-Allow-"
                                  "Origin *) together with credentials (Access-Control-Allow-Credentials true)",
                                  answer)  # fmt: skip
        if not trusted:
            if allowed is not None:
                with_credentials = " with credentials" if credentials else ""
                return Verdict.failed(f"untrusted origin {origin} is allowed{with_credentials} "
                                      f"(Access-Control-Allow-Origin {allowed[:100]})", answer)  # fmt: skip
            continue
        problem = _trusted_problem(operation, answer, origin, allowed, credentials, cors.request_headers,
                                   cors.expose_headers)  # fmt: skip
        if problem and (failed_server := server_error_verdict(answer, "what a trusted origin is allowed")):
            errors.append(failed_server)
        elif problem:
            return Verdict.failed(f"{answer.probe.note}; {problem}", answer)
    if errors:
        return errors[0]
    return Verdict.passed(f"{len(answers)} cross-origin request(s) answered as configured")


def _trusted_problem(
    operation: Operation,
    answer: Answer,
    origin: str,
    allowed: str | None,
    credentials: bool,
    request_headers: Sequence[str],
    expose_headers: Sequence[str],
) -> str | None:
    assert answer.status is not None
    wildcard_ok = not credentials
    if allowed is None or (allowed.strip() != origin and not (allowed.strip() == "*" and wildcard_ok)):
        return f"the origin is not allowed (Access-Control-Allow-Origin {(allowed or 'none')[:100]})"
    if answer.probe.method == "OPTIONS":
        if not 200 <= answer.status < 300:
            return f"the preflight answered {answer.status}; browsers need 2xx"
        methods = _tokens(answer.header("Access-Control-Allow-Methods"))
        if (
            operation.method not in SAFELISTED_METHODS
            and operation.method.lower() not in methods
            and not ("*" in methods and wildcard_ok)
        ):
            return f"{operation.method} is not among the allowed methods ({', '.join(sorted(methods)) or 'none'})"
        headers = _tokens(answer.header("Access-Control-Allow-Headers"))
        missing = [h for h in request_headers if h.lower() not in headers and not ("*" in headers and wildcard_ok)]
        if missing:
            return (f"request header(s) {', '.join(missing)} not allowed (Access-Control-Allow-Headers "
                    f"{', '.join(sorted(headers)) or 'none'})")  # fmt: skip
        return None
    exposed = _tokens(answer.header("Access-Control-Expose-Headers"))
    missing = [h for h in expose_headers if h.lower() not in exposed and not ("*" in exposed and wildcard_ok)]
    if missing:
        return f"header(s) {', '.join(missing)} not exposed (Access-Control-Expose-Headers " \
               f"{', '.join(sorted(exposed)) or 'none'})"  # fmt: skip
    return None
