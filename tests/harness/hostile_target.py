"""A hostile HTTP target: a real server on 127.0.0.1 that misbehaves on purpose, written on raw sockets.

``http.server`` cannot send a malformed status line, a broken chunk or a head that arrives a byte at a time,
so this server reads each request itself and answers with exactly the bytes a route writes. One request per
connection; every request is recorded (``requests``) and every byte written is counted per path (``sent``),
so a test can prove what reached the server and how much of an endless answer the client actually took.

Routes (query parameters in brackets):

``/ok``                     200 JSON ``{"status": "ok"}``
``/echo``                   200 JSON of the request: method, path, query, headers (lower-case), body
``/redirect``               [to, status=302, body=bytes of body (streamed), bomb=gzip|deflate] a redirect
``/loop``                   302 to itself
``/chain``                  [n, every=seconds before answering] n redirects, then ``/ok``
``/hang``                   reads the request and never answers
``/trickle-head``           [every=0.5] the whole answer, head included, one byte every ``every`` seconds
``/trickle-body``           [every=0.1, bytes=100, type] a prompt head, then one body byte every ``every`` s
``/bloat-body``             [bytes, chunked=0] as many bytes as promised, as fast as the client takes them
``/bloat-head``             [count, size] ``count`` headers of ``size`` bytes each
``/header``                 [name, value] 200 with one extra header
``/bomb``                   [encoding=gzip|deflate|raw-deflate|gzip-gzip, mb=64, status=200] zeros, compressed
``/deep-json``              [depth=100000] ``[[[[…]]]]``
``/big-json``               [items=100, size=1000] ``{"items": [...], "text": ...}``: ``items`` strings of ``size``
``/raw``                    [case] one of ``RAW_ANSWERS``, written as is, then the connection is closed
``/json``                   [status=200, type=application/json] the ``doc`` query value as the body
``/openapi.json``           an OpenAPI document for ``/raw`` and ``/deep-json`` (any JSON object / array)

A test can add its own: ``target.route("/path", handler)`` with ``handler(conn, request)``.
"""

from __future__ import annotations

import gzip
import json
import socket
import socketserver
import ssl
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_REQUEST_HEAD = 64 * 1024

