"""``csrf_exempt_session_write`` (django_integration.W105): a write method of a view that authenticates by the
Django session and skips the CSRF check: any site the user visits can make the browser send it.

REST framework views: a SessionAuthentication subclass that overrides ``enforce_csrf`` (the
"CsrfExemptSessionAuthentication" recipe). Plain Django views: ``@csrf_exempt`` together with a login
requirement (``login_required``, ``permission_required``, an access mixin).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._base import UNSAFE_METHODS, Endpoint
from ._base import Finding

ID = "django_integration.W105"
NAME = "csrf_exempt_session_write"


def find(endpoints: Sequence[Endpoint]) -> list[Finding]:
    return [
        Finding(NAME, ID, e.route, e.method, e.view,
                f"{e.method} {e.route} ({e.view}) authenticates by session but is exempt from CSRF protection.",
                "Keep CSRF on for session-authenticated writes (drop the enforce_csrf override or @csrf_exempt); "
                "authenticate API clients by token instead.")
        for e in endpoints
        if (e.method in UNSAFE_METHODS or e.method == "*")
        and (e.session_without_csrf or (e.csrf_exempt and e.login_required))
    ]  # fmt: skip
