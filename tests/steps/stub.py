"""A small real HTTP(S) server for step tests, a self-signed certificate for it, and config helpers.

Every handler answers on GET and POST; each request is recorded (method, path, headers, body) so a test can
check what actually arrived on the wire, not what the step says it sent.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from synthetic.config import Config, parse_config
from synthetic.openapi import OpenAPIDocuments
from synthetic.result import RunResult, StepResult
from synthetic.runner import run_workflow

SERVER_TIMING = 'app;dur=12.5, db;dur=3.5;desc="4 queries"'
HUGE_BYTES = 256 * 1024

OK_DOCUMENT = {
    "status": "ok",
    "id": 42,
    "name": "widget",
    "items": [{"id": 7, "quantity": 1}],
    "next": "/headers",
}

OPENAPI_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "step-test stub", "version": "1"},
    "paths": {
        "/ok": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status", "id"],
                                    "properties": {"status": {"type": "string"}, "id": {"type": "integer"}},
                                }
                            }
                        },
                    }
                }
            }
        },
        "/typed": {
            "get": {
                "parameters": [
                    {"name": "drift", "in": "query", "schema": {"type": "integer"}},
                    {"name": "status", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "a typed object",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["id", "name"],
                                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                                }
                            }
                        },
                    }
                },
            }
        },
    },
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; tests look at StubServer.requests instead

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.record(Recorded(self.command, self.path, headers, body))
        route = parts.path
        if route == "/ok":
            self._json(200, OK_DOCUMENT, {"X-Item-Id": "7"})
        elif route == "/slow":
            self.server.release.wait(float(query.get("seconds", "3")))
            self._json(200, {"slow": True})
        elif route == "/hang":
            self.server.release.wait()
            self.close_connection = True
        elif route == "/500":
            self._json(500, {"error": "boom"})
        elif route == "/malformed-json":
            self._send(200, b'{"id": 1, "name": ', {"Content-Type": "application/json"})
        elif route == "/huge":
            self._stream(HUGE_BYTES, chunk=16 * 1024, pause=0.0)
        elif route == "/drip":
            # One byte at a time: each read gets data in time, the whole body does not.
            self.server.release.wait(float(query.get("delay", "0")))
            self._stream(int(query.get("bytes", "100")), chunk=1, pause=float(query.get("every", "0.1")))
        elif route.startswith(("/headers", "/echo")):
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            echo = {"method": self.command, "path": route, "query": query, "headers": headers,
                    "body": body.decode("utf-8", "replace"), "json": parsed}  # fmt: skip
            self._json(200, echo)
        elif route == "/set-cookie":
            token = query.get("token", "csrf-" + secrets.token_hex(8))
            self._json(200, {"csrftoken": token}, {"Set-Cookie": f"csrftoken={token}; Path=/; SameSite=Lax"})
        elif route == "/redirect":
            self._send(302, b"", {"Location": query.get("to", "/ok")})
        elif route == "/server-timing":
            self._json(200, {"timed": True}, {"Server-Timing": SERVER_TIMING})
        elif route == "/openapi.json":
            self._json(200, OPENAPI_DOCUMENT)
        elif route == "/typed":
            status = int(query.get("status", "200"))
            if status != 200:
                self._json(status, {"detail": "not allowed"})
            elif query.get("drift") == "1":
                self._json(200, {"id": "forty-two", "name": "typed"})
            else:
                self._json(200, {"id": 42, "name": "typed"})
        elif route == "/flaky":
            # Fails the first request for each key with 500, then answers.
            if self.server.count(query.get("key", "")) == 1:
                self._json(500, {"error": "first attempt fails"})
            else:
                self._json(200, {"attempt": "later"})
        else:
            self._json(404, {"error": f"no route {route}"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _stream(self, size: int, chunk: int, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        sent = 0
        while sent < size and not self.server.release.is_set():
            piece = b"x" * min(chunk, size - sent)
            self.wfile.write(piece)
            self.wfile.flush()
            sent += len(piece)
            if pause:
                self.server.release.wait(pause)
        self.close_connection = True


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.requests: list[Recorded] = []
        self.errors: list[BaseException] = []
        self.release = threading.Event()  # set when the test ends: /hang, /slow and /drip give up
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def count(self, key: str) -> int:
        with self._lock:
            self._counts[key] += 1
            return self._counts[key]

    def received(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # Clients that hang up mid-answer (timeouts, size caps, failed TLS handshakes) are what these tests do.
        if not isinstance(error, (ConnectionError, ssl.SSLError, TimeoutError)):
            self.errors.append(error or RuntimeError("unknown handler error"))

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 and its key, made with the openssl command line tool."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the TLS test certificate (apt-get install openssl)"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- configs and runs ------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One workflow ``wf`` on one target ``stub``, written as the YAML a user would write."""

    base_url: str
    steps: str
    target: str = ""
    timeout: str = "5s"
    documents: OpenAPIDocuments = field(default_factory=OpenAPIDocuments)

    def yaml(self) -> str:
        target = textwrap.indent(textwrap.dedent(self.target).strip(), " " * 4)
        steps = textwrap.indent(textwrap.dedent(self.steps).strip(), " " * 6)
        return (
            "targets:\n"
            "  stub:\n"
            f"    base_url: {self.base_url}\n"
            f"{target}\n"
            "workflows:\n"
            "  wf:\n"
            "    targets: [stub]\n"
            f"    timeout: {self.timeout}\n"
            "    steps:\n"
            f"{steps}\n"
        )

    def config(self) -> Config:
        return parse_config(self.yaml(), "test.yml")

    def run(self, **kwargs: Any) -> RunResult:
        ((workflow, target),) = self.config().pairs()
        return run_workflow(workflow, target, openapi=self.documents, **kwargs)


def run_steps(base_url: str, steps: str, target: str = "", timeout: str = "5s", **kwargs: Any) -> RunResult:
    return Case(base_url, steps, target, timeout).run(**kwargs)


def step(run: RunResult, name: str) -> StepResult:
    (found,) = [s for s in run.steps if s.name == name]
    return found


def describe(run: RunResult) -> str:
    """The run in one line per step, for assertion messages."""
    return "\n".join(f"{s.name}: {s.status} {s.reason or ''} {s.message}".rstrip() for s in run.steps)
