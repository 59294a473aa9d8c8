"""Next.js route and call map: which backend endpoints each page of a Next.js app calls, and where the two disagree.

``build_map(source, document)`` walks a Next.js source tree (``app/`` and ``pages/`` routers, ``next.config``,
``tsconfig.json`` aliases), follows each route's imports to the ``fetch``/axios/SWR/React Query calls it reaches,
resolves their URLs statically with tree-sitter's TypeScript grammars, and judges each against the backend's OpenAPI
document: ``matched``, ``unmatched`` (a 404 in production), ``method`` (a 405) or ``unresolved`` (with the reason).

One module per convention (``app_router``, ``pages_router``, ``next_config``) and per call style (``calls/``).
"""

from ._build import FrontendMapError, build_map, parse_operation
from ._files import MapLimits
from ._model import STATUSES, Call, FrontendMap, Operation, Problem, Route, RouteCall
from .openapi import OpenAPIError, load_openapi

__all__ = [
    "STATUSES",
    "Call",
    "FrontendMap",
    "FrontendMapError",
    "MapLimits",
    "OpenAPIError",
    "Operation",
    "Problem",
    "Route",
    "RouteCall",
    "build_map",
    "load_openapi",
    "parse_operation",
]
