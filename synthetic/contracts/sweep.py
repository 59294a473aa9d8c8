"""One contract sweep of a target: the document, the setup workflows, then every check on every operation.

``run_sweep(target, workflows)`` never raises. In order:

1. the OpenAPI document is fetched and read (``document.load_api``); if it cannot be, the sweep ends with
   ``error`` and no verdicts;
2. the setup workflows run (``auth.workflow``, ``parameters.workflow``); their variables fill the parameter
   values and auth headers (a failure ends the sweep with ``error``);
3. operation by operation (document order, those ``contracts`` selects), each check kind plans its requests;
   a request asked for twice is sent once, and a check whose new requests would pass ``max_requests`` is
   ``skipped`` (the budget); the requests go out one at a time (gentle on production), each bounded by
   ``request_timeout`` and everything by the sweep's ``timeout`` (``synthetic.transport``: every phase, size
   caps, no redirect followed);
4. each check judges its answers: ``passed``, ``failed`` (with the answer as the example), ``error`` (no answer:
   nothing can be said) or ``skipped`` (with why).

What the result shows (messages, examples: the request, the answer's status, head and body, the first schema
error, a curl line) went through ``synthetic.redact``'s Redactor: the target's secrets, the auth profile's
values and the setup workflows' secret variables never leave.
"""

from __future__ import annotations

import base64
import logging
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
from requests.structures import CaseInsensitiveDict

from django_integration.marker import sign_marker

from .. import transport
from ..ids import new_id, traceparent_for
from ..model import Target, Workflow
from ..redact import Redactor, is_secret_name
from ..result import KEPT_TEXT_CHARS, KEPT_URL_CHARS, kept_headers, kept_text
from ..templating import UndefinedVariable, render
from .checks import CHECKS, Answer, Probe, Verdict
from .checks._base import AUTH_PROFILE, INVALID_PREFIX
from .config import ContractsConfig
from .document import ApiDocument, ApiDocumentError, Operation, load_api
from .negative import NegativeCase, NegativeData
from .setup import run_setup

logger = logging.getLogger("synthetic.contracts")

__all__ = ["STATUSES", "CheckResult", "Example", "SweepResult", "run_sweep"]

STATUSES = ("passed", "failed", "error", "skipped")
USER_AGENT = "workflow-exporter (contracts)"
# At most this much of the sweep's deadline goes to fetching the document.
DOCUMENT_SHARE = 0.5
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Example:
    """The exchange that shows a failure, redacted and bounded (``synthetic.result``'s KEPT_* sizes)."""

    note: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    schema_error: str | None
    curl: str
    correlation_id: str


@dataclass
class CheckResult:
    """One check on one operation: ``status`` is one of STATUSES."""

    operation: str  # METHOD /path/{template}
    check: str
    status: str
    message: str
    example: Example | None = None


@dataclass
class SweepResult:
    """A sweep's outcome. Times: ``started_at`` unix seconds, ``duration`` seconds. ``requests`` counts the
    checks' requests (not the document fetch or the setup workflows'); ``error`` is why the sweep could not
    check anything (no verdicts then), ``notes`` what went wrong without stopping it (a setup workflow that
    failed after extracting what the sweep needs)."""

    target: str
    correlation_id: str
    started_at: float
    document: str = ""
    budget: int = 0
    duration: float = 0.0
    requests: int = 0
    operations: int = 0
    error: str | None = None
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what went wrong but did not stop the sweep

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if result.status == "failed"]

    @property
    def success(self) -> bool:
        """Everything that could be checked was, and passed: no sweep error, no failed or errored check."""
        return self.error is None and not any(r.status in ("failed", "error") for r in self.results)


