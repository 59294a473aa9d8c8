"""The per-target circuit breaker, on a fake clock and inside a running exporter."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from exporter.circuit import CircuitBreaker
from tests.exporter.conftest import simple_config
from tests.harness import free_port, wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_connection_failures_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, cooldown=30, clock=clock)
    for reason in ("connect", "timeout"):
        assert breaker.allow()
        breaker.record(reason)
    breaker.record("assertion")  # the target answered: not a connection failure, and it resets the count
    assert not breaker.is_open
    for _ in range(3):
        breaker.record("connect")
    assert breaker.is_open and not breaker.allow()


def test_half_open_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cooldown=30, clock=clock)
    breaker.record("dns")
    assert not breaker.allow()
    clock.now += 31
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record("connect")  # trial failed: open again for a full cool-down
    clock.now += 29
    assert not breaker.allow()
    clock.now += 2
    assert breaker.allow()
    breaker.record(None)  # trial succeeded
    assert not breaker.is_open and breaker.allow() and breaker.allow()


def test_exporter_skips_runs_of_a_dead_target_then_recovers(serve_exporter) -> None:
    port = free_port()
    running = serve_exporter(simple_config(f"http://127.0.0.1:{port}", timeout="500ms"))
    exporter = running.exporter
    workflow, target = exporter.config.pairs()[0]

    reasons = [exporter.run_scheduled(workflow, target).reason for _ in range(3)]
    assert reasons == ["connect", "connect", "circuit_open"]  # failures: 2 in the test config
    sample = running.registry.get_sample_value
    assert sample("workflow_circuit_breaker_open", {"target": "local"}) == 1
    assert sample("workflow_step_failures_total", {"workflow": "probe-ok", "target": "local", "step": "get",
                                                    "reason": "circuit_open"}) == 1  # fmt: skip
    metrics = requests.get(f"{running.url}/metrics", timeout=5).text
    assert 'workflow_circuit_breaker_open{target="local"} 1.0' in metrics

    # The target comes back; after the 1 s cool-down one trial run closes the circuit.
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = wait_until(
            lambda: (r := exporter.run_scheduled(workflow, target)).success and r, 10, "a trial run after cool-down"
        )
        assert run.success
        assert sample("workflow_circuit_breaker_open", {"target": "local"}) == 0
    finally:
        server.shutdown()
        server.server_close()
