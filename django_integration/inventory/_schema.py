"""The OpenAPI document drf-spectacular's generator makes of the URL conf, when drf-spectacular is installed:
which endpoints it covers, the fields of their request and response bodies, and the path prefixes of the API
(an endpoint under one of them that the document lacks is a finding).

Routes and document paths are compared by shape: ``api/products/<int:pk>/`` and ``/api/products/{id}/`` are
both ``/api/products/{}/``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger("django_integration.inventory")

__all__ = ["SchemaIndex", "shape"]

_HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def shape(path: str) -> str:
    """A route template or a document path with every parameter as ``{}``, with one leading slash."""
    text = path.lstrip("^").rstrip("$").replace("\\", "")
    text = re.sub(r"\(\?P<[^>]+>[^)]*\)", "{}", text)
    text = re.sub(r"<[^>]+>", "{}", text)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    return "/" + text.lstrip("/")


class SchemaIndex:
    """The generated document of ``urlconf``; ``available`` is False without drf-spectacular (or when the
    generator fails: ``error`` says why)."""

    def __init__(self, urlconf: str | None = None) -> None:
        self.available = False
        self.error: str | None = None
        self.operations: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.prefixes: set[str] = set()
        self._document: Mapping[str, Any] = {}
        self._generator: Any = None
        try:
            from drf_spectacular.generators import SchemaGenerator
        except ImportError:
            self.error = "drf-spectacular is not installed"
            return
        try:
            from drf_spectacular.drainage import GENERATOR_STATS

            self._generator = SchemaGenerator(urlconf=urlconf)
            with GENERATOR_STATS.silence():  # its warnings are for `spectacular --validate`, not for this report
                document = self._generator.get_schema(request=None, public=True)
        except Exception as error:  # a view the generator cannot read: the inventory goes on without it
            logger.warning(
                "the API inventory cannot generate the OpenAPI document: %s: %s", type(error).__name__, error
            )
            self.error = f"{type(error).__name__}: {error}"[:300]
            return
        self.available = True
        self._document = document
        for path, item in (document.get("paths") or {}).items():
            segment = path.strip("/").split("/", 1)[0]
            if segment and "{" not in segment:
                self.prefixes.add(segment)
            for method in _HTTP_METHODS:
                if method in item:
                    self.operations[(shape(path), method.upper())] = item[method]

    def covers(self, route: str, method: str) -> bool:
        if method == "*":
            return any(key[0] == shape(route) for key in self.operations)
        return (shape(route), method) in self.operations

    def in_api(self, route: str) -> bool:
        """Whether the route lies under a prefix the document's paths use (``api/``)."""
        return shape(route).strip("/").split("/", 1)[0] in self.prefixes

    def excluded(self, callback: Callable[..., Any], method: str) -> bool:
        """Whether the view keeps itself out of the document (``schema = None``, ``@extend_schema(exclude=True)``)."""
        cls = getattr(callback, "cls", None)
        if cls is None:
            return False
        if getattr(cls, "schema", "") is None:
            return True
        try:
            view = self._generator.create_view(callback, method)
            return bool(view.schema.is_excluded())
        except Exception:
            return False

    def fields(self, route: str, method: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """The property names of the operation's JSON request body and of its first 2xx response body."""
        operation = self.operations.get((shape(route), method))
        if operation is None:
            return None, None
        request = None
        body = (operation.get("requestBody") or {}).get("content") or {}
        media = body.get("application/json") or next(iter(body.values()), None)
        if media is not None:
            request = self._properties(media.get("schema"))
        response = None
        for status, answer in sorted((operation.get("responses") or {}).items()):
            if str(status).startswith("2"):
                content = (answer or {}).get("content") or {}
                media = content.get("application/json") or next(iter(content.values()), None)
                response = self._properties(media.get("schema")) if media else ()
                break
        return request, response

    def _properties(self, schema: Any, depth: int = 0) -> tuple[str, ...]:
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping) or depth > 8:
            return ()
        if schema.get("type") == "array":
            return self._properties(schema.get("items"), depth + 1)
        names = list(schema.get("properties") or {})
        for part in schema.get("allOf") or ():
            names += self._properties(part, depth + 1)
        return tuple(dict.fromkeys(names))

    def _resolve(self, schema: Any) -> Any:
        for _ in range(16):
            if not (isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str)):
                return schema
            node: Any = self._document
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node.get(part) if isinstance(node, Mapping) else None
            schema = node
        return None