# Answers no well-behaved server sends, each as the exact bytes on the wire.
RAW_ANSWERS: dict[str, bytes] = {
    "status-not-a-number": b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok",
    "status-too-small": b"HTTP/1.1 42 Low\r\nContent-Length: 2\r\n\r\nok",
    "status-too-large": b"HTTP/1.1 1000 Big\r\nContent-Length: 2\r\n\r\nok",
    "status-http2": b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-not-http": b"ICY 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-http09": b"just some bytes, no status line at all\n",
    "status-line-endless": b"HTTP/1.1 200 " + b"x" * 70_000 + b"\r\n\r\n",
    "status-binary": b"\x00\x01\x02\xff\xfe HTTP/1.1 200 OK\r\n\r\n",
    "empty": b"",
    "head-unterminated": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    "header-no-colon": b"HTTP/1.1 200 OK\r\nthis line has no colon\r\nContent-Length: 2\r\n\r\nok",
    "header-space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "header-obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
    "header-nul": b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "header-not-utf8": b"HTTP/1.1 200 OK\r\nX-Bytes: \xff\xfe\xc3\x28\r\nContent-Length: 2\r\n\r\nok",
    "header-bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "header-line-too-long": b"HTTP/1.1 200 OK\r\nX-Long: " + b"y" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "headers-too-many": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    + b"Content-Length: 2\r\n\r\nok",
    "content-length-not-a-number": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
    "content-length-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok",
    "content-length-conflicting": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nok",
    "content-length-short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this much",
    "content-length-huge": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok",
    "chunked-bad-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
    "chunked-truncated": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly some",
    "chunked-no-last-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
    "chunked-huge-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nok\r\n0\r\n\r\n",
    "chunked-and-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n"
    + b"2\r\nok\r\n0\r\n\r\n",
    "transfer-encoding-unknown": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: sparkly\r\n\r\nok",
    "encoding-gzip-garbage": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip!!!!",
    "encoding-deflate-garbage": b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 12\r\n\r\n"
    + b"not deflate!",
    "encoding-br": b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\n\x0b\x01\x80ok",
    "encoding-unknown": b"HTTP/1.1 200 OK\r\nContent-Encoding: sparkly\r\nContent-Length: 2\r\n\r\nok",
    "encoding-too-many": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\nContent-Length: 2\r\n\r\nok",
    "encoding-gzip-truncated": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
    + gzip.compress(b'{"status": "ok"}')[:10],
    "encoding-gzip-trailing-garbage": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n"
    + b"Content-Length: %d\r\n\r\n" % (len(gzip.compress(b'{"status": "ok"}')) + 7)
    + gzip.compress(b'{"status": "ok"}')
    + b"garbage",
    "json-invalid-utf8": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    + b'{"status": "\xff\xfe"}',
    "json-nan": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n" + b'{"status": NaN}',
    "json-bad-charset": b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=no-such-charset\r\n"
    + b'Content-Length: 16\r\n\r\n{"status": "ok"}',
    "server-timing-garbage": b'HTTP/1.1 200 OK\r\nServer-Timing: app;dur=1.2.3, db;dur=.;desc="'
    + b"9" * 5000
    + b' queries"\r\nContent-Length: 2\r\n\r\nok',
    "set-cookie-garbage": b"HTTP/1.1 200 OK\r\nSet-Cookie: =; Max-Age=99999999999999999999999; Expires=never\r\n"
    + b"Set-Cookie: \xff\xfe=\x00; Domain=..; Path\r\nContent-Length: 2\r\n\r\nok",
    "location-on-200": b"HTTP/1.1 200 OK\r\nLocation: http://[::1\r\nContent-Length: 2\r\n\r\nok",
}


