"""The JSON API under /api/v1/ (docs/api.md) and the run stream, served by the real exporter server: filters,
cursor pagination and bad parameters (tables), one run, the workflows' windows, failure groups, restarts, and
Server-Sent Events that reach a client as a run finishes without starving scrapes or probes.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from prometheus_client import CollectorRegistry

from exporter.app import DEFAULT_PROBE_MAX_CONCURRENCY, ExporterApp
from exporter.server import HTTPServer, ServerSettings, threads_for
from exporter.service import Exporter
from tests.exporter.test_store import NOW, make_run
from tests.harness import wait_until


@dataclass
class Served:
    exporter: Exporter
    app: ExporterApp
    server: HTTPServer
    url: str
    config_path: Path
    thread: threading.Thread

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, timeout=10)

    def stop(self) -> None:
        self.app.api.streams.close_all()
        self.exporter.stop()
        self.server.stop()
        self.thread.join(10)


CONFIG = """
targets:
  shop: {{base_url: "{url}"}}
  other: {{base_url: "{url}"}}
workflows:
  checkout:
    targets: [shop, other]
    interval: 1h
    timeout: 2s
    steps:
      - {{name: login, http: {{path: /ok}}}}
      - {{name: pay, http: {{path: "{pay}"}}, expect: {{status: 200}}}}
      - {{name: logout, http: {{path: /ok}}}}
  login:
    targets: [shop]
    interval: 1h
    timeout: 2s
    steps:
      - {{name: login, http: {{path: /ok}}}}
"""


def _starter(directory: Path, started: list[Served]) -> Callable[..., Served]:
    def start(config: str, max_streams: int = 4, enable_replay: bool = False, schedule: bool = False,
              heartbeat: float | None = None, **kwargs: Any) -> Served:  # fmt: skip
        path = directory / f"config-{len(started)}.yml"
        path.write_text(config)
        registry = CollectorRegistry()
        exporter = Exporter(path, registry, **kwargs)
        app = ExporterApp(exporter, registry, max_streams=max_streams, enable_replay=enable_replay)
        if heartbeat is not None:
            app.api.heartbeat = heartbeat
        settings = ServerSettings(threads=threads_for(DEFAULT_PROBE_MAX_CONCURRENCY) + max_streams)
        server = HTTPServer(app, "127.0.0.1:0", settings, registry)
        thread = threading.Thread(target=server.serve_forever, name="exporter-http", daemon=True)
        thread.start()
        if schedule:
            exporter.start()
        served = Served(exporter, app, server, server.url, path, thread)
        started.append(served)
        return served

    return start


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[Callable[..., Served]]:
    """Start exporters with the CLI's server on free ports; ``max_streams``, ``enable_replay`` and ``heartbeat``
    (seconds) reach the app, the rest ``Exporter``. All stopped (streams first, as the CLI does) at the end."""
    started: list[Served] = []
    try:
        yield _starter(directory, started)
    finally:
        for served in started:
            served.stop()


@pytest.fixture
def serve_app(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    with serving(tmp_path) as start:
        yield start


def shop_config(url: str, pay: str = "/ok") -> str:
    return CONFIG.format(url=url, pay=pay)


# --- a store with known runs -----------------------------------------------------------------------------------

# (id, workflow, target, failed step, reason, source, seconds before NOW)
RUNS = [
    ("a01", "checkout", "shop", None, None, "scheduled", 7000),
    ("a02", "checkout", "shop", "pay", "http_status", "scheduled", 3000),
    ("a03", "checkout", "other", None, None, "probe", 2500),
    ("a04", "login", "shop", "login", "timeout", "scheduled", 2000),
    ("a05", "checkout", "shop", "pay", "http_status", "probe", 1500),
    ("a06", "checkout", "other", "login", "connect", "scheduled", 1000),
    ("a07", "login", "shop", None, None, "replay", 500),
    ("a08", "checkout", "shop", None, None, "cli", 100),
]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One exporter for the module's read-only questions, its store holding ``RUNS``."""
    started: list[Served] = []
    served = _starter(tmp_path_factory.mktemp("populated"), started)(shop_config("http://127.0.0.1:9"))
    store = served.exporter.store
    store.clock = lambda: NOW
    for run_id, workflow, target_name, failed, reason, source, ago in RUNS:
        run = make_run(run_id, workflow=workflow, target=target_name, started_at=NOW - ago, failed=failed,
                       reason=reason or "http_status", duration=0.1 + ago / 10000)  # fmt: skip
        store.add(run, source=source, replay_of="a04" if source == "replay" else None)
    store.flush()
    yield served
    served.stop()


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["data"]["runs"]]


