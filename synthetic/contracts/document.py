"""The OpenAPI document a sweep checks against: fetched within a deadline and a size cap, read into operations.

``load_api(target, contracts, seconds)`` fetches (``synthetic.transport``: one deadline over every phase and
redirect, the size cap before and after decompression) or reads the document, parses it within
``documents.DEFAULT_LIMITS`` (bytes, depth, values, aliases), and reads what the checks use into ``Operation``
records. Anything that makes the document unusable is an ``ApiDocumentError`` naming the first problems: not
OpenAPI 3.0/3.1, a part of the wrong type, a ``$ref`` that is not local (``#/...``: a document never makes the
exporter fetch another), does not resolve, or only refers to itself (``A -> B -> A`` with no schema between).
A recursive schema (a tree whose children are trees) is fine.

Schemas are validated with openapi-schema-validator (OpenAPI 3.0's ``nullable``, ``readOnly``/``writeOnly``; 3.1's
JSON Schema 2020-12) against the whole document, so ``$ref`` resolves where it points.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import requests
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from django_integration.marker import sign_marker

from .. import transport
from ..documents import DEFAULT_LIMITS, DocumentError, DocumentLimits, load_document
from ..ids import new_id
from ..model import Target

__all__ = ["ApiDocument", "ApiDocumentError", "MediaSchema", "Operation", "Parameter", "load_api", "parse_api"]

HTTP_METHODS = ("get", "head", "options", "post", "put", "patch", "delete", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD"})
DOCUMENT_URN = "urn:workflow-exporter:openapi"
# A path template longer than this is not a label value (workflow_contract_check_success's operation).
MAX_PATH_CHARS = 256
MAX_OPERATIONS = 2000
MAX_REF_HOPS = 64
_SHOWN_PROBLEMS = 5
_POINTER_SAFE = "/~!$&'()*+,;=:@"


class ApiDocumentError(ValueError):
    """The document cannot be used for a sweep; the message names why (one line)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path, query, header, cookie
    required: bool
    pointer: str | None  # JSON pointer to its schema in the document, None when it has none
    explode: bool = True


@dataclass(frozen=True)
class MediaSchema:
    media_type: str
    pointer: str | None  # JSON pointer to the schema, None when the media type has none


@dataclass(frozen=True)
class Operation:
    """One METHOD + path template of the document, with what the checks read of it."""

    method: str  # upper case
    path: str
    operation_id: str | None
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    request_body: tuple[MediaSchema, ...]  # empty: the operation takes no body
    body_required: bool
    responses: Mapping[str, tuple[MediaSchema, ...]]  # "200", "4XX", "default" -> documented media types
    security: tuple[Mapping[str, Any], ...]  # the effective requirements; {} in it: anonymous allowed

    @property
    def label(self) -> str:
        """``METHOD /path/{template}``: the ``operation`` label value."""
        return f"{self.method} {self.path}"

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def secured(self) -> bool:
        """The document requires credentials: some requirement, and none of them empty."""
        return bool(self.security) and all(self.security)

    def path_parameters(self) -> list[Parameter]:
        return [p for p in self.parameters if p.location == "path"]

    def query_parameters(self) -> list[Parameter]:
        return [p for p in self.parameters if p.location == "query"]

    def response_for(self, status: int) -> tuple[str, tuple[MediaSchema, ...]] | None:
        """The documented response an answer with ``status`` falls under: exact, ``2XX``, then ``default``."""
        for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
            if key in self.responses:
                return key, self.responses[key]
        return None


@dataclass
class ApiDocument:
    """A parsed document: its operations in (path, method) order, security schemes, and validators."""

    raw: Mapping[str, Any]
    version: str  # "3.0" or "3.1"
    operations: list[Operation]
    security_schemes: Mapping[str, Mapping[str, Any]]
    fingerprint: str  # sha256 of the document's canonical JSON
    location: str
    _validators: dict[tuple[str, str], Validator] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def validator(self, pointer: str, direction: str) -> Validator:
        """A validator for the schema at ``pointer``: ``direction`` ``read`` (responses: writeOnly properties must
        not appear) or ``write`` (requests: readOnly properties must not be sent)."""
        key = (pointer, direction)
        with self._lock:
            found = self._validators.get(key)
        if found is not None:
            return found
        schema = {"$ref": f"{DOCUMENT_URN}#{quote(pointer, safe=_POINTER_SAFE)}"}
        if self.version == "3.0":
            resource = Resource.from_contents(self.raw, default_specification=DRAFT4)
            registry: Registry[Any] = Registry().with_resource(DOCUMENT_URN, resource)
            cls = OAS30ReadValidator if direction == "read" else OAS30WriteValidator
            made: Validator = cls(schema, registry=registry, format_checker=oas30_format_checker)
        else:
            resource = Resource.from_contents(self.raw, default_specification=DRAFT202012)
            registry = Registry().with_resource(DOCUMENT_URN, resource)
            made = OAS31Validator(schema, registry=registry, format_checker=oas31_format_checker)
        with self._lock:
            self._validators[key] = made
        return made

    def first_error(self, pointer: str, value: Any, direction: str = "read") -> str | None:
        """The first way ``value`` breaks the schema at ``pointer`` (``where: message``), or None when it fits."""
        errors = schema_errors(self.validator(pointer, direction), value)
        return errors[0] if errors else None


