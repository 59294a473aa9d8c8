"""HTTP timing phases and certificate expiry of ``http`` steps, against real local servers whose answers take known
time in known phases (tests/steps/timed.py): the phases add up to the step's duration, each phase holds at least
the time the server spent in it, redirect hops are summed, a kept-alive connection spends nothing connecting, and
a step cut by its deadline has its phases up to the cut."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from synthetic.result import PHASES
from tests.steps.stub import describe, run_steps, step
from tests.steps.timed import Certificate, TimedServer, certificate, not_after, server_context

# How far the phases may be from the step's duration: only the code between the marks (preparing a hop,
# choosing a connection) is in no phase, microseconds on an idle machine.
TOLERANCE_SECONDS = 0.05
# How late the client may mark the head's arrival on a busy machine: the server's time before the head is
# entirely ``processing``'s, but the split between ``processing`` and ``transfer`` moves by however long the
# client took to see the head (on a loaded 2-core machine a keep-alive run gave transfer 0.2398 s for 0.24).
# Their sum holds the server's whole time exactly.
SPLIT_SLACK_SECONDS = 0.05


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Certificate]:
    """A CA valid 5 days signing a server certificate valid 10 days; a self-signed one valid 10 days."""
    ca = certificate(tmp_path, "ca", days=5)
    return {
        "ca": ca,
        "leaf": certificate(tmp_path, "leaf", days=10, issuer=ca),
        "self": certificate(tmp_path, "self", days=10),
    }


@pytest.fixture
def servers() -> Iterator[list[TimedServer]]:
    started: list[TimedServer] = []
    yield started
    for server in started:
        server.stop()
        assert not server.errors, server.errors


def serve(servers: list[TimedServer], tls: ssl.SSLContext | None = None) -> TimedServer:
    server = TimedServer(tls).start()
    servers.append(server)
    return server


@dataclass(frozen=True)
class PhaseCase:
    id: str
    steps: str  # the workflow's steps; the one judged is named "timed"
    tls: bool = False
    timeout: str = "5s"
    status: str = "ok"
    reason: str | None = None
    at_least: dict[str, float] = field(default_factory=dict)  # seconds the server spent in the phase
    zero: tuple[str, ...] = ()  # phases the step never entered
    positive: tuple[str, ...] = ()  # phases the step did enter


TIMED = "/timed?head=0.3&bytes=5&every=0.06"  # 0.3 s before the head, then five bytes over 0.24 s
CASES = [
    PhaseCase(
        "plain-http",
        f"- name: timed\n  http: {{path: '{TIMED}'}}",
        at_least={"processing": 0.3, "transfer": 0.24},
        zero=("tls",),
        positive=("resolve", "connect"),
    ),
    PhaseCase(
        "https",
        f"- name: timed\n  http: {{path: '{TIMED}'}}",
        tls=True,
        at_least={"processing": 0.3, "transfer": 0.24},
        positive=("resolve", "connect", "tls"),
    ),
    PhaseCase(
        "redirect-chain-summed",
        # Two redirects and the answer, each 0.15 s before its head: one hop alone would show 0.15 s.
        "- name: timed\n  http: {path: '/hop?n=2&head=0.15&bytes=5&every=0.06'}",
        at_least={"processing": 0.45, "transfer": 0.24},
        zero=("tls",),
        positive=("connect",),
    ),
    PhaseCase(
        "https-redirect-chain-summed",
        "- name: timed\n  http: {path: '/hop?n=2&head=0.15&bytes=5&every=0.06'}",
        tls=True,
        at_least={"processing": 0.45, "transfer": 0.24},
        positive=("connect", "tls"),
    ),
    PhaseCase(
        "keep-alive-reused-connection",
        # The first step opens the connection; the judged one reuses it: no resolve, connect or TLS.
        f"- name: first\n  http: {{path: '/timed?bytes=1'}}\n- name: timed\n  http: {{path: '{TIMED}'}}",
        tls=True,
        at_least={"processing": 0.3, "transfer": 0.24},
        zero=("resolve", "connect", "tls"),
    ),
    PhaseCase(
        "timeout-mid-body",
        # The head after 0.3 s, then a byte every 0.2 s for 20 s: the run's 1 s deadline cuts the transfer.
        "- name: timed\n  http: {path: '/timed?head=0.3&bytes=100&every=0.2'}",
        timeout="1s",
        status="failed",
        reason="timeout",
        at_least={"processing": 0.3, "transfer": 0.5},
        zero=("tls",),
    ),
    PhaseCase(
        "timeout-before-the-head",
        "- name: timed\n  http: {path: '/timed?head=20'}",
        timeout="1s",
        status="failed",
        reason="timeout",
        at_least={"processing": 0.9},
        zero=("tls", "transfer"),
    ),
    PhaseCase(
        "step-timeout-mid-body",
        "- name: timed\n  timeout: 700ms\n  http: {path: '/timed?head=0.2&bytes=100&every=0.2'}",
        tls=True,
        status="failed",
        reason="timeout",
        at_least={"processing": 0.2, "transfer": 0.3},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_phases_add_up_to_the_step_and_hold_what_the_server_spent(
    case: PhaseCase, servers: list[TimedServer], certs: dict[str, Certificate]
) -> None:
    server = serve(servers, server_context(certs["self"]) if case.tls else None)
    target = f"tls: {{ca_file: {certs['self'].cert}}}" if case.tls else ""
    run = run_steps(server.url, case.steps, target=target, timeout=case.timeout)
    timed = step(run, "timed")
    assert (timed.status, timed.reason) == (case.status, case.reason), describe(run)
    assert set(timed.phases) == set(PHASES)
    assert abs(sum(timed.phases.values()) - timed.duration) <= TOLERANCE_SECONDS, (timed.phases, timed.duration)
    for phase, seconds in case.at_least.items():
        slack = SPLIT_SLACK_SECONDS if phase == "transfer" else 0.0
        assert timed.phases[phase] >= seconds - slack, (phase, timed.phases)
    assert sum(timed.phases[phase] for phase in case.at_least) >= sum(case.at_least.values()), timed.phases
    for phase in case.zero:
        assert timed.phases[phase] == 0.0, (phase, timed.phases)
    for phase in case.positive:
        assert timed.phases[phase] > 0.0, (phase, timed.phases)
    if case.id.startswith("keep-alive"):
        assert len(server.connections) == 1, "the second step did not reuse the connection"


def test_a_failed_connection_has_phases_up_to_the_failure(servers: list[TimedServer]) -> None:
    server = serve(servers)
    port = server.server_address[1]
    server.stop()
    servers.clear()
    run = run_steps(f"http://127.0.0.1:{port}", "- name: timed\n  http: {path: /timed}")
    timed = step(run, "timed")
    assert (timed.status, timed.reason) == ("failed", "connect"), describe(run)
    assert timed.phases["processing"] == timed.phases["transfer"] == 0.0
    assert abs(sum(timed.phases.values()) - timed.duration) <= TOLERANCE_SECONDS


def test_sql_steps_have_no_http_phases(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "db.sqlite3"
    sqlite3.connect(database).close()
    run = run_steps(
        "http://127.0.0.1:9", "- name: q\n  sql: 'SELECT 1 AS one'", target=f"database: {{dsn: 'sqlite:///{database}'}}"
    )
    assert run.success, describe(run)
    assert step(run, "q").phases == {} and step(run, "q").tls_cert_expires_at is None


# --- certificate expiry --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiryCase:
    id: str
    presented: tuple[str, ...]  # leaf first, then the chain the server sends
    trust: str | None  # the ca_file; None: insecure_skip_verify
    earliest: str | None  # the certificate whose notAfter is expected; None: no TLS


EXPIRY_CASES = [
    ExpiryCase("self-signed-leaf", ("self",), "self", "self"),
    pytest.param(
        ExpiryCase("unverified-still-read", ("self",), None, "self"),
        # urllib3 warns on every unverified request; insecure_skip_verify asks for exactly that.
        marks=pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    ),
    ExpiryCase("chain-ca-expires-first", ("leaf", "ca"), "ca", "ca"),
    ExpiryCase("leaf-alone-sent", ("leaf",), "ca", "leaf"),
    ExpiryCase("plain-http", (), None, None),
]


@pytest.mark.parametrize("case", EXPIRY_CASES, ids=lambda case: case.id if isinstance(case, ExpiryCase) else None)
def test_certificate_expiry_is_the_earliest_presented(
    case: ExpiryCase, servers: list[TimedServer], certs: dict[str, Certificate]
) -> None:
    presented = [certs[name] for name in case.presented]
    server = serve(servers, server_context(presented[0], *presented[1:]) if presented else None)
    target = (
        f"tls: {{ca_file: {certs[case.trust].cert}}}"
        if case.trust
        else "tls: {insecure_skip_verify: true}"
        if presented
        else ""
    )
    steps = "- name: first\n  http: {path: '/timed?bytes=1'}\n- name: again\n  http: {path: '/timed?bytes=1'}"
    run = run_steps(server.url, steps, target=target)
    assert run.success, describe(run)
    expected = not_after(certs[case.earliest]) if case.earliest else None
    # The kept-alive connection of the second step still knows the certificates it was opened with.
    assert [s.tls_cert_expires_at for s in run.steps] == [expected, expected]
