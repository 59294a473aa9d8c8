"""Views that exercise the integration the way application code does; mounted by tests only."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from demo_shop.shop.models import Product
from django_integration import correlated_session, get_correlation_id

logger = logging.getLogger("shop.views")


def log_twice(request: HttpRequest) -> JsonResponse:
    logger.info("first line from the view")
    logger.warning("second line, with a password=hunter2 in it")
    return JsonResponse({"correlation_id": get_correlation_id()})


def call_upstream(request: HttpRequest) -> JsonResponse:
    response = correlated_session().get(request.GET["url"], timeout=5)
    return JsonResponse({"upstream_status": response.status_code, "correlation_id": get_correlation_id()})


def count_products(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"products": Product.objects.count(), "correlation_id": get_correlation_id()})


def products_one_by_one(request: HttpRequest) -> JsonResponse:
    names = [Product.objects.get(pk=pk).name for pk in range(1, 8)]
    return JsonResponse({"names": names})


def products_at_once(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"names": list(Product.objects.filter(pk__in=range(1, 8)).values_list("name", flat=True))})


def slow_statement(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT SLEEP(%s)", [float(request.GET.get("seconds", "0.3"))])
    return JsonResponse({"slept": True})


def database_error(request: HttpRequest) -> HttpResponse:
    raise DatabaseError("the database went away")


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def upstream_down(request: HttpRequest) -> HttpResponse:
    correlated_session().get("http://127.0.0.1:9/", timeout=1)
    return HttpResponse("unreachable")


def expose_own_header(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response["Access-Control-Expose-Headers"] = "X-Shop-Version"
    return response


async def async_view(request: HttpRequest, n: int) -> JsonResponse:
    before = get_correlation_id()
    await asyncio.sleep(0.01)
    count = await sync_to_async(Product.objects.count)()
    logger.info("async view done")
    return JsonResponse({"before": before, "after": get_correlation_id(), "products": count})


urlpatterns = [
    path("t/log/", log_twice, name="t-log"),
    path("t/upstream/", call_upstream),
    path("t/count/", count_products),
    path("t/one-by-one/", products_one_by_one),
    path("t/at-once/", products_at_once),
    path("t/slow/", slow_statement),
    path("t/db-error/", database_error),
    path("t/crash/", crash),
    path("t/upstream-down/", upstream_down),
    path("t/expose/", expose_own_header),
    path("t/async/<int:n>/", async_view),
    path("", include("demo_shop.urls")),
]