def schema_errors(validator: Validator, value: Any, limit: int = 3) -> list[str]:
    """Up to ``limit`` ``"path: message"`` lines; a schema too deep to evaluate is an error of its own."""
    found = []
    try:
        for error in validator.iter_errors(value):
            found.append(describe(error))
            if len(found) >= limit:
                break
    except RecursionError:
        found.append("(root): the schema recurses deeper than can be checked")
    return found


def describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
    return f"{where}: {message}"


# --- loading -------------------------------------------------------------------------------------------------


def load_api(
    target: Target, location: str, seconds: float, limits: DocumentLimits = DEFAULT_LIMITS, verify_tls: bool = True
) -> ApiDocument:
    """Fetch (a path on the target, a URL) or read (a file) the document within ``seconds``; ApiDocumentError."""
    url = target.base_url + location if location.startswith("/") else location
    if url.startswith(("http://", "https://")):
        fetch_id = new_id()
        secret = target.synthetic_secret
        headers = {
            **target.headers,
            "Accept": "application/vnd.oai.openapi+json, application/json, application/yaml",
            "User-Agent": "workflow-exporter (contracts)",
            "X-Request-ID": fetch_id,
            "X-Synthetic": sign_marker(secret, fetch_id) if secret else "1",
        }
        tls = target.tls
        with requests.Session() as session:
            try:
                reply = transport.send(
                    session, "GET", url, headers=headers, origin=target.base_url, seconds=seconds,
                    max_bytes=limits.max_bytes, cap_name="the document size limit",
                    verify=tls.ca_file or not tls.insecure_skip_verify if verify_tls else False,
                    cert=(tls.cert_file, tls.key_file) if tls.cert_file and tls.key_file else tls.cert_file,
                )  # fmt: skip
            except transport.TransportFailure as failure:
                raise ApiDocumentError(f"cannot fetch the OpenAPI document {location!r}: {failure.reason}: "
                                       f"{failure.message}") from None  # fmt: skip
        status = reply.response.status_code
        if not 200 <= status < 300:
            raise ApiDocumentError(f"cannot fetch the OpenAPI document {location!r}: it answered {status}")
        data = reply.content
    else:
        try:
            with open(location, "rb") as file:
                data = file.read(limits.max_bytes + 1)
        except (OSError, ValueError) as error:
            raise ApiDocumentError(f"cannot read the OpenAPI document {location!r}: {error}") from None
    try:
        document = load_document(data, limits)
    except DocumentError as error:
        raise ApiDocumentError(f"the OpenAPI document {location!r} cannot be read: {error}") from None
    return parse_api(document, location)


