"""Streamed responses stay inside their request until the body is done, however the body ends.

One table: every way a body is produced (sync generator, async generator, sync generator served over ASGI,
``FileResponse`` through the server's ``wsgi.file_wrapper``) and every way it ends (exhausted, an exception
after the first chunk, the client going away), under real gunicorn or, for the async bodies, Django's own
``ASGIHandler`` called as an ASGI server calls it. For each: the lines logged and the SQL run while the body
streams carry the request's ID, the SQL is commented and counted, the request's own line comes after them with how
the stream ended, and a mid-stream exception is counted under its error class. Every row whose body queries the
database runs twice, on SQLite and on the harness's real MariaDB: one gunicorn shop per database for the module
(the MariaDB one also lends its migrated, seeded database to the in-process ASGI rows).
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
import requests
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.test import RequestFactory
from django.test.utils import override_settings

from tests.conftest import REPO_ROOT, database_url
from tests.django_integration.conftest import LogLines, sample
from tests.harness import ShopServer, start_shop, wait_until

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
REQUEST_LOGGER = "django_integration.request"

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]


@pytest.fixture(scope="module")
def live_shops() -> Iterator[dict[str, ShopServer]]:
    """The module's gunicorn shops, one per database, started by ``live_shop`` when a row first needs one."""
    shops: dict[str, ShopServer] = {}
    yield shops
    for server in shops.values():
        server.stop()


def live_shop(request: pytest.FixtureRequest, database: str) -> ShopServer:
    """The demo shop with the test views, served by gunicorn (1 worker, 8 threads) on ``database``."""
    shops: dict[str, ShopServer] = request.getfixturevalue("live_shops")
    if database not in shops:
        workdir = request.getfixturevalue("tmp_path_factory").mktemp(f"stream-shop-{database}")
        settings = {"DJANGO_SETTINGS_MODULE": "tests.django_integration.live_settings", "PYTHONPATH": str(REPO_ROOT)}
        shops[database] = start_shop(workdir, database_url(request, database, workdir), extra_env=settings)
    return shops[database]


@contextmanager
def default_database(url: str | None) -> Iterator[None]:
    """In this process, Django's default connection goes to ``url`` until the block ends (None: stays as it is).

    The test's own connection (and the transaction pytest-django opened on it) is put aside and put back after.
    """
    if url is None:
        yield
        return
    saved_settings, saved_connection = connections.settings["default"], connections["default"]
    raw = dj_database_url.parse(url)
    connections.settings["default"] = connections.configure_settings(
        {"default": {**raw, "OPTIONS": {"charset": "utf8mb4"}}}
    )["default"]
    del connections["default"]
    try:
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = saved_settings
        connections["default"] = saved_connection


@dataclass(frozen=True)
class Case:
    name: str
    server: str  # "gunicorn", or "asgi": Django's own ASGIHandler, called as an ASGI server calls it
    path: str
    chunks: int  # chunks the client receives (each from a step that logged and ran one query)
    stream: str  # how the request's line says the body ended
    error_class: str | None = None
    disconnect: bool = False  # the client goes away after the first chunk

    @property
    def queries_the_database(self) -> bool:
        return not self.path.startswith("/t/file/")


DATABASES = ("sqlite", "mariadb")
QUOTED_TABLE = {"sqlite": '"shop_product"', "mariadb": "`shop_product`"}  # which backend wrote the SQL


