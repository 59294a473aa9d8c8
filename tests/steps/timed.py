"""A real local HTTP(S) server whose answers take known time in known phases, and certificates with known expiry.

``/timed?head=S&bytes=N&every=S`` waits ``head`` seconds before it sends the response head, then sends ``bytes``
body bytes one at a time, ``every`` seconds apart (a ``Content-Length`` body, so the connection is kept alive).
``/hop?n=K&head=S`` waits ``head`` and redirects to ``/hop?n=K-1`` until ``n`` is 0, which answers as ``/timed``
with the same parameters. ``release`` (set on stop) ends every wait at once.

``certificate(...)`` makes a key and a certificate with the openssl command line tool, self-signed or signed by
another one, valid for a given number of days; ``not_after`` reads its expiry back as openssl states it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class _Handler(BaseHTTPRequestHandler):
    server: TimedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        with self.server.lock:
            self.server.connections.add(self.client_address)
        release = self.server.release
        release.wait(float(query.get("head", "0")))
        hops = int(query.get("n", "0"))
        if parts.path == "/hop" and hops > 0:
            self.send_response(302)
            self.send_header("Location", "/hop?" + urlencode({**query, "n": hops - 1}))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path not in ("/timed", "/hop"):
            self.send_error(404)
            return
        size = int(query.get("bytes", "0"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        every = float(query.get("every", "0"))
        for index in range(size):
            if index and every:
                release.wait(every)
            if release.is_set():
                self.close_connection = True
                return
            self.wfile.write(b"x")
            self.wfile.flush()


class TimedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.connections: set[tuple[str, int]] = set()  # client (address, port) pairs seen: one per connection
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        # A client cut off by its deadline, or refusing the certificate, is what some tests do.
        if not isinstance(error, (ConnectionError, ssl.SSLError, TimeoutError)):
            self.errors.append(error or RuntimeError("unknown handler error"))

    def start(self) -> TimedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def _openssl(*args: str) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the TLS test certificates (apt-get install openssl)"
    done = subprocess.run([openssl, *args], check=True, capture_output=True, text=True)
    return done.stdout


def certificate(directory: Path, name: str, days: int, issuer: Certificate | None = None) -> Certificate:
    """A certificate valid ``days`` days from now: a CA when ``issuer`` is None (self-signed, also valid for
    IP 127.0.0.1), else a server certificate for IP 127.0.0.1 signed by ``issuer``."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key))
    if issuer is None:
        _openssl("req", "-x509", *curve, "-out", str(cert), "-days", str(days), "-subj", f"/CN={name}",
                 "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip
        return Certificate(cert, key)
    request = directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    _openssl("req", "-new", *curve, "-out", str(request), "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(request), "-CA", str(issuer.cert), "-CAkey", str(issuer.key),
             "-CAcreateserial", "-out", str(cert), "-days", str(days), "-extfile", str(extensions))  # fmt: skip
    return Certificate(cert, key)


def not_after(certificate: Certificate) -> float:
    """The certificate's notAfter as unix seconds, as openssl reads it from the file."""
    line = _openssl("x509", "-noout", "-enddate", "-in", str(certificate.cert)).strip()
    return ssl.cert_time_to_seconds(line.removeprefix("notAfter="))


def server_context(leaf: Certificate, *chain: Certificate) -> ssl.SSLContext:
    """A server context presenting ``leaf`` followed by ``chain`` (the intermediates or CA, as sent)."""
    bundle = leaf.cert.with_suffix(".chain.pem")
    bundle.write_text("".join(part.cert.read_text() for part in (leaf, *chain)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(bundle, leaf.key)
    return context