def parse_api(document: Any, location: str = "<document>") -> ApiDocument:
    """Read a parsed document; ApiDocumentError naming the first problems when it cannot be used."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ApiDocumentError(f"the OpenAPI document {location!r} is not a mapping")
    version_text = document.get("openapi")
    if not isinstance(version_text, str) or not version_text.startswith(("3.0.", "3.1.")):
        shown = repr(version_text)[:40] if version_text is not None else "missing"
        swagger = " (Swagger 2.0 documents are not supported)" if "swagger" in document else ""
        raise ApiDocumentError(f"the OpenAPI document {location!r} is not OpenAPI 3.0 or 3.1: openapi is "
                               f"{shown}{swagger}")  # fmt: skip
    version = version_text[:3]
    _check_refs(document, problems)
    if problems:
        _raise(location, problems)
    paths = document.get("paths", {})
    components = document.get("components", {})
    if not isinstance(components, dict):
        problems.append("components: expected a mapping")
        components = {}
    schemes = components.get("securitySchemes", {})
    if not isinstance(schemes, dict):
        problems.append("components.securitySchemes: expected a mapping")
        schemes = {}
    resolved_schemes = {}
    for name, scheme in schemes.items():
        scheme = _follow(document, scheme, f"components.securitySchemes.{name}", problems)
        if isinstance(scheme, dict) and isinstance(scheme.get("type"), str):
            resolved_schemes[str(name)] = scheme
        else:
            problems.append(f"components.securitySchemes.{name}: expected a mapping with a type")
    top_security = document.get("security", [])
    if not isinstance(paths, dict):
        problems.append("paths: expected a mapping")
        paths = {}
    operations = []
    for path, item in paths.items():
        where = f"paths.{path}"
        if not isinstance(path, str) or not path.startswith("/"):
            problems.append(f"{where}: a path must start with /")
            continue
        if len(path) > MAX_PATH_CHARS:
            problems.append(f"paths: a path of {len(path)} characters (at most {MAX_PATH_CHARS})")
            continue
        item = _follow(document, item, where, problems)
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        shared = _parameters(document, item.get("parameters", []), f"{where}.parameters",
                             f"/paths/{escape(path)}/parameters", problems)  # fmt: skip
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = _operation(document, path, method, item[method], shared, top_security, problems)
            if operation is not None:
                operations.append(operation)
            if len(operations) > MAX_OPERATIONS:
                raise ApiDocumentError(f"the OpenAPI document {location!r} has more than {MAX_OPERATIONS} operations")
    if problems:
        _raise(location, problems)
    operations.sort(key=lambda op: (op.path, HTTP_METHODS.index(op.method.lower())))
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return ApiDocument(
        raw=document,
        version=version,
        operations=operations,
        security_schemes=resolved_schemes,
        fingerprint=hashlib.sha256(canonical).hexdigest(),
        location=location,
    )


def _raise(location: str, problems: list[str]) -> None:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
    raise ApiDocumentError(f"the OpenAPI document {location!r} is not usable: {shown}{more}")


def _pointer_parts(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def escape(part: str) -> str:
    """One JSON pointer token."""
    return part.replace("~", "~0").replace("/", "~1")


def ref_pointer(ref: str) -> str:
    """The JSON pointer of a local ``$ref`` (``#/components/schemas/A%20B`` -> ``/components/schemas/A B``)."""
    return unquote(ref[1:])


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``/components/schemas/A``, not percent-encoded); LookupError when none."""
    value = document
    for part in _pointer_parts(pointer):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupError(pointer)
    return value


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    """Every (pointer, mapping) of the document, iteratively (any depth the parser allowed)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, dict):
            yield pointer, value
            stack.extend((f"{pointer}/{escape(str(k))}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(value))


def _check_refs(document: Any, problems: list[str]) -> None:
    """Every ``$ref`` is local and resolves, and no chain of them only leads to itself."""
    targets: dict[str, str] = {}  # pointer of a mapping that is only a $ref -> where it points
    for pointer, mapping in _walk(document):
        ref = mapping.get("$ref")
        if ref is None:
            continue
        shown = pointer or "/"
        if not isinstance(ref, str):
            problems.append(f"{shown}: $ref must be a string")
            continue
        if not ref.startswith("#"):
            problems.append(f"{shown}: $ref {ref[:100]!r} is not in this document (only #/... is followed)")
            continue
        try:
            resolve_pointer(document, ref_pointer(ref))
        except LookupError:
            problems.append(f"{shown}: $ref {ref[:100]!r} does not resolve")
            continue
        if len(mapping) == 1 or set(mapping) <= {"$ref", "description", "summary"}:
            targets[pointer] = ref_pointer(ref)
    for start in targets:
        seen = [start]
        current = start
        while current in targets:
            current = targets[current]
            if current in seen:
                chain = " -> ".join(f"#{p}" for p in [*seen[seen.index(current) :], current])
                problems.append(f"a $ref cycle with no schema in it: {chain[:300]}")
                break
            seen.append(current)
            if len(seen) > MAX_REF_HOPS:
                problems.append(f"{start}: more than {MAX_REF_HOPS} $ref hops")
                break
        if len(problems) > 20:
            return


def _follow(document: Any, value: Any, where: str, problems: list[str]) -> Any:
    """``value`` with a ``$ref`` chain followed (refs are already known to resolve and not to cycle)."""
    hops = 0
    while isinstance(value, dict) and isinstance(value.get("$ref"), str):
        hops += 1
        if hops > MAX_REF_HOPS:
            problems.append(f"{where}: more than {MAX_REF_HOPS} $ref hops")
            return None
        value = resolve_pointer(document, ref_pointer(value["$ref"]))
    return value


def _pointer_of(document: Any, value: Any, pointer: str) -> str:
    """Where the schema a value's ``$ref`` chain ends at lives (or ``pointer`` itself)."""
    hops = 0
    while isinstance(value, dict) and isinstance(value.get("$ref"), str) and hops < MAX_REF_HOPS:
        pointer = ref_pointer(value["$ref"])
        value = resolve_pointer(document, pointer)
        hops += 1
    return pointer


def _parameters(
    document: Any, raw: Any, where: str, base: str, problems: list[str]
) -> dict[tuple[str, str], Parameter]:
    """The parameters listed at ``where`` (JSON pointer ``base``), by (name, location)."""
    found: dict[tuple[str, str], Parameter] = {}
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list")
        return found
    for index, item in enumerate(raw):
        pwhere = f"{where}[{index}]"
        pointer = _pointer_of(document, item, f"{base}/{index}")
        item = _follow(document, item, pwhere, problems)
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or item.get("in") not in ("path", "query", "header", "cookie")
        ):
            problems.append(f"{pwhere}: expected a mapping with name and in (path, query, header, cookie)")
            continue
        schema_pointer = f"{pointer}/schema" if "schema" in item else None
        if schema_pointer is not None and not isinstance(item["schema"], dict | bool):
            problems.append(f"{pwhere}.schema: expected a schema")
            schema_pointer = None
        found[(item["name"], item["in"])] = Parameter(
            name=item["name"],
            location=item["in"],
            required=item["in"] == "path" or item.get("required") is True,
            pointer=_pointer_of(document, item["schema"], schema_pointer) if schema_pointer else None,
            explode=item.get("explode", item.get("style", "form") == "form") is not False,
        )
    return found


def _media(document: Any, content: Any, pointer: str, where: str, problems: list[str]) -> tuple[MediaSchema, ...]:
    if content is None:
        return ()
    if not isinstance(content, dict):
        problems.append(f"{where}.content: expected a mapping of media types")
        return ()
    found = []
    for media_type, media in content.items():
        mpointer = f"{pointer}/content/{escape(str(media_type))}"
        if not isinstance(media, dict):
            problems.append(f"{where}.content.{media_type}: expected a mapping")
            continue
        schema = media.get("schema")
        if schema is not None and not isinstance(schema, dict | bool):
            problems.append(f"{where}.content.{media_type}.schema: expected a schema")
            schema = None
        schema_pointer = _pointer_of(document, schema, f"{mpointer}/schema") if schema is not None else None
        found.append(MediaSchema(str(media_type).lower(), schema_pointer))
    return tuple(found)


def _operation(
    document: Any,
    path: str,
    method: str,
    raw: Any,
    shared: dict[tuple[str, str], Parameter],
    top_security: Any,
    problems: list[str],
) -> Operation | None:
    where = f"paths.{path}.{method}"
    pointer = f"/paths/{escape(path)}/{method}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    own = _parameters(document, raw.get("parameters", []), f"{where}.parameters", f"{pointer}/parameters", problems)
    parameters = {**shared, **own}
    for name in _template_names(path):
        if (name, "path") not in parameters:
            problems.append(f"{where}: path parameter {{{name}}} is not declared")
    body_raw = raw.get("requestBody")
    body: tuple[MediaSchema, ...] = ()
    body_required = False
    if body_raw is not None:
        body_pointer = _pointer_of(document, body_raw, f"{pointer}/requestBody")
        body_raw = _follow(document, body_raw, f"{where}.requestBody", problems)
        if not isinstance(body_raw, dict):
            problems.append(f"{where}.requestBody: expected a mapping")
        else:
            body = _media(document, body_raw.get("content"), body_pointer, f"{where}.requestBody", problems)
            body_required = body_raw.get("required") is True
    responses_raw = raw.get("responses", {})
    responses: dict[str, tuple[MediaSchema, ...]] = {}
    if not isinstance(responses_raw, dict):
        problems.append(f"{where}.responses: expected a mapping")
    else:
        for status, response in responses_raw.items():
            key = str(status)
            rpointer = _pointer_of(document, response, f"{pointer}/responses/{escape(key)}")
            response = _follow(document, response, f"{where}.responses.{key}", problems)
            if not isinstance(response, dict):
                problems.append(f"{where}.responses.{key}: expected a mapping")
                continue
            responses[key] = _media(document, response.get("content"), rpointer, f"{where}.responses.{key}",
                                    problems)  # fmt: skip
    security = raw.get("security", top_security)
    if not isinstance(security, list) or not all(isinstance(item, dict) for item in security):
        problems.append(f"{where}.security: expected a list of requirements")
        security = []
    tags = raw.get("tags", [])
    operation_id = raw.get("operationId")
    return Operation(
        method=method.upper(),
        path=path,
        operation_id=operation_id if isinstance(operation_id, str) else None,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        parameters=tuple(parameters.values()),
        request_body=body,
        body_required=body_required,
        responses=responses,
        security=tuple(security),
    )


def _template_names(path: str) -> list[str]:
    names, rest = [], path
    while "{" in rest and "}" in rest.split("{", 1)[1]:
        name, rest = rest.split("{", 1)[1].split("}", 1)
        names.append(name)
    return names


def is_json(media_type: str) -> bool:
    """``application/json``, ``application/problem+json``, ``*/*`` (parameters after ``;`` ignored)."""
    base = media_type.split(";", 1)[0].strip().lower()
    return base in ("application/json", "*/*", "application/*") or base.endswith("+json")
