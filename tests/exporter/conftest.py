"""An exporter served in-process on a free port, and a tiny HTTP target whose behaviour tests control."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import pytest
from prometheus_client import CollectorRegistry

from exporter.app import ExporterApp
from exporter.cli import _QuietHandler, _ThreadingServer
from exporter.service import Exporter


@dataclass
class Target:
    """A local HTTP server: /ok answers JSON, /slow?s=N sleeps, /hang waits until the test ends, /fail 500s."""

    server: ThreadingHTTPServer
    hits: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def target() -> Iterator[Target]:
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            hits = state["target"].hits
            hits[path] = hits.get(path, 0) + 1
            if path == "/slow":
                time.sleep(float(self.path.split("s=")[1]))
            if path == "/hang":
                state["target"].release.wait(30)
            status = 500 if path == "/fail" else 200
            body = json.dumps({"ok": status == 200, "path": path, "html": "<script>alert(1)</script>"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["target"] = Target(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state["target"]
    state["target"].release.set()
    server.shutdown()
    server.server_close()


@dataclass
class RunningExporter:
    exporter: Exporter
    registry: CollectorRegistry
    url: str
    config_path: Path


@pytest.fixture
def serve_exporter(tmp_path: Path) -> Iterator[Callable[..., RunningExporter]]:
    """Start an exporter for a config text; stopped at the end of the test."""
    started: list[tuple[Exporter, Any]] = []

    def start(config: str, schedule: bool = False, **kwargs: Any) -> RunningExporter:
        path = tmp_path / f"config-{len(started)}.yml"
        path.write_text(config)
        registry = CollectorRegistry()
        exporter = Exporter(path, registry, **kwargs)
        server = make_server("127.0.0.1", 0, ExporterApp(exporter, registry), server_class=_ThreadingServer,
                             handler_class=_QuietHandler)  # fmt: skip
        threading.Thread(target=server.serve_forever, daemon=True).start()
        if schedule:
            exporter.start()
        started.append((exporter, server))
        return RunningExporter(exporter, registry, f"http://127.0.0.1:{server.server_port}", path)

    yield start
    for exporter, server in started:
        exporter.stop()
        server.shutdown()
        server.server_close()


def simple_config(base_url: str, path: str = "/ok", interval: str = "1s", timeout: str = "1s", **extra: str) -> str:
    """One target, one one-step workflow ``probe-ok`` hitting ``path``."""
    lines = "\n".join(f"    {key}: {value}" for key, value in extra.items())
    return f"""
targets:
  local:
    base_url: {base_url}
    circuit_breaker: {{failures: 2, cooldown: 1s}}
workflows:
  probe-ok:
    targets: [local]
    interval: {interval}
    timeout: {timeout}
{lines}
    steps:
      - name: get
        http: {{path: "{path}"}}
        expect: {{status: 200, max_duration: 800ms}}
"""
