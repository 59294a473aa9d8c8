"""A target's ``contracts:`` section: what a contract sweep checks, with what values and identity, how often.

Read by ``synthetic.config`` (one hook in its target reader, one after the workflows are read) and validated
like the rest of the file: every problem at once, each naming the target and the field.

.. code-block:: yaml

    contracts:
      openapi: /api/schema/?format=json   # default: the target's openapi
      interval: 5m                        # how often a sweep runs (default 5m)
      timeout: 1m                         # one deadline over the whole sweep (default 1m, at most interval)
      request_timeout: 10s                # and over each request (default 10s)
      max_requests: 500                   # the budget of requests per sweep
      negative_examples: 3                # invalid requests per operation for invalid_payload_rejected
      checks: [not_a_server_error, ...]   # default: every check kind
      include: ["GET /api/**", {tag: products}, {operation_id: api_orders_list}]   # default: every operation
      exclude: ["/api/auth/token/refresh/"]
      public: ["GET /api/products/*"]     # anonymous access intended although the document lists security
      parameters:
        workflow: product-fetch           # run first; its extracted variables fill ${...} below
        values: {id: "${product_id}"}     # path and query parameter values by name
        operations: {"GET /api/orders/{id}/": {id: 999999}}   # per operation, over values
      auth:
        workflow: login                   # run first; its extracted variables fill ${...} below
        headers: {Authorization: "Bearer ${access}"}   # or: basic: <credential name>
        cookies: false                    # true: also send the cookies the workflow's session holds
      cors:
        trusted_origins: [https://shop.example]
        untrusted_origins: [https://contract-check.invalid]
        request_headers: [X-Request-ID, traceparent]
        expose_headers: [X-Request-ID]

Selectors (``include``, ``exclude``, ``public``): a string ``"METHOD /path-glob"`` or ``"/path-glob"`` (any
method), or a mapping of ``path`` (a glob over the path template; ``*`` also matches ``/``), ``method`` (one or a
list), ``tag`` and ``operation_id``; every key given must match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..durations import parse_duration
from ..errors import Problems, did_you_mean
from ..templating import references

if TYPE_CHECKING:
    from ..model import Target, Workflow

__all__ = [
    "CHECK_NAMES",
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_REQUESTS",
    "DEFAULT_UNTRUSTED_ORIGIN",
    "AuthProfile",
    "ContractsConfig",
    "CorsPolicy",
    "ParameterValues",
    "Selector",
    "check_references",
    "parse_contracts",
]

# The check kinds, in the order a sweep runs and shows them (synthetic/contracts/checks registers each).
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",
    "invalid_payload_rejected",
    "cors_preflight",
)
DEFAULT_INTERVAL = 300.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_MAX_REQUESTS = 500
MAX_REQUESTS_LIMIT = 100_000
DEFAULT_NEGATIVE_EXAMPLES = 3
MAX_NEGATIVE_EXAMPLES = 20
# An origin nobody owns (.invalid is reserved, RFC 2606): the untrusted origin when none is configured.
DEFAULT_UNTRUSTED_ORIGIN = "https://contract-check.invalid"
DEFAULT_REQUEST_HEADERS = ("X-Request-ID", "traceparent")
DEFAULT_EXPOSE_HEADERS = ("X-Request-ID",)
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name
_OPERATION_KEY = re.compile(r"([A-Za-z]+) +(/\S*)")


@dataclass(frozen=True)
class Selector:
    """Operations by path glob, method(s), tag and operationId; every field set must match."""

    path: str | None = None
    methods: frozenset[str] = frozenset()
    tag: str | None = None
    operation_id: str | None = None

    def matches(self, method: str, path: str, tags: tuple[str, ...], operation_id: str | None) -> bool:
        return (
            (self.path is None or fnmatch.fnmatchcase(path, self.path))
            and (not self.methods or method in self.methods)
            and (self.tag is None or self.tag in tags)
            and (self.operation_id is None or self.operation_id == operation_id)
        )

    def __str__(self) -> str:
        parts = [f"path {self.path}"] if self.path else []
        parts += [f"method {'|'.join(sorted(self.methods))}"] if self.methods else []
        parts += [f"tag {self.tag}"] if self.tag else []
        parts += [f"operation_id {self.operation_id}"] if self.operation_id else []
        return ", ".join(parts)


@dataclass(frozen=True)
class ParameterValues:
    """Path and query parameter values: ``values`` by name, ``operations`` by ``"METHOD /path"`` over them.

    Values may hold ``${variables}``: the target's built-ins and what ``workflow`` extracts.
    """

    workflow: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    operations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_operation(self, label: str) -> dict[str, Any]:
        return {**self.values, **self.operations.get(label, {})}


@dataclass(frozen=True)
class AuthProfile:
    """Who the authenticated requests are: ``headers`` (``${...}`` from the credentials or ``workflow``'s
    variables), ``basic`` (a credential's username and password as HTTP Basic), and with ``cookies`` the cookie
    jar the workflow's session ends with."""

    workflow: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    basic: str | None = None
    cookies: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.headers or self.basic or self.cookies)


