"""The API inventory: every URL pattern of the project with its route template, view, methods, authentication
and effective permissions, throttles, serializer (and the fields drf-spectacular's generator gives it), CSRF
exemption, and whether the OpenAPI document covers it; and the findings drawn from it.

* ``manage.py api_inventory`` prints it (a table, or JSON);
* ``manage.py check --deploy`` reports the findings as system checks (``django_integration.W101`` to ``W105``,
  silenced the Django way with ``SILENCED_SYSTEM_CHECKS``);
* ``/metrics`` carries ``django_api_endpoint_anonymous{route, method, public}`` and
  ``django_api_endpoint_findings{finding}`` (``_metrics``).

View styles, one module each behind one signature (``_base.ViewStyle``): ``drf_viewset`` (ViewSets with a
router), ``drf_view`` (APIView, generic views, ``@api_view``), ``django_class`` (``View.as_view()``),
``django_function`` (plain functions). Nested includes and namespaces are followed (``_urls``).

Permissions are the effective ones per method: each time the inventory is read, an anonymous request of that
method is given to the view as REST framework gives it one (``get_permissions()``, each ``has_permission()``),
with the user set to ``AnonymousUser`` and every database connection refusing statements that are not reads.
The rest (the URL conf, the classes, the serializers, the generated document) is computed once per process: a
URL conf does not change while it runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from . import django_class, django_function, drf_view, drf_viewset
from ._base import Endpoint, View, ViewStyle
from ._schema import SchemaIndex
from ._urls import url_entries
from .findings import FINDINGS, Finding

logger = logging.getLogger("django_integration.inventory")

__all__ = ["FINDINGS", "STYLES", "Endpoint", "Finding", "Inventory", "cached_inventory", "install", "inventory_of"]

# In the order a callback is matched: the most specific first.
STYLES: Sequence[ViewStyle] = (drf_viewset, drf_view, django_class, django_function)


@dataclass
class Inventory:
    """The static part of the inventory of one URL conf; ``endpoints()`` evaluates the permissions now."""

    views: list[View]
    schema: SchemaIndex

    def endpoints(self) -> list[Endpoint]:
        found = []
        for view in self.views:
            access = view.access()
            request_fields, response_fields = self.schema.fields(view.route, view.method) if self.schema.available \
                else (None, None)  # fmt: skip
            found.append(Endpoint(
                route=view.route, method=view.method, view=view.view, style=view.style, action=view.action,
                name=view.name, authentication=view.authentication, permissions=access.permissions,
                anonymous=access.anonymous, public=access.public, throttles=view.throttles,
                serializer=view.serializer, request_fields=request_fields, response_fields=response_fields,
                csrf_exempt=view.csrf_exempt, session_without_csrf=view.session_without_csrf,
                login_required=view.login_required, in_schema=self._in_schema(view), detail=view.detail,
                note=access.note,
            ))  # fmt: skip
        return found

    def _in_schema(self, view: View) -> str:
        if not self.schema.available:
            return "n/a"
        if self.schema.covers(view.route, view.method):
            return "yes"
        if (
            view.style.startswith("drf")
            and view.callback is not None
            and self.schema.excluded(view.callback, view.method)
        ):
            return "excluded"
        return "no" if self.schema.in_api(view.route) else "n/a"

    def findings(self, endpoints: Sequence[Endpoint] | None = None) -> list[Finding]:
        rows = self.endpoints() if endpoints is None else endpoints
        return [finding for kind in FINDINGS.values() for finding in kind.find(rows)]


def inventory_of(urlconf: str | None = None) -> Inventory:
    """The inventory of ``urlconf`` (default ``ROOT_URLCONF``), built now."""
    views: list[View] = []
    for entry in url_entries(urlconf):
        style = next(s for s in STYLES if s.matches(entry.callback))
        try:
            views += style.describe(entry)
        except Exception as error:  # one odd view never hides the others
            logger.warning("the API inventory cannot describe %s: %s: %s", entry.route, type(error).__name__, error)
            views.append(View(entry.route, "*", repr(entry.callback)[:200], style.STYLE, name=entry.name))
    return Inventory(views, SchemaIndex(urlconf))


_cache: dict[str | None, Inventory] = {}
_lock = threading.Lock()


def cached_inventory(urlconf: str | None = None) -> Inventory:
    """The inventory of ``urlconf``, built at the first call of the process and kept (the URL conf is fixed)."""
    with _lock:
        found = _cache.get(urlconf)
        if found is None:
            found = _cache[urlconf] = inventory_of(urlconf)
        return found


def install() -> None:
    """From the app's ``ready()``: register the findings as system checks and the gauges on ``/metrics``."""
    from . import _metrics, checks

    del checks  # imported for its @register side effect
    _metrics.install()
