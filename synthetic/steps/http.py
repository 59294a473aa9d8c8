"""``http`` steps: one request to the target, with assertions on the response and variable extraction.

YAML::

    - name: add-to-cart
      http:
        method: POST                     # default GET
        path: /api/cart/items/           # always relative to the target's base_url
        headers: {Authorization: "Bearer ${access}"}
        query: {page: 2}
        json: {product_id: "${product_id}", quantity: 1}     # or form: {...} or body: "raw"
      expect:
        status: [201]                    # codes, "2xx", "200-299"; default 2xx
        max_duration: 500ms              # also exported as the step's latency budget
        json: {"items[0].quantity": 1}   # JMESPath -> expected value
        headers: {Content-Type: "^application/json"}   # regex; null means "must be absent"
        body_regex: "quantity"
        json_schema: {type: object, required: [items]}
        openapi: true                    # validate against the target's OpenAPI operation
        server: {max_queries: 10, max_db_duration: 200ms, max_app_duration: 1s}
      extract:
        item_id: {json: "items[0].id"}   # or {header: X-Name}, {cookie: csrftoken}, {regex: 'id=(\\d+)'}
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jmespath
import requests
import urllib3
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from requests.structures import CaseInsensitiveDict

from django_integration.marker import sign_marker

from ..errors import Problems
from ..ids import traceparent_for
from ..model import Step, Target
from ..openapi import FETCH_TIMEOUT_SECONDS
from ..redact import redact_headers, redact_text
from ..result import AssertionResult, Exchange, StepFailure, StepResult
from ..server_timing import parse_server_timing
from ..templating import render
from ._base import RunContext, check_budget, fail_on_first_failed_check

METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_PREVIEW_BYTES = 4096
SYNTHETIC_HEADER = "X-Synthetic"


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


# --- load time -------------------------------------------------------------------------------------------------


def parse(raw: Any, where: str, problems: Problems, targets: list[Target]) -> HttpSpec:
    if not isinstance(raw, Mapping):
        problems.add(where, "http must be a mapping with at least a path")
        return HttpSpec()
    allowed = {"method", "path", "headers", "query", "json", "form", "body", "follow_redirects"}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"http: unknown field {key!r} (known: {', '.join(sorted(allowed))})")
    method = str(raw.get("method", "GET")).upper()
    if method not in METHODS:
        problems.add(where, f"http: method {method!r} is not one of {', '.join(sorted(METHODS))}")
    path = raw.get("path")
    if not isinstance(path, str) or not (path.startswith(("/", "${"))):
        problems.add(where, f"http: path must start with '/' (it is relative to the target), got {path!r}")
        path = "/"
    bodies = [key for key in ("json", "form", "body") if key in raw]
    if len(bodies) > 1:
        problems.add(where, f"http: set one of json, form and body, not {' and '.join(bodies)}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping):
        problems.add(where, "http: headers must be a mapping")
        headers = {}
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
            problems.add(where, f"expect: unknown assertion {key!r} (known: {', '.join(sorted(allowed))})")
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
            problems.add(where, f"extract.{name}: unknown source {kind!r} (known: cookie, header, json, regex)")
    return extract


# --- run time --------------------------------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (urllib3 nests the real cause in ``reason`` and ``args``)."""
    found: list[BaseException] = []
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found


