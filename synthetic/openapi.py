"""Validate responses against the target's OpenAPI document (openapi-core), loaded once and cached.

The document is fetched like a step's request (``synthetic.transport``: the caller's deadline over every phase
and redirect, a size cap before and after decompression) and parsed within ``documents.DEFAULT_LIMITS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.templating.responses.exceptions import ResponseNotFound

from django_integration.marker import sign_marker

from . import transport
from .documents import DEFAULT_LIMITS, DocumentLimits, load_document
from .ids import new_id
from .model import Target

DOCUMENT_TTL_SECONDS = 300.0
FETCH_TIMEOUT_SECONDS = 10.0


class OpenAPIDocuments:
    """The parsed document of each target, refetched after ``ttl`` seconds; a failed fetch is retried next use."""

    def __init__(self, ttl: float = DOCUMENT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, OpenAPI]] = {}
        self._lock = threading.Lock()

    def get(self, target: Target, timeout: float = FETCH_TIMEOUT_SECONDS) -> OpenAPI:
        if not target.openapi:
            raise LookupError(f"target {target.name!r} has no openapi document configured")
        with self._lock:
            cached = self._cache.get(target.name)
            if cached and self._clock() - cached[0] < self._ttl:
                return cached[1]
        document = OpenAPI.from_dict(_load(target, timeout))
        with self._lock:
            self._cache[target.name] = (self._clock(), document)
        return document

    def check(
        self,
        target: Target,
        response: requests.Response,
        session: requests.Session,
        timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> tuple[bool, str]:
        """``(ok, message)`` for one response; statuses in ``implicit_statuses`` pass when undocumented.

        ``timeout`` bounds fetching the document (the run passes what is left of its deadline).
        """
        try:
            document = self.get(target, timeout)
        except Exception as error:
            return False, f"cannot load the OpenAPI document {target.openapi!r}: {error}"
        try:
            result = document.unmarshal_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        except (RecursionError, LookupError, ValueError, TypeError, UnicodeError) as error:
            # What the target sent (a charset Python does not know, a body nested too deeply) broke the check.
            return False, f"the response cannot be checked against its operation: {type(error).__name__}: {error}"[:300]
        errors = list(result.errors)
        if not errors:
            return True, "response matches its OpenAPI operation"
        if response.status_code in target.implicit_statuses and all(isinstance(e, ResponseNotFound) for e in errors):
            return True, f"status {response.status_code} is not documented but implicitly allowed"
        return False, "; ".join(_describe(error)[:300] for error in errors[:3])


def _describe(error: Exception) -> str:
    causes = getattr(error, "schema_errors", None) or getattr(getattr(error, "__cause__", None), "schema_errors", None)
    if causes:
        details = ", ".join(
            f"{'/'.join(str(p) for p in cause.absolute_path) or '(root)'}: {cause.message}" for cause in causes[:3]
        )
        return f"response body does not match the schema: {details}"
    return str(error)[:300]


def _load(target: Target, timeout: float = FETCH_TIMEOUT_SECONDS, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """The target's document, fetched (or read) within ``timeout`` seconds and ``limits`` (bytes once decoded,
    depth, values, aliases). Raises ValueError (DocumentError) or OSError with a message for the check to show.

    A fetch is bounded like a step's request: one deadline for every phase and redirect, the size cap before and
    after decompression, and the target's headers and the synthetic marker only on the target's origin.
    """
    location = target.openapi or ""
    if location.startswith("/"):
        location = target.base_url + location
    if location.startswith(("http://", "https://")):
        # Our own traffic like every run's: an ID of its own and the synthetic marker, so it is not counted as a user.
        fetch_id = new_id()
        secret = target.synthetic_secret
        headers = {
            **target.headers,
            "Accept": "application/vnd.oai.openapi+json, application/json, application/yaml",
            "User-Agent": "workflow-exporter",
            "X-Request-ID": fetch_id,
            "X-Synthetic": sign_marker(secret, fetch_id) if secret else "1",
        }
        with requests.Session() as session:
            try:
                reply = transport.send(
                    session,
                    "GET",
                    location,
                    headers=headers,
                    origin=target.base_url,
                    seconds=timeout,
                    max_bytes=limits.max_bytes,
                    cap_name="the document size limit",
                    verify=target.tls.ca_file or not target.tls.insecure_skip_verify,
                    cert=(target.tls.cert_file, target.tls.key_file)
                    if target.tls.cert_file and target.tls.key_file
                    else target.tls.cert_file,
                )
            except transport.TransportFailure as failure:
                raise OSError(failure.message) from None
        status = reply.response.status_code
        if not 200 <= status < 300:
            raise OSError(f"it answered {status}")
        data = reply.content
    else:
        with open(location, "rb") as file:
            data = file.read(limits.max_bytes + 1)
    return load_document(data, limits)
