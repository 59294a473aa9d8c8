"""Views that exercise the integration the way application code does; mounted by tests only."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
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


STREAM_FAILURES: dict[str, Callable[[], Exception]] = {
    "bug": lambda: RuntimeError("the generator broke mid-stream"),
    "db": lambda: DatabaseError("the database went away mid-stream"),
    "timeout": lambda: TimeoutError("upstream stopped answering mid-stream"),
}


def _one_chunk(n: int) -> bytes:
    """Log, query (capturing the SQL as the driver receives it) and describe what this step saw."""
    logger.info("streaming chunk %d", n)
    sent: list[str] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()  # ours goes on at connect: capture must come after it, to see what it sent
    with connection.execute_wrapper(capture):
        exists = Product.objects.filter(pk=n + 1).exists()
    line = {"chunk": n, "exists": exists, "sent": sent, "correlation_id": get_correlation_id()}
    return json.dumps(line).encode() + b"\n"


def _stream_params(request: HttpRequest) -> tuple[int, str | None, int, float]:
    return (
        int(request.GET.get("chunks", "3")),
        request.GET.get("fail"),
        int(request.GET.get("after", "1")),
        float(request.GET.get("sleep", "0")),
    )


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """A sync generator body: ``?chunks=N``, ``?fail=bug|db|timeout&after=K``, ``?sleep=S`` between chunks."""
    chunks, fail, after, pause = _stream_params(request)

    def body() -> Iterator[bytes]:
        for n in range(chunks):
            if fail and n == after:
                raise STREAM_FAILURES[fail]()
            yield _one_chunk(n)
            if pause:
                time.sleep(pause)

    return StreamingHttpResponse(body(), content_type="application/x-ndjson")


async def stream_async(request: HttpRequest) -> StreamingHttpResponse:
    """The same body as an async generator."""
    chunks, fail, after, pause = _stream_params(request)

    async def body() -> AsyncIterator[bytes]:
        for n in range(chunks):
            if fail and n == after:
                raise STREAM_FAILURES[fail]()
            yield await sync_to_async(_one_chunk)(n)
            if pause:
                await asyncio.sleep(pause)

    return StreamingHttpResponse(body(), content_type="application/x-ndjson")


def send_file(request: HttpRequest) -> FileResponse:
    """A file the server may send itself (wsgi.file_wrapper)."""
    logger.info("sending a file")
    return FileResponse(Path(__file__).open("rb"), content_type="text/plain")


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
    path("t/stream/", stream),
    path("t/stream-async/", stream_async),
    path("t/file/", send_file),
    path("", include("demo_shop.urls")),
]
