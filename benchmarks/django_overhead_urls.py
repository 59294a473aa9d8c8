"""URLconf, views and the hand-glued access-log middleware of ``django_overhead.py``.

Imported only after ``settings.configure()`` (it is the ROOT_URLCONF), so DRF may read settings at import.
The URLconf is the same in every configuration: only the middleware, apps and logging differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponseBase
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class NoDbView(APIView):
    """The trivial view: no database, a constant JSON body."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class OneQueryView(APIView):
    """One tiny parameterised query through Django's cursor (and so through every execute wrapper)."""

    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM bench_item WHERE id = %s", [1])
            row = cursor.fetchone()
        return Response({"ok": True, "name": row[0]})


class ManyQueriesView(APIView):
    """``queries`` statements per request: the one-row SELECT of ``OneQueryView`` for ids 1..queries.

    The shape of an N+1 (one statement, different parameters), which is how a request gets to 100 statements in
    practice; the integration's N+1 detection sees it and adds its warning line (and counter) per request.
    """

    queries = 10

    def get(self, request: Request) -> Response:
        names = []
        with connection.cursor() as cursor:
            for item_id in range(1, self.queries + 1):
                cursor.execute("SELECT name FROM bench_item WHERE id = %s", [item_id])
                names.append(cursor.fetchone()[0])
        return Response({"ok": True, "names": len(names)})


urlpatterns = [
    path("nodb/", NoDbView.as_view(), name="nodb"),
    path("db/", OneQueryView.as_view(), name="db"),
    path("db10/", ManyQueriesView.as_view(queries=10), name="db10"),
    path("db100/", ManyQueriesView.as_view(queries=100), name="db100"),
]


access_logger = logging.getLogger("bench.access")


def access_log_middleware(get_response: Callable[[HttpRequest], HttpResponseBase]) -> Callable[..., Any]:
    """What a project glues by hand next to django-guid: one JSON access-log line per request."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = get_response(request)
        match = request.resolver_match
        route = (match.route if match else None) or request.path
        access_logger.info(
            "%s %s %d",
            request.method,
            route,
            response.status_code,
            extra={
                "route": route,
                "method": request.method,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
        return response

    return middleware