@dataclass(frozen=True)
class CorsPolicy:
    trusted_origins: tuple[str, ...] = ()
    untrusted_origins: tuple[str, ...] = (DEFAULT_UNTRUSTED_ORIGIN,)
    request_headers: tuple[str, ...] = DEFAULT_REQUEST_HEADERS
    expose_headers: tuple[str, ...] = DEFAULT_EXPOSE_HEADERS


@dataclass(frozen=True)
class ContractsConfig:
    """A target's contract sweep. Durations in seconds; ``openapi`` is a path on the target, a URL or a file."""

    openapi: str
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_requests: int = DEFAULT_MAX_REQUESTS
    negative_examples: int = DEFAULT_NEGATIVE_EXAMPLES
    checks: tuple[str, ...] = CHECK_NAMES
    include: tuple[Selector, ...] = ()
    exclude: tuple[Selector, ...] = ()
    public: tuple[Selector, ...] = ()
    parameters: ParameterValues = field(default_factory=ParameterValues)
    auth: AuthProfile = field(default_factory=AuthProfile)
    cors: CorsPolicy = field(default_factory=CorsPolicy)

    def selects(self, method: str, path: str, tags: tuple[str, ...], operation_id: str | None) -> bool:
        """Whether the sweep checks this operation: included (everything when ``include`` is empty), not excluded."""
        key = (method, path, tags, operation_id)
        included = not self.include or any(s.matches(*key) for s in self.include)
        return included and not any(s.matches(*key) for s in self.exclude)

    def is_public(self, method: str, path: str, tags: tuple[str, ...], operation_id: str | None) -> bool:
        return any(s.matches(method, path, tags, operation_id) for s in self.public)

    def workflows(self) -> list[str]:
        """The setup workflows a sweep runs first, each once, in order (auth first)."""
        return list(dict.fromkeys(w for w in (self.auth.workflow, self.parameters.workflow) if w))


class Reader(Protocol):
    """What the config reader lends this parser (``synthetic.config._Reader``)."""

    problems: Problems

    def env(self, value: Any, where: str) -> Any: ...


def parse_contracts(raw: Any, where: str, reader: Reader, target_openapi: str | None) -> ContractsConfig | None:
    """The ``contracts:`` mapping of the target at ``where``, or None when absent; problems go to ``reader``."""
    if raw is None:
        return None
    problems = reader.problems
    where = f"{where}.contracts"
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping (see README: contract checks)")
        return None
    allowed = {"openapi", "interval", "timeout", "request_timeout", "max_requests", "negative_examples", "checks",
               "include", "exclude", "public", "parameters", "auth", "cors"}  # fmt: skip
    _unknown_keys(raw, allowed, where, problems)
    openapi = raw.get("openapi", target_openapi)
    if openapi is not None and not isinstance(openapi, str):
        problems.add(where, "openapi must be a path on the target (/api/schema/), a URL or a file")
        openapi = None
    openapi = reader.env(openapi, f"{where}.openapi") if openapi else None
    if not openapi:
        problems.add(where, "needs an OpenAPI document: set openapi here or on the target")
    interval = _duration(raw, "interval", where, problems, DEFAULT_INTERVAL)
    timeout = _duration(raw, "timeout", where, problems, min(DEFAULT_TIMEOUT, interval))
    if timeout > interval:
        problems.add(where, f"timeout ({timeout:g}s) must not be longer than interval ({interval:g}s)")
    request_timeout = _duration(raw, "request_timeout", where, problems, min(DEFAULT_REQUEST_TIMEOUT, timeout))
    if request_timeout > timeout:
        problems.add(where, f"request_timeout ({request_timeout:g}s) must not be longer than timeout ({timeout:g}s)")
    max_requests = _whole(raw, "max_requests", where, problems, DEFAULT_MAX_REQUESTS, 1, MAX_REQUESTS_LIMIT)
    negative = _whole(raw, "negative_examples", where, problems, DEFAULT_NEGATIVE_EXAMPLES, 1, MAX_NEGATIVE_EXAMPLES)
    return ContractsConfig(
        openapi=str(openapi or ""),
        interval=interval,
        timeout=timeout,
        request_timeout=request_timeout,
        max_requests=max_requests,
        negative_examples=negative,
        checks=_checks(raw.get("checks"), where, problems),
        include=_selectors(raw.get("include"), f"{where}.include", problems),
        exclude=_selectors(raw.get("exclude"), f"{where}.exclude", problems),
        public=_selectors(raw.get("public"), f"{where}.public", problems),
        parameters=_parameters(raw.get("parameters"), f"{where}.parameters", reader),
        auth=_auth(raw.get("auth"), f"{where}.auth", reader),
        cors=_cors(raw.get("cors"), f"{where}.cors", reader),
    )


