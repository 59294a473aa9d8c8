"""``http`` steps: one request to the target, with assertions on the response and variable extraction.

YAML::

    - name: add-to-cart
      http:
        method: POST                     # default GET
        path: /api/cart/items/           # relative to base_url; a rendered URL must stay on the target's origin
        headers: {Authorization: "Bearer ${access}"}
        query: {page: 2}
        json: {product_id: "${product_id}", quantity: 1}     # or form: {...} or body: "raw"
        follow_redirects: true           # default; hop by hop, within the run's deadline and byte caps
        max_redirects: 10                # default; more is a failure with reason redirect
      timeout: 2s                        # the step's own deadline, within the run's: past it the step fails
      expect:
        status: [201]                    # codes, "2xx", "200-299"; default 2xx
        max_duration: 500ms              # the step's latency budget: over it the run is degraded, not failed
        json: {"items[0].quantity": 1}   # JMESPath -> expected value
        headers: {Content-Type: "^application/json"}   # regex; null means "must be absent"
        body_regex: "quantity"
        json_schema: {type: object, required: [items]}
        openapi: true                    # validate against the target's OpenAPI operation
        server: {max_queries: 10, max_db_duration: 200ms, max_app_duration: 1s}   # over one: degraded, not failed
      extract:
        item_id: {json: "items[0].id"}   # or {header: X-Name}, {cookie: csrftoken}, {regex: 'id=(\\d+)'}
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jmespath
import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from requests.structures import CaseInsensitiveDict

from django_integration.marker import sign_marker

from .. import transport
from ..documents import DocumentError, DocumentLimits, load_json
from ..errors import Problems, unknown
from ..ids import traceparent_for
from ..model import Step, Target
from ..openapi import FETCH_TIMEOUT_SECONDS
from ..redact import redact_headers, redact_text
from ..result import (
    KEPT_MESSAGE_CHARS,
    KEPT_REDIRECTS,
    KEPT_TEXT_CHARS,
    KEPT_URL_CHARS,
    AssertionResult,
    Exchange,
    StepFailure,
    StepResult,
    kept_headers,
    kept_text,
    kept_value,
    quoted,
)
from ..server_timing import parse_server_timing
from ..templating import render
from ..transport import has_userinfo, origin_of
from ._base import RunContext, check_budget, fail_on_first_failed_check

METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_PREVIEW_BYTES = 4096
SYNTHETIC_HEADER = "X-Synthetic"

# Control characters (tab included) never belong in a URL or a header value; a CR or LF would split the request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name


@dataclass(frozen=True)
class HttpSpec:
    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, Any] | None = None
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: int = transport.DEFAULT_MAX_REDIRECTS


# --- load time -------------------------------------------------------------------------------------------------


def parse(raw: Any, where: str, problems: Problems, targets: list[Target]) -> HttpSpec:
    if not isinstance(raw, Mapping):
        problems.add(where, "http must be a mapping with at least a path")
        return HttpSpec()
    allowed = {"method", "path", "headers", "query", "json", "form", "body", "follow_redirects", "max_redirects"}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"http: {unknown('field', key, allowed)}")
    method = str(raw.get("method", "GET")).upper()
    if method not in METHODS:
        problems.add(where, f"http: method {method!r} is not one of {', '.join(sorted(METHODS))}")
    path = raw.get("path")
    if not isinstance(path, str) or not (path.startswith(("/", "${"))) or path.startswith(("//", "/\\")):
        problems.add(where, f"http: path must start with one '/' (it is relative to the target), got {path!r}")
        path = "/"
    elif "${" not in path and _CONTROL.search(path):
        problems.add(where, "http: path has line breaks or control characters")
    bodies = [key for key in ("json", "form", "body") if key in raw]
    if len(bodies) > 1:
        problems.add(where, f"http: set one of json, form and body, not {' and '.join(bodies)}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping):
        problems.add(where, "http: headers must be a mapping")
        headers = {}
    for name, value in headers.items():
        if "${" not in str(name) and not _TOKEN.fullmatch(str(name)):
            problems.add(where, f"http: header name {str(name)!r} is not a valid HTTP header name")
        if "${" not in str(value) and _CONTROL.search(str(value).replace("\t", " ")):
            problems.add(where, f"http: header {name}: the value has line breaks or control characters")
    max_redirects = raw.get("max_redirects", transport.DEFAULT_MAX_REDIRECTS)
    if isinstance(max_redirects, bool) or not isinstance(max_redirects, int) or max_redirects < 0:
        problems.add(where, f"http: max_redirects must be a whole number >= 0, got {max_redirects!r}")
        max_redirects = transport.DEFAULT_MAX_REDIRECTS
    query = raw.get("query") or {}
    if not isinstance(query, Mapping):
        problems.add(where, "http: query must be a mapping")
        query = {}
    form = raw.get("form")
    if form is not None and not isinstance(form, Mapping):
        problems.add(where, "http: form must be a mapping")
        form = None
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        problems.add(where, "http: body must be a string (use json: for structured bodies)")
        body = None
    return HttpSpec(
        method=method,
        path=path,
        headers={str(k): v for k, v in headers.items()},
        query=dict(query),
        json=raw.get("json"),
        form=form,
        body=body,
        follow_redirects=_flag(raw, "follow_redirects", where, problems),
        max_redirects=max_redirects,
    )


def _flag(raw: Mapping[str, Any], key: str, where: str, problems: Problems) -> bool:
    value = raw.get(key, True)
    if not isinstance(value, bool):
        problems.add(where, f"http: {key} must be true or false, got {value!r}")
        return True
    return value


def idempotent(spec: HttpSpec) -> bool:
    return spec.method in IDEMPOTENT


_STATUS_RANGE = re.compile(r"([1-5])xx|(\d{3})-(\d{3})")


def _parse_statuses(value: Any, where: str, problems: Problems) -> list[tuple[int, int]]:
    items = value if isinstance(value, list) else [value]
    ranges = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            ranges.append((item, item))
            continue
        match = _STATUS_RANGE.fullmatch(str(item))
        if match and match.group(1):
            low = int(match.group(1)) * 100
            ranges.append((low, low + 99))
        elif match and int(match.group(2)) <= int(match.group(3)):
            ranges.append((int(match.group(2)), int(match.group(3))))
        else:
            problems.add(where, f"expect.status: {item!r} is not a status code, '2xx' or '200-299'")
    return ranges


def parse_expect(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    allowed = {"status", "max_duration", "json", "headers", "body_regex", "json_schema", "openapi", "server"}
    expect: dict[str, Any] = {}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"expect: {unknown('assertion', key, allowed)}")
    expect["status"] = _parse_statuses(raw.get("status", "2xx"), where, problems)
    if "json" in raw:
        if not isinstance(raw["json"], Mapping):
            problems.add(where, "expect.json must map JMESPath expressions to expected values")
        else:
            compiled = {}
            for expression, expected in raw["json"].items():
                try:
                    compiled[str(expression)] = (jmespath.compile(str(expression)), expected)
                except jmespath.exceptions.JMESPathError as error:
                    problems.add(where, f"expect.json: {expression!r} is not a JMESPath expression: {error}")
            expect["json"] = compiled
    if "headers" in raw:
        if not isinstance(raw["headers"], Mapping):
            problems.add(where, "expect.headers must map header names to regular expressions")
        else:
            expect["headers"] = {
                str(name): _regex(pattern, f"expect.headers.{name}", where, problems) if pattern is not None else None
                for name, pattern in raw["headers"].items()
            }
    if "body_regex" in raw:
        patterns = raw["body_regex"] if isinstance(raw["body_regex"], list) else [raw["body_regex"]]
        expect["body_regex"] = [_regex(p, "expect.body_regex", where, problems) for p in patterns]
    if "json_schema" in raw:
        try:
            Draft202012Validator.check_schema(raw["json_schema"])
            expect["json_schema"] = Draft202012Validator(raw["json_schema"])
        except SchemaError as error:
            problems.add(where, f"expect.json_schema is not a valid JSON Schema: {error.message}")
    if raw.get("openapi"):
        expect["openapi"] = True
    if "server" in raw:
        server = raw["server"]
        if not isinstance(server, Mapping):
            problems.add(where, "expect.server must be a mapping")
        else:
            from ..durations import parse_duration

            limits: dict[str, float] = {}
            for key, value in server.items():
                try:
                    if key == "max_queries":
                        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                            raise ValueError(f"{value!r} is not a whole number")
                        limits[key] = value
                    elif key in ("max_db_duration", "max_app_duration"):
                        limits[key] = parse_duration(value)
                    else:
                        raise ValueError("known: max_queries, max_db_duration, max_app_duration")
                except ValueError as error:
                    problems.add(where, f"expect.server.{key}: {error}")
            expect["server"] = limits
    return expect


def _regex(pattern: Any, field_name: str, where: str, problems: Problems) -> str:
    # Kept as text (it may hold ${variables}); compiled once here only to report errors at load.
    if not isinstance(pattern, str):
        problems.add(where, f"{field_name}: {pattern!r} is not a regular expression")
        return "(?!)"
    if "${" not in pattern:
        try:
            re.compile(pattern)
        except re.error as error:
            problems.add(where, f"{field_name}: invalid regular expression {pattern!r}: {error}")
    return pattern


def parse_extract(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, dict[str, Any]]:
    extract: dict[str, dict[str, Any]] = {}
    for name, source in raw.items():
        if not isinstance(source, Mapping) or len(source) != 1:
            problems.add(where, f"extract.{name}: use exactly one of json, header, cookie, regex")
            continue
        ((kind, expression),) = source.items()
        if kind == "json":
            try:
                extract[str(name)] = {"json": jmespath.compile(str(expression)), "text": str(expression)}
            except jmespath.exceptions.JMESPathError as error:
                problems.add(where, f"extract.{name}: {expression!r} is not a JMESPath expression: {error}")
        elif kind in ("header", "cookie"):
            extract[str(name)] = {kind: str(expression)}
        elif kind == "regex":
            try:
                extract[str(name)] = {"regex": re.compile(str(expression))}
            except re.error as error:
                problems.add(where, f"extract.{name}: invalid regular expression {expression!r}: {error}")
        else:
            problems.add(where, f"extract.{name}: {unknown('source', kind, ('cookie', 'header', 'json', 'regex'))}")
    return extract


# --- run time --------------------------------------------------------------------------------------------------


def _short(text: str, limit: int = 300) -> str:
    return kept_text(text, limit)


def _request_headers(spec: HttpSpec, headers: Mapping[str, Any], context: RunContext) -> dict[str, str]:
    """Target defaults, the step's own, then the run's correlation headers and Django's CSRF header."""
    # Header names are case-insensitive: a step's ``user-agent`` must replace the default, not ride along with it.
    result: CaseInsensitiveDict[str] = CaseInsensitiveDict(context.target.headers)
    result.update({str(k): str(v) for k, v in headers.items()})
    result.setdefault("User-Agent", "workflow-exporter")
    result["X-Request-ID"] = context.correlation_id
    result["traceparent"] = traceparent_for(context.correlation_id)
    secret = context.target.synthetic_secret
    result[SYNTHETIC_HEADER] = sign_marker(secret, context.correlation_id) if secret else "1"
    if spec.method not in SAFE:
        csrf = _cookie(context.session, "csrftoken")
        if csrf and "X-CSRFToken" not in result:
            result["X-CSRFToken"] = csrf
        # Django checks the Referer of unsafe HTTPS requests against the host.
        result.setdefault("Referer", context.target.base_url + "/")
    return dict(result.items())