def case(*args: Any, **kwargs: Any) -> list[Any]:
    """The row once per database its body queries (a file body queries none: SQLite only)."""
    row = Case(*args, **kwargs)
    marks = []
    if row.server == "asgi" and not row.path.startswith("/t/stream-async/"):
        # Django warns that it buffers a sync body under ASGI; that is its own (documented) behaviour.
        marks.append(pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous"))
    databases = DATABASES if row.queries_the_database else DATABASES[:1]
    return [pytest.param(row, database, id=f"{row.name} [{database}]", marks=marks) for database in databases]


ROWS = [
    case("sync generator", "gunicorn", "/t/stream/?chunks=3", 3, "complete"),
    case("sync generator raises after the first chunk", "gunicorn", "/t/stream/?fail=bug&after=1", 1, "error",
         "server"),
    case("sync generator loses the database mid-stream", "gunicorn", "/t/stream/?fail=db&after=2", 2, "error", "db"),
    case("client goes away mid-stream", "gunicorn", "/t/stream/?chunks=2000&sleep=0.002", 1, "aborted",
         disconnect=True),
    case("FileResponse through wsgi.file_wrapper", "gunicorn", "/t/file/", 0, "complete"),
    case("async generator", "asgi", "/t/stream-async/?chunks=3", 3, "complete"),
    case("async generator raises after the first chunk", "asgi", "/t/stream-async/?fail=timeout&after=1", 1,
         "error", "timeout"),
    case("client goes away from an async generator", "asgi", "/t/stream-async/?chunks=2000&sleep=0.002", 1,
         "aborted", disconnect=True),
    case("sync generator served over ASGI", "asgi", "/t/stream/?chunks=2", 2, "complete"),
    case("FileResponse over ASGI", "asgi", "/t/file/", 0, "complete"),
]  # fmt: skip
CASES = [param for params in ROWS for param in params]


def fetch_gunicorn(shop: ShopServer, row: Case, cid: str) -> tuple[bytes, list[dict[str, Any]]]:
    if row.disconnect:
        body = first_chunk_then_hang_up(shop.url, row.path, cid)
    else:
        body = b""
        with requests.get(f"{shop.url}{row.path}", headers={"X-Request-ID": cid}, stream=True, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["X-Request-ID"] == cid
            try:
                for piece in response.iter_content(chunk_size=None):
                    body += piece
            except requests.exceptions.ChunkedEncodingError:
                assert row.stream == "error"  # gunicorn cuts the chunked body short after the exception

    def finished() -> list[dict[str, Any]] | None:
        lines = shop.lines_of(cid)
        return lines if any(line["logger"] == REQUEST_LOGGER for line in lines) else None

    return body, wait_until(finished, 15, f"the request line of {row.name!r}")


def first_chunk_then_hang_up(url: str, path: str, cid: str) -> bytes:
    """Read the head and the first chunk of a chunked response, then close the socket."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: {cid}\r\n\r\n".encode())
        received = b""
        while b"\n" not in received.partition(b"\r\n\r\n")[2].partition(b"\r\n")[2]:
            received += sock.recv(65536)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and f"X-Request-ID: {cid}".encode() in head
    size, _, data = rest.partition(b"\r\n")
    return data[: int(size, 16)]


def fetch_asgi(row: Case, cid: str, json_logs: LogLines) -> tuple[bytes, list[dict[str, Any]]]:
    """Call Django's ASGIHandler the way uvicorn or daphne do, and collect what it sends."""
    path, _, query = row.path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-request-id", cid.encode())],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }  # fmt: skip
    messages: list[dict[str, Any]] = []

    async def run() -> None:
        first_body = asyncio.Event()
        never = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if row.disconnect:
                await first_body.wait()
                return {"type": "http.disconnect"}
            await never.wait()
            raise AssertionError("unreachable")

        async def send(message: Mapping[str, Any]) -> None:
            messages.append(dict(message))
            if message["type"] == "http.response.body" and message.get("body"):
                first_body.set()

        try:
            await ASGIHandler()(scope, receive, send)
        except Exception as error:  # a body's exception reaches the server, as under gunicorn
            assert row.stream == "error", error

    # As Django's test clients do: keep the test's connection (and its transaction) open across the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with warnings.catch_warnings():
            # When a body raises, Django's ASGIHandler leaves the request's spooled body file to the collector.
            warnings.simplefilter("ignore", ResourceWarning)
            async_to_sync(run)()
            gc.collect()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    start = messages[0]
    assert start["status"] == 200
    assert (b"X-Request-ID", cid.encode()) in start["headers"]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    if row.disconnect:
        body = body.splitlines(keepends=True)[0]
    return body, [line for line in json_logs() if line["correlation_id"] == cid]


def error_count(row: Case, shop: ShopServer | None, cid: str) -> float | bool:
    """In process: the counter's value. Under gunicorn: whether /metrics has the error with this ID as exemplar."""
    route = row.path.split("?")[0].lstrip("/")
    if shop is None:
        return sample("django_request_errors_total", route=route, error_class=str(row.error_class))
    text = requests.get(f"{shop.url}/metrics", headers=OPENMETRICS, timeout=10).text
    labels = {f'route="{route}"', f'error_class="{row.error_class}"'}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name == "django_request_errors_total" and set(rest.partition("}")[0].split(",")) == labels:
            return f'# {{correlation_id="{cid}"}}' in rest
    return False


@pytest.mark.parametrize(("row", "database"), CASES)
def test_streamed_bodies_stay_inside_their_request(
    row: Case, database: str, request: pytest.FixtureRequest, json_logs: LogLines, seeded: None
) -> None:
    cid = f"stream-{uuid.uuid4().hex[:16]}"
    shop: ShopServer | None = live_shop(request, database) if row.server == "gunicorn" else None
    errors_before = error_count(row, shop, cid) if row.error_class and shop is None else 0.0

    if shop is not None:
        body, lines = fetch_gunicorn(shop, row, cid)
    else:
        # In process, on SQLite the test's database; on MariaDB the migrated, seeded one of the module's shop.
        url = live_shop(request, database).env["DATABASE_URL"] if database != "sqlite" else None
        with default_database(url):
            body, lines = fetch_asgi(row, cid, json_logs)

    # What the client received: each chunk was produced with the request's ID bound, its SQL commented.
    if row.path.startswith("/t/file/"):
        assert body == (REPO_ROOT / "tests/django_integration/views.py").read_bytes()
    else:
        received = [json.loads(line) for line in body.splitlines()]
        assert len(received) == row.chunks
        for chunk in received:
            assert chunk["correlation_id"] == cid
            (sent,) = chunk["sent"]
            assert sent.startswith(f"/*request_id='{cid}',route='"), sent
            assert QUOTED_TABLE[database] in sent, f"not {database}'s SQL: {sent}"

    # The log: the body's own lines carry the ID, and the request's line comes last, after the body ended.
    (request_line,) = [line for line in lines if line["logger"] == REQUEST_LOGGER]
    assert lines[-1] is request_line, [line["message"] for line in lines]
    body_lines = [line for line in lines if line["message"].startswith("streaming chunk")]
    if row.disconnect:
        assert len(body_lines) >= row.chunks
    else:
        assert len(body_lines) == row.chunks
    assert request_line["stream"] == row.stream
    assert request_line["status"] == 200
    assert request_line["error_class"] == row.error_class
    queries = request_line["db_queries"]
    assert queries >= row.chunks if row.disconnect else queries == row.chunks
    if row.stream == "error":
        assert request_line["level"] == "ERROR"
        assert "mid-stream" in request_line["exc_info"]
        if shop is None:
            assert error_count(row, None, cid) == float(errors_before) + 1
        else:
            assert error_count(row, shop, cid), "the mid-stream error is not on /metrics with its exemplar"
    else:
        assert request_line["level"] == "INFO"
        assert "exc_info" not in request_line
    if row.path.startswith("/t/file/"):
        assert [line["message"] for line in lines] == ["sending a file", request_line["message"]]


def test_a_file_sent_by_the_server_keeps_its_file_wrapper(seeded: None, json_logs: LogLines) -> None:
    """Wrapping must not take sendfile away: Django still hands the file to the server's wsgi.file_wrapper."""

    class FileWrapper:
        def __init__(self, filelike: Any, block_size: int) -> None:
            self.filelike = filelike

        def close(self) -> None:
            self.filelike.close()

    environ = RequestFactory().get("/t/file/", headers={"X-Request-ID": "file-wrapper-01"}).environ
    environ["wsgi.file_wrapper"] = FileWrapper
    with override_settings(ROOT_URLCONF="tests.django_integration.views"):
        result = WSGIHandler()(environ, lambda *args: lambda data: None)
        assert isinstance(result, FileWrapper)
        assert Path(result.filelike.name).name == "views.py"
        assert not [line for line in json_logs() if line["logger"] == REQUEST_LOGGER]  # not over yet
        result.close()  # what the server does when the file is sent
    (line,) = [line for line in json_logs() if line["logger"] == REQUEST_LOGGER]
    assert (line["correlation_id"], line["stream"]) == ("file-wrapper-01", "complete")