def check_references(
    targets: Mapping[str, Target], workflows: Mapping[str, Workflow], problems: Problems, strict: bool = True
) -> None:
    """After the workflows are read: each setup workflow exists and runs on the target, every ``${variable}``
    of parameters and auth is defined (the target's built-ins, or extracted by the setup workflows), a ``basic``
    credential has a username and a password. ``strict=False`` (only some workflows were read) skips it."""
    if not strict:
        return
    for target in targets.values():
        contracts = target.contracts
        if contracts is None:
            continue
        where = f"target {target.name!r}.contracts"
        defined = {"run.correlation_id", *target.variables()}
        for part, workflow_name in (("auth", contracts.auth.workflow), ("parameters", contracts.parameters.workflow)):
            if workflow_name is None:
                continue
            workflow = workflows.get(workflow_name)
            if workflow is None:
                hint = did_you_mean(workflow_name, workflows) or f" (known: {', '.join(sorted(workflows))})"
                problems.add(f"{where}.{part}", f"unknown workflow {workflow_name!r}{hint}")
                continue
            if target.name not in workflow.targets:
                problems.add(f"{where}.{part}", f"workflow {workflow_name!r} does not run on target {target.name!r} "
                             "(add the target to its targets)")  # fmt: skip
            defined |= {name for step in workflow.steps for name in step.extract}
        used = [("parameters", contracts.parameters.values), ("parameters", contracts.parameters.operations),
                ("auth", contracts.auth.headers)]  # fmt: skip
        for part, value in used:
            for variable in sorted(set(references(value))):
                if variable in defined:
                    continue
                workflow_name = getattr(contracts, part).workflow
                why = (f"not built in and not extracted by workflow {workflow_name!r}" if workflow_name
                       else f"not built in; set {part}.workflow to one that extracts it")  # fmt: skip
                problems.add(f"{where}.{part}", f"undefined variable ${{{variable}}}: {why}")
        if contracts.auth.basic is not None:
            fields = target.credentials.get(contracts.auth.basic)
            if fields is None:
                known = ", ".join(sorted(target.credentials)) or "none"
                problems.add(f"{where}.auth", f"basic: unknown credential {contracts.auth.basic!r} (known: {known})")
            elif not {"username", "password"} <= set(fields):
                problems.add(f"{where}.auth", f"basic: credential {contracts.auth.basic!r} needs a username and a "
                             "password")  # fmt: skip


# --- small readers -----------------------------------------------------------------------------------------------


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str, problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" (known: {', '.join(sorted(allowed))})"
            problems.add(where, f"unknown field {key!r}{hint}")


def _duration(raw: Mapping[str, Any], key: str, where: str, problems: Problems, default: float) -> float:
    if key not in raw:
        return default
    try:
        value = parse_duration(raw[key])
    except ValueError as error:
        problems.add(where, f"{key}: {error}")
        return default
    if value <= 0:
        problems.add(where, f"{key}: must be longer than 0")
        return default
    return value