def _client_cert(target: Target) -> str | tuple[str, str] | None:
    tls = target.tls
    if tls.cert_file and tls.key_file:
        return (tls.cert_file, tls.key_file)
    return tls.cert_file


def _cookie(session: requests.Session, name: str) -> str | None:
    """A cookie's value; with several of that name (other paths or domains), the last one set."""
    try:
        return session.cookies.get(name)
    except requests.cookies.CookieConflictError:
        return [cookie.value for cookie in session.cookies if cookie.name == name][-1]


def _curl(method: str, url: str, headers: Mapping[str, str], body: str) -> str:
    parts = ["curl", "-sS", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def _target_url(target: Target, template: str, rendered: Any) -> str:
    """The request URL: ``rendered`` (the step's path with its variables filled in) on the target's origin.

    A path (one leading ``/``) is appended to ``base_url``; a full URL is taken only when it is on the target's
    origin (scheme, host and port, as both URL parsers read them) and has no ``user:password@``. Anything else
    fails the step with ``extraction``: a value an earlier response gave must not move a request (and the
    target's headers) to another host.
    """
    value = "" if rendered is None else str(rendered)
    home = origin_of(target.base_url)
    shown = quoted(value)

    def refuse(why: str) -> StepFailure:
        return StepFailure("extraction", f"path {template!r} became {shown}: {why}; the request was not sent")

    if _CONTROL.search(value):
        raise refuse("it has line breaks or control characters")
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        url = target.base_url + value
    elif value.startswith(("//", "/\\", "\\")):
        raise refuse("a path must start with a single '/' (a leading '//' names another host)")
    elif origin_of(value) is None:
        raise refuse(f"it is neither a path nor a URL on the target's origin {home}")
    else:
        url = value
        if has_userinfo(url):
            raise refuse("a URL with user:password@ is not requested")
    if origin_of(url) != home:
        raise refuse(f"it leaves the target's origin {home}")
    return url.partition("#")[0]


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers to send, with surrounding whitespace dropped; StepFailure(extraction) for one that cannot be."""
    checked = {}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise StepFailure("extraction", f"header name {quoted(name)} is not a valid HTTP header name")
        value = value.strip(" \t")
        if _CONTROL.search(value.replace("\t", " ")):
            raise StepFailure(
                "extraction",
                f"header {name}: the value has line breaks or control characters; the request was not sent",
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise StepFailure(
                "extraction", f"header {name}: the value has characters HTTP headers cannot carry (only Latin-1)"
            ) from None
        checked[name] = value
    return checked


def _body(spec: HttpSpec, rendered: Mapping[str, Any]) -> tuple[bytes | None, str, str | None]:
    """``(bytes to send, text to show, Content-Type)`` of the step's json, form or raw body."""
    if spec.json is not None:
        try:
            text = json.dumps(rendered["json"], allow_nan=False, default=str)
        except ValueError as error:  # NaN or Infinity (JSON has neither), from a value a response gave
            raise StepFailure("extraction", f"the JSON body cannot be sent: {error}") from None
        return text.encode(), text, "application/json"
    if spec.form is not None:
        text = urlencode({str(k): "" if v is None else str(v) for k, v in (rendered["form"] or {}).items()})
        return text.encode(), text, "application/x-www-form-urlencoded"
    if spec.body is not None:
        text = str(rendered["body"])
        return text.encode(), text, None
    return None, "", None


def _with_query(url: str, query: Mapping[str, str]) -> str:
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(query)


def _secret_safe(text: str, limit: int, secrets: list[str]) -> str:
    """``text`` redacted and cut to ``limit``; cut after redaction, so no secret is shown in part."""
    margin = max((len(s) for s in secrets), default=0) + 256
    return kept_text(redact_text(text[: limit + margin], secrets), limit)


def _keep_headers(exchange: Exchange, part: str, headers: Mapping[str, str]) -> dict[str, str]:
    kept, cut = kept_headers(headers)
    if cut:
        exchange.truncated.append(part)
    return kept


def _keep(exchange: Exchange, part: str, text: str, limit: int) -> str:
    short = kept_text(text, limit)
    if short != text:
        exchange.truncated.append(part)
    return short


def _record_response(
    exchange: Exchange,
    result: StepResult,
    response: requests.Response | None,
    content: bytes,
    received: int,
    redirects: list[str],
    secrets: list[str],
) -> None:
    """What arrived (also when the step failed while it arrived): status, head, size and a body preview."""
    exchange.redirects = [_secret_safe(line, 2 * KEPT_URL_CHARS, secrets) for line in redirects[:KEPT_REDIRECTS]]
    result.response_bytes = received
    if response is None:
        return
    result.http_status = exchange.status = response.status_code
    result.server = parse_server_timing(response.headers.get("Server-Timing"))
    exchange.response_headers = _keep_headers(
        exchange, "response_headers", redact_headers(dict(response.headers), secrets)
    )
    preview = content[:BODY_PREVIEW_BYTES].decode("utf-8", "replace")
    exchange.response_body = redact_text(preview, secrets)
    if len(content) > BODY_PREVIEW_BYTES:
        exchange.truncated.append("response_body")


def _record_timings(result: StepResult, timings: transport.Timings) -> None:
    """The attempt's phases (seconds, summed over its redirect hops) and its certificates' earliest expiry."""
    result.phases = dict(timings.phases)
    if timings.cert_expires_at is not None:
        result.tls_cert_expires_at = timings.cert_expires_at


def run(step: Step, spec: HttpSpec, context: RunContext, result: StepResult) -> None:
    rendered = context.render({"path": spec.path, "headers": spec.headers, "query": spec.query,
                               "json": spec.json, "form": spec.form, "body": spec.body})  # fmt: skip
    target = context.target
    url = _target_url(target, spec.path, rendered["path"])
    headers = _check_headers(_request_headers(spec, rendered["headers"] or {}, context))
    body, body_text, content_type = _body(spec, rendered)
    if content_type and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    query = {str(k): str(v) for k, v in (rendered["query"] or {}).items()}
    secrets = target.secrets()
    full_url = _with_query(url, query)
    exchange = Exchange(method=spec.method)
    exchange.url = _keep(exchange, "url", redact_text(full_url, secrets), KEPT_URL_CHARS)
    exchange.request_headers = _keep_headers(exchange, "request_headers", redact_headers(headers, secrets))
    exchange.request_body = _secret_safe(body_text, BODY_PREVIEW_BYTES, secrets)
    if len(body_text) > BODY_PREVIEW_BYTES:
        exchange.truncated.append("request_body")
    curl = _curl(spec.method, full_url, redact_headers(headers, secrets), exchange.request_body)
    exchange.curl = _keep(exchange, "curl", redact_text(curl, secrets), 2 * KEPT_TEXT_CHARS)
    result.exchange = exchange

    attempts = step.retries + 1
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        remaining = context.remaining()
        if remaining <= 0:
            raise StepFailure("timeout", "the run's deadline passed before the request was sent")
        started = time.perf_counter()
        try:
            reply = transport.send(
                context.session,
                spec.method,
                full_url,
                headers=headers,
                body=body,
                origin=target.base_url,
                seconds=remaining,
                max_bytes=target.max_response_bytes,
                max_redirects=spec.max_redirects,
                follow_redirects=spec.follow_redirects,
                verify=target.tls.ca_file or not target.tls.insecure_skip_verify,
                cert=_client_cert(target),
            )
        except transport.TransportFailure as failure:
            # The time until it was cut off, and whatever status and head had arrived by then.
            result.duration = time.perf_counter() - started
            _record_timings(result, failure.timings)
            _record_response(exchange, result, failure.response, b"", failure.received, failure.redirects, secrets)
            retry = failure.reason in ("dns", "connect", "timeout") and context.remaining() > 0
            if attempt < attempts and retry:
                context.log.append(f"{step.name}: attempt {attempt} failed ({failure.reason}); retrying")
                continue
            raise StepFailure(failure.reason, _short(failure.message, KEPT_MESSAGE_CHARS)) from None
        result.duration = time.perf_counter() - started
        _record_timings(result, reply.timings)
        response = reply.response
        if response.status_code >= 500 and attempt < attempts:
            context.log.append(f"{step.name}: attempt {attempt} answered {response.status_code}; retrying")
            continue
        break

    content = reply.content
    _record_response(exchange, result, response, content, len(content), reply.redirects, secrets)
    check_response(step, response, content, result, context)
    extract(step, response, content, result, context)


# --- assertions ------------------------------------------------------------------------------------------------


# A response body is already under max_response_bytes; these bound what parsing it may build.
_JSON_LIMITS = DocumentLimits(max_bytes=1 << 62, max_depth=100, max_nodes=10_000_000, max_aliases=0)
_MAX_SCHEMA_ERRORS = 100


def _json_of(content: bytes) -> Any:
    """The body as JSON; ValueError (with the reason) when it is not JSON or is nested deeper than 100 levels."""
    try:
        return load_json(content, _JSON_LIMITS)
    except DocumentError as error:
        detail = str(error)
        if detail.startswith("invalid JSON: "):
            raise ValueError(f"the response body is not JSON ({detail[len('invalid JSON: ') :]})") from None
        raise ValueError(f"the response body cannot be used as JSON: {detail}") from None


def _json_equal(actual: Any, expected: Any) -> bool:
    """JSON equality as a reader means it: true is not 1; a number and its text form ("42") are equal,
    because ``${variables}`` extracted from one response often come back as text."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected or (isinstance(expected, str) and str(actual).lower() == expected.lower())
    if actual == expected:
        return True
    if isinstance(actual, (int, float, str)) and isinstance(expected, (int, float, str)):
        return str(actual) == str(expected)
    return False


def _render_regex(pattern: str, context: RunContext) -> str:
    """A regex with ``${variables}`` inserted literally (a value's ``.`` or ``(`` must not become syntax)."""
    escaped = {name: re.escape(str(value)) for name, value in context.variables.items()}
    return str(render(pattern, escaped))


def _schema_errors(validator: Draft202012Validator, document: Any) -> tuple[bool, str]:
    """``(ok, message)``: the first three errors by position, each message cut (they quote the instance)."""
    try:
        errors = sorted(
            itertools.islice(validator.iter_errors(document), _MAX_SCHEMA_ERRORS), key=lambda e: list(e.absolute_path)
        )
    except RecursionError:
        return False, "the document is nested too deeply to validate"
    message = "; ".join(_short(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}") for e in errors[:3])
    return not errors, message or "matches"


def check_response(
    step: Step, response: requests.Response, content: bytes, result: StepResult, context: RunContext
) -> None:
    """Evaluate every assertion, record each, and fail the step on the first failed one (by its reason)."""
    expect = step.expect
    checks = result.assertions
    status = response.status_code
    allowed = expect.get("status") or [(200, 299)]
    ok = any(low <= status <= high for low, high in allowed)
    wanted = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in allowed)
    checks.append(AssertionResult("status", ok, f"status {status}, expected {wanted}", "http_status"))
    check_budget(step, result)
    if "headers" in expect:
        for name, pattern in expect["headers"].items():
            value = response.headers.get(name)
            if pattern is None:
                message = f"{name} must be absent, is {quoted(value)}"
                checks.append(AssertionResult(f"header {name}", value is None, message))
            else:
                regex = _render_regex(pattern, context)
                ok = value is not None and re.search(regex, value) is not None
                checks.append(
                    AssertionResult(f"header {name}", ok, f"{name}: {quoted(value)} against /{_short(regex)}/")
                )
    if "body_regex" in expect:
        text = content.decode("utf-8", "replace")
        for pattern in expect["body_regex"]:
            regex = _render_regex(pattern, context)
            ok = re.search(regex, text) is not None
            shown = _short(regex)
            checks.append(AssertionResult("body_regex", ok, f"body {'matches' if ok else 'does not match'} /{shown}/"))
    if "json" in expect or "json_schema" in expect:
        try:
            document = _json_of(content)
        except ValueError as error:
            checks.append(AssertionResult("json", False, str(error)))
            document = None
        if document is not None:
            for text, (expression, expected_raw) in expect.get("json", {}).items():
                expected = context.render(expected_raw)
                actual = expression.search(document)
                ok = _json_equal(actual, expected)
                message = f"{text} is {quoted(actual)}, expected {quoted(expected)}"
                checks.append(AssertionResult(f"json {text}", ok, message))
            validator = expect.get("json_schema")
            if validator is not None:
                ok, message = _schema_errors(validator, document)
                checks.append(AssertionResult("json_schema", ok, message, "schema"))
    if expect.get("openapi"):
        # Fetching the document (first use, or after its TTL) counts against the run's deadline too.
        fetch_timeout = min(max(context.remaining(), 0.001), FETCH_TIMEOUT_SECONDS)
        ok, message = context.openapi.check(context.target, response, context.session, timeout=fetch_timeout)
        checks.append(AssertionResult("openapi", ok, _short(message, KEPT_MESSAGE_CHARS), "schema"))
    server_limits = expect.get("server", {})
    timing = result.server
    # Server limits are budgets on how the answer was made, not on the answer: over one the step is degraded
    # (severity warning), never failed (synthetic.steps._base).
    for key, limit in server_limits.items():
        if key == "max_queries":
            actual_queries = timing.queries
            ok = actual_queries is not None and actual_queries <= limit
            shown_queries = "sent no query count" if actual_queries is None else f"ran {actual_queries} queries"
            message = f"server {shown_queries}, at most {limit:g} allowed"
        else:
            actual_seconds = timing.db_seconds if key == "max_db_duration" else timing.app_seconds
            ok = actual_seconds is not None and actual_seconds <= limit
            shown = "unknown" if actual_seconds is None else f"{actual_seconds * 1000:.0f} ms"
            message = f"server {key[4:-9]} time {shown}, budget {limit * 1000:.0f} ms"
        checks.append(AssertionResult(key, ok, message, severity="warning"))
    fail_on_first_failed_check(result)


def extract(step: Step, response: requests.Response, content: bytes, result: StepResult, context: RunContext) -> None:
    document: Any = None
    for name, source in step.extract.items():
        value: Any = None
        if "json" in source:
            if document is None:
                try:
                    document = _json_of(content)
                except ValueError as error:
                    raise StepFailure("extraction", f"{name}: {error}") from None
            value = source["json"].search(document)
            where = f"JSON {source['text']!r}"
        elif "header" in source:
            value = response.headers.get(source["header"])
            where = f"header {source['header']}"
        elif "cookie" in source:
            value = _cookie(context.session, source["cookie"])
            where = f"cookie {source['cookie']}"
        else:
            match = source["regex"].search(content.decode("utf-8", "replace"))
            value = (match.group(1) if match.groups() else match.group(0)) if match else None
            where = f"regex /{source['regex'].pattern}/"
        if value is None:
            raise StepFailure("extraction", f"{name}: {where} found nothing in the response")
        context.variables[name] = value
        result.extracted[name] = kept_value(value)
