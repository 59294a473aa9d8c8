"""``debug_view`` (django_integration.W104): a view meant for development reachable while ``DEBUG`` is off:
``django.views.static.serve``, Django's debug views, django-debug-toolbar, django-silk, django-extensions'
views, django-browser-reload. In production they serve files, internals or profiles to anyone who finds them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from .._base import Endpoint
from ._base import Finding

ID = "django_integration.W104"
NAME = "debug_view"
DEBUG_VIEWS = ("django.views.static.", "django.views.debug.", "debug_toolbar.", "silk.", "django_extensions.",
               "django_browser_reload.")  # fmt: skip


def find(endpoints: Sequence[Endpoint]) -> list[Finding]:
    if settings.DEBUG:
        return []
    return [
        Finding(NAME, ID, e.route, e.method, e.view,
                f"{e.route} ({e.view}) is a development view, reachable with DEBUG off.",
                "Add it to the URL conf only when settings.DEBUG is on (django.conf.urls.static.static() does "
                "that for static files); serve files with the web server.")
        for e in endpoints
        if e.view.startswith(DEBUG_VIEWS)
    ]  # fmt: skip