FILTERS = [
    ({}, ["a08", "a07", "a06", "a05", "a04", "a03", "a02", "a01"]),
    ({"workflow": "login"}, ["a07", "a04"]),
    ({"target": "other"}, ["a06", "a03"]),
    ({"workflow": "checkout", "target": "shop"}, ["a08", "a05", "a02", "a01"]),
    ({"result": "failure"}, ["a06", "a05", "a04", "a02"]),
    ({"result": "success", "source": "probe"}, ["a03"]),
    ({"result": "degraded"}, []),
    ({"reason": "http_status"}, ["a05", "a02"]),
    ({"reason": "connect", "step": "login"}, ["a06"]),
    ({"step": "pay"}, ["a05", "a02"]),
    ({"source": "scheduled"}, ["a06", "a04", "a02", "a01"]),
    ({"source": "replay"}, ["a07"]),
    ({"source": "cli"}, ["a08"]),
    ({"since": str(NOW - 1500)}, ["a08", "a07", "a06", "a05"]),
    ({"until": "2025-06-15T14:20:00Z"}, ["a02", "a01"]),  # NOW - 2800 s
    ({"since": "2025-06-15T16:23:20+02:00", "until": str(NOW - 1000)}, ["a06", "a05", "a04", "a03"]),  # NOW - 2600 s
    ({"workflow": "checkout", "result": "failure", "source": "probe"}, ["a05"]),
    ({"workflow": "no-such-workflow"}, []),
    ({"workflow": "", "result": ""}, ["a08", "a07", "a06", "a05", "a04", "a03", "a02", "a01"]),  # a form's "any"
]


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[json.dumps(p) for p, _ in FILTERS])
def test_runs_filter(populated: Served, params: dict[str, str], expected: list[str]) -> None:
    assert ids(populated.get("/api/v1/runs", **params)) == expected


