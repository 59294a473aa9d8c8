"""``anonymous_write`` (django_integration.W101): a write method (POST, PUT, PATCH, DELETE) that an anonymous
request passes, on a view that authenticates its callers and does not declare itself open.

Judged on the effective permissions (``get_permissions()`` for that method, each ``has_permission()`` for an
anonymous request), so a ``get_permissions`` that opens one method is caught. Login and token endpoints are
open by design and say so (no authentication classes, or ``AllowAny``); they are not findings.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._base import UNSAFE_METHODS, Endpoint
from ._base import Finding

ID = "django_integration.W101"
NAME = "anonymous_write"


def find(endpoints: Sequence[Endpoint]) -> list[Finding]:
    return [
        Finding(NAME, ID, e.route, e.method, e.view,
                f"{e.method} {e.route} ({e.view}) can be called without authentication: its permissions "
                f"({', '.join(e.permissions) or 'none'}) let an anonymous request through.",
                "Require authentication for writes (IsAuthenticated, IsAdminUser, or check request.method in "
                "get_permissions/has_permission); if the endpoint is public on purpose, say so with AllowAny.")
        for e in endpoints
        if e.method in UNSAFE_METHODS and e.anonymous is True and not e.public
    ]  # fmt: skip
