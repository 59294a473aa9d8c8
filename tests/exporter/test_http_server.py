"""The exporter's HTTP server under bursts, idle and slow clients, keep-alive, its connection limit and the
/probe in-flight bound: the real server (exporter/server.py) on 127.0.0.1, in-process or as ``python -m
exporter``. Bounds are asserted on structures (threads, connections, the kernel's listen queue, status codes),
never on timings."""

from __future__ import annotations

import contextlib
import http.client
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporter.server import ServerSettings, threads_for
from tests.exporter.conftest import RunningExporter
from tests.harness import ManagedProcess, free_port, wait_until
from tests.harness.http_target import Target

BURST = 60


def config(base_url: str, **paths: str) -> str:
    """One target ``local``; one one-step workflow per keyword (name=path), timeout 20 s, no latency budget."""
    workflows = "".join(
        f"""
  {name}:
    targets: [local]
    interval: 1h
    timeout: 20s
    steps:
      - {{name: get, http: {{path: "{path}"}}, expect: {{status: 200}}}}"""
        for name, path in (paths or {"ok": "/ok"}).items()
    )
    return f"targets:\n  local:\n    base_url: {base_url}\nworkflows:{workflows}\n"


UNUSED_TARGET = config("http://127.0.0.1:9")  # for tests that never run a workflow (the scheduler is off)


def address(running: RunningExporter) -> tuple[str, int]:
    return running.server.address


@pytest.fixture
def connect() -> Iterator[Callable[[RunningExporter], socket.socket]]:
    """Open a client connection to a running exporter (connect timeout 30 s); every one is closed at the end."""
    opened: list[socket.socket] = []

    def open_(running: RunningExporter) -> socket.socket:
        opened.append(socket.create_connection(address(running), timeout=30))
        return opened[-1]

    yield open_
    for sock in opened:
        sock.close()


def listen_queue(sock: socket.socket) -> tuple[int, int]:
    """(connections waiting in the accept queue, the queue's maximum) of a listening socket, from Linux' TCP_INFO
    (for a listener ``tcpi_unacked`` is the queue length and ``tcpi_sacked`` the backlog)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    fields = struct.unpack_from("8B6I", info)
    return fields[12], fields[13]


def get(sock: socket.socket, path: str, close: bool = False) -> tuple[int, str]:
    """One HTTP/1.1 GET on an open socket; (status, body). The socket stays open unless ``close``."""
    connection = http.client.HTTPConnection("127.0.0.1")
    connection.sock = sock
    connection.request("GET", path, headers={"Connection": "close"} if close else {})
    response = connection.getresponse()
    return response.status, response.read().decode()


def scheduled_runs(url: str, workflow: str) -> float:
    """``workflow_runs_total`` of ``workflow`` (every result) read from ``/metrics`` at ``url``."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "workflow_runs_total" and sample.labels.get("workflow") == workflow
    )


def sample(running: RunningExporter, name: str, labels: dict[str, str] | None = None) -> float | None:
    return running.registry.get_sample_value(name, labels or {})


# --- bursts ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/-/healthy", "Healthy", id="60 back-to-back connects"),
        pytest.param("/probe?target=local&workflow=ok", "probe_success 1", id="60 concurrent probes"),
        pytest.param("/metrics", "workflow_exporter_build_info", id="60 concurrent scrapes"),
        pytest.param("/", "<html", id="60 concurrent page views"),
    ],
)
def test_a_burst_is_answered_in_full(serve_exporter, connect, target: Target, path: str, expected: str) -> None:
    running = serve_exporter(config(target.url), probe_max_concurrency=BURST)
    assert listen_queue(running.server.listen_sockets[0])[1] >= 1024  # the listen backlog, not 5
    sockets = [connect(running) for _ in range(BURST)]  # back to back
    start = threading.Barrier(BURST)

    def one(sock: socket.socket) -> tuple[int, str]:
        start.wait()
        with sock:
            return get(sock, path)

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(one, sockets))
    assert [status for status, _ in answers] == [200] * BURST
    assert all(expected in body for _, body in answers)


def test_connections_beyond_the_limit_wait_in_the_backlog(serve_exporter, connect) -> None:
    running = serve_exporter(UNUSED_TARGET, server=ServerSettings(max_connections=2))
    server, listener = running.server, running.server.listen_sockets[0]
    held = [connect(running) for _ in range(2)]
    wait_until(lambda: server.open_connections() == 2, 10, "the two held connections accepted")
    waiting = [connect(running) for _ in range(BURST)]  # back to back; each would stall on a backlog of 5
    wait_until(lambda: listen_queue(listener)[0] == BURST, 10, "every connection beyond the limit queued")
    assert server.open_connections() == 2
    status, body = get(held[0], "/metrics")  # a held connection is still served meanwhile
    assert status == 200
    assert "workflow_exporter_http_connections 2.0" in body
    assert "workflow_exporter_http_max_connections 2.0" in body
    for sock in waiting:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n")
    for sock in held:
        sock.close()
    statuses = []
    for sock in waiting:  # each is accepted once a slot frees, answered, and closed (Connection: close)
        with sock:
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            statuses.append(response.status)
    assert statuses == [200] * BURST
    assert listen_queue(listener)[0] == 0