def run_sweep(
    target: Target,
    workflows: Mapping[str, Workflow],
    *,
    timeout: float | None = None,
    negative: NegativeData | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    on_operation: Callable[[Sequence[CheckResult]], None] | None = None,
) -> SweepResult:
    """Sweep ``target`` (it must have ``contracts``) within ``timeout`` (default the contracts' own).

    ``on_operation`` gets each operation's verdicts as soon as they are judged (their messages and examples
    not yet redacted: use their operation, check and status only), so a failing check shows before the sweep
    ends."""
    contracts = target.contracts
    assert contracts is not None, f"target {target.name!r} has no contracts section"
    result = SweepResult(target.name, new_id(), wall_clock(), document=contracts.openapi,
                         budget=contracts.max_requests)  # fmt: skip
    started = clock()
    deadline = started + (contracts.timeout if timeout is None else timeout)
    redactor = Redactor(target.secrets())
    sweep: _Sweep | None = None
    try:
        try:
            document = load_api(target, contracts.openapi, max(0.01, (deadline - clock()) * DOCUMENT_SHARE))
        except ApiDocumentError as error:
            result.error = str(error)
            return result
        setup_workflows = [workflows[name] for name in contracts.workflows() if name in workflows]
        setup = run_setup(setup_workflows, target, deadline, clock)
        redactor.add(setup.secrets)
        try:
            sweep = _Sweep(target, contracts, document, setup.variables, setup.session, negative or NegativeData(),
                           deadline, clock)  # fmt: skip
        except UndefinedVariable as missing:
            setup.session.close()
            why = setup.error or "no setup workflow extracted it"
            result.error = f"contracts: {missing}: {why}"
            return result
        if setup.error is not None:  # what the sweep needs was extracted before it: noted, not fatal
            result.notes.append(setup.error)
        redactor.add(sweep.secrets)
        sweep.run(result, on_operation)
    except Exception as error:  # a bug of ours: the sweep says so, the exporter goes on
        logger.exception("contract sweep of %s crashed", target.name)
        result.error = f"internal error: {type(error).__name__}: {error}"
    finally:
        if sweep is not None:
            sweep.close()
        result.duration = clock() - started
        _redact(result, redactor)
        _log(result)
    return result