@dataclass
class Seen:
    """One request as it arrived: the method, the raw target (path and query), headers (lower-case names)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    port: int

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


class Conn:
    """The accepted connection as a route sees it: write bytes now, or a few at a time."""

    def __init__(self, sock: socket.socket, target: HostileTarget, path: str) -> None:
        self.sock = sock
        self.target = target
        self.path = path

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client went away."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.target.count_sent(self.path, len(data))
        return True

    def trickle(self, data: bytes, every: float, size: int = 1) -> bool:
        """``size`` bytes every ``every`` seconds until all is sent, the client leaves, or the test ends."""
        for start in range(0, len(data), size):
            if self.target.release.is_set() or not self.send(data[start : start + size]):
                return False
            self.target.release.wait(every)
        return True

    def stream(self, total: int, piece: bytes = b"\0" * 65536) -> bool:
        """``total`` bytes of ``piece`` as fast as the client reads them."""
        sent = 0
        while sent < total and not self.target.release.is_set():
            chunk = piece[: total - sent]
            if not self.send(chunk):
                return False
            sent += len(chunk)
        return True

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None, reason: str = "X") -> None:
        self.send(head(status, {"Content-Length": str(len(body)), **(headers or {})}, reason) + body)

    def json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self.answer(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


def head(status: int, headers: dict[str, str], reason: str = "X") -> bytes:
    """A response head; ``Connection: close`` unless ``headers`` say otherwise (one request per connection)."""
    headers = {"Connection": "close", **headers}
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


Handler = Callable[[Conn, Seen], None]


def compressed_zeros(encoding: str, megabytes: int) -> bytes:
    """``megabytes`` MiB of zeros compressed as ``encoding`` (gzip, deflate, raw-deflate, gzip-gzip); cached."""
    key = (encoding, megabytes)
    if key not in _BOMBS:
        wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15, "gzip-gzip": 31}[encoding]
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        block = b"\0" * (1024 * 1024)
        data = b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()
        if encoding == "gzip-gzip":
            data = gzip.compress(data, 9)
        _BOMBS[key] = data
    return _BOMBS[key]


_BOMBS: dict[tuple[str, int], bytes] = {}
_CONTENT_ENCODING = {"gzip": "gzip", "deflate": "deflate", "raw-deflate": "deflate", "gzip-gzip": "gzip, gzip"}


class HostileTarget:
    """The server. ``url`` is ``http://127.0.0.1:<port>`` (``https`` with ``tls``); ``silent`` never reads or
    answers anything (a TLS handshake that never comes)."""

    def __init__(self, tls: ssl.SSLContext | None = None, silent: bool = False) -> None:
        self.tls = tls
        self.silent = silent
        self.requests: list[Seen] = []
        self.sent: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.release = threading.Event()
        self._routes: dict[str, Handler] = dict(_ROUTES)
        self._lock = threading.Lock()
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(self, path: str, handler: Handler) -> None:
        self._routes[path] = handler

    def handler(self, path: str) -> Handler | None:
        return self._routes.get(path)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def count_sent(self, path: str, size: int) -> None:
        with self._lock:
            self.sent[path] += size

    def received(self, route: str | None = None) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.requests if route is None or seen.route == route]

    def start(self) -> HostileTarget:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serve_hostile(tls: ssl.SSLContext | None = None, silent: bool = False) -> Iterator[HostileTarget]:
    target = HostileTarget(tls, silent).start()
    try:
        yield target
    finally:
        target.stop()
    assert not target.errors, f"the hostile target's routes failed: {target.errors!r}"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, target: HostileTarget) -> None:
        self.target = target
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (OSError, ssl.SSLError)):  # clients that leave early are what the tests do
            self.target.errors.append(error or RuntimeError("unknown route error"))


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        target = self.server.target
        sock: socket.socket = self.request
        if target.silent:
            target.release.wait()
            return
        if target.tls is None:
            self._serve(sock)
            return
        sock.settimeout(5)
        with target.tls.wrap_socket(sock, server_side=True) as secure:
            self._serve(secure)

    def _serve(self, sock: socket.socket) -> None:
        target = self.server.target
        sock.settimeout(10)
        seen = read_request(sock, target.port)
        if seen is None:
            return
        target.record(seen)
        handler = target.handler(seen.route)
        conn = Conn(sock, target, seen.route)
        if handler is None:
            conn.json(404, {"error": f"no route {seen.route}"})
        else:
            handler(conn, seen)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


def read_request(sock: socket.socket, port: int) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk or len(data) > MAX_REQUEST_HEAD:
            return None
        data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    method, path, _version = [*lines[0].split(" "), "", "", ""][:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Seen(method, path, headers, body, port)


def _query(seen: Seen) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(seen.path).query, keep_blank_values=True).items()}


# --- routes ----------------------------------------------------------------------------------------------------


def _ok(conn: Conn, seen: Seen) -> None:
    conn.json(200, {"status": "ok"})


def _echo(conn: Conn, seen: Seen) -> None:
    conn.json(200, {"method": seen.method, "path": seen.path, "query": _query(seen), "headers": seen.headers,
                    "body": seen.body.decode("utf-8", "replace")})  # fmt: skip


def _redirect(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    status = int(query.get("status", "302"))
    location = {"Location": query["to"]} if "to" in query else {}
    if "bomb" in query:
        body = compressed_zeros(query["bomb"], int(query.get("mb", "64")))
        encoding = {"Content-Encoding": _CONTENT_ENCODING[query["bomb"]]}
        conn.send(head(status, {**location, **encoding, "Content-Length": str(len(body))}) + body)
    elif "body" in query:
        size = int(query["body"])
        if conn.send(head(status, {**location, "Content-Length": str(size)})):
            conn.stream(size)
    else:
        conn.answer(status, b"", location)


def _loop(conn: Conn, seen: Seen) -> None:
    conn.answer(302, b"", {"Location": "/loop"})


def _chain(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    left = int(query.get("n", "3"))
    every = float(query.get("every", "0"))
    if every:
        conn.target.release.wait(every)
    if left <= 0:
        conn.json(200, {"status": "ok", "chain": "end"})
    else:
        conn.answer(302, b"", {"Location": f"/chain?n={left - 1}&every={every}"})


def _hang(conn: Conn, seen: Seen) -> None:
    conn.target.release.wait()


def _trickle_head(conn: Conn, seen: Seen) -> None:
    every = float(_query(seen).get("every", "0.5"))
    body = b'{"status": "ok"}'
    conn.trickle(head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body, every)


def _trickle_body(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    size = int(query.get("bytes", "100"))
    kind = query.get("type", "text/plain")
    if conn.send(head(200, {"Content-Type": kind, "Content-Length": str(size)})):
        conn.trickle(b"x" * size, float(query.get("every", "0.1")))


def _bloat_body(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    size = int(query.get("bytes", str(1 << 30)))
    if query.get("chunked") == "1":
        if not conn.send(head(200, {"Transfer-Encoding": "chunked"})):
            return
        piece = b"%x\r\n" % 65536 + b"\0" * 65536 + b"\r\n"
        sent = 0
        while sent < size and not conn.target.release.is_set() and conn.send(piece):
            sent += 65536
        conn.send(b"0\r\n\r\n")
    elif conn.send(head(200, {"Content-Length": str(size)})):
        conn.stream(size)


def _bloat_head(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    count, size = int(query.get("count", "95")), int(query.get("size", str(60 * 1024)))
    headers = {f"X-Bloat-{i}": "b" * size for i in range(count)}
    body = b'{"status": "ok"}'
    conn.send(head(200, {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}) + body)


def _header(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    conn.json(200, {"status": "ok"}, {query.get("name", "X-Value"): query.get("value", "")})


def _bomb(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    encoding = query.get("encoding", "gzip")
    body = compressed_zeros(encoding, int(query.get("mb", "64")))
    headers = {"Content-Type": "application/json", "Content-Encoding": _CONTENT_ENCODING[encoding],
               "Content-Length": str(len(body))}  # fmt: skip
    conn.send(head(int(query.get("status", "200")), headers) + body)


def _deep_json(conn: Conn, seen: Seen) -> None:
    depth = int(_query(seen).get("depth", "100000"))
    conn.answer(200, b"[" * depth + b"]" * depth, {"Content-Type": "application/json"})


def _big_json(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    items, size = int(query.get("items", "100")), int(query.get("size", "1000"))
    conn.json(200, {"items": ["i" * size for _ in range(items)], "text": "t" * size * items})


def _raw(conn: Conn, seen: Seen) -> None:
    conn.send(RAW_ANSWERS[_query(seen)["case"]])


def _json(conn: Conn, seen: Seen) -> None:
    query = _query(seen)
    conn.answer(int(query.get("status", "200")), query.get("doc", "{}").encode(),
                {"Content-Type": query.get("type", "application/json")})  # fmt: skip


OPENAPI_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "hostile target", "version": "1"},
    "paths": {
        "/raw": {"get": {"responses": {"200": {"description": "anything", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}},
        "/deep-json": {"get": {"responses": {"200": {"description": "nested", "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "array"}}}}}}}},
    },
}  # fmt: skip


def _openapi(conn: Conn, seen: Seen) -> None:
    conn.json(200, OPENAPI_DOCUMENT)


_ROUTES: dict[str, Handler] = {
    "/openapi.json": _openapi,
    "/ok": _ok,
    "/echo": _echo,
    "/redirect": _redirect,
    "/loop": _loop,
    "/chain": _chain,
    "/hang": _hang,
    "/trickle-head": _trickle_head,
    "/trickle-body": _trickle_body,
    "/bloat-body": _bloat_body,
    "/bloat-head": _bloat_head,
    "/header": _header,
    "/bomb": _bomb,
    "/deep-json": _deep_json,
    "/big-json": _big_json,
    "/raw": _raw,
    "/json": _json,
}
