"""Switchable faults: the failures the demo shop can be told to show, so the monitoring has something to catch.

Faults exist only when ``DEMO_FAULTS_ENABLED=1``. They start from ``DEMO_FAULTS=name,name`` and change at run
time through ``GET``/``PUT /_demo/faults``. The state of most lives in the process, so run the shop with one
worker process (threads are fine) when faults are switched at run time; ``db_connection_errors`` too, and a
separate process (``integrity_check``) gets it from ``DEMO_FAULTS``. The database faults (``DB_FAULTS``:
``unapplied_migration``, ``schema_drift_db``, ``fk_orphan``) live in the database itself (``demo_shop.db_faults``):
every process sees them, and they are switched at run time only (or with ``python -m demo_shop demo_fault``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

FAULTS: Mapping[str, str] = {
    "slow_products": "the product list runs a query that sleeps DEMO_SLOW_SECONDS (default 1.2 s)",
    "checkout_errors": "checkout answers 500 and creates no order",
    "n_plus_one": "the product list loads each product's category with its own query",
    "schema_drift": "product detail returns price as a number and stock as a string, against the schema",
    "open_write": "creating a product no longer requires an admin login",
    "cors_wildcard": "API responses allow any origin (*) together with credentials",
    "unapplied_migration": "the database forgets migration fault_migrations.0001_release_marker was applied",
    "schema_drift_db": "shop_product.name is widened to 255 characters behind Django's back (no migration)",
    "fk_orphan": "three order items point at a product row deleted with foreign key checks off",
    "db_connection_errors": "every second new database connection is refused; connections close after each request",
}
DB_FAULTS = frozenset({"unapplied_migration", "schema_drift_db", "fk_orphan"})


class FaultState:
    """Which faults are on; thread-safe, initialised lazily from settings so override_settings works."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: set[str] | None = None

    def _initial(self) -> set[str]:
        requested = set(settings.DEMO_FAULTS)
        unknown = sorted(requested - FAULTS.keys())
        if unknown:
            raise ImproperlyConfigured(
                f"DEMO_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}"
            )
        stored = sorted(requested & DB_FAULTS)
        if stored:
            raise ImproperlyConfigured(
                f"DEMO_FAULTS cannot switch {', '.join(stored)}: they live in the database; switch them at run time "
                "with PUT /_demo/faults or `python -m demo_shop demo_fault NAME on`"
            )
        return requested

    def enabled(self) -> bool:
        return bool(settings.DEMO_FAULTS_ENABLED)

    def is_active(self, name: str) -> bool:
        if not self.enabled():
            return False
        return name in self.snapshot_set()

    def snapshot_set(self) -> set[str]:
        with self._lock:
            if self._active is None:
                self._active = self._initial()
            return set(self._active)

    def snapshot(self) -> dict[str, bool]:
        """Every fault's state; the database faults read from the database."""
        from demo_shop import db_faults

        active = self.snapshot_set()
        stored = db_faults.state()
        return {name: stored[name] if name in DB_FAULTS else name in active for name in FAULTS}

    def update(self, changes: Mapping[str, bool]) -> dict[str, bool]:
        """Switch faults; raises ``db_faults.FaultSwitchError`` when the database refuses a change."""
        from demo_shop import db_faults

        self.snapshot_set()
        with self._lock:
            assert self._active is not None
            for name, on in changes.items():
                if name in DB_FAULTS:
                    continue
                if on:
                    self._active.add(name)
                else:
                    self._active.discard(name)
        db_faults.switch({name: on for name, on in changes.items() if name in DB_FAULTS})
        return self.snapshot()

    def reset(self) -> None:
        """Forget run-time changes; the next read starts again from settings."""
        with self._lock:
            self._active = None


faults = FaultState()


def validate_changes(payload: object) -> tuple[dict[str, bool], list[str]]:
    """Check a PUT body; return the changes and every problem found."""
    if not isinstance(payload, dict):
        return {}, ['expected a JSON object such as {"slow_products": true}']
    problems = []
    changes: dict[str, bool] = {}
    for name, value in payload.items():
        if name not in FAULTS:
            problems.append(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        elif not isinstance(value, bool):
            problems.append(f"fault {name!r} must be true or false, got {value!r}")
        else:
            changes[name] = value
    return changes, problems


@extend_schema(exclude=True)  # a switch for the demo, not part of the shop's API
class FaultsView(APIView):
    """``GET`` the faults' state, ``PUT {"name": true|false}`` to switch them. 404 unless enabled."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if not faults.enabled():
            raise Http404("faults are disabled; start the shop with DEMO_FAULTS_ENABLED=1")
        super().initial(request, *args, **kwargs)

    def get(self, request: Request) -> Response:
        return Response(faults.snapshot())

    def put(self, request: Request) -> Response:
        from demo_shop.db_faults import FaultSwitchError

        changes, problems = validate_changes(request.data)
        if problems:
            return Response({"detail": "; ".join(problems)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            return Response(faults.update(changes))
        except FaultSwitchError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


class CorsWildcardFaultMiddleware:
    """With ``cors_wildcard`` on, answer every cross-origin API request with ``*`` plus credentials."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/") and "origin" in request.headers and faults.is_active("cors_wildcard"):
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Allow-Credentials"] = "true"
            if request.method == "OPTIONS":
                response["Access-Control-Allow-Methods"] = "DELETE, GET, OPTIONS, PATCH, POST, PUT"
                response["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
                response.status_code = 200
        return response