class _Sweep:
    """The ``SweepContext`` the checks see, and the sending."""

    def __init__(
        self,
        target: Target,
        contracts: ContractsConfig,
        document: ApiDocument,
        variables: Mapping[str, Any],
        setup_session: requests.Session,
        negative: NegativeData,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self.target = target
        self.contracts = contracts
        self.document = document
        self.implicit_statuses = target.implicit_statuses
        self._negative = negative
        self._deadline = deadline
        self._clock = clock
        self._values = render(dict(contracts.parameters.values), variables)
        self._operation_values = {label: render(dict(v), variables) for label, v in
                                  contracts.parameters.operations.items()}  # fmt: skip
        self.auth_headers: dict[str, str] = {str(k): str(v) for k, v in
                                             render(dict(contracts.auth.headers), variables).items()}  # fmt: skip
        self.secrets = list(self.auth_headers.values())
        if contracts.auth.basic is not None:
            fields = target.credentials.get(contracts.auth.basic, {})
            pair = f"{fields.get('username', '')}:{fields.get('password', '')}".encode()
            self.auth_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            self.secrets.append(self.auth_headers["Authorization"].split(" ", 1)[1])
        self._keep_cookies = contracts.auth.cookies
        if self._keep_cookies:
            self._profile_session = setup_session
        else:
            setup_session.close()
            self._profile_session = requests.Session()
        self._anonymous_session = requests.Session()
        self._verify = target.tls.ca_file or not target.tls.insecure_skip_verify
        tls = target.tls
        self._cert = (tls.cert_file, tls.key_file) if tls.cert_file and tls.key_file else tls.cert_file
        self.requests = 0

    def close(self) -> None:
        self._profile_session.close()
        self._anonymous_session.close()

    # --- SweepContext -------------------------------------------------------------------------------------

    def _configured(self, operation: Operation) -> dict[str, Any]:
        return {**self._values, **self._operation_values.get(operation.label, {})}

    def path_for(
        self, operation: Operation, values: Mapping[str, Any] | None = None, fallback: Mapping[str, Any] | None = None
    ) -> str:
        configured = self._configured(operation)
        path = operation.path
        for parameter in operation.path_parameters():
            name = parameter.name
            if values is not None and name in values:
                value = values[name]
            elif name in configured:
                value = configured[name]
            elif fallback is not None and name in fallback:
                value = fallback[name]
            else:
                raise ValueError(f"no value for path parameter {name!r} (set it under contracts.parameters)")
            text = ",".join(map(_text, value)) if isinstance(value, list) else _text(value)
            if text in ("", ".", ".."):
                raise ValueError(f"path parameter {name!r}: {text!r} cannot be sent in a path")
            path = path.replace("{" + name + "}", quote(text, safe=""))
        return path

    def query_for(self, operation: Operation) -> tuple[tuple[str, str], ...]:
        configured = self._configured(operation)
        query: list[tuple[str, str]] = []
        for parameter in operation.query_parameters():
            if parameter.name not in configured:
                if parameter.required:
                    raise ValueError(f"no value for required query parameter {parameter.name!r} (set it under "
                                     "contracts.parameters)")  # fmt: skip
                continue
            value = configured[parameter.name]
            query += [(parameter.name, _text(v)) for v in (value if isinstance(value, list) else [value])]
        return tuple(query)

    def negative_cases(self, operation: Operation) -> list[NegativeCase] | str:
        if self._clock() >= self._deadline:
            return "the sweep's deadline passed before invalid requests were generated"
        return self._negative.cases(self.document, operation, self.contracts.negative_examples)

    def invalid_auth(self, operation: Operation) -> list[str]:
        names = [name for requirement in operation.security for name in requirement]
        schemes = self.document.security_schemes
        usable = [name for name in dict.fromkeys(names) if name in schemes and schemes[name].get("type") != "mutualTLS"]
        return [f"{INVALID_PREFIX}{name}" for name in usable]

    # --- the sweep ----------------------------------------------------------------------------------------

    def run(self, result: SweepResult, on_operation: Callable[[Sequence[CheckResult]], None] | None) -> None:
        contracts = self.contracts
        selected = [op for op in self.document.operations
                    if contracts.selects(op.method, op.path, op.tags, op.operation_id)]  # fmt: skip
        result.operations = len(selected)
        for operation in selected:
            first = len(result.results)
            self._operation(operation, result)
            if on_operation is not None:
                try:
                    on_operation(result.results[first:])
                except Exception:  # the caller's bug must not end the sweep
                    logger.exception("recording the verdicts of %s failed", operation.label)
        result.requests = self.requests

    def _operation(self, operation: Operation, result: SweepResult) -> None:
        planned: list[tuple[str, list[Probe] | None, Verdict | None]] = []
        answers: dict[Probe, Answer] = {}
        queue: list[Probe] = []
        for name in self.contracts.checks:
            try:
                plan = CHECKS[name].plan(operation, self)
            except Exception as error:
                logger.exception("check %s crashed planning %s", name, operation.label)
                planned.append((name, None, Verdict("error", f"internal error: {type(error).__name__}: {error}")))
                continue
            if isinstance(plan, str):
                planned.append((name, None, Verdict("skipped", plan)))
                continue
            new = [probe for probe in dict.fromkeys(plan) if probe not in answers and probe not in queue]
            if self.requests + len(queue) + len(new) > self.contracts.max_requests:
                planned.append((name, None, Verdict("skipped", f"the sweep's budget of {self.contracts.max_requests}"
                                                    " requests is spent (contracts.max_requests)")))  # fmt: skip
                continue
            queue += new
            planned.append((name, plan, None))
        for probe in queue:
            answers[probe] = self.send(probe)
        for name, probes, verdict in planned:
            if verdict is None and probes is not None:
                try:
                    verdict = CHECKS[name].judge(operation, [answers[p] for p in probes], self)
                except Exception as error:
                    logger.exception("check %s crashed judging %s", name, operation.label)
                    verdict = Verdict("error", f"internal error: {type(error).__name__}: {error}")
            assert verdict is not None
            example = _example(verdict) if verdict.status in ("failed", "error") and verdict.answer else None
            result.results.append(CheckResult(operation.label, name, verdict.status, verdict.message, example))

    def send(self, probe: Probe) -> Answer:
        """One probe, within the request timeout and what is left of the sweep's deadline."""
        correlation_id = new_id()
        headers = self._headers(probe, correlation_id)
        query = list(probe.query)
        if probe.auth.startswith(INVALID_PREFIX):
            query += self._invalid_credential(probe.auth.removeprefix(INVALID_PREFIX), headers)
        url = self.target.base_url + probe.path + (f"?{urlencode(query)}" if query else "")
        answer = Answer(probe, url, correlation_id, dict(headers.items()))
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            answer.failure = ("timeout", "the sweep's deadline passed before this request was sent")
            return answer
        session = self._profile_session if probe.auth == AUTH_PROFILE else self._anonymous_session
        if session is self._anonymous_session or not self._keep_cookies:
            session.cookies.clear()
        self.requests += 1
        started = self._clock()
        try:
            reply = transport.send(
                session, probe.method, url, headers=dict(headers.items()), origin=self.target.base_url,
                seconds=min(self.contracts.request_timeout, remaining), max_bytes=self.target.max_response_bytes,
                body=probe.body, follow_redirects=False, verify=self._verify, cert=self._cert,
            )  # fmt: skip
        except transport.TransportFailure as failure:
            answer.duration = self._clock() - started
            answer.failure = (failure.reason, failure.message)
            if failure.response is not None:
                answer.status = failure.response.status_code
                answer.headers = CaseInsensitiveDict(failure.response.headers)
            return answer
        answer.duration = self._clock() - started
        answer.status = reply.response.status_code
        answer.headers = CaseInsensitiveDict(reply.response.headers)
        answer.body = reply.content
        return answer

    def _headers(self, probe: Probe, correlation_id: str) -> CaseInsensitiveDict[str]:
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in self.target.headers.items():
            if probe.auth != AUTH_PROFILE and (is_secret_name(name) or name.lower() == "cookie"):
                continue  # a configured credential must not ride along on an anonymous request
            headers[name] = value
        headers.setdefault("User-Agent", USER_AGENT)
        headers["X-Request-ID"] = correlation_id
        headers["traceparent"] = traceparent_for(correlation_id)
        secret = self.target.synthetic_secret
        headers["X-Synthetic"] = sign_marker(secret, correlation_id) if secret else "1"
        if probe.auth == AUTH_PROFILE:
            headers.update(self.auth_headers)
            if self._keep_cookies and probe.method in _UNSAFE:
                csrf = next((c.value for c in self._profile_session.cookies if c.name == "csrftoken"), None)
                if csrf:  # Django's session writes want the CSRF token back, as the http step sends it
                    headers.setdefault("X-CSRFToken", csrf)
                    headers.setdefault("Referer", self.target.base_url + "/")
        for name, value in probe.headers:
            headers[name] = value
        if probe.body is not None and probe.content_type:
            headers["Content-Type"] = probe.content_type
        return headers

    def _invalid_credential(self, scheme_name: str, headers: CaseInsensitiveDict[str]) -> list[tuple[str, str]]:
        """Put a wrong credential of the scheme on the request; query parameters to add, if it goes there."""
        scheme = self.document.security_schemes.get(scheme_name, {})
        wrong = f"invalid-{new_id()[:16]}"
        kind = str(scheme.get("type", "")).lower()
        if kind == "http":
            method = str(scheme.get("scheme", "bearer")).lower()
            if method == "basic":
                headers["Authorization"] = "Basic " + base64.b64encode(f"contract-check:{wrong}".encode()).decode()
            else:
                headers["Authorization"] = f"{method.capitalize()} {wrong}"
        elif kind == "apikey":
            name, where = str(scheme.get("name", "")), scheme.get("in")
            if where == "header" and name:
                headers[name] = wrong
            elif where == "query" and name:
                return [(name, wrong)]
            elif where == "cookie" and name:
                headers["Cookie"] = f"{name}={wrong}"
        else:  # oauth2, openIdConnect: a bearer token
            headers["Authorization"] = f"Bearer {wrong}"
        return []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _example(verdict: Verdict) -> Example:
    answer = verdict.answer
    assert answer is not None
    probe = answer.probe
    body_text = (probe.body or b"").decode("utf-8", "replace")
    request_headers, _ = kept_headers(answer.request_headers)
    response_headers, _ = kept_headers(dict(answer.headers.items()))
    return Example(
        note=probe.note,
        method=probe.method,
        url=kept_text(answer.url, KEPT_URL_CHARS),
        request_headers=request_headers,
        request_body=kept_text(body_text),
        status=answer.status,
        response_headers=response_headers,
        response_body=kept_text(answer.body[: KEPT_TEXT_CHARS * 4].decode("utf-8", "replace")),
        schema_error=verdict.schema_error,
        curl=kept_text(_curl(probe.method, answer.url, answer.request_headers, body_text), 2 * KEPT_TEXT_CHARS),
        correlation_id=answer.correlation_id,
    )


def _curl(method: str, url: str, headers: Mapping[str, str], body: str) -> str:
    parts = ["curl", "-sS", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def _redact(result: SweepResult, redactor: Redactor) -> None:
    if result.error:
        result.error = redactor.text(result.error)
    result.notes = [redactor.text(note) for note in result.notes]
    for check in result.results:
        check.message = redactor.text(check.message)
        if check.example is not None:
            example = check.example
            redactor.apply(example)
            # From the redacted parts: redacting the line as text would also mask harmless headers whose names
            # merely look secret (Access-Control-Request-Method).
            example.curl = kept_text(_curl(example.method, example.url, example.request_headers, example.request_body),
                                     2 * KEPT_TEXT_CHARS)  # fmt: skip


def _log(result: SweepResult) -> None:
    counts = {status: result.count(status) for status in STATUSES}
    log = logger.info if result.success else logger.warning
    outcome = result.error or ", ".join(f"{n} {status}" for status, n in counts.items())
    log("contract sweep of %s: %s", result.target, outcome,
        extra={"correlation_id": result.correlation_id, "layer": "probe", "target": result.target,
               "duration_ms": round(result.duration * 1000, 1), "requests": result.requests,
               **{f"checks_{status}": n for status, n in counts.items()}})  # fmt: skip


def failing(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The failed and errored results, failed first."""
    return sorted((r for r in results if r.status in ("failed", "error")), key=lambda r: r.status != "failed")
