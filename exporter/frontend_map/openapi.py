"""The backend's OpenAPI document: read from a file or fetched from a URL, within bounds, and its operations.

Fetching goes through the exporter's bounded transport (one deadline over every phase and redirect, a size cap
before and after decompression); parsing through ``synthetic.documents`` (size, depth, values, aliases). Every
failure is an ``OpenAPIError`` with a one-line message: missing file, not reachable, not JSON/YAML, not an
OpenAPI document (no ``openapi``/``swagger`` version, no ``paths`` mapping).

Operations' paths are full paths: the path of the first ``servers`` URL (OpenAPI 3) or ``basePath`` (Swagger 2) in
front of each path, as the backend sees requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from synthetic import transport
from synthetic.documents import DEFAULT_LIMITS, DocumentError, DocumentLimits, load_document

from ._model import Operation

FETCH_SECONDS = 15.0
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class OpenAPIError(ValueError):
    """The OpenAPI document cannot be used; the message says why, in one line."""


def load_openapi(location: str, seconds: float = FETCH_SECONDS, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """The parsed document at ``location`` (an ``http(s)://`` URL or a file path)."""
    if location.startswith(("http://", "https://")):
        headers = {"Accept": "application/vnd.oai.openapi+json, application/json, application/yaml",
                   "User-Agent": "workflow-exporter frontend-map"}  # fmt: skip
        with requests.Session() as session:
            try:
                reply = transport.send(session, "GET", location, headers=headers, origin=location, seconds=seconds,
                                       max_bytes=limits.max_bytes, cap_name="the document size limit")  # fmt: skip
            except transport.TransportFailure as failure:
                raise OpenAPIError(f"{location}: cannot fetch: {failure.message}") from None
        status = reply.response.status_code
        if not 200 <= status < 300:
            raise OpenAPIError(f"{location}: answered {status}, not an OpenAPI document")
        data = reply.content
    else:
        path = Path(location)
        try:
            with path.open("rb") as file:
                data = file.read(limits.max_bytes + 1)
        except OSError as error:
            raise OpenAPIError(f"{location}: cannot read: {error.strerror or error}") from None
    try:
        document = load_document(data, limits)
    except DocumentError as error:
        raise OpenAPIError(f"{location}: {error}") from None
    check_openapi(document, location)
    return document


def check_openapi(document: Any, location: str) -> None:
    if not isinstance(document, dict):
        raise OpenAPIError(f"{location}: not an OpenAPI document (the top level is not a mapping)")
    if not isinstance(document.get("openapi"), str) and not isinstance(document.get("swagger"), str):
        raise OpenAPIError(f"{location}: not an OpenAPI document (no 'openapi' or 'swagger' version field)")
    if not isinstance(document.get("paths"), dict):
        raise OpenAPIError(f"{location}: not an OpenAPI document (no 'paths' mapping)")


def server_path(document: dict[str, Any]) -> str:
    """The path every operation's path is under: the first server URL's path, or Swagger 2's ``basePath``."""
    if isinstance(document.get("swagger"), str):
        base = document.get("basePath")
        return base.rstrip("/") if isinstance(base, str) else ""
    servers = document.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = servers[0].get("url")
        if isinstance(url, str) and "{" not in url:
            return urlsplit(url).path.rstrip("/")
    return ""


def server_origins(document: dict[str, Any]) -> set[str]:
    found = set()
    for server in document.get("servers") or []:
        if isinstance(server, dict) and isinstance(server.get("url"), str):
            parts = urlsplit(server["url"])
            if parts.scheme and parts.netloc:
                found.add(f"{parts.scheme}://{parts.netloc}")
    return found


def operations(document: dict[str, Any]) -> list[Operation]:
    prefix = server_path(document)
    found = []
    for path, item in document["paths"].items():
        if not isinstance(path, str) or not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                operation_id = operation.get("operationId")
                found.append(Operation(method.upper(), prefix + path,
                                       operation_id if isinstance(operation_id, str) else None))  # fmt: skip
    return sorted(found, key=lambda op: (op.path, op.method))