# --- idle and slow clients -------------------------------------------------------------------------------------


def _is_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset by the server
        return True


def _never_send(sock: socket.socket) -> None:
    pass


def _half_a_request(sock: socket.socket) -> None:
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n")


def _one_request_then_idle(sock: socket.socket) -> None:
    status, _ = get(sock, "/-/healthy")
    assert status == 200


def _trickle(sock: socket.socket) -> None:
    sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Trickle: ")


@pytest.mark.parametrize(
    ("count", "opening", "trickles", "reason"),
    [
        pytest.param(300, _never_send, False, "idle_timeout", id="300 connections that never send a request"),
        pytest.param(50, _trickle, True, "read_timeout", id="50 clients trickling a header byte at a time"),
        pytest.param(50, _half_a_request, False, "read_timeout", id="50 clients sending half a request"),
        pytest.param(50, _one_request_then_idle, False, "idle_timeout", id="50 idle keep-alive connections"),
    ],
)
def test_idle_and_slow_clients_hold_no_thread_and_are_closed(
    serve_exporter, connect, count: int, opening: Callable[[socket.socket], None], trickles: bool, reason: str
) -> None:
    settings = ServerSettings(idle_timeout=1.0, read_timeout=2.0)
    running = serve_exporter(UNUSED_TARGET, server=settings)
    server = running.server
    pool, _ = server.worker_threads()  # the pool is started already
    sockets = [connect(running) for _ in range(count)]
    for sock in sockets:
        opening(sock)
        sock.setblocking(False)
    wait_until(lambda: server.open_connections() == count, 10, f"{count} connections accepted")
    most_busy, pools = 0, {pool}  # sampled while the connections are open, from a quarter second on
    open_ = set(sockets)
    deadline = time.monotonic() + 30
    while open_ and time.monotonic() < deadline:
        with selectors.DefaultSelector() as selector:
            for sock in open_:
                selector.register(sock, selectors.EVENT_READ)
            readable = {key.fileobj for key, _ in selector.select(timeout=0.25)}
        for sock in list(open_):
            if sock in readable and _is_closed(sock):
                open_.discard(sock)
            elif trickles:
                try:
                    sock.send(b"a")
                except OSError:
                    open_.discard(sock)
        size, busy = server.worker_threads()
        most_busy, pools = max(most_busy, busy), pools | {size}
    for sock in sockets:
        sock.close()
    assert not open_, f"{len(open_)} of {count} connections still open"
    assert (most_busy, pools) == (0, {pool}), "connections held threads"
    assert server.closed_by_timeout() == {"idle_timeout": 0, "read_timeout": 0, reason: count}
    assert sample(running, "workflow_exporter_http_connections_closed_total", {"reason": reason}) == count
    wait_until(lambda: server.open_connections() == 0, 10, "the server to forget the closed connections")


def test_the_worker_pool_is_bounded_by_the_probe_bound(serve_exporter) -> None:
    running = serve_exporter(UNUSED_TARGET, probe_max_concurrency=5)
    # The pool's threads count as busy until each has started and waits for work.
    wait_until(lambda: running.server.worker_threads()[1] == 0, 10, "the pool's threads waiting for work")
    assert running.server.worker_threads() == (threads_for(5), 0)


# --- keep-alive ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/-/healthy", 200),
        ("/metrics", 200),
        ("/probe?target=local&workflow=ok", 200),
        ("/probe?target=local&workflow=nope", 400),
        ("/", 200),
        ("/nope", 404),
    ],
)
def test_keep_alive_serves_two_requests_on_one_connection(serve_exporter, target: Target, path: str,
                                                          status: int) -> None:  # fmt: skip
    running = serve_exporter(config(target.url))
    connection = http.client.HTTPConnection(*address(running), timeout=10)
    answers = []
    for _ in range(2):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        answers.append((response.status, response.getheader("Connection"), connection.sock))
    assert [a[0] for a in answers] == [status, status]
    assert answers[0][2] is answers[1][2] is not None  # the same socket, still open
    assert running.server.open_connections() == 1
    connection.close()


