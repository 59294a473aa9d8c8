"""An exporter served in-process on a free port (the tiny HTTP ``target`` fixture is in tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exporter.app import DEFAULT_PROBE_MAX_CONCURRENCY, ExporterApp
from exporter.server import HTTPServer, ServerSettings, threads_for
from exporter.service import Exporter


@dataclass
class RunningExporter:
    exporter: Exporter
    registry: CollectorRegistry
    url: str
    config_path: Path
    server: HTTPServer


@pytest.fixture
def serve_exporter(tmp_path: Path) -> Iterator[Callable[..., RunningExporter]]:
    """Start an exporter for a config text, served by the CLI's server (exporter/server.py) on a free port;
    stopped at the end of the test. ``probe_max_concurrency`` and ``server`` (a ``ServerSettings``) default to
    the CLI's defaults; other keyword arguments go to ``Exporter``."""
    started: list[tuple[Exporter, HTTPServer, threading.Thread]] = []

    def start(
        config: str,
        schedule: bool = False,
        probe_max_concurrency: int = DEFAULT_PROBE_MAX_CONCURRENCY,
        server: ServerSettings | None = None,
        **kwargs: Any,
    ) -> RunningExporter:
        path = tmp_path / f"config-{len(started)}.yml"
        path.write_text(config)
        registry = CollectorRegistry()
        exporter = Exporter(path, registry, **kwargs)
        app = ExporterApp(exporter, registry, max_probes_in_flight=probe_max_concurrency)
        settings = server or ServerSettings(threads=threads_for(probe_max_concurrency))
        http = HTTPServer(app, "127.0.0.1:0", settings, registry)
        thread = threading.Thread(target=http.serve_forever, name="exporter-http", daemon=True)
        thread.start()
        if schedule:
            exporter.start()
        started.append((exporter, http, thread))
        return RunningExporter(exporter, registry, http.url, path, http)

    yield start
    for exporter, http, thread in started:
        exporter.stop()
        http.stop()
        thread.join(10)


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
