"""The map's types: routes, calls, backend operations, problems, and the map that holds them.

Everything here is plain data with a ``to_json()`` shape, so the table, Markdown and JSON outputs and the
exporter's metric all read one structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A call's status, a closed set (DESIGN §3: ``frontend_map_calls{status}``):
#   matched     a backend operation (or a Next.js route handler) with this method and path exists
#   unmatched   no operation has this path: a 404 in production
#   method      the path exists, not with this method: a 405
#   unresolved  the URL or method cannot be known statically; ``reason`` says why
# ``external`` marks a call to another origin (a payment provider, a CDN): listed, never judged nor counted;
# ``unjudged`` a resolved call when the map was built without an OpenAPI document.
STATUSES = ("matched", "unmatched", "method", "unresolved")
EXTERNAL = "external"

# Where a resolved call ends up: the backend (by a rewrite, a base URL or the same origin), a route handler of the
# Next.js app itself, or another origin.
TARGETS = ("backend", "next", "external")


@dataclass(frozen=True)
class Location:
    """A place in the source tree: a path relative to the tree's root (``/`` separated) and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Call:
    """One API call found in the source, resolved as far as the source allows.

    ``path`` is the path template as the browser (or the server) sends it, parameters as ``{name}``
    (`` `/api/products/${id}/` `` gives ``/api/products/{id}/``); ``backend_path`` is the path the backend sees
    after ``basePath``, rewrites and base URLs; ``via`` lists the wrappers the call went through, innermost last
    (``lib/api.ts:14 axios.get``).
    """

    method: str | None
    path: str | None
    location: Location
    style: str  # fetch, axios, swr, react-query, wrapper (a function that calls one of them)
    via: tuple[str, ...] = ()
    url: str | None = None  # the whole URL template when it is absolute
    target: str | None = None  # one of TARGETS, None while unresolved
    backend_path: str | None = None
    status: str = "unresolved"
    operation: str | None = None  # "GET /api/products/{id}/" or "next GET /api/checkout"
    reason: str | None = None  # why unresolved, unmatched or a method mismatch; notes for matched ones
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.location.file, self.location.line, self.method or "", self.path or "")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "file": self.location.file,
            "line": self.location.line,
            "style": self.style,
            "via": list(self.via),
            "target": self.target,
            "backend_path": self.backend_path,
            "status": self.status,
            "operation": self.operation,
            "reason": self.reason,
        }
        if self.url is not None:
            data["url"] = self.url
        if self.notes:
            data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class RouteCall:
    """A call as one route reaches it: the call and the module chain from the route's entry file to it."""

    call: Call
    chain: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.call.to_json(), "chain": list(self.chain)}


@dataclass
class Route:
    """A route of the Next.js app, as its router's file conventions define it.

    ``route`` is written as Next.js writes it (``/products/[id]``, ``/docs/[...slug]``, ``/shop/[[...slug]]``),
    without ``basePath``. ``kind``: ``page``, ``route-handler`` (app router ``route.ts``) or ``api`` (pages router
    ``pages/api``). ``files`` are the entry files whose imports make up the route: the page, its layouts and
    templates, its parallel slots' pages. ``intercepts`` is set on an intercepting route (``(.)photo``): the
    route it shows in place of, from the folder it sits in.
    """

    route: str
    kind: str
    router: str  # app or pages
    file: str
    files: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()  # a route handler's exported methods; empty for pages (and pages/api: any)
    slot: str | None = None  # the parallel route slot (``@modal``) a page renders in
    intercepts: str | None = None
    calls: list[RouteCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "route": self.route,
            "kind": self.kind,
            "router": self.router,
            "file": self.file,
            "files": list(self.files),
            "calls": [call.to_json() for call in self.calls],
        }
        if self.methods:
            data["methods"] = list(self.methods)
        if self.slot:
            data["slot"] = self.slot
        if self.intercepts:
            data["intercepts"] = self.intercepts
        if self.problems:
            data["problems"] = list(self.problems)
        return data


@dataclass(frozen=True)
class Operation:
    """A backend operation from the OpenAPI document: method, full path template (server path included)."""

    method: str
    path: str
    operation_id: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Problem:
    """Something the map could not use, named: ``kind`` is a short closed word, ``file`` where (may be empty).

    Kinds: ``syntax`` (parsed with errors; the rest of the file is still used), ``encoding`` (not UTF-8; read
    with replacement characters), ``binary``, ``too-large``, ``too-many-files``, ``too-deep``, ``symlink-loop``,
    ``unreadable``, ``import`` (a module that cannot be resolved), ``tsconfig``, ``next-config``, ``route``
    (a route conflict or an unreadable entry file), ``time`` (the time bound ran out), ``depth`` (the evaluation
    bound ran out).
    """

    kind: str
    message: str
    file: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "file": self.file, "message": self.message}


@dataclass
class FrontendMap:
    """The whole map: routes with their calls, the backend's operations, and what was wrong along the way."""

    source: str
    openapi: str | None
    base_path: str = ""
    routes: list[Route] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)  # every distinct call reachable from a route
    operations: list[Operation] = field(default_factory=list)
    unused_operations: list[Operation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rewrites: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for call in self.calls if call.status == status)

    def counts(self) -> dict[str, int]:
        """Distinct calls per status (``STATUSES``); external calls are not counted."""
        return {status: self.count(status) for status in STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "openapi": self.openapi,
            "base_path": self.base_path,
            "rewrites": self.rewrites,
            "summary": {
                "routes": len(self.routes),
                "calls": self.counts(),
                "external": self.count(EXTERNAL),
                "operations": len(self.operations),
                "unused_operations": len(self.unused_operations),
                "problems": len(self.problems),
            },
            "routes": [route.to_json() for route in self.routes],
            "unmatched": [call.to_json() for call in self.calls if call.status == "unmatched"],
            "method_mismatches": [call.to_json() for call in self.calls if call.status == "method"],
            "unresolved": [call.to_json() for call in self.calls if call.status == "unresolved"],
            "unused_operations": [str(op) for op in self.unused_operations],
            "problems": [problem.to_json() for problem in self.problems],
        }