# --- the /probe in-flight bound --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "refused"),
    [
        pytest.param("target=local&workflow=hang", 503, 1, id="a third probe of the same workflow"),
        pytest.param("target=local&workflow=ok", 503, 1, id="a probe of another workflow"),
        pytest.param("target=local&workflow=ok&debug=true", 503, 1, id="a debug probe"),
        pytest.param("target=local&workflow=nope", 400, 0, id="a bad probe is still a 400"),
    ],
)
def test_probes_beyond_the_bound_are_refused_at_once(serve_exporter, target: Target, query: str, status: int,
                                                     refused: int) -> None:  # fmt: skip
    running = serve_exporter(config(target.url, hang="/hang", ok="/ok"), probe_max_concurrency=2)
    hanging_url = f"{running.url}/probe?target=local&workflow=hang"
    with ThreadPoolExecutor(2) as pool, contextlib.ExitStack() as cleanup:
        cleanup.callback(target.release.set)  # a failing assertion must not leave the probes hanging
        hanging = [pool.submit(requests.get, hanging_url, timeout=30) for _ in range(2)]
        wait_until(lambda: target.hits.get("/hang") == 2, 10, "two probes hanging on the target")

        third = requests.get(f"{running.url}/probe?{query}", timeout=10)
        assert third.status_code == status
        if status == 503:
            assert third.text == (
                "2 probes already in flight; raise --probe.max-concurrency or lower the scrape rate\n"
            )
        assert sample(running, "workflow_exporter_probe_requests_total", {"outcome": "refused"}) == refused
        for path, expected in (("/metrics", 'workflow_exporter_probe_requests_total{outcome="refused"}'),
                               ("/-/healthy", "Healthy"), ("/-/ready", "Ready"), ("/", "<html")):  # fmt: skip
            answer = requests.get(f"{running.url}{path}", timeout=10)
            assert (answer.status_code, expected in answer.text) == (200, True), path
        assert target.hits.get("/hang") == 2  # nothing ran beyond the bound

        target.release.set()
        assert [future.result().status_code for future in hanging] == [200, 200]
    after = requests.get(f"{running.url}/probe?target=local&workflow=ok", timeout=10)  # the slots are free again
    assert after.status_code == 200 and "probe_success 1" in after.text


# --- bounded requests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param({"X-Large": "a" * 8_000}, b"", 200, id="8 KB of headers are fine"),
        pytest.param({"X-Large": "a" * 70_000}, b"", 431, id="70 KB of headers"),
        pytest.param({"Content-Length": str(1024 * 1024 + 1)}, b"a" * 65_536, 413, id="a body over 1 MiB"),
    ],
)
def test_request_sizes_are_bounded(serve_exporter, headers: dict[str, str], body: bytes, status: int) -> None:
    """The answer comes as soon as a bound is crossed, before the rest is sent: the client sends the head and
    at most the first 64 KiB of a declared body, then reads (a client still writing when the server closes
    would only see its own broken pipe)."""
    running = serve_exporter(UNUSED_TARGET)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(address(running), timeout=10) as sock:
        sock.sendall(f"{'POST' if body else 'GET'} /-/healthy HTTP/1.1\r\nHost: exporter\r\n{head}\r\n".encode())
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == status


# --- the command line ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_service_reloads_on_sighup_and_stops_gracefully(tmp_path: Path, target: Target,
                                                            stop: signal.Signals) -> None:  # fmt: skip
    path = tmp_path / "workflows.yml"
    path.write_text(config(target.url, slow="/slow?s=1"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={path}", f"--web.listen-address=127.0.0.1:{port}",
         "--web.max-connections=7", "--probe.max-concurrency=1", "--web.idle-timeout=30s"],
        tmp_path / "exporter.log",
    )  # fmt: skip
    try:
        process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).ok)
        assert "workflow_exporter_http_max_connections 7.0" in requests.get(f"{url}/metrics", timeout=10).text

        path.write_text(config(target.url, slow="/slow?s=1", added="/ok"))
        process.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: requests.get(f"{url}/probe?target=local&workflow=added", timeout=10).status_code == 200,
                   10, "the reloaded config")  # fmt: skip

        wait_until(lambda: scheduled_runs(url, "slow") == 1, 10, "the start-up run of slow")
        assert target.hits.get("/slow") == 1
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.get, f"{url}/probe?target=local&workflow=slow", timeout=30)
            wait_until(lambda: target.hits.get("/slow") == 2, 10, "the probe in flight")
            beyond = requests.get(f"{url}/probe?target=local&workflow=added", timeout=10)
            assert beyond.status_code == 503  # --probe.max-concurrency=1
            process.popen.send_signal(stop)
            assert process.popen.wait(30) == 0
            answer = slow.result()
        assert answer.status_code == 200 and "probe_success 1" in answer.text  # finished before the stop
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        process.stop()


def test_help_shows_the_server_defaults() -> None:
    done = subprocess.run([sys.executable, "-m", "exporter", "--help"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    for flag, default in (("--web.max-connections", "512"), ("--web.idle-timeout", "2m"),
                          ("--web.read-timeout", "10s"), ("--probe.max-concurrency", "32")):  # fmt: skip
        assert f"(default: {default})" in text.split(flag)[2].split("--")[0], flag
