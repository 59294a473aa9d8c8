"""What the exporter sends is what its config says: a ``~/.netrc`` on the exporter's host (or ``$NETRC``) neither
replaces a step's own ``Authorization`` nor adds one to a request meant to go without.

The reported case: with a ``.netrc`` entry for the target's host, requests' ``Session.prepare_request`` (which the
transport used) sent the entry's Basic credentials instead of the step's ``Bearer`` token, and on every request
that had none. Every channel that reaches a target goes through ``synthetic.transport.send``; the table drives
each of them against a server that records the headers it got, with a ``.netrc`` naming that server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from exporter.frontend_map.openapi import load_openapi
from synthetic import transport
from synthetic.config import parse_config
from synthetic.contracts.document import load_api
from synthetic.model import Target
from synthetic.openapi import OpenAPIDocuments
from tests.steps.stub import StubServer, run_steps


@pytest.fixture
def netrc_for_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub: StubServer) -> Iterator[StubServer]:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login host-user password host-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text(netrc.read_text())
    (tmp_path / ".netrc").chmod(0o600)
    yield stub


def _target(stub: StubServer) -> Target:
    config = parse_config(
        f"targets:\n  t:\n    base_url: {stub.url}\n    openapi: /openapi.json\nworkflows:\n  w:\n    targets: [t]\n"
        "    steps:\n      - {name: s, http: {path: /ok}}\n",
        "c.yml",
    )
    return config.targets["t"]


def _step_with_token(stub: StubServer) -> tuple[str, str | None]:
    run_steps(stub.url, "- {name: s, http: {path: /ok, headers: {Authorization: Bearer step-token}}}")
    return "/ok", "Bearer step-token"


def _step_without(stub: StubServer) -> tuple[str, str | None]:
    run_steps(stub.url, "- {name: s, http: {path: /ok}}")
    return "/ok", None


def _redirected_hop(stub: StubServer) -> tuple[str, str | None]:
    run_steps(stub.url, "- {name: s, http: {path: '/redirect?to=/echo'}}")
    return "/echo", None


def _anonymous_call(stub: StubServer) -> tuple[str, str | None]:  # what a contract check's anonymous call does
    with requests.Session() as session:
        transport.send(session, "GET", f"{stub.url}/ok", headers={}, origin=stub.url, seconds=5, max_bytes=10_000)
    return "/ok", None


def _workflow_document(stub: StubServer) -> tuple[str, str | None]:
    OpenAPIDocuments().get(_target(stub))
    return "/openapi.json", None


def _contract_document(stub: StubServer) -> tuple[str, str | None]:
    load_api(_target(stub), "/openapi.json", seconds=5)
    return "/openapi.json", None


def _frontend_map_document(stub: StubServer) -> tuple[str, str | None]:
    load_openapi(f"{stub.url}/openapi.json")
    return "/openapi.json", None


CHANNELS: dict[str, Callable[[StubServer], tuple[str, str | None]]] = {
    "http step with its own token": _step_with_token,
    "http step without credentials": _step_without,
    "a redirect's next hop": _redirected_hop,
    "an anonymous call (contract checks)": _anonymous_call,
    "the workflows' OpenAPI document": _workflow_document,
    "the contract sweep's document": _contract_document,
    "frontend-map's document": _frontend_map_document,
}


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_the_hosts_netrc_changes_no_credential(netrc_for_the_target: StubServer, channel: str) -> None:
    stub = netrc_for_the_target
    path, expected = CHANNELS[channel](stub)
    (request,) = [r for r in stub.requests if r.path.split("?")[0] == path][-1:]
    assert request.headers.get("authorization") == expected, channel