def test_runs_pages_with_a_cursor(populated: Served) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        body = populated.get("/api/v1/runs", limit=3, **({"cursor": cursor} if cursor else {})).json()["data"]
        seen += [run["id"] for run in body["runs"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert seen == [row[0] for row in reversed(RUNS)] and pages == 3
    filtered = populated.get("/api/v1/runs", limit=1, result="failure").json()["data"]
    following = populated.get("/api/v1/runs", limit=5, result="failure", cursor=filtered["next_cursor"])
    assert ids(following) == ["a05", "a04", "a02"], "a cursor keeps the filters it is used with"


BAD = [
    ("/api/v1/runs", {"limit": "0"}, "limit", "must be an integer from 1 to 500"),
    ("/api/v1/runs", {"limit": "501"}, "limit", "must be an integer from 1 to 500"),
    ("/api/v1/runs", {"limit": "ten"}, "limit", "must be an integer from 1 to 500"),
    ("/api/v1/runs", {"cursor": "abc"}, "cursor", "must be a cursor from an earlier answer"),
    ("/api/v1/runs", {"cursor": "0"}, "cursor", "must be a cursor from an earlier answer"),
    ("/api/v1/runs", {"result": "passed"}, "result", "must be one of success, degraded, failure"),
    ("/api/v1/runs", {"reason": "flaky"}, "reason", "must be one of dns, connect"),
    ("/api/v1/runs", {"source": "cron"}, "source", "must be one of scheduled, probe, cli, replay"),
    ("/api/v1/runs", {"since": "yesterday"}, "since", "must be RFC 3339"),
    ("/api/v1/runs", {"since": "2025-06-15T14:00:00"}, "since", "needs its offset"),
    ("/api/v1/runs", {"until": "nan"}, "until", "is not a time"),
    ("/api/v1/runs", {"since": str(NOW), "until": str(NOW - 1)}, "until", "must not be before since"),
    ("/api/v1/runs", {"workflw": "checkout"}, "workflw", "unknown parameter; known: workflow, target"),
    ("/api/v1/runs", {"workflow": "a\nb"}, "workflow", "without control characters"),
    ("/api/v1/runs", {"step": "x" * 201}, "step", "at most 200 characters"),
    ("/api/v1/runs?workflow=a&workflow=b", {}, "workflow", "given more than once"),
    ("/api/v1/runs/a01", {"verbose": "1"}, "verbose", "unknown parameter"),
    ("/api/v1/workflows", {"window": "1h"}, "window", "unknown parameter"),
    ("/api/v1/failures", {"examples": "0"}, "examples", "must be an integer from 1 to 20"),
    ("/api/v1/failures", {"limit": "-1"}, "limit", "must be an integer from 1 to 500"),
    ("/api/v1/failures", {"reason": "skipped!"}, "reason", "must be one of"),
    ("/api/v1/stream", {"source": "cron"}, "source", "must be one of"),
    ("/api/v1/stream", {"since": "1"}, "since", "unknown parameter"),
    ("/api/v1/sweeps", {"result": "degraded"}, "result", "must be one of success, failure"),
    ("/api/v1/sweeps", {"source": "cli"}, "source", "must be one of scheduled, probe"),
    ("/api/v1/sweeps", {"workflow": "checkout"}, "workflow", "unknown parameter; known: target, result"),
    ("/api/v1/sweeps", {"target": "a\tb"}, "target", "without control characters"),
    ("/api/v1/sweeps", {"since": str(NOW), "until": str(NOW - 1)}, "until", "must not be before since"),
    ("/api/v1/sweeps", {"cursor": "x"}, "cursor", "must be a cursor from an earlier answer"),
    ("/api/v1/sweeps/any", {"limit": "1"}, "limit", "unknown parameter"),
]


@pytest.mark.parametrize(("path", "params", "name", "says"), BAD, ids=[f"{p}-{n}" for p, _, n, _ in BAD])
def test_bad_parameters_answer_400_naming_the_parameter(populated: Served, path: str, params: dict[str, str],
                                                        name: str, says: str) -> None:  # fmt: skip
    response = populated.get(path, **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith(f"parameter {name!r}: ") and says in body["error"], body["error"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/runs"), ("DELETE", "/api/v1/runs/a01"),
                                              ("PUT", "/api/v1/workflows"), ("POST", "/api/v1/stream"),
                                              ("POST", "/api/v1/sweeps"), ("DELETE", "/api/v1/sweeps/s1")])  # fmt: skip
def test_the_api_answers_get_only(populated: Served, method: str, path: str) -> None:
    response = requests.request(method, f"{populated.url}{path}", timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_unknown_endpoints_and_runs_are_404(populated: Served) -> None:
    for path in (
        "/api/v1/nothing",
        "/api/v1/runs/missing",
        "/api/v1/runs/a01/steps",
        "/api/v1/sweeps/missing",
        "/api/v1/sweeps/s1/results",
    ):
        response = populated.get(path)
        assert response.status_code == 404, path
        assert response.json()["errorType"] == "not_found"


def test_one_run_is_its_whole_document(populated: Served) -> None:
    body = populated.get("/api/v1/runs/a04").json()["data"]
    assert (body["id"], body["correlation_id"], body["workflow"], body["result"]) == ("a04", "a04", "login", "failure")
    assert (body["source"], body["step"], body["reason"], body["replays"]) == ("scheduled", "login", "timeout", ["a07"])
    assert [step["status"] for step in body["steps"]] == ["failed", "skipped", "skipped"]
    assert body["steps"][0]["exchange"]["response_body"] == '{"ok": true}' and body["has_bodies"]
    replay = populated.get("/api/v1/runs/a07").json()["data"]
    assert replay["replay_of"] == "a04" and replay["source"] == "replay"


def test_workflows_report_each_pair_over_1h_and_24h(populated: Served) -> None:
    pairs = {(w["workflow"], w["target"]): w for w in populated.get("/api/v1/workflows").json()["data"]["workflows"]}
    assert list(pairs) == [("checkout", "shop"), ("checkout", "other"), ("login", "shop")]
    shop = pairs[("checkout", "shop")]
    assert shop["last_run"]["id"] == "a05", "the newest scheduled or probe run (a08 came from the command line)"
    day, hour = shop["windows"]["24h"], shop["windows"]["1h"]
    assert (day["runs"], day["success_ratio"]) == (3, pytest.approx(1 / 3))  # a01, a02, a05
    assert (day["p50_seconds"], day["p95_seconds"]) == (pytest.approx(0.4), pytest.approx(0.8))
    assert (hour["runs"], hour["success_ratio"], hour["p95_seconds"]) == (2, 0.0, pytest.approx(0.4))  # a02, a05
    assert pairs[("login", "shop")]["windows"]["1h"]["runs"] == 1, "the replay a07 does not count"


def test_failures_are_grouped_with_a_suggestion(populated: Served) -> None:
    groups = populated.get("/api/v1/failures").json()["data"]["groups"]
    assert [(g["workflow"], g["target"], g["step"], g["reason"], g["count"]) for g in groups] == [
        ("checkout", "shop", "pay", "http_status", 2),
        ("checkout", "other", "login", "connect", 1),
        ("login", "shop", "login", "timeout", 1),
    ]
    first = groups[0]
    assert first["message"] == "expected status <n>, got <n>"
    assert [e["id"] for e in first["examples"]] == ["a05", "a02"]
    assert (first["first_seen"], first["last_seen"]) == (NOW - 3000, NOW - 1500)
    assert sum(h["count"] for h in first["hourly"]) == 2
    assert first["suggestion"]["runbook_url"].endswith("docs/runbooks/api.md#journeyapierrorratiohigh")
    narrow = populated.get("/api/v1/failures", since=str(NOW - 1200), reason="connect").json()["data"]["groups"]
    assert [g["count"] for g in narrow] == [1]


def test_every_suggestion_links_a_runbook_section_that_exists() -> None:
    from exporter.api import SUGGESTIONS
    from synthetic.result import REASONS
    from tests.conftest import REPO_ROOT

    assert set(REASONS) - {"skipped"} <= set(SUGGESTIONS), "every failure reason has a suggestion"
    for reason, advice in SUGGESTIONS.items():
        page, anchor = advice.runbook.split("#")
        headings = (REPO_ROOT / "docs" / "runbooks" / page).read_text().splitlines()
        assert f"## {anchor}" in [h.lower() for h in headings], f"{reason}: {advice.runbook}"


def test_a_restart_keeps_runs_for_the_api_and_the_pages(serve_app, target, tmp_path: Path) -> None:
    first = serve_app(shop_config(target.url, pay="/fail"), storage_path=tmp_path / "data")
    run = first.exporter.probe(*first.exporter.config.pairs()[0], timeout=5)
    assert not run.success
    first.stop()
    second = serve_app(shop_config(target.url, pay="/fail"), storage_path=tmp_path / "data")
    assert second.get(f"/api/v1/runs/{run.correlation_id}").json()["data"]["step"] == "pay"
    page = second.get(f"/runs/{run.correlation_id}")
    assert page.status_code == 200 and run.correlation_id in page.text
    assert run.correlation_id in second.get("/").text
    assert second.get("/api/v1/failures").json()["data"]["groups"][0]["examples"][0]["id"] == run.correlation_id


# --- the stream ----------------------------------------------------------------------------------------------


class Stream:
    """A Server-Sent Events client on a plain socket (HTTP/1.0: the body is the event stream until the server
    closes it), read in a thread: each ``run`` event's data lands in ``events`` as it arrives. ``close`` shuts the
    socket down at once, as a browser leaving the page does."""

    def __init__(self, url: str, **params: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.sock.sendall(f"GET /api/v1/stream?{urlencode(params)} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())  # fmt: skip
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self._rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ended = threading.Event()
        self.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer, event = self._rest, None
        try:
            while True:
                while b"\n" in buffer:
                    line, _, buffer = buffer.partition(b"\n")
                    text = line.decode().rstrip("\r")
                    if text.startswith("event: "):
                        event = text.removeprefix("event: ")
                    elif text.startswith("data: ") and event == "run":
                        self.events.put(json.loads(text.removeprefix("data: ")))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
        except OSError:
            return
        finally:
            self.ended.set()

    def next(self, timeout: float) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def test_a_stream_client_sees_a_run_within_a_second_of_it_finishing(serve_app, target) -> None:
    served = serve_app(shop_config(target.url))
    everything, failures = Stream(served.url), Stream(served.url, result="failure")
    other_workflow = Stream(served.url, workflow="login")
    try:
        assert everything.status == 200 and everything.headers["content-type"].startswith("text/event-stream")
        wait_until(lambda: len(served.app.api.streams) == 3, 5, "three open streams")
        probe = served.get("/probe", target="shop", workflow="checkout")  # answers once the run has finished
        finished = time.monotonic()
        assert "probe_success 1.0" in probe.text
        event = everything.next(timeout=1.0)  # within a second of the run finishing
        assert time.monotonic() - finished < 1.0
        stored = served.get("/api/v1/runs", limit=1).json()["data"]["runs"][0]
        assert event == stored and event["source"] == "probe" and event["result"] == "success"
        with pytest.raises(queue.Empty):
            failures.next(timeout=0.3)  # filtered out: it succeeded
        with pytest.raises(queue.Empty):
            other_workflow.next(timeout=0.1)
    finally:
        for stream in (everything, failures, other_workflow):
            stream.close()


def test_streams_are_bounded_and_never_starve_scrapes_or_probes(serve_app, target) -> None:
    served = serve_app(shop_config(target.url), max_streams=2, heartbeat=0.2)
    streams = [Stream(served.url), Stream(served.url)]
    try:
        wait_until(lambda: len(served.app.api.streams) == 2, 5, "two open streams")
        refused = requests.get(f"{served.url}/api/v1/stream", timeout=5)
        assert refused.status_code == 503 and "--web.max-streams" in refused.json()["error"]
        for _ in range(3):  # the streams hold their own threads: scrapes, probes and pages are served
            assert served.get("/metrics").status_code == 200
            assert "probe_success 1.0" in served.get("/probe", target="shop", workflow="login").text
            assert served.get("/").status_code == 200
        assert [streams[0].next(timeout=2)["workflow"] for _ in range(3)] == ["login"] * 3
    finally:
        for stream in streams:
            stream.close()
    wait_until(lambda: len(served.app.api.streams) == 0, 5, "streams of clients gone to be released")
    again = Stream(served.url)
    assert again.status == 200, "a released slot serves the next client"
    again.close()


def test_streams_end_on_reload_and_shutdown(serve_app, target) -> None:
    served = serve_app(shop_config(target.url), heartbeat=0.2)
    stream = Stream(served.url)
    wait_until(lambda: len(served.app.api.streams) == 1, 5, "an open stream")
    assert requests.post(f"{served.url}/-/reload", timeout=5).status_code == 200
    assert stream.ended.wait(5), "the reload ended the stream (the browser reconnects)"
    again = Stream(served.url)
    wait_until(lambda: len(served.app.api.streams) == 1, 5, "a new stream")
    served.stop()
    assert again.ended.wait(5) and not served.thread.is_alive(), "shutdown ended the stream and the server"
    stream.close()
    again.close()
