"""The run's deadline holds in every phase of every request and every fetch; a hung target holds only its run.

Socket timeouts bound single reads, so a target that sends its head a byte every half second never trips them;
the transport's watchdog ends the exchange at the deadline instead. One table of targets that stall in each
phase (name resolution too: ``socket.getaddrinfo`` is made to block far past the deadline for one name, as a
resolver that never answers does, since it ignores socket timeouts; connect: a full accept queue leaves the SYN
unanswered), one of the OpenAPI document fetch (time, size before and after decompression, document bounds),
eight hung runs next to a healthy one, and an exporter that keeps answering while a probe's name hangs.
"Ended by the deadline + 1.5 s" is the behaviour under test, not a speed claim.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import pytest
import requests

from synthetic import transport
from synthetic.result import RunResult
from synthetic.transport import pending_guards
from tests.exporter import conftest as exporter_fixtures
from tests.exporter.conftest import RunningExporter
from tests.harness.hostile_target import HostileTarget, compressed_zeros, serve_hostile
from tests.steps.stub import describe, run_steps, self_signed_certificate, step

DEADLINE = 2.0
SLACK = 1.5

serve_exporter = exporter_fixtures.serve_exporter  # an exporter served in-process (tests/exporter/conftest.py)


@pytest.fixture
def hostile() -> Iterator[HostileTarget]:
    with serve_hostile() as target:
        yield target


@pytest.fixture
def silent() -> Iterator[HostileTarget]:
    """Accepts connections and never says a word (not even a TLS handshake)."""
    with serve_hostile(silent=True) as target:
        yield target


@pytest.fixture
def tls_hostile(tmp_path: Path) -> Iterator[tuple[HostileTarget, Path]]:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve_hostile(tls=context) as target:
        yield target, cert


HANGING_NAME = "resolver-never-answers.test"


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``socket.getaddrinfo`` blocks for ``HANGING_NAME`` (a minute, far past any deadline here) and answers
    every other name as before; set the event to let the blocked lookups go (the fixture does at the end)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HANGING_NAME:
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "the test's resolver gave up")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield release
    finally:
        release.set()


def _timed(base_url: str, steps: str, target: str = "") -> tuple[RunResult, float]:
    started = time.monotonic()
    run = run_steps(base_url, steps, target=target, timeout=f"{DEADLINE}s")
    return run, time.monotonic() - started


class Stall(NamedTuple):
    route: str
    query: str
    extra: str  # extra step fields
    phase: str  # what the message names
    host: str = ""  # the target's host name instead of its address (HANGING_NAME: the lookup never ends)


STALLS = [
    Stall("/trickle-head", "{every: 0.5}", "", "the response head was arriving"),  # the reported case
    Stall("/trickle-head", "{every: 0.05}", "", "the response head was arriving"),
    Stall("/hang", "{}", "", "the response head was arriving"),
    Stall("/trickle-body", "{every: 0.1, bytes: 100}", "", "the body was arriving"),
    Stall("/trickle-body", "{every: 0.5, bytes: 100, type: application/json}", "", "the body was arriving"),
    Stall("/chain", "{n: 6, every: 0.6}", "", "the response head was arriving"),  # each hop in time, not the chain
    Stall("/redirect", "{to: /trickle-head}", "", "the response head was arriving"),
    Stall("/redirect", "{to: '/trickle-body?every=0.2'}", "", "the body was arriving"),
    Stall("/trickle-head", "{every: 0.5}", "\n  retries: 3", "the response head was arriving"),  # retries share it
    Stall("/ok", "{}", "", "the name was being resolved", host=HANGING_NAME),
    Stall("/ok", "{}", "\n  retries: 3", "the name was being resolved", host=HANGING_NAME),
]


@pytest.mark.parametrize("stall", STALLS, ids=[f"{r.host or ''}{r.route} {r.query}{r.extra}" for r in STALLS])
def test_a_target_that_stalls_in_any_phase_ends_the_run_at_its_deadline(
    hostile: HostileTarget, hanging_resolver: threading.Event, stall: Stall
) -> None:
    base_url = f"http://{stall.host}:{hostile.port}" if stall.host else hostile.url
    run, elapsed = _timed(
        base_url,
        f"- name: stalled\n  http: {{path: {stall.route}, query: {stall.query}}}{stall.extra}\n"
        "- name: after\n  http: {path: /ok}",
    )
    stalled = step(run, "stalled")
    assert (stalled.status, stalled.reason) == ("failed", "timeout"), describe(run)
    assert stalled.message == f"no answer in time: the run's deadline passed while {stall.phase}", stalled.message
    assert elapsed <= DEADLINE + SLACK, f"a {DEADLINE}s run took {elapsed:.1f}s"
    assert stalled.duration <= DEADLINE + SLACK
    assert step(run, "after").status == "skipped"
    assert pending_guards() == 0, "every exchange let go of its watch"


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: the kernel leaves a new connection's SYN unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_a_connection_that_is_never_accepted_ends_the_run_at_its_deadline(full_backlog: int) -> None:
    run, elapsed = _timed(f"http://127.0.0.1:{full_backlog}", "- name: queued\n  http: {path: /ok}")
    queued = step(run, "queued")
    assert (queued.status, queued.reason) == ("failed", "timeout"), describe(run)
    assert queued.message == "no answer in time: the run's deadline passed while the connection was being made"
    assert elapsed <= DEADLINE + SLACK


def test_a_target_that_never_starts_the_tls_handshake_ends_the_run_at_its_deadline(silent: HostileTarget) -> None:
    run, elapsed = _timed(f"https://127.0.0.1:{silent.port}", "- name: secure\n  http: {path: /ok}")
    secure = step(run, "secure")
    assert (secure.status, secure.reason) == ("failed", "timeout"), describe(run)
    assert secure.message.startswith("no answer in time: "), secure.message
    assert elapsed <= DEADLINE + SLACK


def test_a_target_that_accepts_and_never_answers_ends_the_run_at_its_deadline(silent: HostileTarget) -> None:
    run, elapsed = _timed(f"http://127.0.0.1:{silent.port}", "- name: mute\n  http: {path: /ok}")
    mute = step(run, "mute")
    assert (mute.status, mute.reason) == ("failed", "timeout"), describe(run)
    assert mute.message == "no answer in time: the run's deadline passed while the response head was arriving"
    assert elapsed <= DEADLINE + SLACK


def test_a_tls_target_that_trickles_its_head_ends_the_run_at_its_deadline(
    tls_hostile: tuple[HostileTarget, Path],
) -> None:
    server, cert = tls_hostile
    run, elapsed = _timed(
        server.url, "- name: secure\n  http: {path: /trickle-head, query: {every: 0.5}}", f"tls: {{ca_file: {cert}}}"
    )
    secure = step(run, "secure")
    assert (secure.status, secure.reason) == ("failed", "timeout"), describe(run)
    assert secure.message == "no answer in time: the run's deadline passed while the response head was arriving"
    assert elapsed <= DEADLINE + SLACK


# --- the OpenAPI document: the same deadline, a size cap before and after decompression, document bounds -----

BILLION_LAUGHS = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
)

# (the document's location on the hostile target, text the failure names)
DOCUMENTS = [
    ("/trickle-head?every=0.5", "no answer in time: the run's deadline passed while the response head was arriving"),
    ("/trickle-body?every=0.1&bytes=1000", "no answer in time: the run's deadline passed while the body was arriving"),
    ("/hang", "no answer in time"),
    ("/chain?n=6&every=0.6", "no answer in time"),
    ("/bomb?encoding=gzip&mb=256", "larger than the document size limit (16777216 bytes) ("),
    ("/bomb?encoding=gzip-gzip&mb=256", "larger than the document size limit"),
    ("/bloat-body?bytes=1073741824", "larger than the document size limit (16777216 bytes)"),
    ("/deep-json?depth=1000", "nested deeper than 100 levels"),
    ("/raw?case=status-not-a-number", "not valid HTTP"),
    ("/redirect?to=ftp://127.0.0.1/openapi.json", "only http:// and https:// redirects"),
    ("/loop", "more than 10 redirects"),
    ("/json?status=404", "it answered 404"),
]


@pytest.mark.parametrize(("location", "fragment"), DOCUMENTS, ids=[r[0] for r in DOCUMENTS])
def test_the_openapi_fetch_holds_the_run_deadline_and_the_document_bounds(
    hostile: HostileTarget, location: str, fragment: str
) -> None:
    if location.startswith("/bomb"):  # the server compresses a bomb once: not on the client's clock
        query = dict(parse_qsl(location.partition("?")[2]))
        compressed_zeros(query.get("encoding", "gzip"), int(query.get("mb", "64")))
    run, elapsed = _timed(
        hostile.url,
        "- name: checked\n  http: {path: /raw, query: {case: json-bad-charset}}\n  expect: {openapi: true}",
        f"openapi: '{location}'",
    )
    checked = step(run, "checked")
    assert (checked.status, checked.reason) == ("failed", "schema"), describe(run)
    assert checked.message.startswith("openapi: cannot load the OpenAPI document"), checked.message
    assert fragment in checked.message, checked.message
    assert elapsed <= DEADLINE + SLACK
    route = location.partition("?")[0]
    assert hostile.sent[route] < 48 * 1024 * 1024, "the rest of an endless document was never taken off the wire"


def test_a_yaml_document_that_expands_without_bound_is_refused(hostile: HostileTarget) -> None:
    hostile.route("/laughs.yaml", lambda conn, seen: conn.answer(200, BILLION_LAUGHS.encode()))
    run, _ = _timed(
        hostile.url,
        "- name: checked\n  http: {path: /raw, query: {case: json-bad-charset}}\n  expect: {openapi: true}",
        "openapi: /laughs.yaml",
    )
    checked = step(run, "checked")
    assert (checked.status, checked.reason) == ("failed", "schema"), describe(run)
    assert "expands to more than" in checked.message, checked.message


# --- a hung target holds only its own run ----------------------------------------------------------------------


def test_eight_hung_runs_end_at_their_deadline_and_a_healthy_run_beside_them_passes(hostile: HostileTarget) -> None:
    results: dict[str, tuple[RunResult, float]] = {}

    def hung(index: int) -> None:
        results[f"hung-{index}"] = _timed(hostile.url, "- name: stalled\n  http: {path: /trickle-head}")

    def healthy() -> None:
        results["healthy"] = _timed(hostile.url, "- name: ok\n  http: {path: /ok}\n- name: again\n  http: {path: /ok}")

    threads = [threading.Thread(target=hung, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=healthy))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE + 10)
    assert len(results) == 9
    healthy_run, _ = results.pop("healthy")
    assert healthy_run.success, describe(healthy_run)
    for name, (run, elapsed) in results.items():
        assert run.reason == "timeout", f"{name}: {describe(run)}"
        assert elapsed <= DEADLINE + SLACK, f"{name} took {elapsed:.1f}s"
    assert pending_guards() == 0


def test_a_deadline_centuries_away_does_not_stop_the_watchdog(hostile: HostileTarget) -> None:
    """A guard due in 270 million years (what a step's ``timeout: 99999999999d`` gave before durations were
    bounded) overflowed the platform's timer in the watchdog thread, which died, and no run ended at its deadline
    again. The watchdog waits an hour at most at a time: a run that stalls after it still ends at its deadline."""

    class Far:
        done = False
        at = time.monotonic() + 8.64e15

        def fire(self) -> None:
            self.done = True

    far = Far()
    transport._WATCHDOG.add(far)  # type: ignore[arg-type]
    try:
        run, elapsed = _timed(hostile.url, "- name: stalled\n  http: {path: /trickle-head}")
        assert run.reason == "timeout" and elapsed <= DEADLINE + SLACK, (describe(run), elapsed)
    finally:
        far.done = True


def test_a_name_that_never_resolves_holds_only_its_own_probe(
    hostile: HostileTarget, hanging_resolver: threading.Event, serve_exporter: Callable[..., RunningExporter]
) -> None:
    """Two probes of a target whose name hangs end at their deadline, one after the other (the first one's
    lookup, still blocked, holds nothing), while ``/metrics``, ``/-/healthy`` and a healthy pair's probe answer."""
    config = f"""
targets:
  hangs: {{base_url: "http://{HANGING_NAME}:{hostile.port}"}}
  healthy: {{base_url: "{hostile.url}"}}
workflows:
  journey:
    targets: [hangs, healthy]
    timeout: {DEADLINE}s
    steps:
      - {{name: home, http: {{path: /ok}}}}
"""
    running = serve_exporter(config)
    for attempt in range(2):
        answers: list[tuple[str, float]] = []

        def probe(answers: list[tuple[str, float]] = answers) -> None:
            started = time.monotonic()
            answer = requests.get(f"{running.url}/probe", params={"target": "hangs", "workflow": "journey"}, timeout=30)
            answers.append((answer.text, time.monotonic() - started))

        hung = threading.Thread(target=probe)
        hung.start()
        polled = 0
        while hung.is_alive():
            for path, params in [("/metrics", {}), ("/-/healthy", {}),
                                 ("/probe", {"target": "healthy", "workflow": "journey"})]:  # fmt: skip
                started = time.monotonic()
                answer = requests.get(f"{running.url}{path}", params=params, timeout=5)
                took = time.monotonic() - started
                assert answer.status_code == 200 and took < 1.0, f"{path} took {took:.2f}s while a name hangs"
                if path == "/probe":
                    assert "probe_success 1.0" in answer.text.splitlines(), answer.text
            polled += 1
        hung.join()
        assert polled >= 3, f"attempt {attempt}: only {polled} rounds of polling while the probe hung"
        ((text, elapsed),) = answers
        assert "probe_success 0.0" in text.splitlines(), text
        assert elapsed <= DEADLINE + SLACK, f"attempt {attempt}: a {DEADLINE}s probe answered after {elapsed:.1f}s"
        (run, *_) = [r for r in running.exporter.history.recent() if r.target == "hangs"]
        assert (run.reason, run.steps[0].message) == (
            "timeout", "no answer in time: the run's deadline passed while the name was being resolved")  # fmt: skip
