"""Real local servers for the step tests: plain HTTP, and HTTPS with a certificate made by the test."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.steps.stub import StubServer, self_signed_certificate


def _serve(server: StubServer) -> Iterator[StubServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"the stub server's handlers failed: {server.errors!r}"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    yield from _serve(StubServer())


@dataclass
class TLSStub:
    server: StubServer
    cert: Path


@pytest.fixture
def tls_stub(tmp_path: Path) -> Iterator[TLSStub]:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for server in _serve(StubServer(tls=context)):
        yield TLSStub(server, cert)