def _classify(error: requests.RequestException) -> tuple[str, str]:
    """The failure reason of a transport error: dns, tls, timeout or connect."""
    text = _short(str(error))
    causes = _causes(error)
    names = {type(cause).__name__ for cause in causes}
    if any(isinstance(c, socket.gaierror) for c in causes) or "NameResolutionError" in names:
        return "dns", f"name does not resolve: {text}"
    if any(isinstance(c, ssl.SSLError) for c in causes) or isinstance(error, requests.exceptions.SSLError):
        return "tls", f"TLS handshake failed: {text}"
    if isinstance(error, requests.exceptions.Timeout) or names & {"ConnectTimeoutError", "ReadTimeoutError"}:
        return "timeout", f"no answer in time: {text}"
    if isinstance(error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "connect", f"the connection broke while the body arrived: {text}"
    if isinstance(error, requests.exceptions.ConnectionError):
        if any(isinstance(c, (TimeoutError, socket.timeout)) for c in causes):
            return "timeout", f"no answer in time: {text}"
        return "connect", f"connection failed: {text}"
    return "internal", f"{type(error).__name__}: {text}"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _request_headers(spec: HttpSpec, headers: Mapping[str, Any], context: RunContext) -> dict[str, str]:
    """Target defaults, the step's own, then the run's correlation headers and Django's CSRF header."""
    # Header names are case-insensitive: a step's ``user-agent`` must replace the default, not ride along with it.
    result: CaseInsensitiveDict[str] = CaseInsensitiveDict(context.target.headers)
    result.update({k: str(v) for k, v in headers.items()})
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


def _body_chunks(response: requests.Response, context: RunContext) -> Iterator[bytes]:
    """The body as it arrives, each read bounded by the run's deadline.

    ``iter_content`` blocks until a whole chunk is in, so a server that trickles bytes could hold the run far
    past its deadline; ``read1`` returns what one read got. urllib3's errors become requests' (as in
    ``iter_content``) so that ``_classify`` sees them.
    """
    raw = response.raw
    if not hasattr(raw, "read1"):  # urllib3 1.x (requests allows it): whole chunks, checked between them
        yield from response.iter_content(chunk_size=65536)
        return
    try:
        while True:
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if sock is not None:
                sock.settimeout(max(context.remaining(), 0.001))
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                return
            yield chunk
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ConnectionError(error) from error
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from error
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from error
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from error


def _read_capped(response: requests.Response, cap: int, context: RunContext) -> bytes:
    chunks, size = [], 0
    for chunk in _body_chunks(response, context):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            response.close()
            raise StepFailure("assertion", f"response body larger than max_response_bytes ({cap} bytes)")
        if context.remaining() <= 0:
            response.close()
            raise StepFailure("timeout", "the run's deadline passed while the body was still arriving")
    return b"".join(chunks)


def run(step: Step, spec: HttpSpec, context: RunContext, result: StepResult) -> None:
    rendered = context.render({"path": spec.path, "headers": spec.headers, "query": spec.query,
                               "json": spec.json, "form": spec.form, "body": spec.body})  # fmt: skip
    target = context.target
    url = target.base_url + str(rendered["path"])
    headers = _request_headers(spec, rendered["headers"], context)
    body_text = ""
    kwargs: dict[str, Any] = {}
    if spec.json is not None:
        kwargs["json"] = rendered["json"]
        body_text = json.dumps(rendered["json"])
    elif spec.form is not None:
        kwargs["data"] = rendered["form"]
        body_text = urlencode(rendered["form"])
    elif spec.body is not None:
        kwargs["data"] = str(rendered["body"]).encode()
        body_text = str(rendered["body"])
    query = {k: str(v) for k, v in (rendered["query"] or {}).items()}
    secrets = target.secrets()
    full_url = url + ("?" + urlencode(query) if query else "")
    exchange = Exchange(
        method=spec.method,
        url=full_url,
        request_headers=redact_headers(headers, secrets),
        request_body=redact_text(body_text[:BODY_PREVIEW_BYTES], secrets),
    )
    exchange.curl = _curl(spec.method, full_url, exchange.request_headers, exchange.request_body)
    result.exchange = exchange

    attempts = step.retries + 1
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        remaining = context.remaining()
        if remaining <= 0:
            raise StepFailure("timeout", "the run's deadline passed before the request was sent")
        started = time.perf_counter()
        try:
            response = context.session.request(
                spec.method,
                url,
                params=query or None,
                headers=headers,
                timeout=(min(remaining, 10.0), remaining),
                stream=True,
                allow_redirects=spec.follow_redirects,
                verify=target.tls.ca_file or not target.tls.insecure_skip_verify,
                cert=_client_cert(target),
                **kwargs,
            )
            with response:
                content = _read_capped(response, target.max_response_bytes, context)
            response._content = content  # for openapi-core, which reads .content
        except requests.RequestException as error:
            result.duration = time.perf_counter() - started
            reason, message = _classify(error)
            if attempt < attempts and reason in ("dns", "connect", "timeout"):
                context.log.append(f"{step.name}: attempt {attempt} failed ({reason}); retrying")
                continue
            raise StepFailure(reason, message) from None
        result.duration = time.perf_counter() - started
        if response.status_code >= 500 and attempt < attempts:
            context.log.append(f"{step.name}: attempt {attempt} answered {response.status_code}; retrying")
            continue
        break

    result.http_status = response.status_code
    result.response_bytes = len(content)
    result.server = parse_server_timing(response.headers.get("Server-Timing"))
    exchange.status = response.status_code
    exchange.response_headers = redact_headers(dict(response.headers), secrets)
    exchange.response_body = redact_text(content[:BODY_PREVIEW_BYTES].decode("utf-8", "replace"), secrets)
    check_response(step, response, content, result, context)
    extract(step, response, content, result, context)


# --- assertions ------------------------------------------------------------------------------------------------


def _json_of(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError as error:
        raise ValueError(f"the response body is not JSON ({error})") from None


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
                checks.append(AssertionResult(f"header {name}", value is None, f"{name} must be absent, is {value!r}"))
            else:
                regex = _render_regex(pattern, context)
                ok = value is not None and re.search(regex, value) is not None
                checks.append(AssertionResult(f"header {name}", ok, f"{name}: {value!r} against /{regex}/"))
    if "body_regex" in expect:
        text = content.decode("utf-8", "replace")
        for pattern in expect["body_regex"]:
            regex = _render_regex(pattern, context)
            ok = re.search(regex, text) is not None
            checks.append(AssertionResult("body_regex", ok, f"body {'matches' if ok else 'does not match'} /{regex}/"))
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
                checks.append(AssertionResult(f"json {text}", ok, f"{text} is {actual!r}, expected {expected!r}"))
            validator = expect.get("json_schema")
            if validator is not None:
                errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
                message = "; ".join(
                    f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:3]
                )
                checks.append(AssertionResult("json_schema", not errors, message or "matches", "schema"))
    if expect.get("openapi"):
        # Fetching the document (first use, or after its TTL) counts against the run's deadline too.
        fetch_timeout = min(max(context.remaining(), 0.001), FETCH_TIMEOUT_SECONDS)
        ok, message = context.openapi.check(context.target, response, context.session, timeout=fetch_timeout)
        checks.append(AssertionResult("openapi", ok, message, "schema"))
    server_limits = expect.get("server", {})
    timing = result.server
    for key, limit in server_limits.items():
        if key == "max_queries":
            actual_queries = timing.queries
            ok = actual_queries is not None and actual_queries <= limit
            checks.append(AssertionResult(key, ok, f"server ran {actual_queries} queries, at most {limit:g} allowed"))
        else:
            actual_seconds = timing.db_seconds if key == "max_db_duration" else timing.app_seconds
            ok = actual_seconds is not None and actual_seconds <= limit
            shown = "unknown" if actual_seconds is None else f"{actual_seconds * 1000:.0f} ms"
            checks.append(AssertionResult(key, ok, f"server {key[4:-9]} time {shown}, budget {limit * 1000:.0f} ms"))
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
        result.extracted[name] = value