def _whole(raw: Mapping[str, Any], key: str, where: str, problems: Problems, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(where, f"{key} must be a whole number from {low} to {high}, got {value!r}")
        return default
    return value


def _string_list(raw: Any, where: str, problems: Problems, what: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problems.add(where, f"expected a list of {what}")
        return []
    return list(raw)


def _checks(raw: Any, where: str, problems: Problems) -> tuple[str, ...]:
    if raw is None:
        return CHECK_NAMES
    if raw == []:
        problems.add(f"{where}.checks", "lists no check; leave it out for every check")
    names = _string_list(raw, f"{where}.checks", problems, "check names")
    for name in names:
        if name not in CHECK_NAMES:
            hint = did_you_mean(name, CHECK_NAMES) or f" (known: {', '.join(CHECK_NAMES)})"
            problems.add(f"{where}.checks", f"unknown check {name!r}{hint}")
    return tuple(name for name in CHECK_NAMES if name in names)


def _selectors(raw: Any, where: str, problems: Problems) -> tuple[Selector, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, 'expected a list of selectors ("GET /api/**", or {path, method, tag, operation_id})')
        return ()
    found = []
    for index, item in enumerate(raw):
        iwhere = f"{where}[{index}]"
        if isinstance(item, str):
            selector = _selector_text(item, iwhere, problems)
        elif isinstance(item, Mapping):
            selector = _selector_mapping(item, iwhere, problems)
        else:
            problems.add(iwhere, 'expected "METHOD /path-glob", "/path-glob" or a mapping')
            continue
        if selector is not None:
            found.append(selector)
    return tuple(found)


def _selector_text(text: str, where: str, problems: Problems) -> Selector | None:
    text = text.strip()
    if text.startswith("/"):
        return Selector(path=text)
    match = _OPERATION_KEY.fullmatch(text)
    if match is None:
        problems.add(where, f'{text[:100]!r}: expected "METHOD /path-glob" or "/path-glob"')
        return None
    method = match.group(1).upper()
    if method not in METHODS:
        problems.add(where, f"unknown method {match.group(1)!r} (known: {', '.join(METHODS)})")
        return None
    return Selector(path=match.group(2), methods=frozenset({method}))


def _selector_mapping(raw: Mapping[str, Any], where: str, problems: Problems) -> Selector | None:
    _unknown_keys(raw, {"path", "method", "tag", "operation_id"}, where, problems)
    if not raw:
        problems.add(where, "an empty selector would match every operation")
        return None
    path, tag, operation_id = raw.get("path"), raw.get("tag"), raw.get("operation_id")
    ok = True
    for key, value in (("path", path), ("tag", tag), ("operation_id", operation_id)):
        if value is not None and not isinstance(value, str):
            problems.add(where, f"{key} must be a string")
            ok = False
    if isinstance(path, str) and not path.startswith("/"):
        problems.add(where, f"path {path[:100]!r} must start with /")
        ok = False
    methods = _string_list(raw.get("method"), where, problems, "methods")
    for method in methods:
        if method.upper() not in METHODS:
            problems.add(where, f"unknown method {method!r} (known: {', '.join(METHODS)})")
            ok = False
    if not ok:
        return None
    return Selector(path=path, methods=frozenset(m.upper() for m in methods), tag=tag, operation_id=operation_id)


def _scalar_map(raw: Any, where: str, reader: Reader) -> dict[str, Any]:
    """Parameter values: strings, numbers, booleans or lists of them; ``${env:...}`` expanded."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        reader.problems.add(where, "expected a mapping of parameter names to values")
        return {}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str | int | float | bool) for item in items):
            reader.problems.add(where, f"{name}: expected a string, number, boolean or a list of them")
            continue
        values[str(name)] = reader.env(value, f"{where}.{name}")
    return values


def _workflow_name(raw: Mapping[str, Any], where: str, problems: Problems) -> str | None:
    name = raw.get("workflow")
    if name is not None and not isinstance(name, str):
        problems.add(where, "workflow must be a workflow name")
        return None
    return name


def _parameters(raw: Any, where: str, reader: Reader) -> ParameterValues:
    problems = reader.problems
    if raw is None:
        return ParameterValues()
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with values, operations and workflow")
        return ParameterValues()
    _unknown_keys(raw, {"workflow", "values", "operations"}, where, problems)
    operations: dict[str, dict[str, Any]] = {}
    operations_raw = raw.get("operations")
    if operations_raw is not None and not isinstance(operations_raw, Mapping):
        problems.add(f"{where}.operations", 'expected a mapping of "METHOD /path/{template}" to values')
    elif operations_raw:
        for key, values in operations_raw.items():
            match = _OPERATION_KEY.fullmatch(str(key).strip())
            if match is None or match.group(1).upper() not in METHODS:
                problems.add(f"{where}.operations", f'{str(key)[:100]!r}: expected "METHOD /path/{{template}}"')
                continue
            label = f"{match.group(1).upper()} {match.group(2)}"
            operations[label] = _scalar_map(values, f"{where}.operations.{label}", reader)
    return ParameterValues(
        workflow=_workflow_name(raw, where, problems),
        values=_scalar_map(raw.get("values"), f"{where}.values", reader),
        operations=operations,
    )


def _auth(raw: Any, where: str, reader: Reader) -> AuthProfile:
    problems = reader.problems
    if raw is None:
        return AuthProfile()
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with headers, basic, cookies and workflow")
        return AuthProfile()
    _unknown_keys(raw, {"workflow", "headers", "basic", "cookies"}, where, problems)
    headers: dict[str, str] = {}
    headers_raw = raw.get("headers")
    if headers_raw is not None and not isinstance(headers_raw, Mapping):
        problems.add(f"{where}.headers", "expected a mapping of header names to values")
    elif headers_raw:
        for name, value in headers_raw.items():
            if not _TOKEN.fullmatch(str(name)):
                problems.add(f"{where}.headers", f"{str(name)[:100]!r} is not a valid header name")
            elif not isinstance(value, str | int):
                problems.add(f"{where}.headers", f"{name}: expected a string")  # never the value: a credential
            else:
                headers[str(name)] = str(reader.env(str(value), f"{where}.headers.{name}"))
    basic = raw.get("basic")
    if basic is not None and not isinstance(basic, str):
        problems.add(where, "basic must name one of the target's credentials")
        basic = None
    if basic is not None and headers and any(name.lower() == "authorization" for name in headers):
        problems.add(where, "set basic or an Authorization header, not both")
    cookies = raw.get("cookies", False)
    if not isinstance(cookies, bool):
        problems.add(where, f"cookies must be true or false, got {cookies!r}")
        cookies = False
    workflow = _workflow_name(raw, where, problems)
    if cookies and workflow is None:
        problems.add(where, "cookies: true needs a workflow whose session holds them")
    profile = AuthProfile(workflow=workflow, headers=headers, basic=basic, cookies=cookies)
    if workflow is not None and not profile.configured:
        problems.add(where, f"workflow {workflow!r} runs, but nothing of it is sent: set headers (with its "
                     "variables) or cookies: true")  # fmt: skip
    return profile


def _origin(value: str, where: str, problems: Problems) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        problems.add(where, f"{value[:100]!r} is not an origin (scheme://host[:port], nothing after it)")
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _cors(raw: Any, where: str, reader: Reader) -> CorsPolicy:
    problems = reader.problems
    if raw is None:
        return CorsPolicy()
    if not isinstance(raw, Mapping):
        problems.add(where, "expected a mapping with trusted_origins, untrusted_origins, request_headers, "
                     "expose_headers")  # fmt: skip
        return CorsPolicy()
    _unknown_keys(raw, {"trusted_origins", "untrusted_origins", "request_headers", "expose_headers"}, where,
                  problems)  # fmt: skip

    def origins(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in raw:
            return default
        listed = _string_list(raw[key], f"{where}.{key}", problems, "origins")
        found = [_origin(str(reader.env(o, f"{where}.{key}")), f"{where}.{key}", problems) for o in listed]
        return tuple(o for o in found if o)

    def header_names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in raw:
            return default
        names = _string_list(raw[key], f"{where}.{key}", problems, "header names")
        for name in names:
            if not _TOKEN.fullmatch(name):
                problems.add(f"{where}.{key}", f"{name[:100]!r} is not a valid header name")
        return tuple(n for n in names if _TOKEN.fullmatch(n))

    trusted = origins("trusted_origins", ())
    untrusted = origins("untrusted_origins", (DEFAULT_UNTRUSTED_ORIGIN,))
    for origin in sorted(set(trusted) & set(untrusted)):
        problems.add(where, f"{origin} is both trusted and untrusted")
    return CorsPolicy(
        trusted_origins=trusted,
        untrusted_origins=untrusted,
        request_headers=header_names("request_headers", DEFAULT_REQUEST_HEADERS),
        expose_headers=header_names("expose_headers", DEFAULT_EXPOSE_HEADERS),
    )
